"""Reductions over axes, with keepdims, and argmax/argmin."""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, bool_, dtype_, int_, ints, optional
from ..builder import Builder
from ..core import Operation, Value
from ..cost import Cost, elements, moved
from ..errors import ExecutionError, ShapeError
from ..gradient import scalar_like
from ..registry import op
from ..types import TensorType


def normalize_axis(axis: int, rank: int) -> int:
    """`axis` in [-rank, rank) as a non-negative index; ShapeError otherwise."""
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def normalize_axes(axes: tuple[int, ...] | None, rank: int) -> tuple[int, ...]:
    """Sorted non-negative axes; None means every axis."""
    if axes is None:
        return tuple(range(rank))
    out = tuple(sorted(normalize_axis(a, rank) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {list(axes)}")
    return out


REDUCE_ATTRS = {"axes": Attr(optional(ints), None), "keepdims": Attr(bool_, False)}


class Reduce(Operation):
    """Reduce `x` over `axes` (all axes when not given); keepdims keeps them as 1."""

    def reduced_axes(self, rank: int) -> tuple[int, ...]:
        return normalize_axes(self.axes, rank)

    def infer(self, x: TensorType) -> TensorType:
        if x.dtype.is_bool:
            raise ShapeError(f"expected a numeric operand, got {x}")
        axes = self.reduced_axes(x.rank)
        if self.keepdims:
            shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
        else:
            shape = [d for i, d in enumerate(x.shape) if i not in axes]
        return x.with_shape(shape)

    def reference(self, x):
        axes = self.reduced_axes(x.ndim)
        if x.size == 0 and self.needs_elements and any(x.shape[a] == 0 for a in axes):
            raise ExecutionError(f"cannot reduce an empty axis of shape {x.shape}")
        return self.numpy_reduce(x, axis=axes, keepdims=self.keepdims)

    needs_elements = False

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """One operation per element reduced."""
        return Cost(elements(operand_shapes[0]), 0, moved(self, operand_shapes, result_shapes))


@op("kiln.reduce_sum", ["x"], REDUCE_ATTRS, tf="Sum", onnx="ReduceSum")
class ReduceSum(Reduce):
    fold = "sum"
    numpy_reduce = staticmethod(np.sum)

    def vjp(self, b, g):
        return [spread(self, b, g)]


@op("kiln.reduce_mean", ["x"], REDUCE_ATTRS, tf="Mean", onnx="ReduceMean")
class ReduceMean(Reduce):
    fold = "sum"
    needs_elements = True
    numpy_reduce = staticmethod(np.mean)

    def decompose(self, b):
        """reduce_sum times 1/count where the count is static; kept otherwise."""
        axes = self.reduced_axes(self.x.type.rank)
        return self.sum_times_reciprocal(b, self.x, axes, self.keepdims)

    @staticmethod
    def sum_times_reciprocal(b, x, axes: tuple[int, ...], keepdims: bool):
        """The float mean of `x` over `axes` built as reduce_sum(x) * (1/count),
        or None when a reduced dim is symbolic or 0 (the count is known only
        at run time, or there is nothing to average) or x is not float (an
        integer mean divides, and 1/count is 0 in integers)."""
        dims = [x.type.shape[a] for a in axes]
        if not x.type.dtype.is_float or not all(isinstance(d, int) and d > 0 for d in dims):
            return None
        dtype = x.type.dtype
        reciprocal = b.constant(np.array(1 / np.prod(dims), dtype.numpy), dtype)
        return b.mul(b.reduce_sum(x, axes=axes, keepdims=keepdims), reciprocal)

    def vjp(self, b, g):
        x = self.x
        sizes = [x.type.shape[a] for a in self.reduced_axes(x.type.rank)]
        if all(isinstance(n, int) for n in sizes):
            count = scalar_like(b, int(np.prod(sizes)), g)
        else:  # a symbolic axis: count at run time
            ones = b.broadcast_like(scalar_like(b, 1, g), x)
            count = reduce_kept(b, "kiln.reduce_sum", ones, self)
        return [b.div(spread(self, b, g), count)]


@op("kiln.reduce_max", ["x"], REDUCE_ATTRS, tf="Max", onnx="ReduceMax")
class ReduceMax(Reduce):
    fold = "max"
    needs_elements = True
    numpy_reduce = staticmethod(np.max)

    def vjp(self, b, g):
        """The gradient is shared equally among the positions that hold the extreme."""
        x = self.x
        hits = b.cast(b.equal(x, keep_reduced(self, b, self.result)), dtype=x.type.dtype)
        share = b.div(hits, reduce_kept(b, "kiln.reduce_sum", hits, self))
        return [b.mul(spread(self, b, g), share)]


@op("kiln.reduce_min", ["x"], REDUCE_ATTRS, tf="Min", onnx="ReduceMin")
class ReduceMin(Reduce):
    fold = "min"
    needs_elements = True
    numpy_reduce = staticmethod(np.min)

    vjp = ReduceMax.vjp


@op("kiln.reduce_prod", ["x"], REDUCE_ATTRS, tf="Prod", onnx="ReduceProd")
class ReduceProd(Reduce):
    fold = "prod"
    numpy_reduce = staticmethod(np.prod)

    def vjp(self, b, g):
        return [b.mul(spread(self, b, g), product_of_others(self, b))]


ARG_ATTRS = {"axis": Attr(int_), "index_dtype": Attr(dtype_, "i64")}


class ArgReduce(Operation):
    """The index of the extreme value along `axis` (the first, on ties)."""

    def infer(self, x: TensorType) -> TensorType:
        if x.dtype.is_bool:
            raise ShapeError(f"expected a numeric operand, got {x}")
        if not self.index_dtype.is_int:
            raise ShapeError(f"index_dtype must be an integer type, got {self.index_dtype}")
        axis = normalize_axis(self.axis, x.rank)
        return TensorType(self.index_dtype, [d for i, d in enumerate(x.shape) if i != axis])

    def reference(self, x):
        axis = normalize_axis(self.axis, x.ndim)
        if x.shape[axis] == 0:
            raise ExecutionError(f"cannot take {self.name} over an empty axis")
        return self.numpy_arg(x, axis=axis)

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """One operation per element reduced."""
        return Cost(elements(operand_shapes[0]), 0, moved(self, operand_shapes, result_shapes))


@op(
    "kiln.argmax",
    ["x"],
    ARG_ATTRS,
    not_differentiable="an index: constant almost everywhere",
    tf="ArgMax",
    onnx="ArgMax",
)
class ArgMax(ArgReduce):
    fold = "argmax"
    numpy_arg = staticmethod(np.argmax)


@op(
    "kiln.argmin",
    ["x"],
    ARG_ATTRS,
    not_differentiable="an index: constant almost everywhere",
    tf="ArgMin",
    onnx="ArgMin",
)
class ArgMin(ArgReduce):
    fold = "argmin"
    numpy_arg = staticmethod(np.argmin)


# ------------------------------------------------------------------ gradient helpers


def keep_reduced(op: Operation, b: Builder, v: Value) -> Value:
    """A reduction's result (or its cotangent) `v` with the reduced axes kept as 1,
    so it broadcasts against the operand. A full reduction's scalar already does."""
    axes = op.reduced_axes(op.x.type.rank)
    if op.keepdims or len(axes) == op.x.type.rank:
        return v
    for axis in axes:
        v = b.expand_dims(v, axis=axis)
    return v


def spread(op: Operation, b: Builder, g: Value) -> Value:
    """A reduction's cotangent broadcast back over the reduced axes."""
    return b.broadcast_like(keep_reduced(op, b, g), op.x)


def reduce_kept(b: Builder, reduce: str, x: Value, op: Operation) -> Value:
    """`reduce` over `op`'s axes of `x`, keeping them as 1."""
    return b.create(reduce, x, axes=op.reduced_axes(x.type.rank), keepdims=True).result


def product_of_others(op: Operation, b: Builder) -> Value:
    """For each element of a reduce_prod, the product of the others in its
    reduction, without dividing by zero: rest / x times the product of the
    zeros (1 without zeros, 0 with, but its derivative is right) where x is
    not zero; at a zero, the product of the non-zeros if it is the only zero.
    Exact to the second derivative unless two elements of a reduction are 0."""
    x = op.x
    zero, one = scalar_like(b, 0, x), scalar_like(b, 1, x)
    is_zero = b.equal(x, zero)
    nonzero = b.select(is_zero, one, x)
    rest = reduce_kept(b, "kiln.reduce_prod", nonzero, op)
    zeros = reduce_kept(b, "kiln.reduce_prod", b.select(is_zero, x, one), op)
    count = reduce_kept(b, "kiln.reduce_sum", b.cast(is_zero, dtype=x.type.dtype), op)
    at_zero = b.select(b.equal(count, one), rest, zero)
    return b.select(is_zero, at_zero, b.mul(b.div(rest, nonzero), zeros))
