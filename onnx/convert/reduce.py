"""Converters of ONNX's reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/
LogSumExp/SumSquare and ArgMax/ArgMin, each with its opset's axes (an
attribute, an input from opset 13 for ReduceSum and 18 for the others)."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def reduce_axes(ctx: Context, node: Node, since: int) -> list[int] | None:
    """The normalised axes; None for all of them; [] for none (noop_with_empty_axes)."""
    x = node.inputs[0]
    rank = x.type.rank
    if ctx.opset < since:
        axes = node.attr("axes", None)
        axes = None if axes is None else [int(a) for a in axes]
    else:
        v = node.input(1)
        axes = None if v is None else ctx.ints_of(v, node, "axes")
        if axes is not None and not axes:
            axes = None
        if axes is None and node.attr("noop_with_empty_axes", 0):
            return []
    if axes is None:
        return None
    for a in axes:
        if not -rank <= a < rank:
            raise ctx.error(node, f"axis {a} is out of range for rank {rank}")
    return sorted({a % rank for a in axes})


# what a reduction over no elements gives
_EMPTY = {"ReduceSum": 0, "ReduceMean": np.nan, "ReduceMax": -np.inf, "ReduceMin": np.inf,
          "ReduceProd": 1, "ReduceLogSumExp": -np.inf, "ReduceL1": 0, "ReduceL2": 0,
          "ReduceSumSquare": 0, "ReduceLogSum": -np.inf}  # fmt: skip


def _empty(ctx: Context, node: Node, x: Value, axes: list[int] | None, keep: bool):
    """The constant result of reducing an axis of size 0 (static shapes)."""
    shape = x.type.shape
    reduced = range(len(shape)) if axes is None else axes
    if not all(isinstance(d, int) for d in shape) or all(shape[a] for a in reduced):
        return None
    out = [1 if i in reduced else d for i, d in enumerate(shape) if keep or i not in reduced]
    fill = _EMPTY[node.op_type]
    dt = x.type.dtype
    if dt.is_bool:  # max is any (False over nothing), min is all (True)
        fill = bool(fill > 0)
    elif dt.is_int and not np.isfinite(fill):
        info = np.iinfo(dt.numpy)
        fill = info.min if fill < 0 else info.max
    return ctx.constant(np.full(out, fill, dtype=dt.numpy), dt)


def _reduction(onnx_name: str, build, since: int) -> None:
    @converter(onnx_name)
    def convert(ctx: Context, node: Node) -> list[Value]:
        x = node.inputs[0]
        axes = reduce_axes(ctx, node, since)
        if axes == []:
            return [x]
        keep = bool(node.attr("keepdims", 1))
        empty = _empty(ctx, node, x, axes, keep)
        if empty is not None:
            return [empty]
        if x.type.dtype.is_bool:  # max is any, min is all
            wide = ctx.b.cast(x, dtype="i32")
            return [ctx.b.cast(build(ctx, wide, axes, keep), dtype="bool")]
        return [build(ctx, x, axes, keep)]


def _plain(kiln_name: str):
    return lambda ctx, x, axes, keep: getattr(ctx.b, kiln_name)(x, axes=axes, keepdims=keep)


_reduction("ReduceSum", _plain("reduce_sum"), 13)
_reduction("ReduceMean", _plain("reduce_mean"), 18)
_reduction("ReduceMax", _plain("reduce_max"), 18)
_reduction("ReduceMin", _plain("reduce_min"), 18)
_reduction("ReduceProd", _plain("reduce_prod"), 18)
_reduction("ReduceLogSumExp", _plain("logsumexp"), 18)
_reduction(
    "ReduceL1",
    lambda ctx, x, axes, keep: ctx.b.reduce_sum(ctx.b.abs(x), axes=axes, keepdims=keep),
    18,
)
_reduction(
    "ReduceSumSquare",
    lambda ctx, x, axes, keep: ctx.b.reduce_sum(ctx.b.mul(x, x), axes=axes, keepdims=keep),
    18,
)
_reduction(
    "ReduceL2",
    lambda ctx, x, axes, keep: (
        ctx.b.sqrt(ctx.b.reduce_sum(ctx.b.mul(x, x), axes=axes, keepdims=keep))
        if x.type.dtype.is_float
        else ctx.b.cast(
            ctx.b.sqrt(
                ctx.b.cast(ctx.b.reduce_sum(ctx.b.mul(x, x), axes=axes, keepdims=keep), dtype="f64")
            ),
            dtype=x.type.dtype,
        )
    ),
    18,
)
_reduction(
    "ReduceLogSum",
    lambda ctx, x, axes, keep: ctx.b.log(ctx.b.reduce_sum(x, axes=axes, keepdims=keep)),
    18,
)


def _arg(onnx_name: str, kiln_name: str) -> None:
    @converter(onnx_name)
    def convert(ctx: Context, node: Node) -> list[Value]:
        x = node.inputs[0]
        rank = x.type.rank
        axis = int(node.attr("axis", 0))
        if not -rank <= axis < rank:
            raise ctx.error(node, f"axis {axis} is out of range for rank {rank}")
        axis %= rank
        b = ctx.b
        last = bool(node.attr("select_last_index", 0))
        if last:
            dim = x.type.shape[axis]
            if not isinstance(dim, int):
                raise ctx.error(node, "select_last_index over a run-time dim is not supported")
            flipped = b.slice(x, axes=[axis], starts=[-1], stops=[-(2**62)], steps=[-1])
            idx = getattr(b, kiln_name)(flipped, axis=axis, index_dtype="i64")
            idx = b.sub(ctx.constant(np.array(dim - 1, np.int64)), idx)
        else:
            idx = getattr(b, kiln_name)(x, axis=axis, index_dtype="i64")
        if node.attr("keepdims", 1):
            idx = b.expand_dims(idx, axis=axis)
        return [idx]


_arg("ArgMax", "argmax")
_arg("ArgMin", "argmin")
