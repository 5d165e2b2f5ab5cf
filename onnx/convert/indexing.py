"""Converters of ONNX's per-element indexing ops: GatherElements,
ScatterElements (and the deprecated Scatter), GatherND, ScatterND.

They map one to one onto kiln.gather_elements, kiln.scatter_elements,
kiln.gather_nd and kiln.scatter_nd (ir/ops/indexing.py), which take ONNX's
negative indices and raise an ExecutionError naming the op for an index out
of range. The `reduction` attribute came in opset 16 (add, mul) and 18 (max,
min); before it, a scatter overwrites.
"""

from __future__ import annotations

from ...ir.core import Value
from . import Context, Node, converter

_REDUCTIONS = {16: ("none", "add", "mul"), 18: ("none", "add", "mul", "max", "min")}


def _reduction(ctx: Context, node: Node) -> str:
    reduction = node.attr("reduction", "none")
    allowed = _REDUCTIONS[18 if ctx.opset >= 18 else 16] if ctx.opset >= 16 else ("none",)
    if reduction not in allowed:
        raise ctx.error(node, f"reduction={reduction!r} is not defined before opset 18")
    return reduction


def _axis(ctx: Context, node: Node, rank: int) -> int:
    axis = node.attr("axis", 0)
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


@converter("GatherElements", 11)
def gather_elements(ctx: Context, node: Node) -> list[Value]:
    x, indices = node.inputs[:2]
    return [ctx.b.gather_elements(x, indices, axis=_axis(ctx, node, x.type.rank))]


@converter("Scatter", 9)
@converter("ScatterElements", 11)
def scatter_elements(ctx: Context, node: Node) -> list[Value]:
    x, indices, updates = node.inputs[:3]
    axis = _axis(ctx, node, x.type.rank)
    reduction = _reduction(ctx, node)
    return [ctx.b.scatter_elements(x, indices, updates, axis=axis, reduction=reduction)]


@converter("GatherND", 11)
def gather_nd(ctx: Context, node: Node) -> list[Value]:
    x, indices = node.inputs[:2]
    batch_dims = node.attr("batch_dims", 0) if ctx.opset >= 12 else 0
    return [ctx.b.gather_nd(x, indices, batch_dims=batch_dims)]


@converter("ScatterND", 11)
def scatter_nd(ctx: Context, node: Node) -> list[Value]:
    x, indices, updates = node.inputs[:3]
    return [ctx.b.scatter_nd(x, indices, updates, reduction=_reduction(ctx, node))]
