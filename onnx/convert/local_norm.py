"""The converter of ONNX MeanVarianceNormalization, written with kiln's
elementwise ops and reductions (LRN's converter is in nn.py)."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def _scalar(ctx: Context, value: float, like: Value) -> Value:
    return ctx.constant(np.asarray(value, like.type.dtype.numpy), like.type.dtype)


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
