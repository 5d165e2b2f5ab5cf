"""tf.SparseTensor and tf.sparse.to_dense: a sparse tensor as TensorFlow keeps it,
three dense tensors (int64 `indices` [N, rank], `values` [N], int64 `dense_shape`
[rank]). kiln has no sparse kernels: a SparseTensor is made by ops that produce
one (tf.io.VarLenFeature's parsing, records.py) or by hand, and turned dense by
to_dense, which runs on the host (numpy) in a Session or at once when eager.

`sess.run(sparse_tensor)` returns a SparseTensorValue of three arrays, as
TensorFlow's does (session.py flattens a SparseTensor into its components).
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .dtypes import int64
from .eager import EagerTensor
from .graph import GraphError, Tensor, TensorShape, executing_eagerly, get_default_graph
from .ops import constant, convert_to_tensor

SparseTensorValue = collections.namedtuple("SparseTensorValue", "indices values dense_shape")
SparseTensorValue.__doc__ = "A SparseTensor's value (tf.compat.v1.SparseTensorValue)."


class SparseTensor:
    """tf.SparseTensor(indices, values, dense_shape): the entries `values[i]` at
    `indices[i]` of a tensor of shape `dense_shape`; every other entry is zero
    (or to_dense's default_value)."""

    def __init__(self, indices: Any, values: Any, dense_shape: Any):
        self.indices = convert_to_tensor(indices, dtype=int64, name="indices")
        self.values = convert_to_tensor(values, name="values")
        self.dense_shape = convert_to_tensor(dense_shape, dtype=int64, name="dense_shape")
        for what, t, rank in (("indices", self.indices, 2), ("values", self.values, 1)):
            if t.shape.ndims not in (None, rank):
                raise GraphError(f"SparseTensor: {what} must have rank {rank}, got shape {t.shape}")
        if self.dense_shape.shape.ndims not in (None, 1):
            raise GraphError(f"SparseTensor: dense_shape must be a vector, got {self.dense_shape}")

    @classmethod
    def from_value(cls, value: SparseTensorValue) -> SparseTensor:
        return cls(*value)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self) -> TensorShape:
        """The static shape: its rank when dense_shape's length is known."""
        rank = self.dense_shape.shape.dims
        if rank is None or rank[0] is None:
            return TensorShape(None)
        if isinstance(self.dense_shape, EagerTensor):
            return TensorShape([int(d) for d in self.dense_shape.numpy()])
        return TensorShape([None] * rank[0])

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def graph(self):
        return self.values.graph

    def __repr__(self) -> str:
        return (
            f"SparseTensor(indices={self.indices!r}, values={self.values!r}, "
            f"dense_shape={self.dense_shape!r})"
        )


def _dense_array(
    indices: np.ndarray, values: np.ndarray, shape: np.ndarray, default: Any
) -> np.ndarray:
    shape = tuple(int(d) for d in shape)
    if indices.ndim != 2 or indices.shape[1] != len(shape) or len(indices) != len(values):
        raise GraphError(
            f"sparse.to_dense: indices of shape {list(indices.shape)} do not index "
            f"{len(values)} values of a tensor of shape {list(shape)}"
        )
    if len(indices) and ((indices < 0).any() or (indices >= np.asarray(shape)).any()):
        bad = indices[((indices < 0) | (indices >= np.asarray(shape))).any(axis=1)][0]
        raise GraphError(
            f"sparse.to_dense: index {bad.tolist()} is out of bounds for shape {list(shape)}"
        )
    out = np.full(shape, default, dtype=values.dtype)
    out[tuple(indices.T)] = values
    return out


def to_dense(
    sp_input: SparseTensor,
    default_value: Any = None,
    validate_indices: bool = True,
    name: str | None = None,
) -> Tensor:
    """tf.sparse.to_dense: the dense tensor, `default_value` (0, or b"" for strings)
    where no index names an entry."""
    if not isinstance(sp_input, SparseTensor):
        raise GraphError(
            f"sparse.to_dense: expected a kl.SparseTensor, got {type(sp_input).__name__}"
        )
    dtype = sp_input.dtype
    if default_value is None:
        default_value = b"" if dtype.is_string else 0
    parts = (sp_input.indices, sp_input.values, sp_input.dense_shape)
    if executing_eagerly() or all(isinstance(t, EagerTensor) for t in parts):
        arrays = [np.asarray(t.numpy()) for t in parts]
        return constant(_dense_array(*arrays, default_value), dtype=dtype, name=name)

    def run(indices: np.ndarray, values: np.ndarray, shape: np.ndarray) -> list[np.ndarray]:
        return [_dense_array(indices, values, shape, default_value)]

    op = get_default_graph().create_op(
        "SparseToDense",
        list(parts),
        name=name or "SparseToDense",
        attrs={"_host_fn": run},
        output_types=[(dtype, sp_input.shape)],
    )
    return op.outputs[0]


sparse_tensor_to_dense = to_dense  # TF 1.x's name

__all__ = ["SparseTensor", "SparseTensorValue", "sparse_tensor_to_dense", "to_dense"]
