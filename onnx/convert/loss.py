"""Converters of ONNX's losses: NegativeLogLikelihoodLoss and
SoftmaxCrossEntropyLoss (log_softmax, then the same picking of each target's
class), with class weights, ignore_index and the three reductions.

The class of each position is picked with a one-hot mask (target == class
index) summed over the class axis, so no gather along a dynamic axis is needed.
"""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter
from .elementwise import like


def _nll(ctx: Context, node: Node, logp: Value, target: Value, weight: Value | None) -> Value:
    b = ctx.b
    c = logp.type.shape[1]
    if not isinstance(c, int):
        raise ctx.error(node, f"the class dim of {logp.type} must be static")
    rank = logp.type.rank
    classes = ctx.constant(
        np.arange(c, dtype=target.type.dtype.numpy).reshape([1, c] + [1] * (rank - 2)),
        target.type.dtype,
    )
    t = b.expand_dims(target, axis=1)  # [N, 1, d...]
    onehot = b.cast(b.equal(t, classes), dtype=logp.type.dtype)  # [N, C, d...]
    picked = b.reduce_sum(b.mul(onehot, logp), axes=[1])  # [N, d...]
    if weight is not None:
        w = b.reduce_sum(
            b.mul(onehot, b.reshape(weight, shape=[1, c] + [1] * (rank - 2))), axes=[1]
        )
    else:
        w = None
    ignore = node.attr("ignore_index", None)
    if ignore is not None:
        keep = b.cast(
            b.not_equal(target, ctx.constant(np.array(ignore, target.type.dtype.numpy))),
            dtype=logp.type.dtype,
        )
        w = keep if w is None else b.mul(w, keep)
    loss = b.neg(picked)
    if w is not None:
        loss = b.mul(loss, w)
    reduction = node.attr("reduction", "mean")
    if reduction == "none":
        return loss
    total = b.reduce_sum(loss)
    if reduction == "sum":
        return total
    if reduction != "mean":
        raise ctx.error(node, f"reduction={reduction!r} is not supported")
    if w is None:
        shape = target.type.shape
        if not all(isinstance(d, int) for d in shape):
            return b.reduce_mean(loss)
        return b.div(total, like(ctx, total, int(np.prod(shape))))
    return b.div(total, b.reduce_sum(w))


@converter("NegativeLogLikelihoodLoss", 12)
def negative_log_likelihood_loss(ctx: Context, node: Node) -> list[Value]:
    logp, target = node.inputs[0], node.inputs[1]
    return [_nll(ctx, node, logp, target, node.input(2))]


@converter("SoftmaxCrossEntropyLoss", 12)
def softmax_cross_entropy_loss(ctx: Context, node: Node) -> list[Value]:
    scores, target = node.inputs[0], node.inputs[1]
    logp = ctx.b.log_softmax(scores, axis=1)
    out = [_nll(ctx, node, logp, target, node.input(2))]
    if node.num_outputs > 1:
        out.append(logp)
    return out
