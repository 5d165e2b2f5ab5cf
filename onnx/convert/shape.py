"""Converters of ONNX's data-movement and shape ops: Reshape, Flatten,
Transpose, Concat, Split, Slice, Pad, Squeeze, Unsqueeze, Expand, Tile, Gather,
Shape, Size, ConstantOfShape, Constant, Range.

Shape computations fold at import: a `Shape` of a tensor records its dims
(ints and kiln symbols) on the result (`Context.set_dims`), and Gather,
Concat, Slice, Squeeze, Unsqueeze and Cast carry them on, so the `Reshape`
at the end of a chain torch's exporter writes gets a target it can state.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter, dtype_of_elem

BIG = 2**62  # bounds beyond it clamp the same way


def _axis(ctx: Context, node: Node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def _input_or_attr(ctx: Context, node: Node, since: int, index: int, name: str):
    """An ints attribute before opset `since`, an input from it on; None if absent."""
    if ctx.opset < since:
        value = node.attr(name, None)
        return None if value is None else [int(v) for v in value]
    v = node.input(index)
    if v is None:
        return None
    return ctx.ints_of(v, node, f"'{name}' (input {index})")


def same_dims(ctx: Context, src: Value | None, dst: Value, fn) -> None:
    dims = ctx.dims_of(src) if src is not None else None
    if dims is not None and not ctx.is_known(src):
        try:
            ctx.set_dims(dst, fn(dims))
        except (IndexError, ValueError, TypeError):
            pass


# ------------------------------------------------------------------ shapes


@converter("Shape")
def shape(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    dims = list(x.type.shape)
    if ctx.opset >= 15:
        rank = len(dims)
        start = node.attr("start", 0)
        end = node.attr("end", rank)
        dims = dims[slice(start, end)]
        if all(isinstance(d, int) for d in dims):
            return [ctx.constant(np.array(dims, np.int64), DType.i64)]
        full = ctx.b.shape(x, dtype="i64")
        out = ctx.b.slice(
            full, axes=[0], starts=[max(min(start, BIG), -BIG)], stops=[max(min(end, BIG), -BIG)]
        )
    else:
        if all(isinstance(d, int) for d in dims):
            return [ctx.constant(np.array(dims, np.int64), DType.i64)]
        out = ctx.b.shape(x, dtype="i64")
    ctx.set_dims(out, dims)
    return [out]


@converter("Size")
def size(ctx: Context, node: Node) -> list[Value]:
    dims = node.inputs[0].type.shape
    if not all(isinstance(d, int) for d in dims):
        raise ctx.error(node, f"the size of {node.inputs[0].type} is not known at import")
    return [ctx.constant(np.array(math.prod(dims), np.int64), DType.i64)]


@converter("Constant")
def constant(ctx: Context, node: Node) -> list[Value]:
    attrs = node.attrs
    if "value" in attrs:
        value = np.asarray(attrs["value"])
    elif "value_float" in attrs:
        value = np.array(attrs["value_float"], np.float32)
    elif "value_floats" in attrs:
        value = np.array(attrs["value_floats"], np.float32)
    elif "value_int" in attrs:
        value = np.array(attrs["value_int"], np.int64)
    elif "value_ints" in attrs:
        value = np.array(attrs["value_ints"], np.int64)
    else:
        raise ctx.error(node, f"attribute {sorted(attrs)} is not supported (a dense value)")
    if value.dtype.kind in "US O":
        raise ctx.error(node, "string constants are not supported")
    return [ctx.constant(value, None if value.dtype != np.float64 else DType.f64)]


@converter("ConstantOfShape", 9)
def constant_of_shape(ctx: Context, node: Node) -> list[Value]:
    dims = ctx.dims_of(node.inputs[0])
    value = node.attr("value", None)
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    if dims is None:
        raise ctx.unknown(node, "the shape")
    if all(isinstance(d, int) for d in dims):
        return [ctx.constant(np.broadcast_to(value[0], dims))]  # a splat, kept as one element
    full = ctx.constant(np.full([d if isinstance(d, int) else 1 for d in dims], value[0]))
    # symbolic dims (torch's zero initial states of an RNN: [layers, batch, hidden]):
    # the constant broadcast against zeros shaped like a value in scope with that dim
    if value.dtype == np.bool_:
        raise ctx.unknown(node, "the shape of a bool ConstantOfShape")
    for axis, d in enumerate(dims):
        if isinstance(d, int):
            continue
        src = next(
            (v for v in (ctx.values or {}).values() if v is not None and d in v.type.shape), None
        )
        if src is None:
            raise ctx.unknown(node, f"the shape (no value in scope has its dim {d})")
        k = src.type.shape.index(d)
        others = [a for a in range(src.type.rank) if a != k]
        if others:
            n = len(others)
            src = ctx.b.slice(src, axes=others, starts=[0] * n, stops=[1] * n)
        line = ctx.b.reshape(src, shape=[1] * axis + [-1] + [1] * (len(dims) - axis - 1))
        full = ctx.b.add(full, ctx.b.broadcast_like(ctx.constant(np.zeros((), value.dtype)), line))
    return [full]


@converter("Range", 11)
def range_(ctx: Context, node: Node) -> list[Value]:
    start, limit, delta = (ctx.value_of(v) for v in node.inputs)
    if start is None or limit is None or delta is None:
        raise ctx.unknown(node, "start, limit and delta")
    dtype = node.inputs[0].type.dtype
    out = np.arange(start.item(), limit.item(), delta.item()).astype(dtype.numpy)
    return [ctx.constant(out, dtype)]


# ------------------------------------------------------------------ reshapes


def reshape_target(ctx: Context, node: Node, x: Value, dims: list, allowzero: bool) -> list[int]:
    """An ONNX target shape (ints, 0 = copy, -1 = infer, kiln Symbols) as kiln's
    reshape attribute (ints and at most one -1)."""
    out = []
    for i, d in enumerate(dims):
        if isinstance(d, int) and d == 0 and not allowzero:
            if i >= x.type.rank:
                raise ctx.error(node, f"shape entry {i} is 0 (copy) past the input's rank")
            d = x.type.shape[i]
        out.append(d)
    if -1 in out and any(not isinstance(d, int) for d in out):
        # a symbol of the target that is a symbol of the input cancels; if the input
        # has no other run-time dim, the -1 is a static size
        rest = [d for d in x.type.shape if not isinstance(d, int)]
        for d in out:
            if not isinstance(d, int) and not d.anonymous and d in rest:
                rest.remove(d)
        if not rest:
            known = math.prod(d for d in out if isinstance(d, int) and d != -1)
            total = math.prod(d for d in x.type.shape if isinstance(d, int))
            if known and total % known == 0:
                out = [total // known if d == -1 else d for d in out]
    unknown = [i for i, d in enumerate(out) if not isinstance(d, int) or d == -1]
    if len(unknown) > 1:
        raise ctx.error(
            node,
            f"target shape {[str(d) for d in out]} of {x.type} has more than one dim "
            "known only at run time",
        )
    return [d if isinstance(d, int) else -1 for d in out]


@converter("Reshape", 5)
def reshape(ctx: Context, node: Node) -> list[Value]:
    x, target = node.inputs
    dims = ctx.dims_of(target)
    if dims is None:
        raise ctx.unknown(node, "the target shape")
    allowzero = bool(node.attr("allowzero", 0)) if ctx.opset >= 14 else False
    shape = reshape_target(ctx, node, x, dims, allowzero)
    return [ctx.b.reshape(x, shape=shape)]


@converter("Reshape", 1)
def reshape_v1(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    shape = reshape_target(ctx, node, x, list(node.attr("shape")), False)
    return [ctx.b.reshape(x, shape=shape)]


@converter("Flatten")
def flatten(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    rank = x.type.rank
    axis = node.attr("axis", 1)
    if not -rank <= axis <= rank:
        raise ctx.error(node, f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    head, tail = x.type.shape[:axis], x.type.shape[axis:]
    static = [all(isinstance(d, int) for d in part) for part in (head, tail)]
    if not any(static):
        raise ctx.error(node, f"cannot flatten {x.type}: both sides have run-time dims")
    shape = [math.prod(head) if static[0] else -1, math.prod(tail) if static[1] else -1]
    return [ctx.b.reshape(x, shape=shape)]


@converter("Transpose")
def transpose(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    perm = node.attr("perm", None)
    perm = list(range(x.type.rank))[::-1] if perm is None else [int(p) for p in perm]
    if perm == list(range(x.type.rank)):
        return [x]
    return [ctx.b.transpose(x, perm=perm)]


def _squeeze_axes(ctx: Context, node: Node, x: Value) -> list[int]:
    axes = _input_or_attr(ctx, node, 13, 1, "axes")
    rank = x.type.rank
    if axes is None:
        if not all(isinstance(d, int) for d in x.type.shape):
            raise ctx.error(node, f"squeezing every 1 of {x.type} needs a static shape")
        return [i for i, d in enumerate(x.type.shape) if d == 1]
    return sorted({_axis(ctx, node, a, rank) for a in axes})


@converter("Squeeze")
def squeeze(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    axes = _squeeze_axes(ctx, node, x)
    if not axes:
        return [x]
    out = ctx.b.squeeze(x, axes=axes)
    same_dims(ctx, x, out, lambda d: d)
    return [out]


@converter("Unsqueeze")
def unsqueeze(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    axes = _input_or_attr(ctx, node, 13, 1, "axes")
    if axes is None:
        raise ctx.error(node, "axes are required")
    rank = x.type.rank + len(axes)
    normal = sorted({_axis(ctx, node, a, rank) for a in axes})
    if len(normal) != len(axes):
        raise ctx.error(node, f"repeated axis in {axes}")
    out = x
    for a in normal:
        out = ctx.b.expand_dims(out, axis=a)
    same_dims(ctx, x, out, lambda d: d)
    return [out]


@converter("Concat")
def concat(ctx: Context, node: Node) -> list[Value]:
    xs = [x for x in node.inputs if x is not None]
    rank = xs[0].type.rank
    axis = _axis(ctx, node, node.attr("axis", 1) if ctx.opset < 4 else node.attr("axis"), rank)
    xs = [x for x in xs if x.type.shape[axis] != 0] or xs[:1]
    out = xs[0] if len(xs) == 1 else ctx.b.concat(*xs, axis=axis)
    if rank == 1:
        parts = [ctx.dims_of(x) for x in xs]
        if all(p is not None for p in parts) and any(not ctx.is_known(x) for x in xs):
            ctx.set_dims(out, [d for p in parts for d in p])
    return [out]


@converter("Split")
def split(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    axis = _axis(ctx, node, node.attr("axis", 0), x.type.rank)
    sizes = _input_or_attr(ctx, node, 13, 1, "split")
    n = node.num_outputs
    dim = x.type.shape[axis]
    if sizes is None:
        if not isinstance(dim, int):
            raise ctx.error(node, f"splitting the run-time dim {dim} needs split sizes")
        parts = node.attr("num_outputs", n) if ctx.opset >= 18 else n
        chunk = -(-dim // parts)
        sizes = [min(chunk, dim - i * chunk) for i in range(parts)]
    out, start = [], 0
    for s in sizes:
        out.append(ctx.b.slice(x, axes=[axis], starts=[start], stops=[start + s]))
        start += s
    return out


def _clamp(v: int) -> int:
    return max(min(int(v), BIG), -BIG)


@converter("Slice")
def slice_(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    rank = x.type.rank
    if ctx.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes = node.attr("axes", None)
        steps = None
    else:
        starts = ctx.ints_of(node.inputs[1], node, "starts")
        ends = ctx.ints_of(node.inputs[2], node, "ends")
        axes = None if node.input(3) is None else ctx.ints_of(node.input(3), node, "axes")
        steps = None if node.input(4) is None else ctx.ints_of(node.input(4), node, "steps")
    axes = list(range(len(starts))) if axes is None else [_axis(ctx, node, a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    if not len(axes) == len(starts) == len(ends) == len(steps):
        raise ctx.error(node, "starts, ends, axes and steps must have one length")
    if 0 in steps:
        raise ctx.error(node, "a step cannot be 0")
    out = ctx.b.slice(
        x,
        axes=axes,
        starts=[_clamp(s) for s in starts],
        stops=[_clamp(e) for e in ends],
        steps=steps,
    )
    if rank == 1 and len(axes) == 1:
        s, e, st = starts[0], ends[0], steps[0]
        same_dims(ctx, x, out, lambda d: d[slice(_clamp(s), _clamp(e), st)])
    return [out]


@converter("Pad")
def pad(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    rank = x.type.rank
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "edge", "reflect", "wrap"):
        raise ctx.error(node, f"mode={mode!r} is not supported")
    if ctx.opset < 11:
        pads = [int(p) for p in node.attr("pads" if ctx.opset >= 2 else "paddings")]
        value = float(node.attr("value", 0.0))
        axes = list(range(rank))
    else:
        pads = ctx.ints_of(node.inputs[1], node, "pads")
        value_in = node.input(2)
        value = 0.0
        if value_in is not None:
            known = ctx.value_of(value_in)
            if known is None:
                raise ctx.unknown(node, "constant_value")
            value = float(np.asarray(known).reshape(-1)[0]) if known.size else 0.0
        axes = node.input(3)
        axes = (
            list(range(rank))
            if axes is None
            else [_axis(ctx, node, a, rank) for a in ctx.ints_of(axes, node, "axes")]
        )
    if len(pads) != 2 * len(axes):
        raise ctx.error(node, f"pads {pads} must hold 2 x {len(axes)} entries")
    low, high = [0] * rank, [0] * rank
    for i, a in enumerate(axes):
        low[a], high[a] = pads[i], pads[i + len(axes)]
    if any(p < 0 for p in low + high):  # negative pads crop
        crop_axes = [a for a in range(rank) if low[a] < 0 or high[a] < 0]
        x = ctx.b.slice(
            x,
            axes=crop_axes,
            starts=[max(-low[a], 0) for a in crop_axes],
            stops=[high[a] if high[a] < 0 else BIG for a in crop_axes],
        )
        low, high = [max(p, 0) for p in low], [max(p, 0) for p in high]
    if not any(low + high):
        return [x]
    if mode != "constant":
        return [_pad_from_edges(ctx, node, x, low, high, mode)]
    return [ctx.b.pad(x, low=low, high=high, value=value)]


def _pad_from_edges(ctx: Context, node: Node, x: Value, low: list, high: list, mode: str) -> Value:
    """edge / reflect / wrap padding: slices of x concatenated around it, axis by axis."""
    b = ctx.b
    for axis, (p0, p1) in enumerate(zip(low, high)):
        if not (p0 or p1):
            continue
        n = x.type.shape[axis]
        if not isinstance(n, int):
            raise ctx.error(node, f"mode={mode!r} over the run-time dim {n}")
        if mode == "reflect" and (p0 >= n or p1 >= n):
            raise ctx.error(node, f"reflect pads {p0}, {p1} must be below the dim {n}")

        def take(start, stop, step=1, x=x, axis=axis):
            return b.slice(x, axes=[axis], starts=[start], stops=[stop], steps=[step])

        parts = []
        if p0:
            if mode == "edge":
                parts.append(b.concat(*[take(0, 1)] * p0, axis=axis) if p0 > 1 else take(0, 1))
            elif mode == "reflect":
                parts.append(take(p0, 0, -1))
            else:
                parts.append(take(n - p0, n))
        parts.append(x)
        if p1:
            if mode == "edge":
                parts.append(
                    b.concat(*[take(n - 1, n)] * p1, axis=axis) if p1 > 1 else take(n - 1, n)
                )
            elif mode == "reflect":
                stop = n - 2 - p1
                parts.append(take(n - 2, stop if stop >= 0 else -BIG, -1))
            else:
                parts.append(take(0, p1))
        x = b.concat(*parts, axis=axis)
    return x


# ------------------------------------------------------------------ broadcasts


@converter("Expand", 8)
def expand(ctx: Context, node: Node) -> list[Value]:
    x, target = node.inputs
    dims = ctx.dims_of(target)
    if dims is None:
        raise ctx.unknown(node, "the target shape")
    rank = max(len(dims), x.type.rank)
    dims = [1] * (rank - len(dims)) + list(dims)
    src = [1] * (rank - x.type.rank) + list(x.type.shape)
    shape = []
    for i, (d, s) in enumerate(zip(dims, src)):
        if d == 1 or d == s:
            shape.append(-1 if i >= rank - x.type.rank else 1)
        elif isinstance(d, int):
            shape.append(d)
        else:
            raise ctx.error(node, f"target dim {d} is known only at run time")
    if all(s == -1 for s in shape) and len(shape) == x.type.rank:
        return [x]
    return [ctx.b.broadcast_to(x, shape=shape)]


@converter("Tile", 6)
def tile(ctx: Context, node: Node) -> list[Value]:
    x, repeats = node.inputs
    reps = ctx.ints_of(repeats, node, "repeats")
    shape = x.type.shape
    if len(reps) != len(shape):
        raise ctx.error(node, f"repeats {reps} must have one entry per dim of {x.type}")
    if not all(isinstance(d, int) for d in shape):
        raise ctx.error(node, f"tiling {x.type} needs a static shape")
    if all(r == 1 for r in reps):
        return [x]
    b = ctx.b
    spread = b.reshape(x, shape=[v for d in shape for v in (1, d)])
    wide = b.broadcast_to(spread, shape=[v for r, d in zip(reps, shape) for v in (r, d)])
    return [b.reshape(wide, shape=[r * d for r, d in zip(reps, shape)])]


# ------------------------------------------------------------------ gather


@converter("Gather")
def gather(ctx: Context, node: Node) -> list[Value]:
    params, indices = node.inputs
    axis = _axis(ctx, node, node.attr("axis", 0), params.type.rank)
    dim = params.type.shape[axis]
    known = ctx.value_of(indices)
    b = ctx.b
    if known is not None:
        if isinstance(dim, int):
            if known.size and (known.min() < -dim or known.max() >= dim):
                raise ctx.error(node, f"an index is out of range [-{dim}, {dim})")
            fixed = np.where(known < 0, known + dim, known).astype(known.dtype)
            if not np.array_equal(fixed, known):
                indices = ctx.constant(fixed, indices.type.dtype)
        elif known.size and known.min() < 0:
            raise ctx.error(node, f"negative indices into the run-time dim {dim}")
    elif isinstance(dim, int) and indices.type.dtype.is_int:
        zero = ctx.constant(np.array(0, indices.type.dtype.numpy), indices.type.dtype)
        size_ = ctx.constant(np.array(dim, indices.type.dtype.numpy), indices.type.dtype)
        indices = b.select(b.less(indices, zero), b.add(indices, size_), indices)
    out = b.gather(params, indices, axis=axis)
    if params.type.rank == 1 and known is not None:
        picks = [int(i) for i in np.asarray(known).reshape(-1)]
        same_dims(ctx, params, out, lambda d: [d[i] for i in picks])
    return [out]


@converter("EyeLike", 9)
def eye_like(ctx: Context, node: Node) -> list[Value]:
    """Ones on diagonal `k` of a matrix shaped as the 2-D input (a constant)."""
    x = node.inputs[0]
    shape = list(x.type.shape)
    if x.type.rank != 2 or not all(isinstance(d, int) for d in shape):
        raise ctx.error(node, f"the input must be a static 2-D tensor, got {x.type}")
    elem = node.attr("dtype", None)
    dtype = x.type.dtype if elem is None else dtype_of_elem(int(elem), node.name)
    return [ctx.constant(np.eye(*shape, k=int(node.attr("k", 0)), dtype=dtype.numpy), dtype)]
