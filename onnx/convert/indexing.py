"""Converters of ONNX's per-element indexing ops: GatherElements,
ScatterElements (and the deprecated Scatter), GatherND, ScatterND.

They map one to one onto kiln.gather_elements, kiln.scatter_elements,
kiln.gather_nd and kiln.scatter_nd (ir/ops/indexing.py), which take ONNX's
negative indices and raise an ExecutionError naming the op for an index out
of range. The `reduction` attribute came in opset 16 (add, mul) and 18 (max,
min); before it, a scatter overwrites.
"""

from __future__ import annotations

import numpy as np

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


# ------------------------------------------------------------------ counting, picking


def _known_int(ctx: Context, node: Node, i: int, what: str) -> int:
    values = ctx.ints_of(node.input(i), node, what)
    if len(values) != 1:
        raise ctx.error(node, f"{what} must hold one integer, got {values}")
    return values[0]


@converter("CumSum", 11)
def cumsum(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    axis = _known_int(ctx, node, 1, "'axis' (input 1)")
    if not -x.type.rank <= axis < x.type.rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    return [
        ctx.b.cumsum(
            x,
            axis=axis % x.type.rank,
            exclusive=bool(node.attr("exclusive", 0)),
            reverse=bool(node.attr("reverse", 0)),
        )
    ]


@converter("CumProd", 26)
def cumprod(ctx: Context, node: Node) -> list[Value]:
    """The running product along `axis` by doubling: log2(n) steps, each one
    multiplying by the product so far shifted by 1, 2, 4, ... (padded with ones)."""
    x, b = node.inputs[0], ctx.b
    axis = _known_int(ctx, node, 1, "'axis' (input 1)")
    if not -x.type.rank <= axis < x.type.rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    axis %= x.type.rank
    n = x.type.shape[axis]
    if not isinstance(n, int):
        raise ctx.error(node, f"axis {axis} of {x.type} must be static")
    reverse = bool(node.attr("reverse", 0))
    one = ctx.constant(np.asarray(1, x.type.dtype.numpy), x.type.dtype)
    low, high = [0] * x.type.rank, [0] * x.type.rank

    def shifted(v: Value, k: int) -> Value:  # v moved k along axis, ones coming in
        if k >= n:  # everything shifted out: ones of v's shape
            return b.broadcast_to(
                one, shape=[d if isinstance(d, int) else -1 for d in v.type.shape]
            )
        (high if reverse else low)[axis] = k
        kept = b.slice(
            v, axes=[axis], starts=[k if reverse else 0], stops=[n if reverse else n - k]
        )
        out = b.pad(kept, low=list(low), high=list(high), value=1.0)
        low[axis] = high[axis] = 0
        return out

    y = shifted(x, 1) if node.attr("exclusive", 0) else x
    k = 1
    while k < n:
        y = b.mul(y, shifted(y, k))
        k *= 2
    return [y]


def _move_last(ctx: Context, x: Value, axis: int) -> tuple[Value, list[int] | None]:
    """x with `axis` moved last, and the permutation that moves it back."""
    rank = x.type.rank
    if axis == rank - 1:
        return x, None
    perm = [d for d in range(rank) if d != axis] + [axis]
    back = [perm.index(d) for d in range(rank)]
    return ctx.b.transpose(x, perm=perm), back


@converter("TopK", 1)
def top_k(ctx: Context, node: Node) -> list[Value]:
    """kiln.top_k along the last axis (moved there and back); the smallest k of
    a float or integer tensor are the largest of its negation."""
    x = node.inputs[0]
    if ctx.opset < 10:
        k = int(node.attr("k"))
    else:
        k = _known_int(ctx, node, 1, "'K' (input 1)")
    rank = x.type.rank
    axis = node.attr("axis", -1)
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    largest = bool(node.attr("largest", 1)) if ctx.opset >= 11 else True
    # sorted=0 lets the result come in any order: the sorted one is one of them
    if not largest and x.type.dtype.is_bool:
        raise ctx.error(node, "largest=0 is not supported for bool tensors")
    moved, back = _move_last(ctx, x, axis % rank)
    if not largest:
        moved = ctx.b.neg(moved)
    values, indices = ctx.b.create("kiln.top_k", moved, k=k, index_dtype="i64").results
    if not largest:
        values = ctx.b.neg(values)
    if back is not None:
        values, indices = ctx.b.transpose(values, perm=back), ctx.b.transpose(indices, perm=back)
    return [values, indices]


@converter("NonZero", 9)
def nonzero(ctx: Context, node: Node) -> list[Value]:
    """kiln.nonzero gives one row per element ([count, rank]); ONNX one column."""
    coords = ctx.b.nonzero(node.inputs[0], index_dtype="i64")
    return [ctx.b.transpose(coords, perm=[1, 0])]


def _positions(ctx: Context, n: int, axis: int, rank: int, dtype) -> Value:
    """0, 1, ..., n-1 along `axis` of a rank-`rank` tensor (1 elsewhere)."""
    shape = [1] * rank
    shape[axis] = n
    return ctx.b.iota(shape=shape, dtype=dtype, dimension=axis)


@converter("OneHot", 9)
def one_hot(ctx: Context, node: Node) -> list[Value]:
    indices, _, values = node.inputs[:3]
    depth = ctx.value_of(node.input(1))
    if depth is None:
        raise ctx.unknown(node, "'depth' (input 1)")
    depth = int(np.asarray(depth).reshape(-1)[0])
    rank = indices.type.rank + 1
    axis = node.attr("axis", -1)
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for rank {rank}")
    axis %= rank
    b = ctx.b
    if indices.type.dtype.is_float:
        indices = b.cast(indices, dtype="i64")
    where = b.expand_dims(indices, axis=axis)
    depth_v = ctx.constant(np.asarray(depth, where.type.dtype.numpy), where.type.dtype)
    zero = ctx.constant(np.asarray(0, where.type.dtype.numpy), where.type.dtype)
    where = b.select(b.less(where, zero), b.add(where, depth_v), where)
    hot = b.equal(where, _positions(ctx, depth, axis, rank, where.type.dtype))
    off = b.reshape(b.slice(values, axes=[0], starts=[0], stops=[1]), shape=[])
    on = b.reshape(b.slice(values, axes=[0], starts=[1], stops=[2]), shape=[])
    return [b.select(hot, on, off)]


@converter("Trilu", 14)
def trilu(ctx: Context, node: Node) -> list[Value]:
    """x where j - i >= k (upper) or j - i <= k (lower), else 0: a constant mask
    over the two innermost (static) dims."""
    x = node.inputs[0]
    k = _known_int(ctx, node, 1, "'k' (input 1)") if node.has_input(1) else 0
    rows, cols = x.type.shape[-2:]
    if not isinstance(rows, int) or not isinstance(cols, int):
        raise ctx.error(node, f"the two innermost dims of {x.type} must be static")
    i, j = np.arange(rows)[:, None], np.arange(cols)[None, :]
    keep = (j - i >= k) if node.attr("upper", 1) else (j - i <= k)
    zero = ctx.constant(np.zeros((), x.type.dtype.numpy), x.type.dtype)
    return [ctx.b.select(ctx.constant(keep, "bool"), x, zero)]


@converter("Hardmax", 1)
def hardmax(ctx: Context, node: Node) -> list[Value]:
    """1 at the first largest element along the axis, 0 elsewhere; before opset
    13 the input is seen as 2-D, flattened around `axis`."""
    x = node.inputs[0]
    rank = x.type.rank
    axis = node.attr("axis", -1 if ctx.opset >= 13 else 1)
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    axis %= rank
    b = ctx.b
    shape = x.type.shape
    flat = x
    if ctx.opset < 13:
        inner = shape[axis:]
        if not all(isinstance(d, int) for d in inner):
            raise ctx.error(node, f"dims {axis}.. of {x.type} must be static")
        flat = b.reshape(x, shape=[-1, int(np.prod(inner, dtype=np.int64))])
        axis = 1
    n = flat.type.shape[axis]
    if not isinstance(n, int):
        raise ctx.error(node, f"dim {axis} of {flat.type} must be static")
    best = b.expand_dims(b.argmax(flat, axis=axis, index_dtype="i64"), axis=axis)
    hot = b.equal(best, _positions(ctx, n, axis, flat.type.rank, best.type.dtype))
    one = ctx.constant(np.ones((), x.type.dtype.numpy), x.type.dtype)
    zero = ctx.constant(np.zeros((), x.type.dtype.numpy), x.type.dtype)
    out = b.select(hot, one, zero)
    if ctx.opset < 13:
        out = b.reshape(out, shape=[d if isinstance(d, int) else -1 for d in shape])
    return [out]


@converter("Compress", 9)
def compress(ctx: Context, node: Node) -> list[Value]:
    """The slices of x along `axis` (x flattened when absent) where the 1-D
    condition holds: a gather at the condition's nonzero positions."""
    x, cond = node.inputs[:2]
    b = ctx.b
    axis = node.attr("axis", None)
    if axis is None:
        x, axis = b.reshape(x, shape=[-1]), 0
    axis = int(axis)
    if not -x.type.rank <= axis < x.type.rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    if cond.type.rank != 1:
        raise ctx.error(node, f"the condition must be 1-D, got {cond.type}")
    known = ctx.value_of(cond)
    if known is not None:
        picks = ctx.constant(np.flatnonzero(known).astype(np.int64), "i64")
    else:
        picks = b.reshape(b.nonzero(cond, index_dtype="i64"), shape=[-1])
    return [b.gather(x, picks, axis=axis % x.type.rank)]


@converter("ReverseSequence", 10)
def reverse_sequence(ctx: Context, node: Node) -> list[Value]:
    """The first sequence_lens[i] steps along time_axis of each batch entry i
    reversed: a gather_elements with import-time indices (the lengths must be
    known; kiln.onnx.backend specialises on them when they are an input)."""
    x = node.inputs[0]
    lens = ctx.ints_of(node.input(1), node, "sequence_lens")
    time, batch = int(node.attr("time_axis", 0)), int(node.attr("batch_axis", 1))
    shape = list(x.type.shape)
    if not all(isinstance(d, int) for d in shape) or sorted((time, batch)) != [0, 1]:
        raise ctx.error(node, f"needs a static shape and time/batch axes 0 and 1, got {x.type}")
    steps = np.arange(shape[time])[:, None]
    lengths = np.asarray(lens, np.int64)[None, :]
    order = np.where(steps < lengths, lengths - 1 - steps, steps)  # [time, batch]
    if time == 1:
        order = order.T
    index = np.broadcast_to(order.reshape(order.shape + (1,) * (len(shape) - 2)), shape)
    return [ctx.b.gather_elements(x, ctx.constant(index.astype(np.int64), "i64"), axis=time)]
