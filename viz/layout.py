"""A pure-Python layered layout (for when Graphviz is not installed), drawn as SVG.

Sugiyama-style, simplified: each node goes on the layer of its longest path
from a source (networkx gives the order); nodes in a layer are ordered by
the mean position of their neighbours over a few down and up sweeps, with
the members of a cluster kept next to each other; edges are drawn as
curves from the bottom of the producer to the top of the consumer, clusters
as boxes around their members.
"""

from __future__ import annotations

from html import escape

import networkx as nx

from .model import Picture

FONT, LINE, PAD, GAP_X, GAP_Y = 10, 13, 8, 18, 46
_FILL = {"op": "#e8f0fe", "arg": "#fff4d6", "return": "#e6f4ea", "const": "#f1f3f4"}


def _size(label: str) -> tuple[float, float]:
    lines = label.split("\n")
    return max(len(s) for s in lines) * FONT * 0.6 + 2 * PAD, len(lines) * LINE + 2 * PAD - 4


def _layers(pic: Picture) -> dict[str, int]:
    g = nx.DiGraph()
    g.add_nodes_from(n.id for n in pic.nodes)
    g.add_edges_from((e.src, e.dst) for e in pic.edges if e.src != e.dst)
    while not nx.is_directed_acyclic_graph(g):  # never for kiln's graphs; be safe
        g.remove_edge(*nx.find_cycle(g)[-1][:2])
    layer: dict[str, int] = {}
    for n in nx.topological_sort(g):
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    return layer


def layout_svg(pic: Picture) -> str:
    """The picture laid out and drawn as an SVG document."""
    nodes = {n.id: n for n in pic.nodes}
    layer = _layers(pic)
    cluster_of = {}
    for i, c in enumerate(pic.clusters):
        for n in c.nodes:
            cluster_of.setdefault(n, i)
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for n in pic.nodes:
        rows[layer[n.id]].append(n.id)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for e in pic.edges:
        if e.src in nodes and e.dst in nodes and e.src != e.dst:
            preds[e.dst].append(e.src)
            succs[e.src].append(e.dst)
    position = {n: i for row in rows for i, n in enumerate(row)}
    for sweep in range(4):
        order = rows[1:] if sweep % 2 == 0 else rows[-2::-1]
        for row in order:
            near = preds if sweep % 2 == 0 else succs
            key = {
                n: (sum(position[m] for m in near[n]) / len(near[n]) if near[n] else position[n])
                for n in row
            }
            groups: dict[int, list[float]] = {}
            for n in row:
                groups.setdefault(cluster_of.get(n, -1), []).append(key[n])
            group_key = {c: sum(v) / len(v) for c, v in groups.items()}
            row.sort(
                key=lambda n: (
                    group_key[cluster_of.get(n, -1)] if n in cluster_of else key[n],
                    key[n],
                )
            )
            for i, n in enumerate(row):
                position[n] = i
    sizes = {n: _size(nodes[n].label) for n in nodes}
    widths = [sum(sizes[n][0] for n in row) + GAP_X * max(len(row) - 1, 0) for row in rows]
    total_w = max(widths, default=0) + 2 * GAP_X
    xy: dict[str, tuple[float, float]] = {}
    y = GAP_X + 14
    for row, w in zip(rows, widths):
        x = (total_w - w) / 2
        height = max((sizes[n][1] for n in row), default=0)
        for n in row:
            xy[n] = (x, y)
            x += sizes[n][0] + GAP_X
        y += height + GAP_Y
    total_h = y
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" '
        f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="{FONT}">',
        f"<title>{escape(pic.title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#5f6368"/></marker></defs>',
    ]
    for i, c in enumerate(pic.clusters):
        members = [n for n in c.nodes if n in xy]
        if not members:
            continue
        x0 = min(xy[n][0] for n in members) - 8
        y0 = min(xy[n][1] for n in members) - 18
        x1 = max(xy[n][0] + sizes[n][0] for n in members) + 8
        y1 = max(xy[n][1] + sizes[n][1] for n in members) + 8
        fill, stroke = ("#fde7d9", "#e8710a") if c.fused else ("none", "#9aa0a6")
        out.append(
            f'<g class="cluster" id="cluster_{i}"><title>{escape(c.label)}</title>'
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
            f'height="{y1 - y0:.1f}" rx="6" fill="{fill}" fill-opacity="0.6" '
            f'stroke="{stroke}"/><text x="{x0 + 6:.1f}" y="{y0 + 12:.1f}" '
            f'fill="{stroke}">{escape(c.label)}</text></g>'
        )
    for e in pic.edges:
        if e.src not in xy or e.dst not in xy:
            continue
        (sx, sy), (dx, dy) = xy[e.src], xy[e.dst]
        x1, y1 = sx + sizes[e.src][0] / 2, sy + sizes[e.src][1]
        x2, y2 = dx + sizes[e.dst][0] / 2, dy
        mid = (y1 + y2) / 2
        dash = ' stroke-dasharray="4 3"' if e.control else ""
        out.append(
            f'<g class="edge"><title>{escape(e.src)}-&gt;{escape(e.dst)}</title>'
            f'<path d="M {x1:.1f} {y1:.1f} C {x1:.1f} {mid:.1f} {x2:.1f} {mid:.1f} '
            f'{x2:.1f} {y2:.1f}" fill="none" stroke="#5f6368"{dash} '
            f'marker-end="url(#arrow)"/></g>'
        )
    for n in pic.nodes:
        x, y = xy[n.id]
        w, h = sizes[n.id]
        lines = n.label.split("\n")
        bold = ' font-weight="bold"'
        text = "".join(
            f'<tspan x="{x + w / 2:.1f}" dy="{0 if i == 0 else LINE}"'
            f"{bold if i == 0 else ''}>{escape(s)}</tspan>"
            for i, s in enumerate(lines)
        )
        out.append(
            f'<g class="node" id="{escape(n.id)}"><title>{escape(n.tooltip or n.id)}'
            f'</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
            f'rx="4" fill="{_FILL.get(n.kind, "#ffffff")}" stroke="#3c4043"/>'
            f'<text text-anchor="middle" y="{y + PAD + FONT - 1:.1f}">{text}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
