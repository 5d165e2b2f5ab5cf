"""tf.sort and tf.argsort, and tf.norm: built on kiln.top_k and reductions.

top_k sorts the last dim, largest first, the lower index first on ties; an
ascending sort is top_k of the negated values (so ties stay in index order,
TensorFlow's stable order). Another axis is moved last and back.
"""

from __future__ import annotations

from typing import Any

from .array_ops import _axis, _rank
from .graph import GraphError, Tensor, get_default_graph
from .nn import top_k
from .ops import (
    abs,
    convert_to_tensor,
    negative,
    reduce_max,
    reduce_sum,
    sqrt,
    square,
    transpose,
)

__all__ = ["argsort", "norm", "sort"]


def _sorted(values: Any, axis: int, direction: str, what: str) -> tuple[Tensor, Tensor]:
    x = convert_to_tensor(values)
    rank = _rank(x, what)
    axis = _axis(int(axis), rank, what)
    if direction not in ("ASCENDING", "DESCENDING"):
        raise GraphError(f"{what}: direction must be ASCENDING or DESCENDING, got {direction!r}")
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    moved = transpose(x, perm) if axis != rank - 1 else x
    n = moved.shape[-1]
    if n is None:
        raise GraphError(f"{what}: dim {axis} of {x.name} must be static")
    key = moved if direction == "DESCENDING" else negative(moved)
    vals, idx = top_k(key, k=int(n))
    if direction == "ASCENDING":
        vals = negative(vals)
    if axis != rank - 1:
        vals, idx = transpose(vals, perm), transpose(idx, perm)
    return vals, idx


def sort(values: Any, axis: int = -1, direction: str = "ASCENDING", name: str | None = None):
    """`values` sorted along `axis` (tf.sort)."""
    with get_default_graph().name_scope(name or "sort"):
        return _sorted(values, axis, direction, "sort")[0]


def argsort(
    values: Any,
    axis: int = -1,
    direction: str = "ASCENDING",
    stable: bool = False,
    name: str | None = None,
):
    """The int32 indices that sort `values` along `axis` (tf.argsort); ties keep
    index order."""
    with get_default_graph().name_scope(name or "argsort"):
        return _sorted(values, axis, direction, "argsort")[1]


def norm(
    tensor: Any,
    ord: Any = "euclidean",
    axis: Any = None,
    keepdims: bool = False,
    name: str | None = None,
):
    """The vector norm over `axis` (all entries when None; tf.norm): "euclidean"
    (or 2, or "fro" on a matrix's two axes), 1, or inf (np.inf)."""
    x = convert_to_tensor(tensor)
    axes = None if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    with get_default_graph().name_scope(name or "norm"):
        if ord in ("euclidean", "fro", 2, 2.0):
            if ord == 2 and axes is not None and len(axes) == 2:
                raise GraphError("norm: ord=2 on a matrix (the spectral norm) is not supported")
            return sqrt(reduce_sum(square(x), axis=axes, keepdims=keepdims))
        if ord in (1, 1.0):
            if axes is not None and len(axes) == 2:
                raise GraphError("norm: ord=1 on a matrix (max column sum) is not supported")
            return reduce_sum(abs(x), axis=axes, keepdims=keepdims)
        if ord == float("inf"):
            if axes is not None and len(axes) == 2:
                raise GraphError("norm: ord=inf on a matrix (max row sum) is not supported")
            return reduce_max(abs(x), axis=axes, keepdims=keepdims)
        raise GraphError(f"norm: ord must be 'euclidean', 'fro', 1, 2 or inf, got {ord!r}")
