"""The converter of ONNX GridSample (2-D and 3-D): X sampled at the grid's
normalised coordinates, as onnx's reference computes it.

Each output point's coordinate along each spatial dim is unnormalised
(align_corners or not), rounded (nearest, to even), and brought inside by the
padding mode (border clamps, reflection folds); then the taps of the
interpolation (1 nearest, 2 linear, 4 cubic per dim) are gathered from X with
kiln.gather_nd and summed with their weights. With zeros padding a tap outside
X weighs nothing.
"""

from __future__ import annotations

import itertools

from ...ir.core import Value
from . import Context, Node, converter
from .elementwise import like
from .rounding import floor, round_half_even

_CUBIC_A = -0.75


def _reflect(ctx: Context, v: Value, lo: float, hi: float) -> Value:
    """v folded into [lo, hi] by reflecting at the nearer border, repeatedly."""
    b = ctx.b
    span = hi - lo

    def fold(dx: Value, near: float, far: float) -> Value:
        n = floor(ctx, b.div(dx, like(ctx, dx, span)))
        r = b.sub(dx, b.mul(n, like(ctx, dx, span)))
        odd = b.not_equal(b.sub(n, b.mul(floor(ctx, b.div(n, like(ctx, n, 2))), like(ctx, n, 2))),
                          like(ctx, n, 0))  # fmt: skip
        towards = b.add(like(ctx, r, near), r) if near < far else b.sub(like(ctx, r, near), r)
        back = b.sub(like(ctx, r, far), r) if near < far else b.add(like(ctx, r, far), r)
        return b.select(odd, back, towards)

    below = fold(b.sub(like(ctx, v, lo), v), lo, hi)
    above = fold(b.sub(v, like(ctx, v, hi)), hi, lo)
    v = b.select(b.less(v, like(ctx, v, lo)), below, v)
    return b.select(b.greater(v, like(ctx, v, hi)), above, v)


def _cubic_weights(ctx: Context, t: Value) -> list[Value]:
    """Keys' cubic convolution weights (a = -0.75) of the taps at -1, 0, 1, 2."""
    b, a = ctx.b, _CUBIC_A

    def near(x: Value) -> Value:  # |x| <= 1
        return b.add(b.mul(b.mul(b.sub(b.mul(like(ctx, x, a + 2), x), like(ctx, x, a + 3)), x), x),
                     like(ctx, x, 1))  # fmt: skip

    def far(x: Value) -> Value:  # 1 < |x| < 2
        inner = b.add(b.mul(b.sub(b.mul(like(ctx, x, a), x), like(ctx, x, 5 * a)), x),
                      like(ctx, x, 8 * a))  # fmt: skip
        return b.sub(b.mul(inner, x), like(ctx, x, 4 * a))

    one, two = like(ctx, t, 1), like(ctx, t, 2)
    return [far(b.add(t, one)), near(t), near(b.sub(one, t)), far(b.sub(two, t))]


@converter("GridSample", 16)
def grid_sample(ctx: Context, node: Node) -> list[Value]:
    x, grid = node.inputs[:2]
    b = ctx.b
    mode = node.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    padding = node.attr("padding_mode", "zeros")
    align = bool(node.attr("align_corners", 0))
    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.error(node, f"mode={mode!r} is not supported")
    if padding not in ("zeros", "border", "reflection"):
        raise ctx.error(node, f"padding_mode={padding!r} is not supported")
    r = x.type.rank - 2
    sizes = list(x.type.shape[2:])
    if r < 1 or not all(isinstance(d, int) for d in x.type.shape) or grid.type.rank != r + 2:
        raise ctx.error(node, f"needs a static X {x.type} and a grid of rank {r + 2}")
    if grid.type.dtype != x.type.dtype:
        grid = b.cast(grid, dtype=x.type.dtype)
    last = grid.type.rank - 1
    taps_per_dim = []  # for each spatial dim: [(index, weight or None)]
    for j, size in enumerate(sizes):
        g = b.squeeze(b.slice(grid, axes=[last], starts=[r - 1 - j], stops=[r - j]), axes=[last])
        if align:
            p = b.mul(b.add(g, like(ctx, g, 1)), like(ctx, g, (size - 1) / 2))
            lo, hi = 0.0, size - 1.0
        else:
            p = b.div(b.sub(b.mul(b.add(g, like(ctx, g, 1)), like(ctx, g, size)), like(ctx, g, 1)),
                      like(ctx, g, 2))  # fmt: skip
            lo, hi = -0.5, size - 0.5
        if mode == "nearest":
            p = round_half_even(ctx, p)
        if padding == "border":  # clamped when outside [lo, hi] (the taps clamp again)
            outside = b.logical_or(b.less(p, like(ctx, p, lo)), b.greater(p, like(ctx, p, hi)))
            p = b.select(outside, b.min(b.max(p, like(ctx, p, 0)), like(ctx, p, size - 1)), p)
        elif padding == "reflection":
            p = _reflect(ctx, p, lo, hi)
        if mode == "nearest":
            taps_per_dim.append([(p, None)])
            continue
        base = floor(ctx, p)
        t = b.sub(p, base)
        if mode == "linear":
            weights, offsets = [b.sub(like(ctx, t, 1), t), t], [0, 1]
        else:
            weights, offsets = _cubic_weights(ctx, t), [-1, 0, 1, 2]
        taps_per_dim.append(
            [
                (base if o == 0 else b.add(base, like(ctx, base, o)), w)
                for o, w in zip(offsets, weights)
            ]
        )
    # the taps' indices brought inside X (and, with zeros padding, masks)
    fixed = []
    for j, taps in enumerate(taps_per_dim):
        size = sizes[j]
        out = []
        for index, weight in taps:
            inside = None
            if padding == "zeros":
                inside = b.logical_and(b.greater_equal(index, like(ctx, index, 0)),
                                       b.less_equal(index, like(ctx, index, size - 1)))  # fmt: skip
            elif padding == "reflection" and mode != "nearest":
                lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
                index = _reflect(ctx, index, lo, hi)
            index = b.min(b.max(index, like(ctx, index, 0)), like(ctx, index, size - 1))
            out.append((b.cast(index, dtype="i64"), weight, inside))
        fixed.append(out)
    xt = b.transpose(x, perm=[0] + list(range(2, r + 2)) + [1])  # [N, *S, C]
    total = None
    for combo in itertools.product(*fixed):
        idx = b.concat(*[b.expand_dims(i, axis=last) for i, _, _ in combo], axis=last)
        value = b.gather_nd(xt, idx, batch_dims=1)  # [N, *O, C]
        weight = None
        for _, w, inside in combo:
            if inside is not None:
                m = b.cast(inside, dtype=x.type.dtype)
                w = m if w is None else b.mul(w, m)
            if w is not None:
                weight = w if weight is None else b.mul(weight, w)
        if weight is not None:
            value = b.mul(value, b.expand_dims(weight, axis=last))
        total = value if total is None else b.add(total, value)
    return [b.transpose(total, perm=[0, last] + list(range(1, last)))]
