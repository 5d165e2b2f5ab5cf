"""keras.layers.DenseFeatures: tf.feature_column's input layer as a Keras
layer (TF 2). The columns are frontend/feature_column.py's; this layer owns
their embedding tables as its weights, made on the first call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..frontend.feature_column import dense_features
from ..frontend.graph import GraphError
from .engine import Layer
from .initializers import TruncatedNormal

__all__ = ["DenseFeatures"]


class DenseFeatures(Layer):
    """The dense [batch, n] tensor of `feature_columns` from a dict of features."""

    def __init__(
        self,
        feature_columns: Sequence[Any],
        trainable: bool = True,
        name: Any = None,
        **kwargs: Any,
    ):
        super().__init__(name=name, **kwargs)
        self.feature_columns = list(feature_columns)
        if not self.feature_columns:
            raise GraphError("DenseFeatures: feature_columns must not be empty")
        self._tables: dict[str, Any] = {}

    def _variable(self, name: str, shape: list, init: Any) -> Any:
        if name not in self._tables:
            initializer = TruncatedNormal(stddev=init) if isinstance(init, float) else init
            self._tables[name] = self.add_weight(name, shape, initializer=initializer)
        return self._tables[name]

    def call(self, features: Any, training: Any = None) -> Any:
        if not isinstance(features, dict):
            raise GraphError(
                f"{self.name}: expects a dict of features, got {type(features).__name__}"
            )
        return dense_features(features, self.feature_columns, self._variable)
