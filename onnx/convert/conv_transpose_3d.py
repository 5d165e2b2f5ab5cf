"""A 3-D ONNX ConvTranspose as 2-D ones, one per depth tap of the filter.

Output depth od takes input depth id through tap kd where od = id*sd + kd*dd -
pad: so the filter's slice kd, applied by kiln's 2-D transposed convolution to
every input depth slice (depth folded into the batch), gives a term that is
spread along depth with stride sd (zeros between), shifted by kd*dd, and summed
over the taps; the sum is cropped by the depth pads. Height and width are the
2-D op's, with their pads, strides, dilations and output size."""

from __future__ import annotations

from ...ir.core import Value
from . import Context, Node


def conv_transpose_3d(ctx: Context, node: Node, x: Value, w: Value, bias: Value | None,
                      strides: list[int], dilations: list[int], pads: list[tuple[int, int]],
                      outs: list[int], full: list[int]) -> Value:  # fmt: skip
    """[N, C, D, H, W] * [C, O/g, KD, KH, KW] -> [N, O, outs...]; `full` is the
    uncropped output size per dim and `pads` the (before, after) crops."""
    b = ctx.b
    c, depth = x.type.shape[1:3]
    kd_size = int(w.type.shape[2])
    group = int(node.attr("group", 1))
    if not isinstance(c, int) or c % group:
        raise ctx.error(node, f"group={group} does not divide the channels of {x.type}")
    sd, dd = strides[0], dilations[0]
    flat_pads = [p for p0, p1 in pads[1:] for p in (p0, max(p1, 0))]
    attrs = dict(strides=strides[1:], dilations=dilations[1:], output_size=outs[1:])
    attrs.update(
        {"padding": "EXPLICIT", "explicit_padding": flat_pads}
        if any(flat_pads)
        else {"padding": "VALID"}
    )
    h, wd = x.type.shape[3:]
    xh = b.reshape(b.transpose(x, perm=[0, 2, 3, 4, 1]), shape=[-1, h, wd, c])  # [N*D, H, W, C]
    gi = c // group
    total = None
    for kd in range(kd_size):
        tap = b.slice(w, axes=[2], starts=[kd], stops=[kd + 1])
        wh = b.transpose(b.squeeze(tap, axes=[2]), perm=[2, 3, 1, 0])  # [KH, KW, O/g, C]
        parts = []
        for g in range(group):
            xg = xh if group == 1 else b.slice(xh, axes=[3], starts=[g * gi], stops=[(g + 1) * gi])
            wg = wh if group == 1 else b.slice(wh, axes=[3], starts=[g * gi], stops=[(g + 1) * gi])
            parts.append(b.conv2d_transpose(xg, wg, **attrs))
        y = parts[0] if group == 1 else b.concat(*parts, axis=3)  # [N*D, OH, OW, O]
        oh, ow, o = y.type.shape[1:]
        y = b.reshape(y, shape=[-1, depth, oh, ow, o])
        if sd > 1:  # zeros between the depth slices: [N, D, sd, ...] -> [N, D*sd, ...]
            y = b.pad(b.expand_dims(y, axis=2), low=[0] * 6, high=[0, 0, sd - 1, 0, 0, 0],
                      value=0.0)  # fmt: skip
            y = b.reshape(y, shape=[-1, depth * sd, oh, ow, o])
            y = b.slice(y, axes=[1], starts=[0], stops=[(depth - 1) * sd + 1])
        low = kd * dd
        high = full[0] - low - ((depth - 1) * sd + 1)
        y = b.pad(y, low=[0, low, 0, 0, 0], high=[0, high, 0, 0, 0], value=0.0)
        total = y if total is None else b.add(total, y)
    start, stop = pads[0][0], pads[0][0] + outs[0]
    if stop > full[0]:  # an output_padding implied by output_shape
        total = b.pad(total, low=[0] * 5, high=[0, stop - full[0], 0, 0, 0], value=0.0)
    total = b.slice(total, axes=[1], starts=[start], stops=[stop])
    if bias is not None:
        total = b.add(total, bias)
    return b.transpose(total, perm=[0, 4, 1, 2, 3])
