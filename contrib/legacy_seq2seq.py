"""tf.contrib.legacy_seq2seq's losses over lists of per-time-step tensors (TF 1.x's
older seq2seq API, as TF 1.15 defines them): `sequence_loss_by_example`, the weighted
per-example loss summed over the time steps, and `sequence_loss`, its sum averaged over
the batch; and `rnn_decoder`, the cell run over a list of inputs."""

from __future__ import annotations

from typing import Any

from ..frontend import nn
from ..frontend.array_ops import shape
from ..frontend.graph import GraphError, Tensor, get_default_graph
from ..frontend.ops import add_n, cast, convert_to_tensor, divide, multiply, reduce_sum, reshape
from ..frontend.variables import get_variable_scope, variable_scope

__all__ = ["rnn_decoder", "sequence_loss", "sequence_loss_by_example"]


def rnn_decoder(
    decoder_inputs: list, initial_state: Any, cell: Any, loop_function: Any = None, scope=None
) -> tuple[list, Any]:
    """(outputs, final state) of `cell` run over the list `decoder_inputs` from
    initial_state, its variables shared across steps (scope "rnn_decoder"). With
    loop_function, each step after the first takes loop_function(previous output, i)
    as its input instead, as TensorFlow's does (sampling text from a trained model)."""
    with variable_scope(scope or "rnn_decoder"):
        state, outputs, prev = initial_state, [], None
        for i, inp in enumerate(decoder_inputs):
            if loop_function is not None and prev is not None:
                with variable_scope("loop_function", reuse=True):
                    inp = loop_function(prev, i)
            if i > 0:
                get_variable_scope().reuse_variables()
            output, state = cell(inp, state)
            outputs.append(output)
            if loop_function is not None:
                prev = output
    return outputs, state


def sequence_loss_by_example(
    logits: Any,
    targets: Any,
    weights: Any,
    average_across_timesteps: bool = True,
    softmax_loss_function: Any = None,
    name: str | None = None,
) -> Tensor:
    """sum_t weights[t] * loss(targets[t], logits[t]) per example, divided by
    sum_t weights[t] (+1e-12) when `average_across_timesteps`; the loss is sparse softmax
    cross entropy, or softmax_loss_function(labels=, logits=)."""
    if not len(logits) == len(targets) == len(weights):
        raise GraphError(
            "legacy_seq2seq: logits, targets and weights must be lists of one length, got "
            f"{len(logits)}, {len(targets)}, {len(weights)}"
        )
    with get_default_graph().name_scope(name or "sequence_loss_by_example"):
        terms = []
        for logit, target, weight in zip(logits, targets, weights):
            if softmax_loss_function is None:
                crossent = nn.sparse_softmax_cross_entropy_with_logits(
                    labels=reshape(target, [-1]), logits=logit
                )
            else:
                crossent = softmax_loss_function(labels=target, logits=logit)
            terms.append(multiply(crossent, weight))
        log_perps = add_n(terms)
        if average_across_timesteps:
            log_perps = divide(log_perps, add_n([convert_to_tensor(w) for w in weights]) + 1e-12)
        return log_perps


def sequence_loss(
    logits: Any,
    targets: Any,
    weights: Any,
    average_across_timesteps: bool = True,
    average_across_batch: bool = True,
    softmax_loss_function: Any = None,
    name: str | None = None,
) -> Tensor:
    """sequence_loss_by_example summed, divided by the batch size when
    `average_across_batch`."""
    with get_default_graph().name_scope(name or "sequence_loss"):
        cost = reduce_sum(
            sequence_loss_by_example(
                logits,
                targets,
                weights,
                average_across_timesteps=average_across_timesteps,
                softmax_loss_function=softmax_loss_function,
            )
        )
        if not average_across_batch:
            return cost
        return divide(cost, cast(shape(targets[0])[0], cost.dtype))
