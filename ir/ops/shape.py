"""Ops that move data without arithmetic: reshape, transpose, concat, slice,
pad, gather, expand_dims, squeeze, broadcast_to."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..attributes import Attr, float_, int_, ints, optional
from ..builder import Builder
from ..core import Operation, Value
from ..cost import Cost, elements, moved
from ..errors import ExecutionError, KilnError, ShapeError
from ..gradient import END, FAR, interleave_zeros, pad_axis, reshape_target, reverse, zeros_like
from ..registry import op
from ..types import ANY, Dim, TensorType, broadcast_dim, format_shape, may_equal
from .reduce import normalize_axes, normalize_axis


@op("kiln.reshape", ["x"], {"shape": Attr(ints)}, tf="Reshape", onnx="Reshape")
class Reshape(Operation):
    """Same elements, new shape; one dim may be -1 (inferred), as numpy and TF."""

    def infer(self, x: TensorType) -> TensorType:
        target = self.shape
        if any(d < -1 for d in target) or target.count(-1) > 1:
            raise ShapeError(f"shape {list(target)} may hold one -1 and no other negative")
        known = math.prod(d for d in target if d != -1)
        static_in = math.prod(d for d in x.shape if isinstance(d, int))
        symbols = [d for d in x.shape if not isinstance(d, int)]
        if -1 not in target:
            if not symbols and static_in != known:
                raise ShapeError(
                    f"cannot reshape {x} ({static_in} elements) to "
                    f"{format_shape(target)} ({known} elements)"
                )
            return x.with_shape(target)
        if not symbols:
            if known == 0 or static_in % known:
                raise ShapeError(
                    f"cannot reshape {x} to {format_shape(target)}: "
                    f"{static_in} elements do not divide into {known}"
                )
            inferred: Dim = static_in // known
        elif len(symbols) == 1 and static_in == known:
            inferred = symbols[0]  # e.g. Nx28x28 -> [-1, 784] is Nx784
        else:
            inferred = ANY
        return x.with_shape([inferred if d == -1 else d for d in target])

    def reference(self, x):
        return np.reshape(x, self.shape)

    def vjp(self, b, g):
        return [b.reshape(g, shape=reshape_target(self.x.type.shape, self))]


@op("kiln.transpose", ["x"], {"perm": Attr(ints)}, tf="Transpose", onnx="Transpose")
class Transpose(Operation):
    """Permute dims: result dim i is operand dim perm[i]."""

    def infer(self, x: TensorType) -> TensorType:
        if sorted(self.perm) != list(range(x.rank)):
            raise ShapeError(f"perm {list(self.perm)} is not a permutation of {x.rank} dims")
        return x.with_shape([x.shape[p] for p in self.perm])

    def reference(self, x):
        return np.transpose(x, self.perm)

    def vjp(self, b, g):
        return [b.transpose(g, perm=[int(i) for i in np.argsort(self.perm)])]


@op("kiln.concat", ["*inputs"], {"axis": Attr(int_)}, tf="ConcatV2", onnx="Concat")
class Concat(Operation):
    """Join tensors of one rank and dtype along `axis`."""

    def infer(self, *xs: TensorType) -> TensorType:
        if not xs:
            raise ShapeError("needs at least one operand")
        first = xs[0]
        if first.rank == 0:
            raise ShapeError("cannot concatenate scalars")
        axis = normalize_axis(self.axis, first.rank)
        total: Dim = 0
        shape = list(first.shape)
        for t in xs:
            if t.dtype != first.dtype or t.rank != first.rank:
                raise ShapeError(f"operands must share dtype and rank, got {first} and {t}")
            for i, d in enumerate(t.shape):
                if i != axis:
                    if not may_equal(shape[i], d):
                        raise ShapeError(f"dim {i} differs: {first} and {t}")
                    if not isinstance(shape[i], int):
                        shape[i] = d
            d = t.shape[axis]
            total = total + d if isinstance(total, int) and isinstance(d, int) else ANY
        shape[axis] = total
        return first.with_shape(shape)

    def reference(self, *xs):
        return np.concatenate(xs, axis=normalize_axis(self.axis, xs[0].ndim))

    def vjp(self, b, g):
        axis = normalize_axis(self.axis, g.type.rank)
        sizes = [v.type.shape[axis] for v in self.inputs]
        return [
            b.slice(g, axes=[axis], starts=[start], stops=[stop])
            for start, stop in concat_pieces(sizes, self)
        ]


@op(
    "kiln.slice",
    ["x"],
    {
        "axes": Attr(ints),
        "starts": Attr(ints),
        "stops": Attr(ints),
        "steps": Attr(optional(ints), None),
    },
    tf="StridedSlice",
    onnx="Slice",
)
class Slice(Operation):
    """x[start:stop:step] on each of `axes`, with Python's rules (negative
    indices count from the end, bounds clamp)."""

    def slices(self, rank: int) -> list[slice]:
        steps = self.steps if self.steps is not None else (1,) * len(self.axes)
        if not len(self.axes) == len(self.starts) == len(self.stops) == len(steps):
            raise ShapeError("axes, starts, stops and steps must have one length")
        if 0 in steps:
            raise ShapeError("a step cannot be 0")
        out = [slice(None)] * rank
        for a, b, e, s in zip(normalize_axes(self.axes, rank), self.starts, self.stops, steps):
            out[a] = slice(b, e, s)
        if len(set(self.axes)) != len(self.axes):
            raise ShapeError(f"repeated axis in {list(self.axes)}")
        return out

    def infer(self, x: TensorType) -> TensorType:
        shape = []
        for d, s in zip(x.shape, self.slices(x.rank)):
            if s == slice(None):
                shape.append(d)
            else:
                shape.append(len(range(*s.indices(d))) if isinstance(d, int) else ANY)
        return x.with_shape(shape)

    def reference(self, x):
        return x[tuple(self.slices(x.ndim))]

    def vjp(self, b, g):
        """Put the slice back where it came from: zeros around it (pad), between its
        elements for a step > 1, and reversed first for a negative step."""
        shape = self.x.type.shape
        for axis, taken in enumerate(self.slices(len(shape))):
            if taken != slice(None):
                g = unslice_axis(self, b, g, axis, shape[axis], taken)
                if g is None:
                    return [None]  # an empty slice: no gradient
        return [g]


@op(
    "kiln.pad",
    ["x"],
    {"low": Attr(ints), "high": Attr(ints), "value": Attr(float_, 0.0)},
    tf="PadV2",
    onnx="Pad",
)
class Pad(Operation):
    """Constant padding: `low[i]` before and `high[i]` after dim i."""

    def infer(self, x: TensorType) -> TensorType:
        if len(self.low) != x.rank or len(self.high) != x.rank:
            raise ShapeError(
                f"low and high need {x.rank} entries, got {list(self.low)} and {list(self.high)}"
            )
        if min(self.low + self.high, default=0) < 0:
            raise ShapeError("padding must be non-negative")
        shape = []
        for d, lo, hi in zip(x.shape, self.low, self.high):
            shape.append(d + lo + hi if isinstance(d, int) else (d if lo == hi == 0 else ANY))
        return x.with_shape(shape)

    def reference(self, x):
        return np.pad(x, list(zip(self.low, self.high)), constant_values=self.value)

    def vjp(self, b, g):
        shape = self.x.type.shape
        axes = [i for i in range(len(shape)) if self.low[i] or self.high[i]]
        stops = [
            self.low[i] + shape[i] if isinstance(shape[i], int) else -self.high[i] or END
            for i in axes
        ]
        return [
            b.slice(g, axes=axes, starts=[self.low[i] for i in axes], stops=stops) if axes else g
        ]


@op("kiln.gather", ["params", "indices"], {"axis": Attr(int_, 0)}, tf="GatherV2", onnx="Gather")
class Gather(Operation):
    """params taken at `indices` along `axis` (tf.gather, numpy.take).

    Result shape: params.shape[:axis] + indices.shape + params.shape[axis+1:].
    An index outside [0, size) is an error, never a wrong answer.
    """

    def infer(self, params: TensorType, indices: TensorType) -> TensorType:
        if not indices.dtype.is_int:
            raise ShapeError(f"indices must be integers, got {indices}")
        if params.rank == 0:
            raise ShapeError("cannot gather from a scalar")
        axis = normalize_axis(self.axis, params.rank)
        return params.with_shape(params.shape[:axis] + indices.shape + params.shape[axis + 1 :])

    def reference(self, params, indices):
        axis = normalize_axis(self.axis, params.ndim)
        size = params.shape[axis]
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            bad = indices[(indices < 0) | (indices >= size)].flat[0]
            raise ExecutionError(f"index {bad} is out of range [0, {size}) on axis {axis}")
        return np.take(params, indices, axis=axis)

    def vjp(self, b, g):
        params = self.params
        return [b.scatter_add(zeros_like(b, params), self.indices, g, axis=self.axis), None]


@op("kiln.expand_dims", ["x"], {"axis": Attr(int_)}, tf="ExpandDims", onnx="Unsqueeze")
class ExpandDims(Operation):
    """Insert a dim of size 1 at `axis` (in [-rank-1, rank])."""

    def infer(self, x: TensorType) -> TensorType:
        axis = normalize_axis(self.axis, x.rank + 1)
        return x.with_shape(x.shape[:axis] + (1,) + x.shape[axis:])

    def reference(self, x):
        return np.expand_dims(x, normalize_axis(self.axis, x.ndim + 1))

    def vjp(self, b, g):
        return [b.squeeze(g, axes=[normalize_axis(self.axis, self.x.type.rank + 1)])]


@op("kiln.squeeze", ["x"], {"axes": Attr(ints)}, tf="Squeeze", onnx="Squeeze")
class Squeeze(Operation):
    """Remove the size-1 dims `axes` (a symbolic dim must be 1 at run time)."""

    def infer(self, x: TensorType) -> TensorType:
        axes = normalize_axes(self.axes, x.rank)
        for a in axes:
            if isinstance(x.shape[a], int) and x.shape[a] != 1:
                raise ShapeError(f"cannot squeeze dim {a} of {x}: its size is not 1")
        return x.with_shape([d for i, d in enumerate(x.shape) if i not in axes])

    def reference(self, x):
        axes = normalize_axes(self.axes, x.ndim)
        if any(x.shape[a] != 1 for a in axes):
            raise ExecutionError(f"cannot squeeze axes {list(axes)} of shape {x.shape}")
        return np.squeeze(x, axis=axes)

    def vjp(self, b, g):
        rank = self.x.type.rank
        for axis in sorted(normalize_axis(a, rank) for a in self.axes):
            g = b.expand_dims(g, axis=axis)
        return [g]


@op("kiln.broadcast_to", ["x"], {"shape": Attr(ints)}, tf="BroadcastTo", onnx="Expand")
class BroadcastTo(Operation):
    """numpy.broadcast_to; a -1 in `shape` keeps the operand's dim there."""

    def target(self, shape: tuple) -> list:
        if len(self.shape) < len(shape):
            raise ShapeError(f"cannot broadcast rank {len(shape)} to rank {len(self.shape)}")
        lead = len(self.shape) - len(shape)
        out = []
        for i, d in enumerate(self.shape):
            if d == -1:
                if i < lead:
                    raise ShapeError(f"-1 at dim {i} has no operand dim to keep")
                out.append(shape[i - lead])
            elif d < 0:
                raise ShapeError(f"bad target dim {d}")
            else:
                out.append(d)
        return out

    def infer(self, x: TensorType) -> TensorType:
        out = self.target(x.shape)
        lead = len(out) - x.rank
        for i, d in enumerate(x.shape):
            if broadcast_dim(d, out[lead + i]) != out[lead + i]:
                raise ShapeError(f"cannot broadcast {x} to {format_shape(out)}")
        return x.with_shape(out)

    def reference(self, x):
        return np.broadcast_to(x, self.target(x.shape))

    def scalar(self, k, x):
        return x  # the operand's value at the broadcast position

    def vjp(self, b, g):
        return [g]  # the driver sums the broadcast dims


@op("kiln.broadcast_like", ["x", "like"])
class BroadcastLike(Operation):
    """`x` broadcast to the shape of `like`, whose values are not read.

    Unlike kiln.broadcast_to the target may be symbolic (zeros shaped like a
    batch of unknown size); with equal shapes it only retypes `x` (a `?` dim
    becomes `N`). The autodiff pass uses it for zeros and reduction gradients.
    """

    def infer(self, x: TensorType, like: TensorType) -> TensorType:
        lead = like.rank - x.rank
        if lead < 0 or not all(
            d == 1 or may_equal(d, t) for d, t in zip(x.shape, like.shape[lead:])
        ):
            raise ShapeError(f"cannot broadcast {x} to the shape of {like}")
        return TensorType(x.dtype, like.shape)

    def reference(self, x, like):
        return np.broadcast_to(x, like.shape)

    def scalar(self, k, x, like):
        return x  # `like` only gives the extents: it is never loaded

    def vjp(self, b, g):
        return [g, None]


@op("kiln.scatter_add", ["x", "indices", "updates"], {"axis": Attr(int_, 0)}, tf="TensorScatterAdd")
class ScatterAdd(Operation):
    """`x` with `updates` added at `indices` along `axis`; repeated indices add
    up (numpy.add.at, tf.tensor_scatter_nd_add on one axis). The transpose of
    kiln.gather: `updates` has the shape gather(x, indices) would have."""

    def infer(self, x: TensorType, indices: TensorType, updates: TensorType) -> TensorType:
        if not indices.dtype.is_int:
            raise ShapeError(f"indices must be integers, got {indices}")
        if x.rank == 0:
            raise ShapeError("cannot scatter into a scalar")
        axis = normalize_axis(self.axis, x.rank)
        want = x.shape[:axis] + indices.shape + x.shape[axis + 1 :]
        if (
            updates.dtype != x.dtype
            or updates.rank != len(want)
            or not all(may_equal(a, b) for a, b in zip(updates.shape, want))
        ):
            raise ShapeError(
                f"updates must be {x.with_shape(want)} to scatter into {x} at "
                f"{indices}, got {updates}"
            )
        return x

    def reference(self, x, indices, updates):
        axis = normalize_axis(self.axis, x.ndim)
        size = x.shape[axis]
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            raise ExecutionError(f"an index is out of range [0, {size}) on axis {axis}")
        out = np.array(x, copy=True)
        np.add.at(out, (slice(None),) * axis + (indices,), updates)
        return out

    def vjp(self, b, g):
        return [g, None, b.gather(g, self.indices, axis=self.axis)]

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """One add per element (the model counts the operand, not the updates)."""
        return Cost(elements(operand_shapes[0]), 0, moved(self, operand_shapes, result_shapes))


# ------------------------------------------------------------------ gradient helpers


def concat_pieces(sizes: Sequence[Dim], op: Operation) -> list[tuple[int, int]]:
    """(start, stop) of each operand of a concatenation along its axis. One size
    may be symbolic: the pieces after it are counted from the end."""
    symbolic = [i for i, n in enumerate(sizes) if not isinstance(n, int)]
    if len(symbolic) > 1:
        raise op.error(
            "its gradient needs all but one operand static along the axis, got "
            f"sizes {format_shape(sizes)}",
            KilnError,
        )
    cut = symbolic[0] if symbolic else len(sizes)
    pieces, start = [], 0
    for n in sizes[:cut]:
        pieces.append((start, start + n))
        start += n
    if symbolic:
        end = -sum(sizes[cut + 1 :])
        pieces.append((start, end or END))
        for n in sizes[cut + 1 :]:
            pieces.append((end, end + n or END))
            end += n
    return pieces


def unslice_axis(
    op: Operation, b: Builder, g: Value, axis: int, size: Dim, taken: slice
) -> Value | None:
    """The cotangent `g` of what `taken` took from an axis of `size`, put back
    in place; None when the slice took nothing."""
    if not isinstance(size, int):
        start, stop, step = taken.start, taken.stop, taken.step
        if step != 1 or start < 0 or not (stop < 0 or stop >= FAR):
            raise op.error(
                f"its gradient on symbolic dim {axis} needs step 1, a start >= 0 "
                "and a stop counted from the end",
                KilnError,
            )
        return pad_axis(b, g, axis, start, -stop if stop < 0 else 0)
    start, stop, step = taken.indices(size)
    n = len(range(start, stop, step))
    if n == 0:
        return None
    if step < 0:
        g, start, step = reverse(b, g, axis), start + (n - 1) * step, -step
    if step > 1:
        g = interleave_zeros(b, g, axis, step, op)
    return pad_axis(b, g, axis, start, size - start - (n - 1) * step - 1)
