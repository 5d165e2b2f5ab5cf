"""Pictures to SVG (Graphviz when installed, else the pure-Python layout) and PNG."""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path
from typing import Any

from ..ir import KilnError, Module
from ..passes import PassManager
from .layout import layout_svg
from .model import Picture, picture

ENGINES = ("auto", "graphviz", "python")
_FILL = {"op": "#e8f0fe", "arg": "#fff4d6", "return": "#e6f4ea", "const": "#f1f3f4"}


def graphviz_available() -> bool:
    """Whether the `graphviz` package and the `dot` binary are both here."""
    if shutil.which("dot") is None:
        return False
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


def _graphviz_missing() -> str:
    """What of Graphviz is missing here, as an instruction."""
    missing = []
    if shutil.which("dot") is None:
        missing.append("the `dot` binary (apt install graphviz)")
    try:
        import graphviz  # noqa: F401
    except ImportError:
        missing.append("the graphviz package (pip install 'kiln[viz]')")
    return " and ".join(missing) or "Graphviz"


class SVG:
    """An SVG picture: `str(svg)` is the text; Jupyter shows it inline."""

    def __init__(self, text: str, engine: str):
        self.text, self.engine = text, engine

    def _repr_svg_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def save(self, path: str) -> None:
        Path(path).write_text(self.text)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(pic: Picture) -> str:
    """The picture in Graphviz's DOT language."""
    lines = [
        f"digraph {_quote(pic.title)} {{",
        "  rankdir=TB; compound=true;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, color="#5f6368"];',
    ]
    clustered = set()
    for i, c in enumerate(pic.clusters):
        style = (
            'style="filled,rounded"; fillcolor="#fde7d9"; color="#e8710a"'
            if c.fused
            else 'style="rounded"; color="#9aa0a6"'
        )
        lines.append(f"  subgraph cluster_{i} {{ label={_quote(c.label)}; {style};")
        lines += [f"    {_quote(n)};" for n in c.nodes if n not in clustered]
        clustered.update(c.nodes)
        lines.append("  }")
    for n in pic.nodes:
        lines.append(
            f"  {_quote(n.id)} [label={_quote(n.label)}, "
            f"fillcolor={_quote(_FILL.get(n.kind, '#ffffff'))}, "
            f"tooltip={_quote(n.tooltip or n.label)}];"
        )
    for e in pic.edges:
        attrs = ['style="dashed"'] if e.control else []
        if e.label:
            attrs.append(f"label={_quote(e.label)}")
        lines.append(f"  {_quote(e.src)} -> {_quote(e.dst)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines)


def _prepare(obj: Any, passes: str | None, func: str | None) -> Picture:
    if passes:
        if not isinstance(obj, Module):
            raise KilnError("kl.viz: passes= applies to an IR module, not a graph")
        PassManager(passes).run(obj)
    return picture(obj, func)


def render(
    obj: Any,
    format: str = "svg",
    passes: str | None = None,
    engine: str = "auto",
    func: str | None = None,
) -> bytes:
    """The picture of `obj` as SVG or PNG bytes."""
    if engine not in ENGINES:
        raise KilnError(f"unknown layout engine {engine!r} (kiln has: {', '.join(ENGINES)})")
    if format not in ("svg", "png"):
        raise KilnError(f"cannot draw {format!r}: kiln draws svg and png")
    pic = _prepare(obj, passes, func)
    use_graphviz = engine == "graphviz" or (engine == "auto" and graphviz_available())
    if use_graphviz and not graphviz_available():
        raise KilnError(f"the graphviz engine needs {_graphviz_missing()}")
    if format == "png" and not use_graphviz:
        if engine == "python":  # Graphviz may well be installed: the choice is the problem
            raise KilnError(
                "PNG output needs the graphviz engine; the python engine draws "
                "SVG only (write .svg, or use --engine auto or graphviz)"
            )
        raise KilnError(
            f"PNG output needs Graphviz, which needs {_graphviz_missing()}; SVG works without it"
        )
    if use_graphviz:
        import graphviz

        try:
            return graphviz.Source(to_dot(pic)).pipe(format=format)
        except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as e:
            raise KilnError(f"Graphviz failed: {e}") from None
    return layout_svg(pic).encode()


def viz(obj: Any, passes: str | None = None, engine: str = "auto", func: str | None = None) -> SVG:
    """An SVG of a kl.Graph (or Session), or an IR Module/Function (after `passes`,
    run in place, when given): ops as nodes, dataflow as edges, fused groups as
    clusters."""
    use = (
        "graphviz"
        if engine == "graphviz" or (engine == "auto" and graphviz_available())
        else "python"
    )
    return SVG(render(obj, "svg", passes, engine, func).decode(), use)


__all__ = ["SVG", "escape", "graphviz_available", "render", "to_dot", "viz"]
