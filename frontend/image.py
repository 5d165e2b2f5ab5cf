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
from .dtypes import as_dtype, float32, uint8, uint16
from .graph import GraphError, Tensor, TensorShape, get_default_graph
from .ops import add, cast, constant, convert_to_tensor, expand_dims, multiply, squeeze, subtract
from .strings import _strings, host_op

__all__ = [
    "ResizeMethod",
    "convert_image_dtype",
    "decode_bmp",
    "decode_gif",
    "decode_image",
    "decode_jpeg",
    "decode_png",
    "resize",
    "resize_bilinear",
    "resize_images",
    "resize_nearest_neighbor",
]

# ------------------------------------------------------------------ decoding (host ops, Pillow)

_MODES = {0: None, 1: "L", 3: "RGB", 4: "RGBA"}


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise GraphError(
            "decoding images needs Pillow: pip install 'kiln[images]' (or pillow)"
        ) from None
    return Image


def _decoder(op_type: str, contents: Any, channels: int, dtype: Any, name: str | None):
    if channels not in _MODES:
        raise GraphError(f"kl.image.{op_type}: channels must be 0, 1, 3 or 4, not {channels}")
    t = _strings(contents, f"kl.image.{op_type}")
    out = as_dtype(dtype)
    if out not in (uint8, uint16):
        raise GraphError(f"kl.image.{op_type}: dtype must be uint8 or uint16, not {out.name}")

    def run(a):
        import io

        image = _pillow().open(io.BytesIO(a.item()))
        wide = image.mode in ("I", "I;16", "I;16B") and out is uint16
        if _MODES[channels] is not None and not wide:
            image = image.convert(_MODES[channels])
        elif image.mode not in ("L", "RGB", "RGBA", "LA") and not wide:
            image = image.convert(
                "RGBA" if "A" in image.mode or "transparency" in image.info else "RGB"
            )
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if out is uint16 and array.dtype == np.uint8:
            array = array.astype(np.uint16) * 257  # TF scales 8-bit PNGs to the 16-bit range
        return [array.astype(out.ir.numpy)]

    shape = TensorShape([None, None, channels or None])
    return host_op(op_type, [t], run, [(out, shape)], name, {"channels": channels})[0]


def decode_jpeg(
    contents: Any,
    channels: int = 0,
    ratio: int = 1,
    fancy_upscaling: bool = True,
    try_recover_truncated: bool = False,
    acceptable_fraction: float = 1,
    dct_method: str = "",
    name: str | None = None,
) -> Tensor:
    """A JPEG's pixels, HxWxC uint8 (tf.image.decode_jpeg; Pillow's decoder,
    whose rounding may differ from libjpeg-turbo's by a level or two)."""
    return _decoder("DecodeJpeg", contents, channels, uint8, name)


def decode_png(contents: Any, channels: int = 0, dtype: Any = uint8, name: str | None = None):
    """A PNG's pixels, HxWxC uint8 or uint16 (tf.image.decode_png)."""
    return _decoder("DecodePng", contents, channels, dtype, name)


def decode_bmp(contents: Any, channels: int = 0, name: str | None = None) -> Tensor:
    """A BMP's pixels, HxWxC uint8 (tf.image.decode_bmp)."""
    return _decoder("DecodeBmp", contents, channels, uint8, name)


def decode_gif(contents: Any, name: str | None = None) -> Tensor:
    """A GIF's first frame as 1xHxWx3 uint8 (tf.image.decode_gif gives every frame)."""
    t = _decoder("DecodeGif", contents, 3, uint8, name)
    return expand_dims(t, 0)


def decode_image(
    contents: Any,
    channels: int | None = None,
    dtype: Any = uint8,
    name: str | None = None,
    expand_animations: bool = True,
) -> Tensor:
    """Any of JPEG, PNG, BMP, GIF (first frame), HxWxC (tf.image.decode_image);
    a float dtype scales to [0, 1] as convert_image_dtype does."""
    want = as_dtype(dtype)
    storage = uint16 if want is uint16 else uint8
    t = _decoder("DecodeImage", contents, channels or 0, storage, name)
    return t if want is storage else convert_image_dtype(t, want)


def convert_image_dtype(image: Any, dtype: Any, saturate: bool = False, name: str | None = None):
    """Integers scale to [0, 1] floats (x / MAX) and floats to integers (x * MAX)
    (tf.image.convert_image_dtype)."""
    x = convert_to_tensor(image)
    want = as_dtype(dtype)
    if want is x.dtype:
        return x
    if x.dtype.is_integer and want.is_floating:
        return multiply(cast(x, want), constant(1.0 / float(x.dtype.max), want), name=name)
    if x.dtype.is_floating and want.is_integer:
        scaled = multiply(x, constant(float(want.max) + 0.5, x.dtype))
        return cast(scaled, want, name=name)
    if x.dtype.is_floating and want.is_floating:
        return cast(x, want, name=name)
    raise GraphError(f"kl.image.convert_image_dtype: {x.dtype.name} to {want.name}")


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
