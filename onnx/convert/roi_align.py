"""The converter of ONNX RoiAlign as matmuls with interpolation matrices.

Bilinear sampling is separable: a sample at (y, x) of an [H, W] map is
wy . X . wx with wy one row of weights over H (hy at y_low, ly at y_high, zeros
elsewhere) and wx one over W. Each ROI's samples along y (out_h bins times
sampling_ratio points) form a matrix Wy [R, out_h*s, H], along x Wx [R, out_w*s,
W], both built from the ROIs at run time by comparisons with an iota; the
samples of every channel are then Wy @ X[batch_index] @ Wx^T, averaged over each
bin's s*s points. The max mode takes, as onnx's reference and onnxruntime, the
largest of the four weighted corner terms of each point, so it is four such
products (low/high rows times low/high columns), an elementwise max, then the max
over each bin. The reference's clamping (points past -1 or the size give zero;
coordinates clamped at 0 and at the last row/column) is kept exactly."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter
from .elementwise import like
from .rounding import floor


def _axis_weights(ctx: Context, start: Value, extent: Value, bins: int, s: int, size: int):
    """(W_low, W_high) [R, 1, bins*s, size]: the weights of each ROI's sample
    points along one axis at their lower and upper neighbours."""
    b = ctx.b
    dt = start.type.dtype
    steps = np.array([p + (i + 0.5) / s for p in range(bins) for i in range(s)])
    pos = ctx.constant(steps.astype(dt.numpy), dt)  # [bins*s]
    bin_size = b.div(extent, like(ctx, extent, bins))
    coord = b.add(b.expand_dims(start, axis=1), b.mul(b.expand_dims(bin_size, axis=1), pos))
    valid = b.logical_and(
        b.greater_equal(coord, like(ctx, coord, -1.0)),
        b.less_equal(coord, like(ctx, coord, size)),
    )
    c = b.max(coord, like(ctx, coord, 0.0))
    low = floor(ctx, c)
    edge = b.greater_equal(low, like(ctx, low, size - 1))
    last = like(ctx, low, size - 1)
    low = b.select(edge, last, low)
    c = b.select(edge, last, c)
    high = b.select(edge, last, b.add(low, like(ctx, low, 1.0)))
    ly = b.sub(c, low)
    hy = b.sub(like(ctx, ly, 1.0), ly)
    zero = like(ctx, ly, 0.0)
    ly, hy = b.select(valid, ly, zero), b.select(valid, hy, zero)
    grid = ctx.constant(np.arange(size, dtype=dt.numpy), dt)  # [size]

    def spread(at: Value, weight: Value) -> Value:  # [R, n] -> [R, 1, n, size]
        hit = b.equal(b.expand_dims(at, axis=2), grid)
        w = b.select(hit, b.expand_dims(weight, axis=2), like(ctx, weight, 0.0))
        return b.expand_dims(w, axis=1)

    return spread(low, hy), spread(high, ly)


@converter("RoiAlign", 10)
def roi_align(ctx: Context, node: Node) -> list[Value]:
    x, rois, batch_indices = node.inputs[:3]
    b = ctx.b
    if x.type.rank != 4 or rois.type.rank != 2:
        raise ctx.error(node, f"expected X [N, C, H, W] and rois [R, 4], got {x.type}, {rois.type}")
    height, width = x.type.shape[2:]
    if not (isinstance(height, int) and isinstance(width, int)):
        raise ctx.error(node, f"the spatial dims of {x.type} must be static")
    out_h, out_w = int(node.attr("output_height", 1)), int(node.attr("output_width", 1))
    s = int(node.attr("sampling_ratio", 0))
    if s <= 0:
        raise ctx.error(node, "sampling_ratio 0 (a grid per ROI from its size) is not supported")
    mode = node.attr("mode", "avg")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode not in ("avg", "max"):
        raise ctx.error(node, f"mode {mode!r} is not avg or max")
    default = "half_pixel" if ctx.opset >= 16 else "output_half_pixel"
    transform = node.attr("coordinate_transformation_mode", default)
    if isinstance(transform, bytes):
        transform = transform.decode()
    half_pixel = transform == "half_pixel"
    scale = float(node.attr("spatial_scale", 1.0))
    r = rois if rois.type.dtype == x.type.dtype else b.cast(rois, dtype=x.type.dtype)
    r = b.sub(b.mul(r, like(ctx, r, scale)), like(ctx, r, 0.5 if half_pixel else 0.0))

    def column(i: int) -> Value:
        return b.reshape(b.slice(r, axes=[1], starts=[i], stops=[i + 1]), shape=[-1])

    x0, y0, x1, y1 = (column(i) for i in range(4))
    roi_w, roi_h = b.sub(x1, x0), b.sub(y1, y0)
    if not half_pixel:
        roi_w, roi_h = b.max(roi_w, like(ctx, roi_w, 1.0)), b.max(roi_h, like(ctx, roi_h, 1.0))
    wy_low, wy_high = _axis_weights(ctx, y0, roi_h, out_h, s, height)
    wx_low, wx_high = _axis_weights(ctx, x0, roi_w, out_w, s, width)
    xb = b.gather(x, b.cast(batch_indices, dtype="i64"), axis=0)  # [R, C, H, W]

    def sampled(wy: Value, wx: Value) -> Value:  # [R, C, out_h*s, out_w*s]
        return b.matmul(b.matmul(wy, xb), wx, transpose_b=True)

    if mode == "avg":
        points = sampled(b.add(wy_low, wy_high), b.add(wx_low, wx_high))
    else:
        corners = [sampled(wy, wx) for wy in (wy_low, wy_high) for wx in (wx_low, wx_high)]
        points = corners[0]
        for term in corners[1:]:
            points = b.max(points, term)
    c = x.type.shape[1]
    bins = b.reshape(points, shape=[-1, c, out_h, s, out_w, s])
    pooled = b.reduce_mean if mode == "avg" else b.reduce_max
    return [pooled(bins, axes=[3, 5])]
