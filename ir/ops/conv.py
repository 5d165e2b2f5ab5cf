"""conv2d_transpose: the adjoint of conv2d with respect to its input.

It decomposes to conv2d itself (zeros spread between the value's elements
for a stride, a spatially reversed filter with its channel dims swapped,
padding that takes the forward padding back off), so every backend that runs
conv2d runs it.
"""

from __future__ import annotations

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
        """A full correlation of the stride-spread value with the reversed,
        channel-swapped filter; needs the value's spatial dims static."""
        v, w = self.value, self.filter
        if not all(isinstance(d, int) for d in v.type.shape[1:3]):
            return None
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
