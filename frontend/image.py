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

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .array_ops import gather
from .dtypes import as_dtype, float32, string, uint8, uint16
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


def _encoded(image: np.ndarray, form: str, **options: Any) -> bytes:
    """HxWxC uint8 pixels (C 1, 3 or 4) as `form` ("JPEG", "PNG") file bytes, by Pillow."""
    import io

    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise GraphError(f"kl.image: cannot encode pixels of shape {list(image.shape)} as {form}")
    out = io.BytesIO()
    _pillow().fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(out, form, **options)
    return out.getvalue()


def _jpeg_options(quality: int, progressive: bool = False, chroma_downsampling: bool = True):
    """Pillow's JPEG options for TF's: 4:2:0 chroma unless chroma_downsampling=False."""
    if not 0 <= int(quality) <= 100:
        raise GraphError(f"kl.image: JPEG quality must be in [0, 100], not {quality}")
    return {"quality": int(quality), "progressive": progressive,
            "subsampling": 2 if chroma_downsampling else 0}  # fmt: skip


def _uint8_image(image: Any, op_type: str) -> Tensor:
    x = convert_to_tensor(image)
    if x.dtype is not uint8:
        raise GraphError(f"kl.image.{op_type}: the image must be uint8, not {x.dtype.name}")
    return x


def encode_jpeg(
    image: Any,
    format: str = "",
    quality: int = 95,
    progressive: bool = False,
    optimize_size: bool = False,
    chroma_downsampling: bool = True,
    density_unit: str = "in",
    x_density: int = 300,
    y_density: int = 300,
    xmp_metadata: str = "",
    name: str | None = None,
) -> Tensor:
    """HxWxC uint8 pixels as a JPEG file's bytes, a string scalar (tf.image.encode_jpeg;
    Pillow's encoder, whose bytes differ from libjpeg-turbo's)."""
    x = _uint8_image(image, "encode_jpeg")
    options = _jpeg_options(quality, progressive, chroma_downsampling)
    options.update(optimize=optimize_size, dpi=(x_density, y_density))

    def run(a):
        return [np.array(_encoded(a, "JPEG", **options), dtype=object)]

    return host_op("EncodeJpeg", [x], run, [(string, TensorShape([]))], name)[0]


def encode_png(image: Any, compression: int = -1, name: str | None = None) -> Tensor:
    """HxWxC uint8 pixels as a PNG file's bytes, a string scalar (tf.image.encode_png;
    compression 0-9, -1 the default)."""
    x = _uint8_image(image, "encode_png")
    level = 6 if compression == -1 else int(compression)

    def run(a):
        return [np.array(_encoded(a, "PNG", compress_level=level), dtype=object)]

    return host_op("EncodePng", [x], run, [(string, TensorShape([]))], name)[0]


def jpeg_round_trip(f: np.ndarray, quality: int) -> np.ndarray:
    """[0, 1] float pixels (HxWxC, or a batch of them) through a JPEG at `quality`."""
    import io

    pixels = np.clip(f * np.float32(255.5), 0, 255).astype(np.uint8)
    images = pixels.reshape(-1, *pixels.shape[-3:])
    options = _jpeg_options(quality)
    back = []
    for image in images:
        decoded = _pillow().open(io.BytesIO(_encoded(image, "JPEG", **options)))
        back.append(np.asarray(decoded).reshape(image.shape))
    return (np.stack(back).reshape(pixels.shape) / np.float32(255)).astype(np.float32)


def adjust_jpeg_quality(
    image: Any, jpeg_quality: int, dct_method: str = "", name: str | None = None
) -> Tensor:
    """The image encoded as a JPEG at `jpeg_quality` (0-100) and decoded again, in its
    own dtype (tf.image.adjust_jpeg_quality: floats saturate to [0, 1] first)."""
    _jpeg_options(jpeg_quality)  # checked now, when the graph is built
    round_trip = functools.partial(jpeg_round_trip, quality=jpeg_quality)
    return _pixelwise("AdjustJpegQuality", image, round_trip, name)


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


def _dynamic(x: Tensor) -> bool:
    """Whether x's height or width is known only at run time (a decoded image)."""
    return x.shape[1] is None or x.shape[2] is None


def _resize_on_host(
    x: Tensor, h: int, w: int, bilinear: bool, align_corners: bool, half_pixel: bool, name: str
) -> Tensor:
    """The resize of an image whose size is known only at run time (decode_jpeg's
    output, in an input pipeline) as a host op, with the same source maps as the
    static case: TensorFlow's numbers, no gradient (TF has none for a pipeline)."""
    out = float32 if bilinear else x.dtype

    def run(a):
        if bilinear:
            a = a.astype(np.float32)
            for axis, size in ((1, h), (2, w)):
                lower, upper, t = bilinear_weights(a.shape[axis], size, align_corners, half_pixel)
                view = [1, 1, 1, 1]
                view[axis] = size
                lo, hi = np.take(a, lower, axis=axis), np.take(a, upper, axis=axis)
                a = lo + (hi - lo) * t.reshape(view).astype(np.float32)
            return [a]
        rows = nearest_indices(a.shape[1], h, align_corners, half_pixel)
        cols = nearest_indices(a.shape[2], w, align_corners, half_pixel)
        return [a[:, rows][:, :, cols]]

    shape = TensorShape([x.shape[0], h, w, x.shape[3]])
    return host_op(name, [x], run, [(out, shape)])[0]


def resize_nearest_neighbor(
    images: Any,
    size: Sequence[int],
    align_corners: bool = False,
    name: str | None = None,
    half_pixel_centers: bool = False,
):
    """Nearest-neighbour resize (tf.image.resize_nearest_neighbor); keeps the dtype."""
    x, h, w, single = _images(images, size, "resize_nearest_neighbor")
    if _dynamic(x):
        y = _resize_on_host(
            x, h, w, False, align_corners, half_pixel_centers, name or "ResizeNearestNeighbor"
        )
        return _finish(y, single)
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
    if _dynamic(x):
        y = _resize_on_host(
            x, h, w, True, align_corners, half_pixel_centers, name or "ResizeBilinear"
        )
        return _finish(y, single)
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


# ------------------------------------------------------------------ colour adjustments (host ops)
#
# Augmentation ops as TensorFlow computes them, on the host with numpy: an
# integer image goes to [0, 1] floats and back (saturating), as TF's
# convert_image_dtype does. They are not differentiable (nor, in practice,
# differentiated: they feed training, they are not trained through).


def _to_float(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "iu":
        return a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max)
    return a.astype(np.float32, copy=False)


def _back(f: np.ndarray, like: np.ndarray) -> np.ndarray:
    if like.dtype.kind in "iu":
        top = np.iinfo(like.dtype).max
        return np.clip(f.astype(np.float32) * np.float32(top + 0.5), 0, top).astype(like.dtype)
    return f.astype(like.dtype)


def _pixelwise(op_type: str, image: Any, fn, name: str | None = None) -> Tensor:
    x = convert_to_tensor(image)
    if x.dtype.is_string:
        raise GraphError(f"kl.image.{op_type}: {x.name} is a string tensor, not an image")

    def run(a):
        return [_back(fn(_to_float(a)), a)]

    return host_op(op_type, [x], run, [(x.dtype, x.shape)], name)[0]


def brightness(f: np.ndarray, delta: float) -> np.ndarray:
    return f + np.float32(delta)


def contrast(f: np.ndarray, factor: float) -> np.ndarray:
    mean = f.mean(axis=(-3, -2), keepdims=True, dtype=np.float32)
    return (f - mean) * np.float32(factor) + mean


def adjust_brightness(image: Any, delta: float) -> Tensor:
    """image + delta, in [0, 1] units for integer images (tf.image.adjust_brightness)."""
    return _pixelwise("AdjustBrightness", image, lambda f: brightness(f, delta))


def adjust_contrast(images: Any, contrast_factor: float) -> Tensor:
    """(x - mean) * factor + mean, the mean per channel over each image's pixels."""
    return _pixelwise("AdjustContrast", images, lambda f: contrast(f, contrast_factor))


def _rgb_to_hsv(f: np.ndarray) -> np.ndarray:
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    v = f.max(axis=-1)
    delta = v - f.min(axis=-1)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1), 0)
    safe = np.where(delta > 0, delta, 1)
    h = np.where(v == r, (g - b) / safe, np.where(v == g, 2 + (b - r) / safe, 4 + (r - g) / safe))
    h = np.where(delta > 0, (h / 6) % 1.0, 0)
    return np.stack([h, s, v], axis=-1).astype(np.float32)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    h6 = (h % 1.0) * 6
    i = np.floor(h6).astype(int) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = [np.choose(i, [c[k] for c in choices]) for k in range(3)]
    return np.stack(out, axis=-1).astype(np.float32)


def rgb_to_hsv(images: Any, name: str | None = None) -> Tensor:
    """RGB in [0, 1] to HSV in [0, 1] (tf.image.rgb_to_hsv)."""
    return _pixelwise("RGBToHSV", images, _rgb_to_hsv, name)


def hsv_to_rgb(images: Any, name: str | None = None) -> Tensor:
    return _pixelwise("HSVToRGB", images, _hsv_to_rgb, name)


def adjust_saturation(image: Any, saturation_factor: float, name: str | None = None) -> Tensor:
    """Saturation scaled by the factor, clipped to [0, 1] (tf.image.adjust_saturation)."""

    return _pixelwise("AdjustSaturation", image, lambda f: saturation(f, saturation_factor), name)


def saturation(f: np.ndarray, factor: float) -> np.ndarray:
    hsv = _rgb_to_hsv(f)
    hsv[..., 1] = np.clip(hsv[..., 1] * np.float32(factor), 0, 1)
    return _hsv_to_rgb(hsv)


def hue(f: np.ndarray, delta: float) -> np.ndarray:
    hsv = _rgb_to_hsv(f)
    hsv[..., 0] = (hsv[..., 0] + np.float32(delta)) % 1.0
    return _hsv_to_rgb(hsv)


def adjust_hue(image: Any, delta: float, name: str | None = None) -> Tensor:
    """Hue rotated by delta (in turns, -1..1) (tf.image.adjust_hue)."""
    return _pixelwise("AdjustHue", image, lambda f: hue(f, delta), name)


def rgb_to_grayscale(images: Any, name: str | None = None) -> Tensor:
    """The luma 0.2989 R + 0.5870 G + 0.1140 B, keeping a channel axis of 1."""
    x = convert_to_tensor(images)
    weights = np.array([0.2989, 0.5870, 0.1140], np.float32)

    def run(a):
        gray = (_to_float(a) @ weights)[..., None]
        return [_back(gray, a)]

    dims = x.shape.dims
    shape = TensorShape(None if dims is None else [*dims[:-1], 1])
    return host_op("RGBToGrayscale", [x], run, [(x.dtype, shape)], name)[0]


def per_image_standardization(image: Any) -> Tensor:
    """(x - mean) / max(stddev, 1 / sqrt(pixels)) per image, float32."""
    x = convert_to_tensor(image)

    def run(a):
        f = a.astype(np.float32)
        axes = tuple(range(f.ndim - 3, f.ndim))
        n = np.prod([f.shape[k] for k in axes])
        mean = f.mean(axis=axes, keepdims=True)
        std = np.maximum(f.std(axis=axes, keepdims=True), np.float32(1 / np.sqrt(n)))
        return [((f - mean) / std).astype(np.float32)]

    return host_op("PerImageStandardization", [x], run, [(float32, x.shape)])[0]


def flip_left_right(image: Any) -> Tensor:
    """The columns reversed (tf.image.flip_left_right)."""
    x = convert_to_tensor(image)
    return host_op("FlipLeftRight", [x], lambda a: [np.flip(a, -2).copy()], [(x.dtype, x.shape)])[0]


def flip_up_down(image: Any) -> Tensor:
    """The rows reversed (tf.image.flip_up_down)."""
    x = convert_to_tensor(image)
    return host_op("FlipUpDown", [x], lambda a: [np.flip(a, -3).copy()], [(x.dtype, x.shape)])[0]


def _crop_start(size: int, fraction: float) -> int:
    return int((size - size * fraction) / 2)  # TF 2's bbox start, truncated


def central_crop(image: Any, central_fraction: float) -> Tensor:
    """The central `central_fraction` of an HxWxC image or a batch of them: TF's box,
    starting at int((size - size * fraction) / 2) on each side (tf.image.central_crop).
    A slice where H and W are known (so it has a gradient), else a host op."""
    x = convert_to_tensor(image)
    if not 0.0 < central_fraction <= 1.0:
        raise GraphError(
            f"kl.image.central_crop: central_fraction must be in (0, 1], not {central_fraction}"
        )
    dims = x.shape.dims
    if dims is None or len(dims) not in (3, 4):
        raise GraphError(
            f"kl.image.central_crop: {x.name} must be 3-D or 4-D, not of shape {x.shape}"
        )
    if central_fraction == 1.0:
        return x
    h, w = dims[-3], dims[-2]
    if h is not None and w is not None:
        top, left = _crop_start(h, central_fraction), _crop_start(w, central_fraction)
        return x[..., top : h - top, left : w - left, :]

    def run(a):
        top = _crop_start(a.shape[-3], central_fraction)
        left = _crop_start(a.shape[-2], central_fraction)
        return [a[..., top : a.shape[-3] - top, left : a.shape[-2] - left, :].copy()]

    shape = TensorShape([*dims[:-3], None, None, dims[-1]])
    return host_op("CentralCrop", [x], run, [(x.dtype, shape)])[0]


__all__ += [
    "adjust_brightness",
    "adjust_jpeg_quality",
    "central_crop",
    "encode_jpeg",
    "encode_png",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "flip_left_right",
    "flip_up_down",
    "hsv_to_rgb",
    "per_image_standardization",
    "rgb_to_grayscale",
    "rgb_to_hsv",
]
