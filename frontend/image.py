"""kl.image: resizing NHWC images (tf.image.resize_images and friends, TF 1.x).

Resizing is a gather of source rows and columns at indices computed when
the graph is built (the spatial sizes are static), and for bilinear a mix
of two gathers per axis with constant weights: no new IR op, native
kernels, and gradients through gather (scatter_add).

Source coordinates follow TensorFlow 1.x: by default (align_corners=False,
half_pixel_centers=False) output pixel i reads input i * in / out;
align_corners maps the corner pixels onto each other; half_pixel_centers
reads (i + 0.5) * in / out - 0.5 (tf.image.resize in TF 2, which the
method names of `resize` also take).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .array_ops import gather
from .dtypes import float32
from .graph import GraphError, Tensor, get_default_graph
from .ops import add, cast, constant, convert_to_tensor, expand_dims, multiply, squeeze, subtract

__all__ = ["ResizeMethod", "resize", "resize_bilinear", "resize_images", "resize_nearest_neighbor"]


class ResizeMethod:
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"


def _scale(size_in: int, size_out: int, align_corners: bool) -> float:
    if align_corners and size_out > 1:
        return (size_in - 1) / (size_out - 1)
    return size_in / size_out


def nearest_indices(
    size_in: int, size_out: int, align_corners: bool, half_pixel_centers: bool
) -> np.ndarray:
    """Which input pixel each output pixel copies (TF's nearest neighbour)."""
    scale = _scale(size_in, size_out, align_corners)
    i = np.arange(size_out, dtype=np.float64)
    if half_pixel_centers:
        src = np.floor((i + 0.5) * scale)
    elif align_corners:
        src = np.round(i * scale)
    else:
        src = np.floor(i * scale)
    return np.clip(src, 0, size_in - 1).astype(np.int32)


def bilinear_weights(
    size_in: int, size_out: int, align_corners: bool, half_pixel_centers: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, weight of the upper) per output pixel, as
    TensorFlow's compute_interpolation_weights."""
    scale = _scale(size_in, size_out, align_corners)
    i = np.arange(size_out, dtype=np.float64)
    src = (i + 0.5) * scale - 0.5 if half_pixel_centers else i * scale
    floor = np.floor(src)
    lower = np.maximum(floor, 0).astype(np.int32)
    upper = np.minimum(np.ceil(src), size_in - 1).astype(np.int32)
    return lower, upper, src - floor


def _images(images: Any, size: Sequence[int], what: str) -> tuple[Tensor, int, int, bool]:
    x = convert_to_tensor(images)
    single = x.shape.ndims == 3
    if x.shape.ndims not in (3, 4):
        raise GraphError(
            f"{what}: images must be [batch, height, width, channels] or "
            f"[height, width, channels], got {x.shape}"
        )
    if single:
        x = expand_dims(x, 0)
    if x.shape[1] is None or x.shape[2] is None:
        raise GraphError(f"{what}: the height and width of {x.name} must be static")
    if isinstance(size, Tensor) or len(size) != 2:
        raise GraphError(f"{what}: size must be two Python ints [height, width]")
    h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise GraphError(f"{what}: size must be positive, got {[h, w]}")
    return x, h, w, single


def _finish(y: Tensor, single: bool) -> Tensor:
    if single:
        return squeeze(y, axis=[0])
    return y


def resize_nearest_neighbor(
    images: Any,
    size: Sequence[int],
    align_corners: bool = False,
    name: str | None = None,
    half_pixel_centers: bool = False,
):
    """Nearest-neighbour resize (tf.image.resize_nearest_neighbor); keeps the dtype."""
    x, h, w, single = _images(images, size, "resize_nearest_neighbor")
    with get_default_graph().name_scope(name or "ResizeNearestNeighbor"):
        rows = nearest_indices(x.shape[1], h, align_corners, half_pixel_centers)
        cols = nearest_indices(x.shape[2], w, align_corners, half_pixel_centers)
        y = gather(gather(x, constant(rows), axis=1), constant(cols), axis=2)
    return _finish(y, single)


def _lerp_axis(
    x: Tensor, axis: int, size_out: int, align_corners: bool, half_pixel_centers: bool
) -> Tensor:
    lower, upper, weight = bilinear_weights(
        x.shape[axis], size_out, align_corners, half_pixel_centers
    )
    view = [1, 1, 1, 1]
    view[axis] = size_out
    a = gather(x, constant(lower), axis=axis)
    b = gather(x, constant(upper), axis=axis)
    t = constant(weight.reshape(view), dtype=x.dtype)
    return add(a, multiply(subtract(b, a), t))


def resize_bilinear(
    images: Any,
    size: Sequence[int],
    align_corners: bool = False,
    name: str | None = None,
    half_pixel_centers: bool = False,
):
    """Bilinear resize (tf.image.resize_bilinear): float images keep their
    dtype, integer images become float32 (TensorFlow always gives float32)."""
    x, h, w, single = _images(images, size, "resize_bilinear")
    with get_default_graph().name_scope(name or "ResizeBilinear"):
        if not x.dtype.is_floating:
            x = cast(x, float32)
        y = _lerp_axis(x, 1, h, align_corners, half_pixel_centers)
        y = _lerp_axis(y, 2, w, align_corners, half_pixel_centers)
    return _finish(y, single)


def resize_images(
    images: Any,
    size: Sequence[int],
    method: Any = ResizeMethod.BILINEAR,
    align_corners: bool = False,
    preserve_aspect_ratio: bool = False,
    name: str | None = None,
) -> Tensor:
    """tf.image.resize_images (TF 1.x): method "bilinear" (or 0) or "nearest" (or 1)."""
    if preserve_aspect_ratio:
        raise GraphError("resize_images: preserve_aspect_ratio is not supported")
    kind = {0: "bilinear", 1: "nearest", "nearest_neighbor": "nearest"}.get(method, method)
    if kind == "bilinear":
        return resize_bilinear(images, size, align_corners, name)
    if kind == "nearest":
        return resize_nearest_neighbor(images, size, align_corners, name)
    raise GraphError(f"resize_images: method {method!r} is not supported (bilinear, nearest)")


def resize(
    images: Any,
    size: Sequence[int],
    method: Any = ResizeMethod.BILINEAR,
    preserve_aspect_ratio: bool = False,
    antialias: bool = False,
    name: str | None = None,
    align_corners: bool = False,
    half_pixel_centers: bool = False,
) -> Tensor:
    """tf.image.resize as in TF 1.x (resize_images' coordinates unless
    half_pixel_centers, which TF 2's resize always uses)."""
    if antialias or preserve_aspect_ratio:
        raise GraphError("resize: antialias and preserve_aspect_ratio are not supported")
    kind = {0: "bilinear", 1: "nearest", "nearest_neighbor": "nearest"}.get(method, method)
    if kind == "bilinear":
        return resize_bilinear(images, size, align_corners, name, half_pixel_centers)
    if kind == "nearest":
        return resize_nearest_neighbor(images, size, align_corners, name, half_pixel_centers)
    raise GraphError(f"resize: method {method!r} is not supported (bilinear, nearest)")
