"""kl.losses: TensorFlow 1.x's loss functions (weights=1.0, reduced to a mean)."""

from __future__ import annotations

from typing import Any

from .graph import Tensor, get_default_graph
from .nn import sigmoid_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2
from .ops import _pair, abs, reduce_mean, square, subtract

__all__ = ["absolute_difference", "mean_squared_error", "sigmoid_cross_entropy",
           "softmax_cross_entropy"]


def mean_squared_error(labels: Any, predictions: Any, weights: float = 1.0,
                       scope: str | None = None) -> Tensor:
    """mean((labels - predictions)^2) * weights (tf.losses.mean_squared_error)."""
    with get_default_graph().name_scope(scope or "mean_squared_error"):
        z, p = _pair(labels, predictions, "mean_squared_error")
        return reduce_mean(square(subtract(p, z))) * weights


def absolute_difference(labels: Any, predictions: Any, weights: float = 1.0,
                        scope: str | None = None) -> Tensor:
    with get_default_graph().name_scope(scope or "absolute_difference"):
        z, p = _pair(labels, predictions, "absolute_difference")
        return reduce_mean(abs(subtract(p, z))) * weights


def sigmoid_cross_entropy(multi_class_labels: Any, logits: Any, weights: float = 1.0,
                          scope: str | None = None) -> Tensor:
    with get_default_graph().name_scope(scope or "sigmoid_cross_entropy_loss"):
        loss = sigmoid_cross_entropy_with_logits(labels=multi_class_labels, logits=logits)
        return reduce_mean(loss) * weights


def softmax_cross_entropy(onehot_labels: Any, logits: Any, weights: float = 1.0,
                          scope: str | None = None) -> Tensor:
    with get_default_graph().name_scope(scope or "softmax_cross_entropy_loss"):
        loss = softmax_cross_entropy_with_logits_v2(labels=onehot_labels, logits=logits)
        return reduce_mean(loss) * weights
