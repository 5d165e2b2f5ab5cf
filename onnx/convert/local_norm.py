"""Converters of ONNX LRN and MeanVarianceNormalization, written with kiln's
elementwise ops, reductions and one matmul (LRN's sum over a window of
channels is a band matrix applied along C, which must be static)."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def _scalar(ctx: Context, value: float, like: Value) -> Value:
    return ctx.constant(np.asarray(value, like.type.dtype.numpy), like.type.dtype)


@converter("LRN", 1)
def lrn(ctx: Context, node: Node) -> list[Value]:
    """y = x / (bias + alpha / size * sum of x^2 over the channels c - (size-1)//2
    .. c + ceil((size-1)/2))^beta."""
    x = node.inputs[0]
    if x.type.rank < 3 or not isinstance(x.type.shape[1], int):
        raise ctx.error(node, f"expected (N, C, ...) with a static C, got {x.type}")
    if not x.type.dtype.is_float:
        raise ctx.error(node, f"expected a float tensor, got {x.type}")
    size = int(node.attr("size"))
    alpha, beta = float(node.attr("alpha", 1e-4)), float(node.attr("beta", 0.75))
    bias = float(node.attr("bias", 1.0))
    c = x.type.shape[1]
    lo, hi = (size - 1) // 2, (size - 1) - (size - 1) // 2
    i, j = np.arange(c)[:, None], np.arange(c)[None, :]
    band = ((i >= j - lo) & (i <= j + hi)).astype(x.type.dtype.numpy)  # band[i, j]: i counts for j
    b = ctx.b
    rank = x.type.rank
    perm = [0] + list(range(2, rank)) + [1]
    back = [perm.index(d) for d in range(rank)]
    squares = b.transpose(b.mul(x, x), perm=perm)
    sums = b.transpose(b.matmul(squares, ctx.constant(band, x.type.dtype)), perm=back)
    scale = b.add(_scalar(ctx, bias, x), b.mul(_scalar(ctx, alpha / size, x), sums))
    return [b.div(x, b.pow(scale, _scalar(ctx, beta, x)))]


@converter("MeanVarianceNormalization", 9)
def mean_variance_normalization(ctx: Context, node: Node) -> list[Value]:
    """(x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes`, as ONNX's
    function body defines it."""
    x = node.inputs[0]
    axes = [int(a) % x.type.rank for a in node.attr("axes", [0, 2, 3])]
    b = ctx.b
    mean = b.reduce_mean(x, axes=axes, keepdims=True)
    mean_of_squares = b.reduce_mean(b.mul(x, x), axes=axes, keepdims=True)
    variance = b.sub(mean_of_squares, b.mul(mean, mean))
    scale = b.add(b.sqrt(variance), _scalar(ctx, 1e-9, x))
    return [b.div(b.sub(x, mean), scale)]
