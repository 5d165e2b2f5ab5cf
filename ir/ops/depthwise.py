"""Depthwise convolution and its two gradients, as TensorFlow's
DepthwiseConv2dNative, DepthwiseConv2dNativeBackpropInput and
DepthwiseConv2dNativeBackpropFilter.

Each input channel c is convolved with its own `multiplier` filters
w[:, :, c, m], giving output channel c * multiplier + m: NHWC input, filter
[kh, kw, channels, multiplier]. They are ops of their own, not a conv2d with
a block-diagonal filter, because that form does `channels` times the
arithmetic. Each is linear in each operand and their transposes stay inside
the set, so gradients of gradients are these ops again.
"""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, ints
from ..core import Operation
from ..cost import Cost, elements, moved
from ..errors import KilnError, ShapeError
from ..registry import op
from ..types import Dim, TensorType, may_equal
from .linalg import WINDOW_ATTRS, _pairs, pad_spatial, window_out, window_padding

DEPTHWISE_ATTRS = {**WINDOW_ATTRS, "dilations": Attr(ints, (1, 1))}


class Depthwise(Operation):
    """What the three ops share: the window geometry and its numpy form."""

    def check(self, a: TensorType, b: TensorType) -> None:
        if a.dtype != b.dtype or not a.dtype.is_float:
            raise ShapeError(f"expected floating-point operands of one dtype, got {a} and {b}")
        if a.rank != 4 or b.rank != 4:
            raise ShapeError(f"expected rank-4 operands, got {a} and {b}")
        _pairs(self.strides, "strides")
        _pairs(self.dilations, "dilations")

    def extent(self, kernel: int, axis: int) -> int:
        return (kernel - 1) * self.dilations[axis] + 1

    def out_size(self, size: Dim, kernel: int, axis: int) -> Dim:
        """The result's spatial dim `axis` for an input of that size."""
        return window_out(self, size, self.extent(kernel, axis), self.strides[axis], axis)

    def pads(self, size: int, kernel: int, axis: int) -> tuple[int, int]:
        """(before, after) padding of spatial `axis` of an input of that size."""
        return window_padding(self, size, self.extent(kernel, axis), self.strides[axis], axis)

    def taps(self, x_shape, kernel):
        """The padded input's shape, the (top, left) pads, the output's spatial
        size, and for each tap (i, j) the slices of the padded input it reads."""
        pads = [self.pads(x_shape[1 + a], kernel[a], a) for a in (0, 1)]
        padded = [x_shape[1 + a] + sum(pads[a]) for a in (0, 1)]
        out = [(padded[a] - self.extent(kernel[a], a)) // self.strides[a] + 1 for a in (0, 1)]
        (sh, sw), (dh, dw) = self.strides, self.dilations
        where = {
            (i, j): (
                slice(None),
                slice(i * dh, i * dh + (out[0] - 1) * sh + 1, sh),
                slice(j * dw, j * dw + (out[1] - 1) * sw + 1, sw),
            )
            for i in range(kernel[0])
            for j in range(kernel[1])
        }
        return pads, out, where

    def window_attrs(self) -> dict:
        return {k: self.attrs[k] for k in DEPTHWISE_ATTRS}

    def spatial_of(self, v, what: str) -> list[int]:
        """The static spatial dims of `v` (a gradient op needs them)."""
        dims = v.type.shape[1:3]
        if not all(isinstance(d, int) for d in dims):
            raise self.error(
                f"its gradient needs the static spatial dims of {what}, got {v.type}", KilnError
            )
        return list(dims)

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """2 per multiply-add: kh kw of them per element of the [n, oh, ow, c * m] side."""
        big, area = self.window_work(operand_shapes, result_shapes)
        return Cost(2 * elements(big) * int(area), 0, moved(self, operand_shapes, result_shapes))


def _grouped(t: np.ndarray, channels: int) -> np.ndarray:
    """[n, oh, ow, c * m] as [n, oh, ow, c, m]."""
    return t.reshape(*t.shape[:3], channels, t.shape[3] // channels)


@op("kiln.depthwise_conv2d", ["input", "filter"], DEPTHWISE_ATTRS, tf="DepthwiseConv2dNative")
class DepthwiseConv2D(Depthwise):
    """tf.nn.depthwise_conv2d: input [n, h, w, c], filter [kh, kw, c, m] ->
    [n, oh, ow, c * m]: out[..., c * m + k] is the sum over the window of
    x[..., c] * w[i, j, c, k]."""

    def infer(self, x: TensorType, w: TensorType) -> TensorType:
        self.check(x, w)
        if not all(isinstance(d, int) for d in w.shape):
            raise ShapeError(f"the filter's shape must be static, got {w}")
        if not may_equal(x.shape[3], w.shape[2]):
            raise ShapeError(f"input channels {x.shape[3]} differ from the filter's {w.shape[2]}")
        oh, ow = (self.out_size(x.shape[1 + a], w.shape[a], a) for a in (0, 1))
        return TensorType(x.dtype, [x.shape[0], oh, ow, w.shape[2] * w.shape[3]])

    def reference(self, x, w):
        kh, kw, c, m = w.shape
        pads, (oh, ow), where = self.taps(x.shape, (kh, kw))
        xp = pad_spatial(x, pads, 0)
        out = np.zeros((x.shape[0], oh, ow, c, m), np.result_type(x, w))
        for (i, j), s in where.items():
            out += xp[s][..., None] * w[i, j]
        return out.reshape(x.shape[0], oh, ow, c * m)

    def vjp(self, b, g):
        x, w, attrs = self.input, self.filter, self.window_attrs()
        return [
            lambda: b.depthwise_conv2d_backprop_input(
                g, w, input_size=self.spatial_of(x, "the input"), **attrs
            ),
            lambda: b.depthwise_conv2d_backprop_filter(
                x, g, filter_size=list(w.type.shape[:2]), **attrs
            ),
        ]

    def window_work(self, operand_shapes, result_shapes):
        return result_shapes[0], operand_shapes[1][0] * operand_shapes[1][1]


@op(
    "kiln.depthwise_conv2d_backprop_input",
    ["grad", "filter"],
    {**DEPTHWISE_ATTRS, "input_size": Attr(ints)},
    tf="DepthwiseConv2dNativeBackpropInput",
)
class DepthwiseConv2DBackpropInput(Depthwise):
    """The gradient of depthwise_conv2d with respect to its input: `grad`
    [n, oh, ow, c * m] through filter [kh, kw, c, m] to [n, h, w, c], with
    [h, w] = `input_size` (the transpose of the convolution by the filter)."""

    def infer(self, g: TensorType, w: TensorType) -> TensorType:
        self.check(g, w)
        if not all(isinstance(d, int) for d in w.shape):
            raise ShapeError(f"the filter's shape must be static, got {w}")
        h, width = _pairs(self.input_size, "input_size")
        c, m = w.shape[2:]
        want = [self.out_size(s, w.shape[a], a) for a, s in enumerate((h, width))]
        if not all(may_equal(a, b) for a, b in zip([*want, c * m], g.shape[1:])):
            raise ShapeError(
                f"an input of spatial size {[h, width]} convolves to {want} with {c * m} "
                f"channels, but grad is {g}"
            )
        return TensorType(g.dtype, [g.shape[0], h, width, c])

    def reference(self, g, w):
        kh, kw, c, _ = w.shape
        shape = (g.shape[0], *self.input_size, c)
        pads, _, where = self.taps(shape, (kh, kw))
        out = np.zeros(
            (shape[0], shape[1] + sum(pads[0]), shape[2] + sum(pads[1]), c), np.result_type(g, w)
        )
        grouped = _grouped(g, c)
        for (i, j), s in where.items():
            out[s] += (grouped * w[i, j]).sum(axis=-1)
        (top, _), (left, _) = pads
        return out[:, top : top + shape[1], left : left + shape[2]]

    def vjp(self, b, u):
        """Linear in each: grad's cotangent is the forward convolution of u, the
        filter's the filter gradient of u against grad."""
        g, w, attrs = self.grad, self.filter, self.window_attrs()
        return [
            lambda: b.depthwise_conv2d(u, w, **attrs),
            lambda: b.depthwise_conv2d_backprop_filter(
                u, g, filter_size=list(w.type.shape[:2]), **attrs
            ),
        ]

    def window_work(self, operand_shapes, result_shapes):
        return operand_shapes[0], operand_shapes[1][0] * operand_shapes[1][1]


@op(
    "kiln.depthwise_conv2d_backprop_filter",
    ["input", "grad"],
    {**DEPTHWISE_ATTRS, "filter_size": Attr(ints)},
    tf="DepthwiseConv2dNativeBackpropFilter",
)
class DepthwiseConv2DBackpropFilter(Depthwise):
    """The gradient of depthwise_conv2d with respect to its filter: input
    [n, h, w, c] and `grad` [n, oh, ow, c * m] to [kh, kw, c, m], with
    [kh, kw] = `filter_size`."""

    def infer(self, x: TensorType, g: TensorType) -> TensorType:
        self.check(x, g)
        kh, kw = _pairs(self.filter_size, "filter_size")
        c, cm = x.shape[3], g.shape[3]
        if not isinstance(c, int) or not isinstance(cm, int) or c == 0 or cm % c:
            raise ShapeError(
                f"the input's channels must be static and divide grad's, got {x} and {g}"
            )
        want = [self.out_size(x.shape[1 + a], k, a) for a, k in enumerate((kh, kw))]
        if not all(may_equal(a, b) for a, b in zip(want, g.shape[1:3])) or not may_equal(
            x.shape[0], g.shape[0]
        ):
            raise ShapeError(f"the input {x} convolves to spatial {want}, but grad is {g}")
        return TensorType(x.dtype, [kh, kw, c, cm // c])

    def reference(self, x, g):
        kh, kw = self.filter_size
        c = x.shape[3]
        pads, _, where = self.taps(x.shape, (kh, kw))
        xp = pad_spatial(x, pads, 0)
        grouped = _grouped(g, c)
        out = np.zeros((kh, kw, c, grouped.shape[4]), np.result_type(x, g))
        for (i, j), s in where.items():
            out[i, j] = np.einsum("nhwc,nhwcm->cm", xp[s], grouped)
        return out

    def vjp(self, b, v):
        """Linear in each: the input's cotangent is grad back through v, grad's
        the forward convolution of the input by v."""
        x, g, attrs = self.input, self.grad, self.window_attrs()
        return [
            lambda: b.depthwise_conv2d_backprop_input(
                g, v, input_size=self.spatial_of(x, "the input"), **attrs
            ),
            lambda: b.depthwise_conv2d(x, v, **attrs),
        ]

    def window_work(self, operand_shapes, result_shapes):
        return operand_shapes[1], result_shapes[0][0] * result_shapes[0][1]
