"""tf.SparseTensor, tf.sparse.to_dense, tf.sparse_placeholder and tf.edit_distance: a
sparse tensor as TensorFlow keeps it,
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

from .dtypes import float32, int64
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


def sparse_placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> SparseTensor:
    """A SparseTensor fed at run time (tf.sparse_placeholder): feed it a
    SparseTensorValue (or an (indices, values, dense_shape) tuple). Its three parts are
    placeholders; a fully known `shape` makes dense_shape a constant, as in TensorFlow."""
    from .ops import placeholder

    dims = None if shape is None else [None if d is None else int(d) for d in shape]
    rank = None if dims is None else len(dims)
    with get_default_graph().name_scope(name or "SparsePlaceholder"):
        values = placeholder(dtype, [None], name="values")
        indices = placeholder(int64, [None, rank], name="indices")
        if dims is not None and None not in dims:
            dense_shape = constant(dims, dtype=int64, name="shape")
        else:
            dense_shape = placeholder(int64, [rank], name="shape")
    return SparseTensor(indices, values, dense_shape)


def _sequences(indices: np.ndarray, values: np.ndarray) -> dict[tuple, list]:
    """Each sequence of a sparse tensor, by the index of its last dim's group."""
    groups: dict[tuple, list] = {}
    for index, value in zip(indices.tolist(), values.tolist()):
        groups.setdefault(tuple(index[:-1]), []).append(value)
    return groups


def _levenshtein(a: list, b: list) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def edit_distance(
    hypothesis: SparseTensor, truth: SparseTensor, normalize: bool = True, name="edit_distance"
) -> Tensor:
    """The Levenshtein distance between the sequences of two SparseTensors (tf.edit_distance),
    a sequence being the values along the last dim under each index of the others, in
    order. The output has the larger of the two dense shapes less its last dim; normalize
    divides by the truth's length (a hypothesis against an empty truth gives inf, as in
    TensorFlow). A host op, no gradient."""
    for what, sp in (("hypothesis", hypothesis), ("truth", truth)):
        if not isinstance(sp, SparseTensor):
            raise GraphError(f"edit_distance: {what} must be a kl.SparseTensor")
    ranks = {sp.indices.shape.as_list()[1] for sp in (hypothesis, truth) if sp.indices.shape.dims}
    ranks |= {d for sp in (hypothesis, truth) for d in [sp.shape.ndims] if d is not None}
    ranks.discard(None)
    if len(ranks) > 1:
        raise GraphError(f"edit_distance: hypothesis and truth have different ranks {ranks}")
    rank = ranks.pop() if ranks else None
    out = TensorShape(None if rank is None else [None] * (rank - 1))
    statics = [_static(sp.dense_shape) for sp in (hypothesis, truth)]
    if rank is not None and None not in statics:
        out = TensorShape([max(a, b) for a, b in zip(*statics)][:-1])

    def run(h_idx, h_val, h_shape, t_idx, t_val, t_shape) -> list[np.ndarray]:
        shape = np.maximum(np.asarray(h_shape), np.asarray(t_shape))[:-1]
        result = np.zeros(tuple(int(d) for d in shape), np.float32)
        hyp, tru = _sequences(h_idx, h_val), _sequences(t_idx, t_val)
        for key in {*hyp, *tru}:
            h, t = hyp.get(key, []), tru.get(key, [])
            dist = float(_levenshtein(h, t))
            if normalize:
                dist = dist / len(t) if t else (np.inf if h else 0.0)
            result[key] = dist
        return [result]

    parts = [*_parts(hypothesis), *_parts(truth)]
    op = get_default_graph().create_op(
        "EditDistance",
        parts,
        name=name or "edit_distance",
        attrs={"_host_fn": run, "normalize": bool(normalize)},
        output_types=[(float32, out)],
    )
    return op.outputs[0]


def _parts(sp: SparseTensor) -> list[Tensor]:
    return [sp.indices, sp.values, sp.dense_shape]


def _static(t: Tensor) -> list[int] | None:
    if isinstance(t, EagerTensor):
        return [int(d) for d in t.numpy()]
    if t.op.type == "Const":
        return [int(d) for d in np.asarray(t.op.attrs["value"]).reshape(-1)]
    return None


__all__ = [
    "SparseTensor",
    "SparseTensorValue",
    "edit_distance",
    "sparse_placeholder",
    "sparse_tensor_to_dense",
    "to_dense",
]
