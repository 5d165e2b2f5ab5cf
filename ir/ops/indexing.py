"""Ops that read or write at positions given per element: gather_elements,
scatter_elements, gather_nd and scatter_nd (ONNX's GatherElements,
ScatterElements, GatherND and ScatterND; tf.gather_nd and
tf.tensor_scatter_nd_update).

Indices may be negative, counted from the end of their axis as ONNX allows
([-size, size)); an index outside that range is an ExecutionError naming the
op, never a wrong answer. A scatter applies its updates in row-major order of
the indices, so with `reduction` "add", "mul", "max" or "min" repeated
indices combine; with "none" the last one wins.
"""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, int_, one_of
from ..core import Operation
from ..cost import Cost, elements, moved
from ..errors import ExecutionError, KilnError, ShapeError
from ..gradient import zeros_like
from ..registry import op
from ..types import TensorType, may_equal
from .reduce import normalize_axis

REDUCTIONS = ("none", "add", "mul", "max", "min")


def wrap_indices(indices: np.ndarray, size, op: Operation, axis: int | str) -> np.ndarray:
    """`indices` with negative entries counted from the end; ExecutionError
    naming `op` when one lies outside [-size, size)."""
    indices = np.asarray(indices, dtype=np.int64)
    size = np.asarray(size, dtype=np.int64)
    bad = (indices < -size) | (indices >= size)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        limit = int(np.broadcast_to(size, indices.shape)[where])
        raise op.error(
            f"index {int(indices[where])} at {list(where)} is out of range "
            f"[{-limit}, {limit}) on axis {axis}",
            ExecutionError,
        )
    return np.where(indices < 0, indices + size, indices)


def combine(reduction: str, out: np.ndarray, where: tuple, updates: np.ndarray) -> None:
    """out[where] = updates combined by `reduction`, in order (numpy's ufunc.at)."""
    if reduction == "none":
        out[where] = updates  # numpy assigns in order: the last repeat wins
        return
    ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]
    if out.dtype == np.bool_:
        ufunc = {"add": np.logical_or, "mul": np.logical_and}.get(reduction, ufunc)
    ufunc.at(out, where, updates)


def _check_index_dtype(indices: TensorType) -> None:
    if not indices.dtype.is_int:
        raise ShapeError(f"indices must be integers, got {indices}")


def scatter_vjp(op: Operation, b, g, gather):
    """The cotangents of a scatter `op` (elements or nd): x's where no update
    replaced it (all of g under "add"), each update's at its position."""
    if op.reduction not in ("none", "add"):
        raise op.error(
            f"no gradient for reduction={op.reduction!r} (only 'none' and 'add')", KilnError
        )
    g_updates = gather(g)
    if op.reduction == "add":
        return [g, None, g_updates]
    attrs = {k: op.attrs[k] for k in op.attr_specs}
    g_x = b.create(type(op), g, op.indices, zeros_like(b, op.updates), **attrs).results[0]
    return [g_x, None, g_updates]


@op(
    "kiln.gather_elements",
    ["x", "indices"],
    {"axis": Attr(int_, 0)},
    onnx="GatherElements",
)
class GatherElements(Operation):
    """out[i0, .., ik, ..] = x[i0, .., indices[i0, .., ik, ..], ..] with k =
    `axis` (ONNX GatherElements, numpy.take_along_axis without broadcasting):
    the result has the indices' shape, whose dims off the axis are at most x's."""

    def infer(self, x: TensorType, indices: TensorType) -> TensorType:
        _check_index_dtype(indices)
        if x.rank == 0 or indices.rank != x.rank:
            raise ShapeError(f"indices must have x's rank >= 1: x {x}, indices {indices}")
        axis = normalize_axis(self.axis, x.rank)
        for d, (n, m) in enumerate(zip(x.shape, indices.shape)):
            if d != axis and isinstance(n, int) and isinstance(m, int) and m > n:
                raise ShapeError(f"indices {indices} are larger than x {x} on dim {d}")
        return x.with_shape(indices.shape)

    def reference(self, x, indices):
        axis = normalize_axis(self.axis, x.ndim)
        if any(m > n for d, (n, m) in enumerate(zip(x.shape, indices.shape)) if d != axis):
            raise self.error(f"indices {indices.shape} do not fit in x {x.shape}", ExecutionError)
        index = wrap_indices(indices, x.shape[axis], self, axis)
        grid = list(np.indices(indices.shape, sparse=True))
        grid[axis] = index
        return x[tuple(grid)]

    def vjp(self, b, g):
        zeros = zeros_like(b, self.x)
        scattered = b.scatter_elements(zeros, self.indices, g, axis=self.axis, reduction="add")
        return [scattered, None]


@op(
    "kiln.scatter_elements",
    ["x", "indices", "updates"],
    {"axis": Attr(int_, 0), "reduction": Attr(one_of(*REDUCTIONS), "none")},
    onnx="ScatterElements",
)
class ScatterElements(Operation):
    """x with updates[i0, .., ik, ..] written at x[i0, .., indices[i0, .., ik, ..], ..]
    (k = `axis`), combined with what is there by `reduction` (ONNX ScatterElements,
    tf.tensor_scatter_nd_* along one axis): the transpose of gather_elements."""

    def infer(self, x: TensorType, indices: TensorType, updates: TensorType) -> TensorType:
        GatherElements.infer(self, x, indices)
        if updates.dtype != x.dtype or updates.rank != indices.rank:
            raise ShapeError(f"updates must be {x.with_shape(indices.shape)}, got {updates}")
        if not all(may_equal(a, c) for a, c in zip(updates.shape, indices.shape)):
            raise ShapeError(f"updates must be {x.with_shape(indices.shape)}, got {updates}")
        return x

    def reference(self, x, indices, updates):
        axis = normalize_axis(self.axis, x.ndim)
        if updates.shape != indices.shape:
            raise self.error(
                f"updates {updates.shape} differ from indices {indices.shape}", ExecutionError
            )
        if any(m > n for d, (n, m) in enumerate(zip(x.shape, indices.shape)) if d != axis):
            raise self.error(f"indices {indices.shape} do not fit in x {x.shape}", ExecutionError)
        index = wrap_indices(indices, x.shape[axis], self, axis)
        grid = [np.broadcast_to(g, indices.shape) for g in np.indices(indices.shape, sparse=True)]
        grid[axis] = index
        out = np.array(x, copy=True)
        combine(self.reduction, out, tuple(g.reshape(-1) for g in grid), updates.reshape(-1))
        return out

    def vjp(self, b, g):
        return scatter_vjp(self, b, g, lambda g: b.gather_elements(g, self.indices, axis=self.axis))

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """One combining op per update."""
        flops = 0 if self.reduction == "none" else elements(operand_shapes[2])
        return Cost(flops, 0, moved(self, operand_shapes, result_shapes))


def nd_shapes(x: TensorType, indices: TensorType, batch_dims: int) -> tuple:
    """(q, result shape) of gather_nd(x, indices): q = indices.shape[-1] static."""
    _check_index_dtype(indices)
    if indices.rank < 1 or not isinstance(indices.shape[-1], int):
        raise ShapeError(f"indices must have a static last dim, got {indices}")
    q = indices.shape[-1]
    if batch_dims < 0 or batch_dims >= min(x.rank, indices.rank):
        raise ShapeError(f"batch_dims {batch_dims} must be in [0, {min(x.rank, indices.rank)})")
    if q < 1 or batch_dims + q > x.rank:
        raise ShapeError(f"indices of last dim {q} cannot index {x} after {batch_dims} batch dims")
    for d in range(batch_dims):
        if not may_equal(x.shape[d], indices.shape[d]):
            raise ShapeError(f"batch dim {d} differs: x {x}, indices {indices}")
    return q, indices.shape[:-1] + x.shape[batch_dims + q :]


def nd_positions(op: Operation, shape: tuple, indices: np.ndarray, batch_dims: int):
    """The indices of x (of `shape`) that `indices` address, wrapped and checked,
    as a tuple of index arrays over indices.shape[:-1] (batch dims included)."""
    q = indices.shape[-1]
    sizes = np.array(shape[batch_dims : batch_dims + q], dtype=np.int64)
    wrapped = wrap_indices(indices, sizes, op, f"{batch_dims}..{batch_dims + q - 1}")
    lead = indices.shape[:-1]
    rest = (1,) * (len(lead) - batch_dims)
    batch = [
        np.broadcast_to(g.reshape(g.shape + rest), lead) for g in np.indices(lead[:batch_dims])
    ]
    return tuple(batch) + tuple(wrapped[..., k] for k in range(q))


@op(
    "kiln.gather_nd",
    ["x", "indices"],
    {"batch_dims": Attr(int_, 0)},
    tf="GatherNd",
    onnx="GatherND",
)
class GatherND(Operation):
    """Slices of x at the coordinates in the last dim of `indices` (ONNX GatherND,
    tf.gather_nd): result shape indices.shape[:-1] + x.shape[batch_dims + q:],
    q = indices.shape[-1]; the first `batch_dims` dims of both are one batch."""

    def infer(self, x: TensorType, indices: TensorType) -> TensorType:
        return x.with_shape(nd_shapes(x, indices, self.batch_dims)[1])

    def reference(self, x, indices):
        b = self.batch_dims
        if indices.shape[:b] != x.shape[:b]:
            raise self.error(f"batch dims of {indices.shape} and {x.shape} differ", ExecutionError)
        return x[nd_positions(self, x.shape, indices, b)]

    def vjp(self, b, g):
        if self.batch_dims:
            raise self.error("no gradient with batch_dims > 0 yet", KilnError)
        zeros = zeros_like(b, self.x)
        return [b.scatter_nd(zeros, self.indices, g, reduction="add"), None]


@op(
    "kiln.scatter_nd",
    ["x", "indices", "updates"],
    {"reduction": Attr(one_of(*REDUCTIONS), "none")},
    tf="TensorScatterUpdate",
    onnx="ScatterND",
)
class ScatterND(Operation):
    """x with the slices `updates` written at the coordinates in the last dim of
    `indices`, combined by `reduction` (ONNX ScatterND, tf.tensor_scatter_nd_*):
    updates has the shape gather_nd(x, indices) would have."""

    batch_dims = 0

    def infer(self, x: TensorType, indices: TensorType, updates: TensorType) -> TensorType:
        _, want = nd_shapes(x, indices, 0)
        if (
            updates.dtype != x.dtype
            or updates.rank != len(want)
            or not all(may_equal(a, c) for a, c in zip(updates.shape, want))
        ):
            raise ShapeError(f"updates must be {x.with_shape(want)}, got {updates}")
        return x

    def reference(self, x, indices, updates):
        want = indices.shape[:-1] + x.shape[indices.shape[-1] :]
        if updates.shape != want:
            raise self.error(f"updates must have shape {want}, got {updates.shape}", ExecutionError)
        lead = indices.shape[:-1]
        positions = nd_positions(self, x.shape, indices, 0)
        flat = tuple(p.reshape(-1) for p in positions)
        out = np.array(x, copy=True)
        count = int(np.prod(lead, dtype=np.int64))
        combine(self.reduction, out, flat, updates.reshape((count,) + updates.shape[len(lead) :]))
        return out

    def vjp(self, b, g):
        return scatter_vjp(self, b, g, lambda g: b.gather_nd(g, self.indices))

    def cost(self, operand_shapes, result_shapes) -> Cost:
        flops = 0 if self.reduction == "none" else elements(operand_shapes[2])
        return Cost(flops, 0, moved(self, operand_shapes, result_shapes))
