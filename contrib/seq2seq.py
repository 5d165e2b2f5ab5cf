"""tf.contrib.seq2seq: `sequence_loss`, the weighted cross entropy of a sequence of
logits [batch, time, classes] against integer targets [batch, time] (the char-RNN
tutorials' loss), with TensorFlow 1.15's averaging and summing options."""

from __future__ import annotations

from typing import Any

from ..frontend import nn
from ..frontend.array_ops import shape
from ..frontend.dtypes import float32
from ..frontend.graph import GraphError, Tensor, get_default_graph
from ..frontend.namespaces import count_nonzero, divide_no_nan
from ..frontend.ops import cast, convert_to_tensor, reduce_sum, reshape

__all__ = ["sequence_loss"]


def sequence_loss(
    logits: Any,
    targets: Any,
    weights: Any,
    average_across_timesteps: bool = True,
    average_across_batch: bool = True,
    sum_over_timesteps: bool = False,
    sum_over_batch: bool = False,
    softmax_loss_function: Any = None,
    name: str | None = None,
) -> Tensor:
    """sum(weights * crossent) / sum(weights) over the axes averaged (a scalar by
    default), or / the count of nonzero weights over the axes summed; the other axes
    are kept ([batch, time] when neither is reduced)."""
    x, y, w = (convert_to_tensor(v) for v in (logits, targets, weights))
    for t, rank, what in ((x, 3, "logits"), (y, 2, "targets"), (w, 2, "weights")):
        if t.shape.ndims is not None and t.shape.ndims != rank:
            raise GraphError(
                f"sequence_loss: {what} must be rank {rank} ({what} {t.name} is {t.shape})"
            )
    if (average_across_timesteps and sum_over_timesteps) or (
        average_across_batch and sum_over_batch
    ):
        raise GraphError(
            "sequence_loss: average_across_timesteps and sum_over_timesteps (or "
            "average_across_batch and sum_over_batch) cannot both be set"
        )
    with get_default_graph().name_scope(name or "sequence_loss"):
        classes = x.shape.as_list()[-1] if x.shape.ndims else None
        flat = reshape(x, [-1, classes if classes is not None else shape(x)[2]])
        labels = reshape(y, [-1])
        loss_fn = softmax_loss_function or nn.sparse_softmax_cross_entropy_with_logits
        crossent = loss_fn(labels=labels, logits=flat) * reshape(w, [-1])
        if average_across_timesteps and average_across_batch:
            return divide_no_nan(reduce_sum(crossent), reduce_sum(w))
        if sum_over_timesteps and sum_over_batch:
            return divide_no_nan(reduce_sum(crossent), cast(count_nonzero(w), float32))
        crossent = reshape(crossent, nn.leading_dims(x, 2))
        if average_across_timesteps or average_across_batch:
            axis = [0] if average_across_batch else [1]
            return divide_no_nan(reduce_sum(crossent, axis=axis), reduce_sum(w, axis=axis))
        if sum_over_timesteps or sum_over_batch:
            axis = [0] if sum_over_batch else [1]
            count = cast(count_nonzero(w, axis=axis), float32)
            return divide_no_nan(reduce_sum(crossent, axis=axis), count)
        return crossent
