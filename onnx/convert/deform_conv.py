"""The converter of ONNX DeformConv (2-D): a convolution whose taps read X at
positions moved by per-output-point offsets, bilinearly interpolated (taps
outside X read zero, as onnx's reference samples with GridSample,
align_corners=1, zeros padding) and scaled by an optional mask.

The moved taps' four integer neighbours are gathered from X with
kiln.gather_nd (batched over the image and the offset group), weighted and
summed: an im2col matrix [N, C*kh*kw, OH*OW] that one matmul per group multiplies
by the filter."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter
from .elementwise import like
from .rounding import floor


def _ints(node: Node, name: str, default: list[int]) -> list[int]:
    value = node.attr(name, None)
    return default if value is None else [int(v) for v in value]


@converter("DeformConv", 19)
def deform_conv(ctx: Context, node: Node) -> list[Value]:
    x, w, offset = node.inputs[:3]
    bias, mask = node.input(3), node.input(4)
    b = ctx.b
    if x.type.rank != 4:
        raise ctx.error(node, f"only 2-D DeformConv is supported, got X {x.type}")
    shapes = list(x.type.shape[1:]) + list(w.type.shape) + list(offset.type.shape[1:])
    if not all(isinstance(d, int) for d in shapes):
        raise ctx.error(node, f"needs static channels and spatial dims: {x.type}, {offset.type}")
    c, h, wd = x.type.shape[1:]
    oc, cpg, kh, kw = w.type.shape
    oh, ow = offset.type.shape[2:]
    group, og = int(node.attr("group", 1)), int(node.attr("offset_group", 1))
    if c != cpg * group or oc % group or c % og or offset.type.shape[1] != og * kh * kw * 2:
        raise ctx.error(node, f"inconsistent shapes X {x.type}, W {w.type}, offset {offset.type}")
    sh, sw = _ints(node, "strides", [1, 1])
    dh, dw = _ints(node, "dilations", [1, 1])
    ph, pw = _ints(node, "pads", [0, 0, 0, 0])[:2]
    k, p, cg = kh * kw, oh * ow, c // og
    dt = x.type.dtype
    off = b.reshape(offset, shape=[-1, og, kh, kw, 2, oh, ow])
    if off.type.dtype != dt:
        off = b.cast(off, dtype=dt)

    def base(axis_len: int, taps: int, stride: int, dil: int, pad: int, along_rows: bool):
        """The tap positions without offsets, [kh, kw, oh, ow] broadcastable."""
        out = np.arange(axis_len) * stride - pad
        tap = np.arange(taps) * dil
        grid = tap[:, None] + out[None, :]  # [taps, out]
        shape = [taps, 1, axis_len, 1] if along_rows else [1, taps, 1, axis_len]
        return ctx.constant(grid.reshape(shape).astype(dt.numpy), dt)

    def coord(i: int, grid: Value) -> Value:  # [N, og, kh, kw, oh, ow]
        part = b.squeeze(b.slice(off, axes=[4], starts=[i], stops=[i + 1]), axes=[4])
        return b.add(part, grid)

    py = coord(0, base(oh, kh, sh, dh, ph, True))
    px = coord(1, base(ow, kw, sw, dw, pw, False))
    xt = b.transpose(b.reshape(x, shape=[-1, og, cg, h, wd]), perm=[0, 1, 3, 4, 2])
    y0, x0 = floor(ctx, py), floor(ctx, px)
    ty, tx = b.sub(py, y0), b.sub(px, x0)
    one = like(ctx, ty, 1.0)
    total = None
    for dy, wy in ((0, b.sub(one, ty)), (1, ty)):
        for dx, wx in ((0, b.sub(one, tx)), (1, tx)):
            yi = y0 if dy == 0 else b.add(y0, like(ctx, y0, 1.0))
            xi = x0 if dx == 0 else b.add(x0, like(ctx, x0, 1.0))
            inside = b.logical_and(
                b.logical_and(b.greater_equal(yi, like(ctx, yi, 0)),
                              b.less_equal(yi, like(ctx, yi, h - 1))),
                b.logical_and(b.greater_equal(xi, like(ctx, xi, 0)),
                              b.less_equal(xi, like(ctx, xi, wd - 1))),
            )  # fmt: skip
            weight = b.mul(b.mul(wy, wx), b.cast(inside, dtype=dt))
            idx = [
                b.cast(b.min(b.max(v, like(ctx, v, 0)), like(ctx, v, size - 1)), dtype="i64")
                for v, size in ((yi, h), (xi, wd))
            ]
            idx = b.concat(*[b.reshape(i, shape=[-1, og, k * p, 1]) for i in idx], axis=3)
            value = b.gather_nd(xt, idx, batch_dims=2)  # [N, og, k*p, cg]
            term = b.mul(value, b.reshape(weight, shape=[-1, og, k * p, 1]))
            total = term if total is None else b.add(total, term)
    if mask is not None:
        m = mask if mask.type.dtype == dt else b.cast(mask, dtype=dt)
        total = b.mul(total, b.reshape(m, shape=[-1, og, k * p, 1]))
    cols = b.transpose(b.reshape(total, shape=[-1, og, k, p, cg]), perm=[0, 1, 4, 2, 3])
    cols = b.reshape(cols, shape=[-1, c * k, p])  # rows ordered (channel, kh, kw)
    filters = b.reshape(w, shape=[oc, cpg * k])
    ocg = oc // group
    parts = []
    for g in range(group):
        wg = filters if group == 1 else b.slice(filters, axes=[0], starts=[g * ocg],
                                                stops=[(g + 1) * ocg])  # fmt: skip
        cols_g = cols if group == 1 else b.slice(cols, axes=[1], starts=[g * cpg * k],
                                                 stops=[(g + 1) * cpg * k])  # fmt: skip
        parts.append(b.matmul(wg, cols_g))  # [N, ocg, p]
    y = parts[0] if group == 1 else b.concat(*parts, axis=1)
    y = b.reshape(y, shape=[-1, oc, oh, ow])
    if bias is not None:
        y = b.add(y, b.reshape(bias, shape=[oc, 1, 1]))
    return [y]
