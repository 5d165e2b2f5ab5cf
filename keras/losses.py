"""Losses and metrics by name (keras.losses / keras.metrics), written with kl
ops; each loss is the batch mean of a per-example value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..frontend import nn
from ..frontend.dtypes import int32
from ..frontend.graph import GraphError
from ..frontend.nn import l2_normalize
from ..frontend.nn import softplus as softplus_fn
from ..frontend.ops import (
    abs,  # noqa: A004
    argmax,
    cast,
    clip_by_value,
    convert_to_tensor,
    equal,
    expand_dims,
    greater,
    less_equal,
    log,
    maximum,
    reduce_mean,
    reduce_sum,
    reshape,
    square,
    squeeze,
    where,
)

EPS = 1e-7
REDUCTIONS = ("auto", "sum_over_batch_size", "sum", "none")


class Reduction:
    """keras.losses.Reduction's names."""

    AUTO, NONE, SUM, SUM_OVER_BATCH_SIZE = "auto", "none", "sum", "sum_over_batch_size"


def _float_pair(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """y_true cast to y_pred's dtype, with a missing or extra trailing dim of 1
    matched to y_pred's (Keras's squeeze_or_expand_dimensions: labels of shape
    [batch] against predictions [batch, 1] do not broadcast to [batch, batch])."""
    t = cast(convert_to_tensor(y_true), y_pred.dtype)
    rt, rp = t.shape.ndims, y_pred.shape.ndims
    if rt is not None and rp is not None:
        if rp == rt + 1 and y_pred.shape.as_list()[-1] == 1:
            t = expand_dims(t, -1)
        elif rt == rp + 1 and t.shape.as_list()[-1] == 1:
            t = squeeze(t, [-1])
    return t, y_pred


class Loss:
    """A loss: `loss(y_true, y_pred)` is a scalar (keras.losses.Loss)."""

    name = "loss"

    def __init__(
        self,
        from_logits: bool = False,
        name: str | None = None,
        reduction: str = "auto",
        **_: Any,
    ):
        self.from_logits = from_logits
        if reduction not in REDUCTIONS:
            raise GraphError(f"{type(self).__name__}: reduction {reduction!r} ({REDUCTIONS})")
        self.reduction = reduction
        if name:
            self.name = name

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_pred = convert_to_tensor(y_pred)
        if not y_pred.dtype.is_floating:
            y_pred = cast(y_pred, "float32")
        values = self.per_example(y_true, y_pred)
        if sample_weight is not None:
            w = cast(convert_to_tensor(sample_weight), values.dtype)
            if w.shape.ndims is not None and w.shape.ndims > values.shape.ndims:
                w = reshape(w, [-1])
            values = values * w
        if self.reduction == "none":
            return values
        if self.reduction == "sum":
            return reduce_sum(values)
        return reduce_mean(values)

    def per_example(self, y_true: Any, y_pred: Any) -> Any:
        raise NotImplementedError


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def per_example(self, y_true, y_pred):
        y_true, y_pred = _float_pair(y_true, y_pred)
        return reduce_mean(square(y_pred - y_true), axis=-1)


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"

    def per_example(self, y_true, y_pred):
        labels = cast(convert_to_tensor(y_true), int32)
        if labels.shape.ndims == y_pred.shape.ndims:  # (batch, 1) labels
            labels = reshape(labels, [-1])
        if self.from_logits:
            return nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
        # as Keras: the clipped probabilities' logs are logits, so each row is normalized by
        # its sum (sigmoid outputs do not sum to 1, and unnormalized -log p_y falls to 0)
        p = clip_by_value(y_pred, EPS, 1.0 - EPS)
        return nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=log(p))


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def per_example(self, y_true, y_pred):
        y_true, y_pred = _float_pair(y_true, y_pred)
        if self.from_logits:
            return nn.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=y_pred)
        p = clip_by_value(y_pred / reduce_sum(y_pred, axis=-1, keepdims=True), EPS, 1.0 - EPS)
        return -reduce_sum(y_true * log(p), axis=-1)


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def per_example(self, y_true, y_pred):
        y_true, y_pred = _float_pair(y_true, y_pred)
        if self.from_logits:
            return reduce_mean(
                nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred), axis=-1
            )
        p = clip_by_value(y_pred, EPS, 1.0 - EPS)
        return -reduce_mean(y_true * log(p) + (1.0 - y_true) * log(1.0 - p), axis=-1)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        return reduce_mean(abs(p - t), axis=-1)


class MeanAbsolutePercentageError(Loss):
    name = "mean_absolute_percentage_error"

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        return 100.0 * reduce_mean(abs((t - p) / maximum(abs(t), EPS)), axis=-1)


class MeanSquaredLogarithmicError(Loss):
    name = "mean_squared_logarithmic_error"

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        first = log(maximum(p, EPS) + 1.0)
        second = log(maximum(t, EPS) + 1.0)
        return reduce_mean(square(first - second), axis=-1)


class Huber(Loss):
    """0.5 x^2 for |x| <= delta, delta (|x| - delta / 2) beyond."""

    name = "huber_loss"

    def __init__(self, delta: float = 1.0, **kw: Any):
        super().__init__(**kw)
        self.delta = float(delta)

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        err = abs(p - t)
        small = 0.5 * square(err)
        large = self.delta * err - 0.5 * self.delta * self.delta
        return reduce_mean(where(less_equal(err, self.delta), small, large), axis=-1)


class LogCosh(Loss):
    name = "log_cosh"

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        x = p - t
        return reduce_mean(x + softplus_fn(-2.0 * x) - 0.6931471805599453, axis=-1)


class KLDivergence(Loss):
    name = "kl_divergence"

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        t = clip_by_value(t, EPS, 1.0)
        p = clip_by_value(p, EPS, 1.0)
        return reduce_sum(t * log(t / p), axis=-1)


class Poisson(Loss):
    name = "poisson"

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        return reduce_mean(p - t * log(p + EPS), axis=-1)


class Hinge(Loss):
    """max(1 - t p, 0) with 0/1 labels taken as -1/1."""

    name = "hinge"

    @staticmethod
    def shape(margin: Any) -> Any:
        return margin

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        t = where(equal(t, 0.0), t - 1.0, t)
        return reduce_mean(self.shape(maximum(1.0 - t * p, 0.0)), axis=-1)


class SquaredHinge(Hinge):
    """max(1 - t p, 0) squared."""

    name = "squared_hinge"
    shape = staticmethod(square)


class CosineSimilarity(Loss):
    """-cos(y_true, y_pred) over `axis` (so minimising aligns them)."""

    name = "cosine_similarity"

    def __init__(self, axis: int = -1, **kw: Any):
        super().__init__(**kw)
        self.axis = int(axis)

    def per_example(self, y_true, y_pred):
        t, p = _float_pair(y_true, y_pred)
        return -reduce_sum(
            l2_normalize(t, axis=self.axis) * l2_normalize(p, axis=self.axis), axis=self.axis
        )


_LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber,
    "huber_loss": Huber,
    "logcosh": LogCosh,
    "log_cosh": LogCosh,
    "kld": KLDivergence,
    "kl_divergence": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "cosine_similarity": CosineSimilarity,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
}


def _per_example_fn(cls: type[Loss], name: str) -> Callable:
    def fn(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
        y_pred = convert_to_tensor(y_pred)
        if not y_pred.dtype.is_floating:
            y_pred = cast(y_pred, "float32")
        return cls(from_logits=from_logits).per_example(y_true, y_pred)

    fn.__name__ = name
    fn.__doc__ = f"The per-example {cls.__name__} (keras.losses.{name}): no batch mean."
    return fn


# the lowercase functions: one value per example (keras.losses.mse(y, p) has shape [batch])
for _name, _cls in list(_LOSSES.items()):
    globals()[_name] = _per_example_fn(_cls, _name)
del _name, _cls


def get(identifier: Any) -> Callable:
    """A loss from a Loss, a name, or a function (y_true, y_pred) -> tensor."""
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _LOSSES:
        return _LOSSES[identifier]()
    if callable(identifier):
        return _Wrapped(identifier)
    raise GraphError(f"unknown loss {identifier!r} (one of {', '.join(_LOSSES)})")


class _Wrapped(Loss):
    """A function (y_true, y_pred) -> per-example values as a batch-mean loss."""

    def __init__(self, fn: Callable):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def per_example(self, y_true, y_pred):
        return convert_to_tensor(self.fn(y_true, y_pred))


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
        y_true, y_pred = _float_pair(y_true, y_pred)
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
        name = getattr(identifier, "__name__", None) or getattr(identifier, "name", "metric")
        return name, lambda y_true, y_pred: reduce_mean(identifier(y_true, y_pred))
    raise GraphError(f"unknown metric {identifier!r}")
