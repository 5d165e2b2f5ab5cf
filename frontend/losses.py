"""kl.losses: TensorFlow 1.x's loss functions (tf.losses / tf.compat.v1.losses).

Each computes per-element losses, weights them (`weights` broadcasts against
the losses: a scalar, one weight per example, or one per element) and
reduces them as `reduction` says; the default, SUM_BY_NONZERO_WEIGHTS,
divides the weighted sum by the number of non-zero weights (0 when there are
none), so a scalar weight w gives w times the mean. Every loss is added to
the LOSSES collection, as in TensorFlow; get_total_loss sums them.
"""

from __future__ import annotations

from typing import Any

from .dtypes import float32
from .graph import GraphError, Tensor, get_default_graph
from .nn import (
    sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2,
    sparse_softmax_cross_entropy_with_logits,
)
from .ops import (
    GraphKeys,
    abs,
    add_n,
    cast,
    convert_to_tensor,
    divide,
    log,
    minimum,
    multiply,
    not_equal,
    ones_like,
    reduce_sum,
    square,
    stop_gradient,
    subtract,
    where,
)

__all__ = [
    "Reduction",
    "absolute_difference",
    "add_loss",
    "compute_weighted_loss",
    "get_losses",
    "get_regularization_loss",
    "get_regularization_losses",
    "get_total_loss",
    "huber_loss",
    "log_loss",
    "mean_squared_error",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
]


class Reduction:
    """How a weighted loss is reduced (tf.losses.Reduction)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_BY_NONZERO_WEIGHTS)


def _safe_div(total: Tensor, count: Tensor) -> Tensor:
    """total / count, 0 where count is 0 (tf.div_no_nan)."""
    positive = count > 0.0
    return where(positive, divide(total, where(positive, count, 1.0)), 0.0)


def compute_weighted_loss(
    losses: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """losses * weights reduced as `reduction` says (tf.losses.compute_weighted_loss)."""
    if reduction not in Reduction.all():
        raise GraphError(f"unknown reduction {reduction!r}; use kl.losses.Reduction")
    with get_default_graph().name_scope(scope or "weighted_loss"):
        loss = convert_to_tensor(losses)
        w = convert_to_tensor(weights, dtype=loss.dtype)
        weighted = multiply(loss, w)
        if reduction == Reduction.NONE:
            result = weighted
        else:
            total = reduce_sum(weighted)
            # weights broadcast to the losses' shape, as TF counts them
            spread = multiply(ones_like(loss), w)
            if reduction == Reduction.SUM:
                result = total
            elif reduction == Reduction.MEAN:
                result = _safe_div(total, reduce_sum(spread))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                result = _safe_div(total, reduce_sum(ones_like(loss)))
            else:
                present = cast(not_equal(spread, 0.0), loss.dtype)
                result = _safe_div(total, reduce_sum(stop_gradient(present)))
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, result)
    return result


def _cast_pair(labels: Any, predictions: Any, to_float32: bool = True) -> tuple[Tensor, Tensor]:
    """Labels cast to the predictions' dtype, as TF's losses do (int one-hot labels, bool
    masks); the regression losses first cast integer predictions to float32 (TF casts any
    to float32; float64 stays float64 here, so gradient checks keep their precision)."""
    p = convert_to_tensor(predictions)
    if to_float32 and not p.dtype.is_floating:
        p = cast(p, float32)
    z = labels if isinstance(labels, Tensor) else convert_to_tensor(labels, p.dtype)
    return (z if z.dtype is p.dtype else cast(z, p.dtype)), p


def _weighted(
    losses: Tensor, weights: Any, scope: str | None, loss_collection: str | None, reduction: str
) -> Tensor:
    return compute_weighted_loss(
        losses, weights, scope=None, loss_collection=loss_collection, reduction=reduction
    )


def mean_squared_error(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """(predictions - labels)^2, weighted and reduced (tf.losses.mean_squared_error)."""
    with get_default_graph().name_scope(scope or "mean_squared_error"):
        z, p = _cast_pair(labels, predictions)
        return _weighted(square(subtract(p, z)), weights, scope, loss_collection, reduction)


def absolute_difference(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """|predictions - labels|, weighted and reduced (tf.losses.absolute_difference)."""
    with get_default_graph().name_scope(scope or "absolute_difference"):
        z, p = _cast_pair(labels, predictions)
        return _weighted(abs(subtract(p, z)), weights, scope, loss_collection, reduction)


def huber_loss(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    delta: float = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta), for e the error
    (tf.losses.huber_loss), written as TF does: 0.5 q^2 + delta (|e| - q) with
    q = min(|e|, delta)."""
    with get_default_graph().name_scope(scope or "huber_loss"):
        z, p = _cast_pair(labels, predictions)
        error = abs(subtract(p, z))
        quadratic = minimum(error, delta)
        losses = multiply(square(quadratic), 0.5) + multiply(subtract(error, quadratic), delta)
        return _weighted(losses, weights, scope, loss_collection, reduction)


def log_loss(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    epsilon: float = 1e-7,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """-labels log(p + eps) - (1 - labels) log(1 - p + eps) (tf.losses.log_loss)."""
    with get_default_graph().name_scope(scope or "log_loss"):
        z, p = _cast_pair(labels, predictions)
        losses = -multiply(z, log(p + epsilon)) - multiply(1.0 - z, log(1.0 - p + epsilon))
        return _weighted(losses, weights, scope, loss_collection, reduction)


def sigmoid_cross_entropy(
    multi_class_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """sigmoid_cross_entropy_with_logits, labels smoothed toward 1/2 by
    `label_smoothing`, weighted and reduced (tf.losses.sigmoid_cross_entropy)."""
    with get_default_graph().name_scope(scope or "sigmoid_cross_entropy_loss"):
        z, x = _cast_pair(multi_class_labels, logits, to_float32=False)
        if label_smoothing:
            z = z * (1.0 - label_smoothing) + 0.5 * label_smoothing
        losses = sigmoid_cross_entropy_with_logits(labels=z, logits=x)
        return _weighted(losses, weights, scope, loss_collection, reduction)


def softmax_cross_entropy(
    onehot_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """softmax_cross_entropy_with_logits per example (labels are constants to the
    gradient, as TF 1.x), labels smoothed toward 1/classes by `label_smoothing`;
    weights are per example ([batch]) or a scalar (tf.losses.softmax_cross_entropy)."""
    with get_default_graph().name_scope(scope or "softmax_cross_entropy_loss"):
        z, x = _cast_pair(onehot_labels, logits, to_float32=False)
        if label_smoothing:
            classes = x.shape[-1]
            if classes is None:
                raise GraphError(
                    "softmax_cross_entropy: label_smoothing needs a static number of classes"
                )
            z = z * (1.0 - label_smoothing) + label_smoothing / classes
        losses = softmax_cross_entropy_with_logits_v2(labels=stop_gradient(z), logits=x)
        return _weighted(losses, weights, scope, loss_collection, reduction)


def sparse_softmax_cross_entropy(
    labels: Any,
    logits: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """sparse_softmax_cross_entropy_with_logits per example (integer class ids),
    weighted and reduced (tf.losses.sparse_softmax_cross_entropy)."""
    with get_default_graph().name_scope(scope or "sparse_softmax_cross_entropy_loss"):
        losses = sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return _weighted(losses, weights, scope, loss_collection, reduction)


# ------------------------------------------------------------------ collections


def add_loss(loss: Any, loss_collection: str = GraphKeys.LOSSES) -> None:
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, convert_to_tensor(loss))


def get_losses(scope: str | None = None, loss_collection: str = GraphKeys.LOSSES) -> list:
    return get_default_graph().get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope: str | None = None, name: str = "total_regularization_loss"):
    losses = get_regularization_losses(scope)
    if not losses:
        return convert_to_tensor(0.0, name=name)
    return add_n(losses, name=name)


def get_total_loss(
    add_regularization_losses: bool = True, name: str = "total_loss", scope: str | None = None
) -> Tensor:
    """The sum of the LOSSES collection (and the regularization losses)."""
    losses = get_losses(scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope)
    if not losses:
        raise GraphError("get_total_loss: no losses have been added")
    return add_n(losses, name=name)
