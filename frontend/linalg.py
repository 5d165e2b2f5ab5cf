"""tf.linalg and its TF 1.x top-level names: diagonals, cross products, and the
matrix factorizations (inverse, determinant, Cholesky, solve, eigen-decomposition).

The diagonals and the cross product are composites of kiln's ops, so they have
gradients. The factorizations are host ops (strings.host_op): the Session computes
them with numpy on the Python side, so, unlike TensorFlow's, they have no gradient;
programs use them to solve a system once (least squares by the normal equations),
not inside a model that trains.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import array_ops, ops, strings
from .graph import GraphError, Tensor, TensorShape
from .padding import eye

__all__ = [
    "cholesky",
    "cross",
    "diag",
    "matrix_determinant",
    "matrix_diag",
    "matrix_diag_part",
    "matrix_inverse",
    "matrix_solve",
    "matrix_transpose",
    "self_adjoint_eig",
    "self_adjoint_eigvals",
    "tensor_diag_part",
    "unsorted_segment_sum",
]


def matrix_diag(diagonal: Any, name: str | None = None) -> Tensor:
    """A batch of square matrices with `diagonal`'s last dim on their diagonals, zero
    elsewhere (tf.linalg.diag, tf.matrix_diag); that dim must be static."""
    d = ops.convert_to_tensor(diagonal)
    n = (d.shape.as_list() or [None])[-1]
    if n is None:
        raise GraphError(f"matrix_diag: the last dim of {d.name} must be static")
    return ops.multiply(array_ops.expand_dims(d, -1), eye(n, dtype=d.dtype), name=name)


def diag(diagonal: Any, name: str | None = None) -> Tensor:
    """tf.diag (TF 1.x): the square matrix with a vector on its diagonal. (TensorFlow's
    takes any rank, the output of rank 2k; kiln's takes vectors.)"""
    d = ops.convert_to_tensor(diagonal)
    if d.shape.ndims != 1:
        raise GraphError(f"diag: kiln takes a vector, got {d.name} of shape {d.shape}")
    return matrix_diag(d, name=name)


def matrix_diag_part(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The main diagonals of a batch of matrices (tf.linalg.diag_part,
    tf.matrix_diag_part). Of a static square size, a composite with a gradient; else
    a host op (no gradient)."""
    x = ops.convert_to_tensor(input)
    dims = x.shape.as_list()
    if dims is None or len(dims) < 2:
        raise GraphError(f"matrix_diag_part: {x.name} needs a known rank of at least 2")
    if dims[-1] is not None and dims[-1] == dims[-2]:
        return ops.reduce_sum(ops.multiply(x, eye(dims[-1], dtype=x.dtype)), axis=-1, name=name)
    k = None if None in dims[-2:] else min(dims[-2:])
    out = TensorShape([*dims[:-2], k])

    def run(a):
        return [np.ascontiguousarray(np.diagonal(a, axis1=-2, axis2=-1))]

    return strings.host_op("MatrixDiagPart", [x], run, [(x.dtype, out)], name)[0]


def tensor_diag_part(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """tf.diag_part (TF 1.x) of a square matrix: its diagonal."""
    return matrix_diag_part(input, name=name)


def cross(a: Any, b: Any, name: str | None = None) -> Tensor:
    """The cross product of 3-vectors along the last dim (tf.linalg.cross, tf.cross)."""
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b, dtype=ops.convert_to_tensor(a).dtype)
    for t in (a, b):
        if (t.shape.as_list() or [None])[-1] != 3:
            raise GraphError(f"cross: the last dim of {t.name} must be 3, got {t.shape}")
    ax, ay, az = array_ops.unstack(a, axis=-1)
    bx, by, bz = array_ops.unstack(b, axis=-1)
    terms = [ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx]
    return array_ops.stack(terms, axis=-1, name=name or "Cross")


def unsorted_segment_sum(data: Any, segment_ids: Any, num_segments: Any, name=None) -> Tensor:
    """The sum of data's rows with each segment id, num_segments of them
    (tf.math.unsorted_segment_sum): a one-hot matrix product. segment_ids index data's
    first dims; an id outside [0, num_segments) adds nowhere, as in TensorFlow."""
    x = ops.convert_to_tensor(data)
    ids = ops.convert_to_tensor(segment_ids)
    k = ids.shape.ndims
    if k is None or x.shape.ndims is None:
        raise GraphError("unsorted_segment_sum: data and segment_ids need known ranks")
    entries = ops.shape_entries(num_segments)
    if not entries or len(entries) != 1 or isinstance(entries[0], Tensor):
        raise GraphError("unsorted_segment_sum: num_segments must be a constant int")
    n = entries[0]
    inner = x.shape.as_list()[k:]
    if None in inner:
        raise GraphError(f"unsorted_segment_sum: data's inner dims must be static, got {x.shape}")
    rows = ops.reshape(x, [-1, int(np.prod(inner))])
    onehot = array_ops.one_hot(ops.reshape(ids, [-1]), n, dtype=x.dtype)
    summed = ops.matmul(onehot, rows, transpose_a=True)
    return ops.reshape(summed, [n, *inner], name=name)


# ------------------------------------------------------------------ factorizations (host)


def _host(op_type: str, inputs: list, fn, out_shapes: list, name: str | None) -> list[Tensor]:
    tensors = [ops.convert_to_tensor(t) for t in inputs]
    dt = tensors[0].dtype
    if not dt.is_floating:
        raise GraphError(f"{op_type}: {tensors[0].name} must be float, got {dt}")

    def run(*arrays):
        return [np.asarray(v, dtype=dt.ir.numpy) for v in fn(*arrays)]

    return strings.host_op(op_type, tensors, run, [(dt, s) for s in out_shapes], name)


def _dims(x: Tensor) -> list | None:
    return x.shape.as_list()


def matrix_inverse(input: Any, adjoint: bool = False, name: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of each square matrix (tf.linalg.inv, tf.matrix_inverse); computed
    on the host, no gradient."""
    x = ops.convert_to_tensor(input)

    def inv(a):
        a = np.swapaxes(a, -1, -2) if adjoint else a
        return [np.linalg.inv(a)]

    return _host("MatrixInverse", [x], inv, [x.shape], name)[0]


def matrix_determinant(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The determinant of each square matrix (tf.linalg.det); host op, no gradient."""
    x = ops.convert_to_tensor(input)
    dims = _dims(x)
    out = TensorShape(None if dims is None else dims[:-2])
    return _host("MatrixDeterminant", [x], lambda a: [np.linalg.det(a)], [out], name)[0]


def cholesky(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The lower-triangular L with L L^T = input, per matrix (tf.linalg.cholesky);
    host op, no gradient. Like TensorFlow, it reads only the lower triangle."""
    x = ops.convert_to_tensor(input)

    def chol(a):
        lower = np.tril(a)
        sym = lower + np.swapaxes(np.tril(a, -1), -1, -2)
        return [np.linalg.cholesky(sym)]

    return _host("Cholesky", [x], chol, [x.shape], name)[0]


def matrix_solve(matrix: Any, rhs: Any, adjoint: bool = False, name: str | None = None):
    """X with matrix X = rhs, per batch entry (tf.linalg.solve); host op, no gradient."""
    a, b = ops.convert_to_tensor(matrix), ops.convert_to_tensor(rhs)

    def solve(m, r):
        m = np.conj(np.swapaxes(m, -1, -2)) if adjoint else m
        return [np.linalg.solve(m, r)]

    return _host("MatrixSolve", [a, b], solve, [b.shape], name)[0]


def self_adjoint_eig(tensor: Any, name: str | None = None) -> tuple[Tensor, Tensor]:
    """(eigenvalues ascending, eigenvectors as columns) of each self-adjoint matrix
    (tf.linalg.eigh, tf.self_adjoint_eig), from its lower triangle as TensorFlow
    reads it; host op, no gradient."""
    x = ops.convert_to_tensor(tensor)
    dims = _dims(x)
    values = TensorShape(None if dims is None else dims[:-1])
    return tuple(_host("SelfAdjointEigV2", [x], np.linalg.eigh, [values, x.shape], name))


def self_adjoint_eigvals(tensor: Any, name: str | None = None) -> Tensor:
    """The eigenvalues of each self-adjoint matrix, ascending (tf.linalg.eigvalsh)."""
    return self_adjoint_eig(tensor, name=name)[0]


def matrix_transpose(a: Any, name: str = "matrix_transpose", conjugate: bool = False):
    """Swap the last two dims (tf.linalg.matrix_transpose)."""
    x = ops.convert_to_tensor(a)
    rank = x.shape.ndims
    if rank is None or rank < 2:
        raise GraphError(f"matrix_transpose: {x.name} needs a known rank of at least 2")
    return ops.transpose(x, [*range(rank - 2), rank - 1, rank - 2], name=name)


linalg_members = {
    "cholesky": cholesky,
    "cross": cross,
    "det": matrix_determinant,
    "diag": matrix_diag,
    "diag_part": matrix_diag_part,
    "eigh": self_adjoint_eig,
    "eigvalsh": self_adjoint_eigvals,
    "eye": eye,
    "inv": matrix_inverse,
    "matmul": ops.matmul,
    "matrix_transpose": matrix_transpose,
    "solve": matrix_solve,
    "transpose": matrix_transpose,
}
