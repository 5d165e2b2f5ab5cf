"""tf.feature_column: turning a dict of raw features into one dense tensor.

    cols = [numeric_column("age"),
            indicator_column(categorical_column_with_vocabulary_list("sex", ["m", "f"])),
            embedding_column(categorical_column_with_identity("id", 100), 8)]
    net = tf.feature_column.input_layer(features, cols)       # TF 1.x
    net = tf.keras.layers.DenseFeatures(cols)(features)       # TF 2

As in TensorFlow, the columns are concatenated in the order of their names
(sorted), each as a [batch, n] float32 block; a categorical column's ids
are -1 for a value outside its vocabulary (a zero row downstream), and
multi-valued features ([batch, k] ids) are summed by indicator_column and
combined ("mean", "sum", "sqrtn") by embedding_column. A string vocabulary
is looked up on the host (a host op: strings never enter the IR); ids and
everything after them are ordinary graph ops. Hash-bucket and crossed
columns are not provided: their ids depend on TensorFlow's fingerprint
hash, which kiln does not reproduce.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .array_ops import gather, one_hot
from .dtypes import as_dtype, float32, int64, string
from .graph import GraphError, Tensor, TensorShape, executing_eagerly, get_default_graph
from .ops import (
    cast,
    concat,
    constant,
    convert_to_tensor,
    expand_dims,
    greater_equal,
    less,
    logical_and,
    maximum,
    multiply,
    reduce_sum,
    reshape,
    sqrt,
    where,
    zeros_like,
)
from .strings import host_op

__all__ = [
    "bucketized_column",
    "categorical_column_with_identity",
    "categorical_column_with_vocabulary_list",
    "embedding_column",
    "indicator_column",
    "input_layer",
    "numeric_column",
]

# make_variable(name, shape, stddev) -> a float32 variable (graph or Keras layer)
MakeVariable = Callable[[str, list, float], Any]


def _feature(features: dict, key: str) -> Tensor:
    if key not in features:
        raise GraphError(f"feature_column: no feature {key!r} (features has {sorted(features)})")
    value = features[key]
    if isinstance(value, np.ndarray) and value.dtype.kind in "USO":
        return constant(value.astype(object), dtype=string)
    return convert_to_tensor(value)


def _rows(t: Tensor, width: int) -> Tensor:
    """`t` as [batch, width]."""
    return reshape(t, [-1, width])


# ------------------------------------------------------------------ dense columns


@dataclass(frozen=True)
class NumericColumn:
    """A float feature of `shape` per example (tf.feature_column.numeric_column)."""

    key: str
    shape: tuple = (1,)
    default_value: Any = None
    dtype: Any = float32
    normalizer_fn: Callable | None = None

    @property
    def name(self) -> str:
        return self.key

    def dense(self, features: dict, make_variable: MakeVariable) -> Tensor:
        x = cast(_feature(features, self.key), float32)
        if self.normalizer_fn is not None:
            x = self.normalizer_fn(x)
        return _rows(x, int(np.prod(self.shape)))


def numeric_column(
    key: str,
    shape: Any = (1,),
    default_value: Any = None,
    dtype: Any = float32,
    normalizer_fn: Callable | None = None,
) -> NumericColumn:
    dims = (int(shape),) if isinstance(shape, int) else tuple(int(d) for d in shape)
    return NumericColumn(key, dims, default_value, as_dtype(dtype), normalizer_fn)


# ------------------------------------------------------------------ categorical columns


@dataclass(frozen=True)
class VocabularyListColumn:
    """Ids by position in `vocabulary_list`; others -1, or one of
    `num_oov_buckets` extra ids (kiln: by a stable hash of the value)."""

    key: str
    vocabulary_list: tuple
    dtype: Any
    default_value: int = -1
    num_oov_buckets: int = 0

    @property
    def name(self) -> str:
        return self.key

    @property
    def num_buckets(self) -> int:
        return len(self.vocabulary_list) + self.num_oov_buckets

    def ids(self, features: dict) -> Tensor:
        x = _feature(features, self.key)
        table = {_key(v): i for i, v in enumerate(self.vocabulary_list)}
        n, oov, default = len(table), self.num_oov_buckets, self.default_value

        def lookup(values: np.ndarray) -> list[np.ndarray]:
            out = np.empty(values.shape, np.int64)
            for i, v in np.ndenumerate(values):
                k = _key(v)
                if k in table:
                    out[i] = table[k]
                elif oov:
                    out[i] = n + _stable_hash(k) % oov
                else:
                    out[i] = default
            return [out]

        if executing_eagerly():
            return constant(lookup(np.asarray(x.numpy()))[0], dtype=int64)
        shape = x.shape if x.shape.ndims is not None else TensorShape(None)
        return host_op("LookupTableFind", [x], lookup, [(int64, shape)], f"{self.key}_lookup")[0]


def _key(v: Any) -> Any:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str | np.str_):
        return str(v).encode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _stable_hash(k: Any) -> int:
    import zlib

    return zlib.crc32(k if isinstance(k, bytes) else repr(k).encode())


def categorical_column_with_vocabulary_list(
    key: str,
    vocabulary_list: Sequence[Any],
    dtype: Any = None,
    default_value: int = -1,
    num_oov_buckets: int = 0,
) -> VocabularyListColumn:
    vocab = tuple(vocabulary_list)
    if len(set(vocab)) != len(vocab):
        raise GraphError(f"categorical_column_with_vocabulary_list({key!r}): repeated values")
    if num_oov_buckets and default_value != -1:
        raise GraphError("give default_value or num_oov_buckets, not both")
    if dtype is None:
        dtype = string if vocab and isinstance(vocab[0], str | bytes) else int64
    return VocabularyListColumn(
        key, vocab, as_dtype(dtype), int(default_value), int(num_oov_buckets)
    )


@dataclass(frozen=True)
class IdentityColumn:
    """Integer features used as ids in [0, num_buckets); others get default_value."""

    key: str
    num_buckets: int
    default_value: int | None = None

    @property
    def name(self) -> str:
        return self.key

    def ids(self, features: dict) -> Tensor:
        x = cast(_feature(features, self.key), int64)
        inside = logical_and(greater_equal(x, 0), less(x, self.num_buckets))
        fill = -1 if self.default_value is None else int(self.default_value)
        return where(inside, x, zeros_like(x) + fill)


def categorical_column_with_identity(
    key: str, num_buckets: int, default_value: int | None = None
) -> IdentityColumn:
    return IdentityColumn(key, int(num_buckets), default_value)


@dataclass(frozen=True)
class BucketizedColumn:
    """A numeric column cut at `boundaries`: bucket i holds values in
    [boundaries[i-1], boundaries[i]); dense, it is the one-hot of the bucket."""

    source_column: NumericColumn
    boundaries: tuple

    @property
    def name(self) -> str:
        return f"{self.source_column.name}_bucketized"

    @property
    def num_buckets(self) -> int:
        return (len(self.boundaries) + 1) * int(np.prod(self.source_column.shape))

    def ids(self, features: dict) -> Tensor:
        x = cast(_feature(features, self.source_column.key), float32)
        width = int(np.prod(self.source_column.shape))
        x = _rows(x, width)
        bucket = None
        for b in self.boundaries:
            step = cast(greater_equal(x, float(b)), int64)
            bucket = step if bucket is None else bucket + step
        if bucket is None:
            bucket = cast(zeros_like(x), int64)
        if width == 1:
            return reshape(bucket, [-1])
        offsets = constant(np.arange(width, dtype=np.int64) * (len(self.boundaries) + 1))
        return bucket + offsets

    def dense(self, features: dict, make_variable: MakeVariable) -> Tensor:
        return _indicator(self.ids(features), self.num_buckets)


def bucketized_column(
    source_column: NumericColumn, boundaries: Sequence[float]
) -> BucketizedColumn:
    bounds = tuple(float(b) for b in boundaries)
    if list(bounds) != sorted(bounds):
        raise GraphError(f"bucketized_column: boundaries must be sorted, got {list(bounds)}")
    return BucketizedColumn(source_column, bounds)


# ------------------------------------------------------------------ dense views of ids


def _indicator(ids: Tensor, depth: int) -> Tensor:
    """Multi-hot rows: the one-hot of each id (-1: none), summed over a row's ids."""
    hot = one_hot(ids, depth, dtype=float32)  # an id of -1 is a zero row
    if ids.shape.ndims == 2:
        return reduce_sum(hot, axis=1)
    return _rows(hot, depth)


@dataclass(frozen=True)
class IndicatorColumn:
    """A categorical column as its multi-hot [batch, num_buckets] rows."""

    categorical_column: Any

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_indicator"

    def dense(self, features: dict, make_variable: MakeVariable) -> Tensor:
        c = self.categorical_column
        return _indicator(c.ids(features), c.num_buckets)


def indicator_column(categorical_column: Any) -> IndicatorColumn:
    return IndicatorColumn(categorical_column)


@dataclass(frozen=True)
class EmbeddingColumn:
    """A categorical column looked up in a trainable [num_buckets, dimension]
    table (TensorFlow's default initializer: truncated normal with stddev
    1/sqrt(dimension)); several ids per example are combined by `combiner`."""

    categorical_column: Any
    dimension: int
    combiner: str = "mean"
    initializer: Any = None

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_embedding"

    def dense(self, features: dict, make_variable: MakeVariable) -> Tensor:
        c = self.categorical_column
        table = make_variable(
            f"{self.name}/embedding_weights",
            [c.num_buckets, self.dimension],
            self.initializer if self.initializer is not None else 1.0 / math.sqrt(self.dimension),
        )
        ids = c.ids(features)
        valid = greater_equal(ids, 0)
        rows = gather(table, where(valid, ids, zeros_like(ids)))
        weight = cast(valid, float32)
        rows = multiply(rows, expand_dims(weight, -1))
        if ids.shape.ndims != 2:
            return _rows(rows, self.dimension)
        total = reduce_sum(rows, axis=1)
        if self.combiner == "sum":
            return total
        count = reduce_sum(weight, axis=1, keepdims=True)
        norm = count if self.combiner == "mean" else sqrt(count)
        return total / maximum(norm, 1e-12)


def embedding_column(
    categorical_column: Any,
    dimension: int,
    combiner: str = "mean",
    initializer: Any = None,
    **_: Any,
) -> EmbeddingColumn:
    if combiner not in ("mean", "sum", "sqrtn"):
        raise GraphError(f"embedding_column: combiner must be mean, sum or sqrtn, got {combiner!r}")
    return EmbeddingColumn(categorical_column, int(dimension), combiner, initializer)


# ------------------------------------------------------------------ input_layer


def dense_features(
    features: dict, feature_columns: Sequence[Any], make_variable: MakeVariable
) -> Tensor:
    """The columns' dense blocks concatenated in the order of their names."""
    columns = list(feature_columns)
    if not columns:
        raise GraphError("feature_columns must not be empty")
    for col in columns:
        if not hasattr(col, "dense"):
            raise GraphError(
                f"{col.name}: a categorical column cannot feed a dense layer; wrap it in "
                "indicator_column or embedding_column"
            )
    blocks = [col.dense(features, make_variable) for col in sorted(columns, key=lambda c: c.name)]
    return blocks[0] if len(blocks) == 1 else concat(blocks, axis=1)


def _graph_variable(name: str, shape: list, init: Any) -> Any:
    from .variables import get_variable, truncated_normal_initializer

    initializer = truncated_normal_initializer(stddev=init) if isinstance(init, float) else init
    return get_variable(name, shape, dtype=float32, initializer=initializer)


def input_layer(
    features: dict,
    feature_columns: Sequence[Any],
    weight_collections: Any = None,
    trainable: bool = True,
    cols_to_vars: Any = None,
    cols_to_output_tensors: Any = None,
) -> Tensor:
    """tf.feature_column.input_layer (TF 1.x): the dense [batch, n] input of a
    model from `features` (a dict of tensors or arrays)."""
    from .variables import variable_scope

    with variable_scope("input_layer"), get_default_graph().name_scope("input_layer"):
        return dense_features(features, feature_columns, _graph_variable)
