"""kiln.resize: nearest, linear and cubic interpolation of a tensor to a new
shape (ONNX Resize and Upsample, tf.image.resize).

Interpolation is separable: each resized axis is a 1-D map in which output
position o reads a few input positions ("taps") with fixed weights,

    y[o] = sum_t w[o, t] * x[idx[o, t]]      (positions clamped to the edge)

so the op decomposes, for static sizes of the resized axes, into one gather
per tap with constant indices, multiplied by constant weights and summed:
every backend then runs it through its gather and pointwise kernels. The
reference computes in float64 as ONNX's does.
"""

from __future__ import annotations

import math

import numpy as np

from ..attributes import Attr, bool_, float_, ints, one_of
from ..core import Operation
from ..errors import ExecutionError, KilnError, ShapeError
from ..registry import op
from ..types import TensorType

MODES = ("nearest", "linear", "cubic")
TRANSFORMS = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "tf_crop_and_resize",
)
ROUNDINGS = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def floats(v) -> tuple[float, ...]:
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise KilnError(f"expected a list of numbers, got {v!r}")
    return tuple(float_(x) for x in v)


def source_coordinates(mode: str, n_in: int, n_out: int, scale: float, roi: tuple) -> np.ndarray:
    """Where each output position of an axis sits in input coordinates (ONNX
    Resize's coordinate_transformation_mode). As ONNX, the modes that divide by
    the output length take it as scale * n_in, not rounded to n_out."""
    o = np.arange(n_out, dtype=np.float64)
    width = scale * n_in
    if mode == "align_corners":
        return np.zeros(n_out) if width == 1 else o * (n_in - 1) / (width - 1)
    if mode == "asymmetric":
        return o / scale
    if mode == "tf_half_pixel_for_nn":
        return (o + 0.5) / scale
    if mode == "pytorch_half_pixel":
        return np.full(n_out, -0.5) if width == 1 else (o + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        shift = n_in / 2 * (1 - n_out / width)
        return shift + (o + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        start, stop = roi
        if width == 1:
            return np.full(n_out, (stop - start) * (n_in - 1) / 2 + start * (n_in - 1))
        return start * (n_in - 1) + o * (stop - start) * (n_in - 1) / (width - 1)
    return (o + 0.5) / scale - 0.5  # half_pixel


def _linear(t: np.ndarray, a: float) -> np.ndarray:
    return np.clip(1 - np.abs(t), 0, 1)


def _cubic(t: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with coefficient a."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


class Taps:
    """The 1-D map of one axis: `index` [n_out, T] (clamped into the axis),
    `weight` [n_out, T], `outside` [n_out] (positions that take the
    extrapolation value)."""

    def __init__(self, op: Resize, n_in: int, n_out: int, scale: float, roi: tuple):
        x = source_coordinates(op.coordinate_transformation_mode, n_in, n_out, scale, roi)
        self.outside = (
            (x < 0) | (x > n_in - 1)
            if op.coordinate_transformation_mode == "tf_crop_and_resize"
            else np.zeros(n_out, bool)
        )
        if op.mode == "nearest":
            rounding = {
                "round_prefer_floor": lambda v: np.ceil(v - 0.5),
                "round_prefer_ceil": lambda v: np.floor(v + 0.5),
                "floor": np.floor,
                "ceil": np.ceil,
            }[op.nearest_mode]
            self.index = rounding(x).astype(np.int64)[:, None]
            self.weight = np.ones((n_out, 1))
        else:
            kernel, radius = (_linear, 1) if op.mode == "linear" else (_cubic, 2)
            shrink = min(scale, 1.0) if op.antialias else 1.0
            reach = radius / shrink
            count = 2 * radius if shrink == 1.0 else int(math.ceil(2 * reach)) + 1
            first = np.floor(x - reach).astype(np.int64) + (1 if shrink == 1.0 else 0)
            self.index = first[:, None] + np.arange(count)[None, :]
            self.weight = kernel(shrink * (self.index - x[:, None]), op.cubic_coeff_a)
            if op.exclude_outside:
                self.weight[(self.index < 0) | (self.index >= n_in)] = 0
            if op.exclude_outside or shrink != 1.0:
                total = self.weight.sum(axis=1, keepdims=True)
                self.weight = self.weight / np.where(total == 0, 1, total)
        self.index = np.clip(self.index, 0, max(n_in - 1, 0))

    def apply(self, x: np.ndarray, axis: int, fill: float) -> np.ndarray:
        shape = (1,) * axis + (-1,) + (1,) * (x.ndim - axis - 1)
        out = sum(
            np.take(x, self.index[:, t], axis=axis) * self.weight[:, t].reshape(shape)
            for t in range(self.index.shape[1])
        )
        if np.ndim(out) == 0:  # no taps (an empty axis)
            out = np.zeros(x.shape[:axis] + (len(self.outside),) + x.shape[axis + 1 :])
        return np.where(self.outside.reshape(shape), fill, out)


@op(
    "kiln.resize",
    ["x"],
    {
        "sizes": Attr(ints),
        "scales": Attr(floats, ()),
        "roi": Attr(floats, ()),
        "mode": Attr(one_of(*MODES), "nearest"),
        "coordinate_transformation_mode": Attr(one_of(*TRANSFORMS), "half_pixel"),
        "nearest_mode": Attr(one_of(*ROUNDINGS), "round_prefer_floor"),
        "cubic_coeff_a": Attr(float_, -0.75),
        "exclude_outside": Attr(bool_, False),
        "extrapolation_value": Attr(float_, 0.0),
        "antialias": Attr(bool_, False),
    },
    tf="ResizeBilinear",
    onnx="Resize",
)
class Resize(Operation):
    """x interpolated to the shape `sizes` (-1 keeps x's dim), as ONNX Resize
    (opset 19 semantics; the converter maps the older ones onto these
    attributes). `scales` (one per dim, or empty for sizes / x's shape) and
    `roi` (starts then ends, for tf_crop_and_resize) are ONNX's."""

    def infer(self, x: TensorType) -> TensorType:
        if len(self.sizes) != x.rank or (self.scales and len(self.scales) != x.rank):
            raise ShapeError(f"sizes and scales need one entry per dim of {x}")
        if self.roi and len(self.roi) != 2 * x.rank:
            raise ShapeError(f"roi needs 2 x {x.rank} entries, got {len(self.roi)}")
        if self.mode != "nearest" and not x.dtype.is_float:
            raise ShapeError(f"{self.mode} interpolation needs floats, got {x}")
        shape = []
        for d, (n, m) in enumerate(zip(x.shape, self.sizes)):
            if m < -1:
                raise ShapeError(f"sizes[{d}] = {m} is negative")
            if m != -1 and not isinstance(n, int) and self.resizes(d, n, m):
                raise ShapeError(f"dim {d} of {x} is resized, so it must be static")
            if n == 0 and m > 0:
                raise ShapeError(f"cannot resize the empty dim {d} of {x} to {m}")
            shape.append(n if m == -1 else m)
        return x.with_shape(shape)

    def axis_map(self, d: int, n_in: int) -> tuple[int, float, tuple]:
        """(output size, scale, roi) of dim d of size n_in."""
        n_out = n_in if self.sizes[d] == -1 else self.sizes[d]
        scale = self.scales[d] if self.scales else (n_out / n_in if n_in else 1.0)
        roi = (self.roi[d], self.roi[d + len(self.sizes)]) if self.roi else (0.0, 1.0)
        return n_out, scale, roi

    def resizes(self, d: int, n_in, n_out: int) -> bool:
        """Whether dim d is changed (not the identity map)."""
        scale = self.scales[d] if self.scales else 1.0
        roi = (self.roi[d], self.roi[d + len(self.sizes)]) if self.roi else (0.0, 1.0)
        if n_in != n_out or not math.isclose(scale, 1.0):
            return True
        return self.coordinate_transformation_mode == "tf_crop_and_resize" and roi != (0.0, 1.0)

    def taps(self, d: int, n_in: int) -> Taps | None:
        """The 1-D map of dim d, or None where it is the identity."""
        n_out, scale, roi = self.axis_map(d, n_in)
        if not self.resizes(d, n_in, n_out) or n_in == 0:
            return None
        return Taps(self, n_in, n_out, scale, roi)

    def reference(self, x):
        nearest = self.mode == "nearest"
        y = x if nearest else x.astype(np.float64)
        for d in range(x.ndim):
            taps = self.taps(d, x.shape[d])
            if taps is not None and nearest:
                fill = np.asarray(self.extrapolation_value).astype(x.dtype)
                mask = taps.outside.reshape((1,) * d + (-1,) + (1,) * (x.ndim - d - 1))
                y = np.where(mask, fill, np.take(y, taps.index[:, 0], axis=d))
            elif taps is not None:
                y = taps.apply(y, d, self.extrapolation_value)
            elif x.shape[d] == 0 and self.axis_map(d, 0)[0] != 0:
                raise self.error(f"cannot resize the empty dim {d}", ExecutionError)
        return y if nearest else y.astype(x.dtype)

    def decompose(self, b):
        """One gather per tap along each resized dim, times constant weights,
        summed (a nearest dim is one gather)."""
        x = self.x
        dtype = x.type.dtype
        y = x
        for d, n_in in enumerate(x.type.shape):
            if not isinstance(n_in, int):
                continue
            taps = self.taps(d, n_in)
            if taps is None:
                continue
            shape = [1] * x.type.rank
            shape[d] = len(taps.outside)
            total = None
            for t in range(taps.index.shape[1]):
                index = b.constant(taps.index[:, t].astype(np.int32), "i32")
                picked = b.gather(y, index, axis=d)
                if self.mode != "nearest":
                    weight = taps.weight[:, t].reshape(shape).astype(dtype.numpy)
                    picked = b.mul(picked, b.constant(weight, dtype))
                total = picked if total is None else b.add(total, picked)
            if taps.outside.any():
                fill = b.constant(np.asarray(self.extrapolation_value, dtype.numpy), dtype)
                mask = b.constant(taps.outside.reshape(shape), "bool")
                total = b.select(mask, b.broadcast_like(fill, total), total)
            y = total
        return y
