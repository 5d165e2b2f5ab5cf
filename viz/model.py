"""What a picture holds: nodes, edges and clusters, from a kl.Graph or IR."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..frontend.graph import Graph
from ..ir import Function, KilnError, Module, Operation, Value


@dataclass
class Node:
    id: str
    label: str  # first line: the op's name; second: its type
    kind: str  # op, arg, return, fused-op, const
    tooltip: str = ""


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    control: bool = False


@dataclass
class Cluster:
    id: str
    label: str
    nodes: list[str]
    fused: bool = False  # a kiln.fused group (else a name scope)


@dataclass
class Picture:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


def picture(obj: Any, func: str | None = None) -> Picture:
    """The picture of a kl.Graph (or a Session), an IR Module or Function."""
    if hasattr(obj, "graph") and isinstance(obj.graph, Graph):
        obj = obj.graph
    if isinstance(obj, Graph):
        return _graph_picture(obj)
    if isinstance(obj, Module):
        functions = list(obj)
        if func is not None:
            functions = [obj[func]]
        if not functions:
            raise KilnError("kl.viz: the module has no functions")
        pics = [_function_picture(f) for f in functions]
        first = pics[0]
        for p in pics[1:]:
            first.nodes += p.nodes
            first.edges += p.edges
            first.clusters += p.clusters
        first.title = ", ".join(f"@{f.name}" for f in functions)
        return first
    if isinstance(obj, Function):
        return _function_picture(obj)
    raise KilnError(
        f"kl.viz: expected a kl.Graph, a Session, an IR Module or Function, "
        f"got {type(obj).__name__}"
    )


def _graph_picture(graph) -> Picture:
    pic = Picture("graph")
    scopes: dict[str, list[str]] = {}
    for op in graph.get_operations():
        pic.nodes.append(
            Node(
                op.name,
                f"{op.name}\n{op.type}",
                "const" if op.type == "Const" else "op",
                op.ir_op or op.type,
            )
        )
        for t in op.inputs:
            shape = (
                "?"
                if t.shape.dims is None
                else "x".join("?" if d is None else str(d) for d in t.shape.dims)
            )
            pic.edges.append(Edge(t.op.name, op.name, f"{shape or 'scalar'} {t.dtype.name}"))
        for c in op.control_inputs:
            pic.edges.append(Edge(c.name, op.name, control=True))
        if "/" in op.name:
            scopes.setdefault(op.name.split("/", 1)[0], []).append(op.name)
    names = {op.name for op in graph.get_operations()}
    for scope, members in scopes.items():
        if scope in names:  # an op named like the scope (Variable, Variable/Assign): keep it in
            members.append(scope)
        pic.clusters.append(Cluster(f"scope_{scope}", scope, members))
    return pic


def _short(t) -> str:
    return str(t).replace("tensor<", "<")


def _function_picture(f: Function) -> Picture:
    pic = Picture(f"@{f.name}")
    ids: dict[int, str] = {}
    counter = [0]

    def node_id(op: Operation) -> str:
        if id(op) not in ids:
            counter[0] += 1
            ids[id(op)] = f"{f.name}_op{counter[0]}"
        return ids[id(op)]

    source: dict[Value, str] = {}  # value -> the node that produces it
    for j, a in enumerate(f.args):
        nid = f"{f.name}_arg{j}"
        pic.nodes.append(Node(nid, f"%{a.name or j}\n{_short(a.type)}", "arg"))
        source[a] = nid

    def add_op(op: Operation, outer: dict[Value, str]) -> None:
        nid = node_id(op)
        label = op.name if op.name != "kiln.return" else "return"
        where = f" {op.loc.name}" if op.loc and op.loc.name else ""
        results = ", ".join(_short(r.type) for r in op.results)
        pic.nodes.append(
            Node(
                nid,
                f"{label}\n{results}" if results else label,
                "return" if op.name == "kiln.return" else "op",
                f"{op.name}{where}",
            )
        )
        for v in op.operands:
            if v in outer:
                pic.edges.append(Edge(outer[v], nid, _short(v.type)))
        for r in op.results:
            outer[r] = nid

    for op in f.ops:
        if op.name == "kiln.fused":
            inner: dict[Value, str] = {
                a: source[v] for a, v in zip(op.body.args, op.operands) if v in source
            }
            members = []
            for body_op in op.body.ops:
                if body_op is op.body.terminator:
                    continue
                add_op(body_op, inner)
                members.append(node_id(body_op))
            for r, y in zip(op.results, op.body.terminator.operands):
                if y in inner:
                    source[r] = inner[y]
            if members:
                pic.clusters.append(
                    Cluster(f"{node_id(op)}_fused", f"kiln.fused ({op.kind})", members, fused=True)
                )
        else:
            add_op(op, source)
    return pic
