"""conv2d_transpose: the adjoint of conv2d with respect to its input.

It decomposes to conv2d itself (zeros spread between the value's elements
for a stride, a spatially reversed filter with its channel dims swapped,
padding that takes the forward padding back off), so every backend that runs
conv2d runs it.
"""

from __future__ import annotations

import math

import numpy as np

from ..attributes import Attr, ints
from ..core import Operation
from ..cost import Cost, elements, moved
from ..errors import ShapeError
from ..registry import op
from ..types import TensorType, may_equal
from .linalg import WINDOW_ATTRS, _pairs, conv_filter_vjp, window_out, window_padding

END = 2**62  # a slice stop meaning "to the end"


@op(
    "kiln.conv2d_transpose",
    ["value", "filter"],
    {**WINDOW_ATTRS, "dilations": Attr(ints, (1, 1)), "output_size": Attr(ints)},
    tf="Conv2DBackpropInput",
    onnx="ConvTranspose",
)
class Conv2DTranspose(Operation):
    """tf.nn.conv2d_transpose: NHWC `value`, filter [kh, kw, out_channels,
    in_channels]; `output_size` is the spatial [height, width] of the result,
    which the forward convolution (same filter, strides, padding) maps to
    `value`'s spatial size."""

    def infer(self, v: TensorType, w: TensorType) -> TensorType:
        if v.dtype != w.dtype or not v.dtype.is_float:
            raise ShapeError(f"expected floating-point operands of one dtype, got {v} and {w}")
        if v.rank != 4 or w.rank != 4:
            raise ShapeError(
                f"expected an NHWC value and a [kh, kw, out, in] filter, got {v} and {w}"
            )
        strides = _pairs(self.strides, "strides")
        dilations = _pairs(self.dilations, "dilations")
        size = _pairs(self.output_size, "output_size")
        if not all(isinstance(d, int) for d in w.shape[:2]):
            raise ShapeError(f"the filter's spatial dims must be static, got {w}")
        if not may_equal(v.shape[3], w.shape[3]):
            raise ShapeError(
                f"value channels {v.shape[3]} differ from the filter's in channels {w.shape[3]}"
            )
        for axis in (0, 1):
            extent = (w.shape[axis] - 1) * dilations[axis] + 1
            want = window_out(self, size[axis], extent, strides[axis], axis)
            if not may_equal(want, v.shape[1 + axis]):
                raise ShapeError(
                    f"output_size {list(size)} convolves to spatial dim {axis} "
                    f"of {want}, but the value {v} has {v.shape[1 + axis]}"
                )
        return TensorType(v.dtype, [v.shape[0], size[0], size[1], w.shape[2]])

    def pads(self, axis: int, kernel: int) -> tuple[int, int, int]:
        """(low, high, tail) of the forward convolution's spatial `axis`."""
        extent = (kernel - 1) * self.dilations[axis] + 1
        size, stride = self.output_size[axis], self.strides[axis]
        low, high = window_padding(self, size, extent, stride, axis)
        return low, high, (size + low + high - extent) % stride

    def reference(self, v, w):
        kh, kw = w.shape[:2]
        (sh, sw), (dh, dw) = self.strides, self.dilations
        (top, bottom, _), (left, right, _) = self.pads(0, kh), self.pads(1, kw)
        height, width = self.output_size
        out = np.zeros(
            (v.shape[0], height + top + bottom, width + left + right, w.shape[2]),
            np.result_type(v, w),
        )
        oh, ow = v.shape[1:3]
        for i in range(kh):
            for j in range(kw):
                out[
                    :,
                    i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                    j * dw : j * dw + (ow - 1) * sw + 1 : sw,
                    :,
                ] += np.tensordot(v, w[i, j], axes=([3], [1]))
        return out[:, top : top + height, left : left + width, :]

    def decompose(self, b):
        """With strides, one dense convolution per output phase, interleaved
        (`_by_phases`); else, or where a phase has no taps, a full correlation
        of the stride-spread value with the reversed, channel-swapped filter.
        Needs the value's spatial dims static."""
        v, w = self.value, self.filter
        if not all(isinstance(d, int) for d in v.type.shape[1:3]):
            return None
        if self.strides != (1, 1) and self.strides != [1, 1]:
            phased = _by_phases(self, b)
            if phased is not None:
                return phased
        flipped = b.transpose(w, perm=[0, 1, 3, 2])
        for axis in (0, 1):
            n = w.type.shape[axis]
            flipped = b.slice(flipped, axes=[axis], starts=[-1], stops=[-n - 1], steps=[-1])
        pads, crop_low, crop_high = [], [], []
        for axis in (0, 1):
            if self.strides[axis] > 1:
                v = _spread(b, v, 1 + axis, self.strides[axis])
            low, high, tail = self.pads(axis, w.type.shape[axis])
            reach = (w.type.shape[axis] - 1) * self.dilations[axis]
            before, after = reach - low, reach - high + tail
            pads += [max(before, 0), max(after, 0)]
            crop_low.append(max(-before, 0))
            crop_high.append(after if after < 0 else END)
        out = b.conv2d(
            v, flipped, dilations=self.dilations, padding="EXPLICIT", explicit_padding=pads
        )
        if crop_low != [0, 0] or crop_high != [END, END]:
            out = b.slice(out, axes=[1, 2], starts=crop_low, stops=crop_high)
        return out

    def vjp(self, b, g):
        """conv2d_transpose(v, w) is A_w^T v for A_w the convolution by w, so the
        value's cotangent is conv2d(g, w), and the filter's is conv2d's filter
        gradient with g as the input and v as the output's cotangent."""
        attrs = {k: self.attrs[k] for k in ("strides", "padding", "explicit_padding", "dilations")}
        built: list[Operation] = []

        def forward() -> Operation:
            if not built:
                built.append(b.create("kiln.conv2d", g, self.filter, **attrs))
            return built[0]

        return [lambda: forward().result, lambda: conv_filter_vjp(forward(), b, self.value)]

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """2 per multiply-add: KH KW C_out of them per element of `value`."""
        kh, kw, cout = operand_shapes[1][:3]
        return Cost(
            2 * elements(operand_shapes[0]) * int(kh * kw * cout),
            0,
            moved(self, operand_shapes, result_shapes),
        )


def _phase_taps(op: Conv2DTranspose, axis: int, phase: int, value_size: int):
    """The forward taps that reach output rows `phase + stride * q` along `axis`,
    as (first tap, tap step, count, value offset of the last tap, dilation of
    the phase's convolution, its output rows, the phase); None when no tap
    reaches them.

    Output row y takes value row t through tap i where t * s + i * d - low = y,
    so for y = phase + s q the taps are those with (phase + low - i d) = 0
    (mod s), every s / gcd(s, d)-th, and t = q + (phase + low - i d) / s: a
    correlation of the value with those taps reversed, dilated d / gcd(s, d)."""
    kernel = op.filter.type.shape[axis]
    stride, dilation = op.strides[axis], op.dilations[axis]
    low = op.pads(axis, kernel)[0]
    taps = [i for i in range(kernel) if (phase + low - i * dilation) % stride == 0]
    rows = -(-(op.output_size[axis] - phase) // stride)
    if not taps or rows <= 0:
        return None
    step = stride // math.gcd(stride, dilation)
    offset = (phase + low - taps[-1] * dilation) // stride
    return taps[0], step, len(taps), offset, dilation // math.gcd(stride, dilation), rows, phase


NARROW = 8  # output channels below which a transpose goes by columns (see _by_columns)


def _by_phases(op: Conv2DTranspose, b):
    """conv2d_transpose as its stride_h * stride_w output phases (the output
    pixels whose row and column have given remainders by the strides), each
    computed densely, interleaved: no multiplication by the zeros a
    stride-spread value holds (3/4 of the work at stride 2), and no spread
    copy. A phase is one conv2d of the value with its taps; for a narrow
    output (fewer than NARROW channels) all phases come from one matmul
    instead (`_by_columns`). None where a phase has no taps (a stride wider
    than the dilated filter), for the caller's spread form."""
    v, w = op.value, op.filter
    sh, sw = op.strides
    sizes = v.type.shape[1:3]
    plans = [
        [_phase_taps(op, axis, r, sizes[axis]) for r in range(op.strides[axis])] for axis in (0, 1)
    ]
    if any(p is None for axis in plans for p in axis):
        return None
    most = [plans[axis][0][5] for axis in (0, 1)]  # phase 0 has the most rows
    if w.type.shape[2] < NARROW:
        phase = _by_columns(op, b)
    else:
        hwio = b.transpose(w, perm=[0, 1, 3, 2])

        def phase(ph, pw):
            return _phase_conv(b, v, hwio, ph, pw, sizes)

    lines = []
    for ph in plans[0]:
        row = []
        for pw in plans[1]:
            part = phase(ph, pw)
            if part is None:
                return None
            if (ph[5], pw[5]) != tuple(most):
                part = b.pad(part, low=[0] * 4, high=[0, most[0] - ph[5], most[1] - pw[5], 0])
            row.append(b.expand_dims(part, axis=3))
        merged = row[0] if len(row) == 1 else b.concat(*row, axis=3)
        lines.append(b.expand_dims(merged, axis=2))
    out = lines[0] if len(lines) == 1 else b.concat(*lines, axis=2)  # [n, qh, sh, qw, sw, o]
    out = b.reshape(out, shape=[_batch(v), most[0] * sh, most[1] * sw, w.type.shape[2]])
    height, width = op.output_size
    if (most[0] * sh, most[1] * sw) != (height, width):
        out = b.slice(out, axes=[1, 2], starts=[0, 0], stops=[height, width])
    return out


def _batch(v) -> int:
    return v.type.shape[0] if isinstance(v.type.shape[0], int) else -1


def _phase_conv(b, v, hwio, ph, pw, sizes):
    """One output phase as a dense conv2d of the value with the phase's taps
    (reversed, dilated d / gcd(s, d)); None when the value's needed rows are
    empty."""
    sub, pads, value = hwio, [], v
    for axis, (first, step, count, offset, dilation, rows, _) in ((0, ph), (1, pw)):
        last = first + (count - 1) * step
        stop = first - step if first >= step else -hwio.type.shape[axis] - 1
        sub = b.slice(sub, axes=[axis], starts=[last], stops=[stop], steps=[-step])
        before = -offset
        after = rows + (count - 1) * dilation - sizes[axis] - before
        if before < 0 or after < 0:
            start, end = max(-before, 0), sizes[axis] + min(after, 0)
            if end <= start:
                return None
            value = b.slice(value, axes=[1 + axis], starts=[start], stops=[end])
        pads += [max(before, 0), max(after, 0)]
    return b.conv2d(value, sub, dilations=[ph[4], pw[4]], padding="EXPLICIT", explicit_padding=pads)


def _by_columns(op: Conv2DTranspose, b):
    """The phases of a narrow transpose from one matmul: every value pixel
    times every tap, cols[n, t, u, i, j, o] = sum_c v[n, t, u, c] w[i, j, o, c]
    (M = pixels, K = in channels, N = kh kw out), then each phase is the sum
    of its taps' columns, shifted (slices and pads: elementwise work). A
    conv2d with so few output channels is a matrix-vector product over a
    copied im2col, which is what this avoids; the column matrix is kh kw
    times the output's size, small when the output is narrow."""
    v, w = op.value, op.filter
    kh, kw, cout, cin = w.type.shape
    _, t1, t2, _ = v.type.shape
    batch = _batch(v)
    flat = b.reshape(v, shape=[-1, cin])
    taps = b.reshape(b.transpose(w, perm=[3, 0, 1, 2]), shape=[cin, kh * kw * cout])
    cols = b.reshape(b.matmul(flat, taps), shape=[batch, t1, t2, kh, kw, cout])
    (sh, sw), (dh, dw) = op.strides, op.dilations
    lows = [op.pads(axis, w.type.shape[axis])[0] for axis in (0, 1)]

    def rows(plan, r_axis, size):
        """(tap, first phase row, last + 1, first value row) per tap of the phase."""
        first, step, count, _, _, q, r = plan
        s, d, low = (sh, dh, lows[0]) if r_axis == 0 else (sw, dw, lows[1])
        out = []
        for i in range(first, first + count * step, step):
            shift = (r + low - i * d) // s  # the value row phase row 0 reads
            lo, hi = max(-shift, 0), min(q, size - shift)
            if hi > lo:
                out.append((i, lo, hi, lo + shift))
        return out

    def phase(ph, pw):
        total = None
        for i, lo1, hi1, src1 in rows(ph, 0, t1):
            for j, lo2, hi2, src2 in rows(pw, 1, t2):
                term = b.slice(
                    cols,
                    axes=[1, 2, 3, 4],
                    starts=[src1, src2, i, j],
                    stops=[src1 + hi1 - lo1, src2 + hi2 - lo2, i + 1, j + 1],
                )
                term = b.reshape(term, shape=[batch, hi1 - lo1, hi2 - lo2, cout])
                if (lo1, hi1, lo2, hi2) != (0, ph[5], 0, pw[5]):
                    term = b.pad(term, low=[0, lo1, lo2, 0], high=[0, ph[5] - hi1, pw[5] - hi2, 0])
                total = term if total is None else b.add(total, term)
        return total

    return phase


def _spread(b, x, axis: int, step: int):
    """`step - 1` zeros between neighbours of `x` along a static `axis`."""
    n = x.type.shape[axis]
    high = [0] * (x.type.rank + 1)
    high[axis + 1] = step - 1
    spread = b.pad(b.expand_dims(x, axis=axis + 1), low=[0] * len(high), high=high)
    merged = [d if isinstance(d, int) else -1 for d in x.type.shape]
    merged[axis] = n * step
    flat = b.reshape(spread, shape=merged)
    return b.slice(flat, axes=[axis], starts=[0], stops=[(n - 1) * step + 1])
