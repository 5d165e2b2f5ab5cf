"""tf.keras.metrics' stateful metric objects: update_state, result, reset_states.

    acc = kl.keras.metrics.SparseCategoricalAccuracy()
    acc.update_state(labels, logits); acc.result()   # a scalar tensor
    acc.reset_states()

The running totals are eager variables updated with kl ops, so a metric
updates at once in eager code and inside a kl.function (the TF 2 custom
training loop calls `train_loss(loss)` in its traced step). A mean-type
metric writes `values(y_true, y_pred)`, one value per example; that same
function is what `model.compile(metrics=[...])` evaluates each batch.
`accuracy` stays the string model.compile(metrics=["accuracy"]) takes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..frontend.dtypes import float32, int32
from ..frontend.eager import EagerVariable, eager_mode, init_scope
from ..frontend.function import FuncGraph
from ..frontend.graph import GraphError, executing_eagerly, get_default_graph
from ..frontend.nn import top_k
from ..frontend.ops import (
    argmax,
    cast,
    convert_to_tensor,
    equal,
    greater,
    greater_equal,
    maximum,
    ones_like,
    reduce_max,
    reduce_mean,
    reduce_sum,
    reshape,
    sqrt,
    square,
)
from . import losses as losses_module

accuracy = "accuracy"


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _computing():
    """Eager mode unless already eager or tracing (a metric in a TF 1.x graph
    program still updates at once, as a Keras object outside any session)."""
    if executing_eagerly() or isinstance(get_default_graph(), FuncGraph):
        return contextlib.nullcontext()
    return eager_mode()


def _float(x: Any) -> Any:
    x = convert_to_tensor(x)
    return x if x.dtype.is_floating else cast(x, float32)


class Metric:
    """A metric that accumulates over batches (tf.keras.metrics.Metric):
    state in eager variables `total` and `count`."""

    def __init__(self, name: str | None = None, dtype: Any = None, **_: Any):
        self.name = name or _snake(type(self).__name__)
        with init_scope(), eager_mode():
            self.total = EagerVariable(0.0, trainable=False, name=f"{self.name}/total")
            self.count = EagerVariable(0.0, trainable=False, name=f"{self.name}/count")

    @property
    def variables(self) -> list[EagerVariable]:
        return [self.total, self.count]

    def reset_states(self) -> None:
        with _computing():
            for v in self.variables:
                v.assign(np.zeros(v.shape.as_list(), np.float32))

    reset_state = reset_states

    def values(self, y_true: Any, y_pred: Any) -> Any:
        """One value per example (float), averaged by result()."""
        raise NotImplementedError(f"{type(self).__name__} has no per-example values")

    def finish(self, mean: Any) -> Any:
        """The result from the weighted mean of the values (identity; RMSE's sqrt)."""
        return mean

    def _add(self, values: Any, sample_weight: Any) -> None:
        values = _float(values)
        if sample_weight is None:
            w = ones_like(values)
        else:
            w = cast(convert_to_tensor(sample_weight), values.dtype)
            if w.shape.ndims is not None and values.shape.ndims is not None:
                if w.shape.ndims > values.shape.ndims:
                    w = reshape(
                        w, values.shape.as_list() if None not in values.shape.as_list() else [-1]
                    )
            w = w * ones_like(values)
        self.total.assign_add(cast(reduce_sum(values * w), float32))
        self.count.assign_add(cast(reduce_sum(w), float32))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        with _computing():
            self._add(self.values(y_true, _float(y_pred)), sample_weight)

    def result(self) -> Any:
        with _computing():
            return self.finish(self.total / maximum(self.count, 1e-30))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.update_state(*args, **kwargs)
        return self.result()

    def __repr__(self) -> str:
        return f"<kl.keras.metrics.{type(self).__name__} {self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of every value given (tf.keras.metrics.Mean)."""

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        with _computing():
            self._add(values, sample_weight)


class Sum(Mean):
    """The (weighted) sum of every value given."""

    def result(self):
        with _computing():
            return self.total + 0.0


def _labels(y_true: Any, y_pred: Any) -> Any:
    labels = cast(convert_to_tensor(y_true), int32)
    if labels.shape.ndims == y_pred.shape.ndims:  # (batch, 1) labels
        labels = reshape(labels, [-1])
    return labels


class Accuracy(Metric):
    """How often y_pred equals y_true."""

    def values(self, y_true, y_pred):
        return cast(equal(_float(y_true), y_pred), float32)


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the integer label."""

    def values(self, y_true, y_pred):
        return cast(equal(cast(argmax(y_pred, axis=-1), int32), _labels(y_true, y_pred)), float32)


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot labels)."""

    def values(self, y_true, y_pred):
        return cast(equal(argmax(_float(y_true), axis=-1), argmax(y_pred, axis=-1)), float32)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true."""

    def __init__(self, name: str | None = None, dtype: Any = None, threshold: float = 0.5):
        self.threshold = float(threshold)
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        y_true, y_pred = losses_module._float_pair(y_true, y_pred)
        hit = cast(greater(y_pred, self.threshold), y_pred.dtype)
        return cast(equal(hit, y_true), float32)


class SparseTopKCategoricalAccuracy(Metric):
    """How often the label is among the k largest predictions."""

    def __init__(self, k: int = 5, name: str | None = None, dtype: Any = None):
        self.k = int(k)
        super().__init__(name, dtype)

    def _hits(self, labels, y_pred):
        _, idx = top_k(y_pred, k=min(self.k, y_pred.shape.as_list()[-1]))
        hit = cast(equal(idx, reshape(labels, [-1, 1])), float32)
        return reduce_max(hit, axis=-1)

    def values(self, y_true, y_pred):
        return self._hits(_labels(y_true, y_pred), y_pred)


class TopKCategoricalAccuracy(SparseTopKCategoricalAccuracy):
    """How often argmax(y_true) is among the k largest predictions."""

    def values(self, y_true, y_pred):
        return self._hits(cast(argmax(_float(y_true), axis=-1), int32), y_pred)


class MeanMetricWrapper(Metric):
    """The mean of fn(y_true, y_pred) (a loss function's per-example values)."""

    def __init__(self, fn: Any, name: str | None = None, dtype: Any = None, **kwargs: Any):
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype)

    def values(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.kwargs)


def _loss_metric(cls_name: str, loss_cls: type, default: str) -> type:
    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs: Any):
        self.loss = loss_cls(**kwargs)
        Metric.__init__(self, name or default, dtype)

    def values(self, y_true, y_pred):
        return self.loss.per_example(y_true, y_pred)

    doc = f"The mean of keras.losses.{loss_cls.__name__}'s per-example values."
    return type(cls_name, (Metric,), {"__init__": __init__, "values": values, "__doc__": doc})


_L = losses_module
MeanSquaredError = _loss_metric("MeanSquaredError", _L.MeanSquaredError, "mean_squared_error")
MeanAbsoluteError = _loss_metric("MeanAbsoluteError", _L.MeanAbsoluteError, "mean_absolute_error")
MeanAbsolutePercentageError = _loss_metric(
    "MeanAbsolutePercentageError", _L.MeanAbsolutePercentageError, "mean_absolute_percentage_error"
)
MeanSquaredLogarithmicError = _loss_metric(
    "MeanSquaredLogarithmicError", _L.MeanSquaredLogarithmicError, "mean_squared_logarithmic_error"
)
SparseCategoricalCrossentropy = _loss_metric(
    "SparseCategoricalCrossentropy",
    _L.SparseCategoricalCrossentropy,
    "sparse_categorical_crossentropy",
)
CategoricalCrossentropy = _loss_metric(
    "CategoricalCrossentropy", _L.CategoricalCrossentropy, "categorical_crossentropy"
)
BinaryCrossentropy = _loss_metric(
    "BinaryCrossentropy", _L.BinaryCrossentropy, "binary_crossentropy"
)
KLDivergence = _loss_metric("KLDivergence", _L.KLDivergence, "kullback_leibler_divergence")
Poisson = _loss_metric("Poisson", _L.Poisson, "poisson")
Hinge = _loss_metric("Hinge", _L.Hinge, "hinge")
LogCoshError = _loss_metric("LogCoshError", _L.LogCosh, "logcosh")


class RootMeanSquaredError(Metric):
    """sqrt of the mean squared error."""

    def values(self, y_true, y_pred):
        return reduce_mean(square(y_pred - _float(y_true)), axis=-1)

    def finish(self, mean):
        return sqrt(mean)


class _Confusion(Metric):
    """Counts of true/false positives and negatives at `thresholds` (binary)."""

    def __init__(
        self, thresholds: Any = None, name: str | None = None, dtype: Any = None, **_: Any
    ):
        self.thresholds = 0.5 if thresholds is None else float(thresholds)
        super().__init__(name, dtype)
        with init_scope(), eager_mode():
            self.true_positives = EagerVariable(0.0, trainable=False, name=f"{self.name}/tp")
            self.other = EagerVariable(0.0, trainable=False, name=f"{self.name}/other")

    @property
    def variables(self):
        return [self.total, self.count, self.true_positives, self.other]

    def update_state(self, y_true, y_pred, sample_weight=None):
        with _computing():
            p = cast(greater(_float(y_pred), self.thresholds), float32)
            t = cast(greater_equal(_float(y_true), 0.5), float32)
            p, t = reshape(p, [-1]), reshape(t, [-1])
            w = (
                ones_like(p)
                if sample_weight is None
                else reshape(cast(convert_to_tensor(sample_weight), float32), [-1]) * ones_like(p)
            )
            self.true_positives.assign_add(reduce_sum(p * t * w))
            self.other.assign_add(reduce_sum(self._other(p, t) * w))

    def result(self):
        with _computing():
            tp = self.true_positives + 0.0
            return tp / maximum(tp + self.other, 1e-30)


class Precision(_Confusion):
    """tp / (tp + fp) with predictions above the threshold positive."""

    def _other(self, p, t):
        return p * (1.0 - t)


class Recall(_Confusion):
    """tp / (tp + fn)."""

    def _other(self, p, t):
        return (1.0 - p) * t


# names model.compile(metrics=[...]) takes, to their classes (Keras 2's log names);
# a loss's name ("mae", "mse", ...) is taken by losses.metric_fn
BY_NAME: dict[str, type] = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "rmse": RootMeanSquaredError,
}


def _batch_mean(values: Any) -> Any:
    def fn(y_true: Any, y_pred: Any) -> Any:
        return reduce_mean(cast(values(y_true, y_pred), "float32"))

    return fn


def compiled(identifier: Any) -> tuple[str, Any, Any] | None:
    """(log name, batch fn(y_true, y_pred) -> the batch's value, finish) for a metric
    object or class, or a name above; None for anything else. model.fit averages
    the batch values weighted by batch size and logs finish(average): a mean
    metric's batch value is the mean of its per-example values; AUC's is its
    confusion counts per example, whose average gives the same curve as the sums."""
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        identifier = identifier()
    if isinstance(identifier, str) and identifier.lower() == "auc":
        identifier = AUC()
    if isinstance(identifier, str) and identifier in BY_NAME:
        return identifier, _batch_mean(BY_NAME[identifier]().values), lambda m: m
    if isinstance(identifier, AUC):
        return identifier.name, identifier.batch_counts, identifier.area_of_counts
    if isinstance(identifier, (Precision, Recall)):
        raise GraphError(
            f"{type(identifier).__name__} in model.compile is not supported (its epoch value "
            "is not a mean of batch values); update it in a loop over model.predict"
        )
    if isinstance(identifier, Metric):
        return identifier.name, _batch_mean(identifier.values), identifier.finish
    return None


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


# tf.keras.metrics' function forms: per-example values
def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    return SparseCategoricalAccuracy.values(None, y_true, _float(y_pred))


def categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    return CategoricalAccuracy.values(None, y_true, _float(y_pred))


from .auc import AUC  # noqa: E402  (defined beside, on Metric)

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "Hinge",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Poisson",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
    "TopKCategoricalAccuracy",
    "accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "to_categorical",
]
