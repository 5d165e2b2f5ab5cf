"""tf.keras.metrics' stateful metric objects: update_state, result, reset_states.

    acc = kl.keras.metrics.SparseCategoricalAccuracy()
    acc.update_state(labels, logits); acc.result()   # a scalar eager tensor
    acc.reset_states()

The running totals are numpy scalars on the host (Keras keeps them in
variables; nothing here runs in a kernel). `accuracy` stays the string
model.compile(metrics=["accuracy"]) takes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..frontend.dtypes import float32
from ..frontend.eager import to_eager

accuracy = "accuracy"


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


class Metric:
    """A metric that accumulates over batches (tf.keras.metrics.Metric)."""

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = name or type(self).__name__.lower()
        self.reset_states()

    def reset_states(self) -> None:
        self.total, self.count = 0.0, 0.0

    reset_state = reset_states

    def _add(self, values: np.ndarray, sample_weight: Any) -> None:
        values = values.astype(np.float64)
        w = (
            np.ones_like(values)
            if sample_weight is None
            else np.broadcast_to(_array(sample_weight).astype(np.float64), values.shape)
        )
        self.total += float(np.sum(values * w))
        self.count += float(np.sum(w))

    def result(self):
        value = self.total / self.count if self.count else 0.0
        return to_eager(np.float32(value), float32)

    def __call__(self, *args: Any, **kwargs: Any):
        self.update_state(*args, **kwargs)
        return self.result()

    def __repr__(self) -> str:
        return f"<kl.keras.metrics.{type(self).__name__} {self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of every value given (tf.keras.metrics.Mean)."""

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        self._add(_array(values), sample_weight)


class Accuracy(Metric):
    """How often y_pred equals y_true (tf.keras.metrics.Accuracy)."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._add(_array(y_true) == _array(y_pred), sample_weight)


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the integer label
    (tf.keras.metrics.SparseCategoricalAccuracy)."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        pred = np.argmax(_array(y_pred), axis=-1)
        true = _array(y_true)
        if true.ndim == pred.ndim + 1 and true.shape[-1] == 1:
            true = true[..., 0]
        self._add(true.astype(np.int64) == pred, sample_weight)


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot labels)."""

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._add(
            np.argmax(_array(y_true), axis=-1) == np.argmax(_array(y_pred), axis=-1),
            sample_weight,
        )


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true."""

    def __init__(self, name: str | None = None, dtype: Any = None, threshold: float = 0.5):
        super().__init__(name, dtype)
        self.threshold = threshold

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._add(_array(y_true) == (_array(y_pred) > self.threshold), sample_weight)


def to_categorical(y: Any, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """Integer labels as one-hot rows (tf.keras.utils.to_categorical): a
    trailing dim of 1 is dropped; num_classes defaults to max(y) + 1."""
    y = np.array(y, dtype="int64")
    shape = y.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    n = int(num_classes) if num_classes is not None else int(np.max(y)) + 1
    out = np.zeros((y.shape[0], n), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out.reshape((*shape, n))


__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "Mean",
    "Metric",
    "SparseCategoricalAccuracy",
    "accuracy",
    "to_categorical",
]
