"""Losses and metrics by name (keras.losses / keras.metrics), written with kl
ops; each loss is the batch mean of a per-example value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..frontend import nn
from ..frontend.array_ops import one_hot
from ..frontend.dtypes import int32
from ..frontend.graph import GraphError
from ..frontend.ops import (
    argmax,
    cast,
    clip_by_value,
    convert_to_tensor,
    equal,
    greater,
    log,
    reduce_mean,
    reduce_sum,
    reshape,
    square,
)

EPS = 1e-7


class Loss:
    """A loss: `loss(y_true, y_pred)` is a scalar (keras.losses.Loss)."""

    name = "loss"

    def __init__(self, from_logits: bool = False, name: str | None = None, **_: Any):
        self.from_logits = from_logits
        if name:
            self.name = name

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_pred = convert_to_tensor(y_pred)
        return reduce_mean(self.per_example(y_true, y_pred))

    def per_example(self, y_true: Any, y_pred: Any) -> Any:
        raise NotImplementedError


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def per_example(self, y_true, y_pred):
        y_true = cast(convert_to_tensor(y_true), y_pred.dtype)
        return reduce_mean(square(y_pred - y_true), axis=-1)


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"

    def per_example(self, y_true, y_pred):
        labels = cast(convert_to_tensor(y_true), int32)
        if labels.shape.ndims == y_pred.shape.ndims:  # (batch, 1) labels
            labels = reshape(labels, [-1])
        if self.from_logits:
            return nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
        depth = y_pred.shape.as_list()[-1]
        p = clip_by_value(y_pred, EPS, 1.0 - EPS)
        return -reduce_sum(one_hot(labels, depth, dtype=y_pred.dtype) * log(p), axis=-1)


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def per_example(self, y_true, y_pred):
        y_true = cast(convert_to_tensor(y_true), y_pred.dtype)
        if self.from_logits:
            return nn.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=y_pred)
        p = clip_by_value(y_pred / reduce_sum(y_pred, axis=-1, keepdims=True), EPS, 1.0 - EPS)
        return -reduce_sum(y_true * log(p), axis=-1)


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def per_example(self, y_true, y_pred):
        y_true = cast(convert_to_tensor(y_true), y_pred.dtype)
        if self.from_logits:
            return reduce_mean(
                nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred), axis=-1
            )
        p = clip_by_value(y_pred, EPS, 1.0 - EPS)
        return -reduce_mean(y_true * log(p) + (1.0 - y_true) * log(1.0 - p), axis=-1)


_LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
}


def get(identifier: Any) -> Callable:
    """A loss from a Loss, a name, or a function (y_true, y_pred) -> tensor."""
    if isinstance(identifier, Loss) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _LOSSES:
        return _LOSSES[identifier]()
    raise GraphError(f"unknown loss {identifier!r} (one of {', '.join(_LOSSES)})")


def serialize(loss: Any) -> dict[str, Any]:
    if isinstance(loss, Loss):
        return {"class": type(loss).__name__, "from_logits": loss.from_logits}
    raise GraphError(
        f"loss {loss!r} cannot be saved with the model (use a kl.keras.losses class or name)"
    )


def deserialize(config: dict[str, Any]) -> Loss:
    classes = {cls.__name__: cls for cls in set(_LOSSES.values())}
    return classes[config["class"]](from_logits=config["from_logits"])


# ------------------------------------------------------------------ metrics


def accuracy_fn(loss: Any) -> Callable[[Any, Any], Any]:
    """ "accuracy" as Keras picks it from the loss: sparse, categorical or binary."""

    def sparse(y_true, y_pred):
        labels = cast(convert_to_tensor(y_true), int32)
        if labels.shape.ndims == y_pred.shape.ndims:
            labels = reshape(labels, [-1])
        return reduce_mean(cast(equal(cast(argmax(y_pred, axis=-1), int32), labels), y_pred.dtype))

    def categorical(y_true, y_pred):
        return reduce_mean(
            cast(equal(argmax(y_pred, axis=-1), argmax(y_true, axis=-1)), y_pred.dtype)
        )

    def binary(y_true, y_pred):
        threshold = 0.0 if getattr(loss, "from_logits", False) else 0.5
        y_true = cast(convert_to_tensor(y_true), y_pred.dtype)
        return reduce_mean(
            cast(equal(cast(greater(y_pred, threshold), y_pred.dtype), y_true), y_pred.dtype)
        )

    if isinstance(loss, SparseCategoricalCrossentropy):
        return sparse
    if isinstance(loss, BinaryCrossentropy):
        return binary
    return categorical


def metric_fn(identifier: Any, loss: Any) -> tuple[str, Callable]:
    """(name, fn(y_true, y_pred) -> batch mean) for a metric name or function."""
    if identifier in ("accuracy", "acc"):
        return "accuracy", accuracy_fn(loss)
    if identifier == "sparse_categorical_accuracy":
        return identifier, accuracy_fn(SparseCategoricalCrossentropy())
    if identifier == "categorical_accuracy":
        return identifier, accuracy_fn(CategoricalCrossentropy())
    if identifier in ("mse", "mean_squared_error"):
        return "mse", MeanSquaredError()
    if isinstance(identifier, str) and identifier in _LOSSES:
        return identifier, _LOSSES[identifier]()
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    raise GraphError(f"unknown metric {identifier!r}")
