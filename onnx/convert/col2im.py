"""ONNX Col2Im: the inverse of im2col, as kiln ops (no new IR op).

Col2Im(cols [N, C * prod(block), L], image_shape, block_shape) adds each
column's block of values back into the image at its sliding-window position
(overlaps summed). Per tap of the block, the [N, C, *windows] values it holds
are spread by the strides (a size-1 axis padded to the stride and merged into
the spatial axis), padded to their offset in the padded image and summed; the
padding is then cut off. Everything is slices, pads, reshapes and adds, which
fuse into few kernels.
"""

from __future__ import annotations

import itertools
import math

from ...ir.core import Value
from . import Context, Node, converter


@converter("Col2Im", since=18)
def col2im(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    image = ctx.ints_of(node.inputs[1], node, "image_shape")
    block = ctx.ints_of(node.inputs[2], node, "block_shape")
    n = len(image)
    if len(block) != n or n < 1:
        raise ctx.error(node, f"image_shape {image} and block_shape {block} differ in length")
    strides = [int(v) for v in node.attr("strides", [1] * n)]
    dilations = [int(v) for v in node.attr("dilations", [1] * n)]
    pads = [int(v) for v in node.attr("pads", [0] * 2 * n)]
    if x.type.rank != 3 or not all(isinstance(d, int) for d in x.type.shape[1:]):
        raise ctx.error(node, f"the input must be [N, C * prod(block), L], static but N: {x.type}")
    taps = math.prod(block)
    if x.type.shape[1] % taps:
        raise ctx.error(node, f"dim 1 of {x.type} is not a multiple of the block's {taps}")
    c = x.type.shape[1] // taps
    padded = [size + pads[k] + pads[k + n] for k, size in enumerate(image)]
    windows = [
        (p - (d * (k - 1) + 1)) // s + 1 for p, k, d, s in zip(padded, block, dilations, strides)
    ]
    if math.prod(windows) != x.type.shape[2] or min(windows) < 1:
        raise ctx.error(
            node, f"{x.type.shape[2]} columns for {windows} window positions of {image}"
        )
    b = ctx.b
    cols = b.reshape(x, shape=[-1, c, *block, *windows])
    total = None
    for tap in itertools.product(*(range(k) for k in block)):
        v = b.slice(cols, axes=list(range(2, 2 + n)), starts=list(tap), stops=[t + 1 for t in tap])
        v = b.reshape(v, shape=[-1, c, *windows])
        for axis in range(n):
            v = _spread(ctx, v, 2 + axis, windows[axis], strides[axis])
        low = [0, 0] + [t * d for t, d in zip(tap, dilations)]
        extent = [(w - 1) * s + 1 for w, s in zip(windows, strides)]
        high = [0, 0] + [p - lo - e for p, lo, e in zip(padded, low[2:], extent)]
        v = b.pad(v, low=low, high=high, value=0.0)
        total = v if total is None else b.add(total, v)
    return [
        b.slice(
            total,
            axes=list(range(2, 2 + n)),
            starts=pads[:n],
            stops=[pads[k] + image[k] for k in range(n)],
        )
    ]


def _spread(ctx: Context, v: Value, axis: int, size: int, stride: int) -> Value:
    """`v` with stride - 1 zeros between the entries along `axis` (size entries ->
    (size - 1) * stride + 1)."""
    if stride == 1 or size == 1:
        return v
    b = ctx.b
    shape = list(v.type.shape)
    rank = len(shape)
    v = b.expand_dims(v, axis=axis + 1)
    low, high = [0] * (rank + 1), [0] * (rank + 1)
    high[axis + 1] = stride - 1
    v = b.pad(v, low=low, high=high, value=0.0)
    merged = [-1 if k == 0 else d for k, d in enumerate(shape)]
    merged[axis] = size * stride
    v = b.reshape(v, shape=merged)
    return b.slice(v, axes=[axis], starts=[0], stops=[(size - 1) * stride + 1])
