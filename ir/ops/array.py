"""Array ops the frontend's tf-style functions need beyond moving data:
cumsum, top_k, nonzero (the indices tf.where and boolean_mask need), shape.

cumsum decomposes (floats, static axis) to a matmul with a triangular
constant, so backends run it as a matmul; the others are primitives.
"""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, bool_, dtype_, int_
from ..core import Operation
from ..errors import ExecutionError, KilnError, ShapeError
from ..registry import op
from ..types import ANY, TensorType
from .reduce import normalize_axis


@op(
    "kiln.cumsum",
    ["x"],
    {"axis": Attr(int_, 0), "exclusive": Attr(bool_, False), "reverse": Attr(bool_, False)},
    tf="Cumsum",
    onnx="CumSum",
)
class Cumsum(Operation):
    """Running sums along `axis` (tf.math.cumsum): `exclusive` leaves the
    element itself out, `reverse` sums from the end."""

    def infer(self, x: TensorType) -> TensorType:
        if x.dtype.is_bool:
            raise ShapeError(f"expected a numeric operand, got {x}")
        normalize_axis(self.axis, x.rank)
        return x

    def reference(self, x):
        axis = normalize_axis(self.axis, x.ndim)
        y = np.flip(x, axis) if self.reverse else x
        out = np.cumsum(y, axis=axis, dtype=x.dtype)
        if self.exclusive:
            out = out - y
        return np.flip(out, axis) if self.reverse else out

    def triangle(self, n: int, dtype) -> np.ndarray:
        """T with cumsum(x) = x @ T along the last axis: T[i, j] = 1 where
        element i counts toward sum j."""
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        if self.reverse:
            keep = i > j if self.exclusive else i >= j
        else:
            keep = i < j if self.exclusive else i <= j
        return keep.astype(dtype)

    def decompose(self, b):
        """x @ triangle along the axis (moved last and back): floats and a
        static axis only; the op is kept otherwise."""
        x = self.x
        rank, dtype = x.type.rank, x.type.dtype
        axis = normalize_axis(self.axis, rank)
        n = x.type.shape[axis]
        if not dtype.is_float or not isinstance(n, int):
            return None
        tri = b.constant(self.triangle(n, dtype.numpy), dtype)
        if axis == rank - 1:
            return b.matmul(x, tri)
        perm = [d for d in range(rank) if d != axis] + [axis]
        moved = b.matmul(b.transpose(x, perm=perm), tri)
        return b.transpose(moved, perm=[int(p) for p in np.argsort(perm)])

    def vjp(self, b, g):
        """The running sum taken the other way round."""
        return [b.cumsum(g, axis=self.axis, exclusive=self.exclusive, reverse=not self.reverse)]


@op(
    "kiln.top_k",
    ["x"],
    {"k": Attr(int_), "index_dtype": Attr(dtype_, "i32")},
    results=2,
    tf="TopKV2",
    onnx="TopK",
)
class TopK(Operation):
    """The k largest values along the last axis, largest first, and their
    indices (tf.nn.top_k with sorted=True); on ties the lower index first."""

    def infer(self, x: TensorType) -> tuple[TensorType, TensorType]:
        if x.dtype.is_bool or x.rank == 0:
            raise ShapeError(f"expected a numeric operand of rank >= 1, got {x}")
        if self.k < 0:
            raise ShapeError(f"k must be >= 0, got {self.k}")
        if not self.index_dtype.is_int:
            raise ShapeError(f"index_dtype must be an integer type, got {self.index_dtype}")
        n = x.shape[-1]
        if isinstance(n, int) and n < self.k:
            raise ShapeError(f"k = {self.k} is larger than the last dim of {x}")
        shape = list(x.shape[:-1]) + [self.k]
        return x.with_shape(shape), TensorType(self.index_dtype, shape)

    def reference(self, x):
        if x.shape[-1] < self.k:
            raise ExecutionError(f"k = {self.k} is larger than the last dim of shape {x.shape}")
        order = np.argsort(
            -x if x.dtype.kind == "f" else -x.astype(np.int64), axis=-1, kind="stable"
        )[..., : self.k]
        return np.take_along_axis(x, order, -1), order.astype(self.index_dtype.numpy)

    def vjp(self, b, g_values, g_indices=None):
        """Each value's cotangent goes back to the position it was taken from:
        sum over the k picks of g * one_hot(index) along the last axis."""
        x, indices = self.x, self.results[1]
        n = x.type.shape[-1]
        if g_values is None:
            return [None]
        if not isinstance(n, int):
            raise self.error(f"its gradient needs a static last dim, got {x.type}", KilnError)
        positions = b.iota(shape=[n], dtype=indices.type.dtype)
        picked = b.cast(b.equal(b.expand_dims(indices, axis=-1), positions), dtype=x.type.dtype)
        return [b.reduce_sum(b.mul(picked, b.expand_dims(g_values, axis=-1)), axes=[-2])]


@op(
    "kiln.nonzero",
    ["x"],
    {"index_dtype": Attr(dtype_, "i64")},
    not_differentiable="indices: constant almost everywhere",
    tf="Where",
    onnx="NonZero",
)
class Nonzero(Operation):
    """The coordinates of x's non-zero (true) elements, one row each, in row-major
    order (tf.where with one argument, numpy.argwhere): [count, rank], where the
    count is known only at run time."""

    def infer(self, x: TensorType) -> TensorType:
        if not self.index_dtype.is_int:
            raise ShapeError(f"index_dtype must be an integer type, got {self.index_dtype}")
        return TensorType(self.index_dtype, [ANY, x.rank])

    def reference(self, x):
        return np.argwhere(x).astype(self.index_dtype.numpy).reshape(-1, x.ndim)


@op(
    "kiln.shape",
    ["x"],
    {"dtype": Attr(dtype_, "i32")},
    not_differentiable="its operand gives only its shape",
    tf="Shape",
    onnx="Shape",
)
class Shape(Operation):
    """x's shape as a 1-D integer tensor (tf.shape); x's values are not read."""

    def infer(self, x: TensorType) -> TensorType:
        if not self.dtype.is_int:
            raise ShapeError(f"dtype must be an integer type, got {self.dtype}")
        return TensorType(self.dtype, [x.rank])

    def reference(self, x):
        return np.array(x.shape, dtype=self.dtype.numpy)
