"""TensorFlow's sub-namespaces and small top-level names: tf.math, tf.random,
tf.strings, tf.io (and tf.io.gfile, TF 1.x's tf.gfile), tf.logging,
tf.app/tf.flags, tf.config's device lists, tf.ConfigProto and friends, tf.newaxis,
tf.arg_max.

Each namespace is a module object whose names are kiln's own functions
(the same objects as the top-level ones), plus the few composites defined
here from kiln's ops (tf.math.floor, mod, is_nan, reduce_any, ...). Names
TensorFlow has that kiln lacks raise "kiln does not implement tf.X yet"
(the root package installs that, from docs/tf-api.md's list).
"""

from __future__ import annotations

import argparse
import collections
import logging as _logging
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import array_ops, linalg, nn, ops, py_ops, records, strings, variables
from . import image as _image
from . import sparse as _sparse
from .dtypes import as_dtype, bool_, float32, int32, int64
from .graph import GraphError, Tensor, TensorShape, get_default_graph

newaxis = None  # tf.newaxis: x[:, tf.newaxis]


def namespace(name: str, doc: str, **members: Any) -> types.ModuleType:
    """A module object `name` holding `members` (a TensorFlow sub-namespace)."""
    module = types.ModuleType(name, doc)
    for key, value in members.items():
        setattr(module, key, value)
    module.__all__ = sorted(members)
    return module


# ------------------------------------------------------------------ math composites


def _x(x: Any) -> Tensor:
    return ops.convert_to_tensor(x)


def floor(x: Any, name: str | None = None) -> Tensor:
    """The largest integer not above x (tf.math.floor), for floats."""
    x = _x(x)
    if not x.dtype.is_floating:
        return x
    return ops.subtract(x, ops._fmod_part(x), name=name)


def ceil(x: Any, name: str | None = None) -> Tensor:
    """The smallest integer not below x (tf.math.ceil)."""
    return ops.negative(floor(ops.negative(_x(x))), name=name)


def round(x: Any, name: str | None = None) -> Tensor:  # noqa: A001  (TensorFlow's name)
    """Round half to even (tf.math.round, as TensorFlow and numpy)."""
    x = _x(x)
    if not x.dtype.is_floating:
        return x
    low = floor(x)
    frac = ops.subtract(x, low)
    half_odd = ops.logical_and(
        ops.equal(frac, 0.5), ops.not_equal(mod(low, ops.constant(2.0, x.dtype)), 0.0)
    )
    up = ops.logical_or(ops.greater(frac, 0.5), half_odd)
    return ops.add(low, ops.cast(up, x.dtype), name=name)


rint = round


def floormod(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x - floor(x / y) * y: the remainder with y's sign (tf.math.floormod, tf.mod)."""
    x, y = ops._pair(x, y, "FloorMod")
    return ops.subtract(x, ops.multiply(ops.floordiv(x, y), y), name=name or "FloorMod")


mod = floormod


def truncatediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """Integer division rounding toward zero (tf.truncatediv)."""
    x, y = ops._pair(x, y, "TruncateDiv")
    return ops.make("TruncateDiv", "kiln.div", [x, y], name)


def div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """TF 1.x's tf.div: Python 2 division, floor for integers, true for floats."""
    x, y = ops._pair(x, y, "Div")
    if x.dtype.is_integer:
        return ops.floordiv(x, y, name=name or "div")
    return ops.make("RealDiv", "kiln.div", [x, y], name or "div")


def realdiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y for floats (tf.realdiv)."""
    x, y = ops._pair(x, y, "RealDiv")
    return ops.make("RealDiv", "kiln.div", [x, y], name)


def divide_no_nan(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y, and 0 where y is 0 (tf.math.divide_no_nan)."""
    x, y = ops._pair(x, y, "DivNoNan")
    zero = ops.equal(y, 0.0)
    safe = ops.where(zero, ops.ones_like(y), y)
    return ops.where(zero, ops.zeros_like(ops.divide(x, safe)), ops.divide(x, safe), name=name)


def reciprocal(x: Any, name: str | None = None) -> Tensor:
    x = _x(x)
    return ops.divide(ops.constant(1, x.dtype), x, name=name)


def log1p(x: Any, name: str | None = None) -> Tensor:
    x = _x(x)
    return ops.log(ops.add(x, ops.constant(1, x.dtype)), name=name)


def expm1(x: Any, name: str | None = None) -> Tensor:
    x = _x(x)
    return ops.subtract(ops.exp(x), ops.constant(1, x.dtype), name=name)


def squared_difference(x: Any, y: Any, name: str | None = None) -> Tensor:
    """(x - y)^2 (tf.math.squared_difference)."""
    return ops.square(ops.subtract(x, y), name=name)


def is_nan(x: Any, name: str | None = None) -> Tensor:
    x = _x(x)
    return ops.not_equal(x, x, name=name)


def is_inf(x: Any, name: str | None = None) -> Tensor:
    x = _x(x)
    return ops.equal(ops.abs(x), ops.constant(np.inf, x.dtype), name=name)


def is_finite(x: Any, name: str | None = None) -> Tensor:
    x = _x(x)
    return ops.less(ops.abs(x), ops.constant(np.inf, x.dtype), name=name)


def logical_xor(x: Any, y: Any, name: str | None = None) -> Tensor:
    return ops.not_equal(x, y, name=name)


def _reduce_bool(kind: str):
    def fn(
        input_tensor: Any,
        axis: Any = None,
        keepdims: bool = False,
        name: str | None = None,
        reduction_indices: Any = None,
        keep_dims: bool | None = None,
    ) -> Tensor:
        x = ops.cast(_x(input_tensor), int32)
        axis = reduction_indices if axis is None else axis
        keep = keepdims if keep_dims is None else keep_dims
        reduced = (ops.reduce_min if kind == "all" else ops.reduce_max)(x, axis, keepdims=keep)
        return ops.cast(reduced, bool_, name=name)

    fn.__name__ = f"reduce_{kind}"
    fn.__doc__ = f"Logical {'and' if kind == 'all' else 'or'} over `axis` (tf.reduce_{kind})."
    return fn


reduce_all = _reduce_bool("all")
reduce_any = _reduce_bool("any")


def reduce_variance(
    input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None
) -> Tensor:
    """The population variance over `axis` (tf.math.reduce_variance)."""
    x = _x(input_tensor)
    mean = ops.reduce_mean(x, axis, keepdims=True)
    return ops.reduce_mean(ops.square(ops.subtract(x, mean)), axis, keepdims=keepdims, name=name)


def reduce_std(
    input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None
) -> Tensor:
    return ops.sqrt(reduce_variance(input_tensor, axis, keepdims), name=name)


def reduce_logsumexp(
    input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None
) -> Tensor:
    """log(sum(exp(x))) over `axis`, computed stably (tf.reduce_logsumexp)."""
    x = _x(input_tensor)
    top = ops.stop_gradient(ops.reduce_max(x, axis, keepdims=True))
    total = ops.reduce_sum(ops.exp(ops.subtract(x, top)), axis, keepdims=True)
    out = ops.add(ops.log(total), top)
    if not keepdims:
        out = ops.reduce_sum(out, axis) if axis is not None else ops.reshape(out, [])
    return ops.identity(out, name=name)


def count_nonzero(
    input_tensor: Any, axis: Any = None, keepdims: bool = False, dtype: Any = int64, name=None
) -> Tensor:
    """How many elements are not zero (tf.math.count_nonzero)."""
    x = _x(input_tensor)
    nonzero = ops.cast(ops.not_equal(x, ops.constant(0, x.dtype)), as_dtype(dtype))
    return ops.reduce_sum(nonzero, axis, keepdims=keepdims, name=name)


def log_sigmoid(x: Any, name: str | None = None) -> Tensor:
    return ops.negative(nn.softplus(ops.negative(_x(x))), name=name)


def xlogy(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x * log(y), and 0 where x is 0 (tf.math.xlogy)."""
    x, y = ops._pair(x, y, "Xlogy")
    value = ops.multiply(x, ops.log(y))
    return ops.where(ops.equal(x, 0.0), ops.zeros_like(value), value, name=name)


def scalar_mul(scalar: Any, x: Any, name: str | None = None) -> Tensor:
    return ops.multiply(scalar, x, name=name)


def erf(x: Any, name: str | None = None) -> Tensor:
    return ops.make("Erf", "kiln.erf", [_x(x)], name)


def arg_max(input: Any, dimension: int | None = None, name=None, output_type=int64) -> Tensor:
    """TF 1.x's tf.arg_max (tf.argmax with `dimension`)."""
    return ops.argmax(input, dimension, name=name, output_type=output_type)


def arg_min(input: Any, dimension: int | None = None, name=None, output_type=int64) -> Tensor:
    """TF 1.x's tf.arg_min (tf.argmin with `dimension`)."""
    return ops.argmin(input, dimension, name=name, output_type=output_type)


def to_float(x: Any, name: str = "ToFloat") -> Tensor:
    return ops.cast(x, float32, name=name)


def to_int32(x: Any, name: str = "ToInt32") -> Tensor:
    return ops.cast(x, int32, name=name)


def to_int64(x: Any, name: str = "ToInt64") -> Tensor:
    return ops.cast(x, int64, name=name)


def assign(ref: Any, value: Any, validate_shape: bool = True, use_locking=None, name=None):
    """tf.assign(ref, value): ref.assign(value)."""
    return ref.assign(value, name=name)


def assign_add(ref: Any, value: Any, use_locking=None, name=None):
    return ref.assign_add(value, name=name)


def assign_sub(ref: Any, value: Any, use_locking=None, name=None):
    return ref.assign_sub(value, name=name)


def slice(input_: Any, begin: Sequence[int], size: Sequence[int], name=None) -> Tensor:  # noqa: A001
    """input_[begin : begin + size] on every axis; size -1 means to the end (tf.slice)."""
    x = _x(input_)
    dims = x.shape.dims
    begin, size = [int(b) for b in begin], [int(n) for n in size]
    if dims is None or len(begin) != len(dims) or len(size) != len(dims):
        raise GraphError(f"kl.slice: begin and size need one entry per axis of {x.name}")
    stops = []
    for k, (b, n) in enumerate(zip(begin, size)):
        if n == -1:
            if dims[k] is None:
                raise GraphError(f"kl.slice: size -1 on axis {k} of unknown length")
            n = dims[k] - b
        stops.append(b + n)
    return ops.make(
        "Slice",
        "kiln.slice",
        [x],
        name,
        axes=list(range(len(dims))),
        starts=begin,
        stops=stops,
        steps=[1] * len(dims),
    )


def placeholder_with_default(input: Any, shape: Sequence[int | None], name=None) -> Tensor:
    """A tensor that is `input` unless fed (tf.placeholder_with_default)."""
    return ops.identity(ops.convert_to_tensor(input), name=name or "PlaceholderWithDefault")


def disable_v2_behavior() -> None:
    """tf.compat.v1.disable_v2_behavior: graph mode (kiln's default already)."""
    from .eager import disable_eager_execution

    disable_eager_execution()


def enable_v2_behavior() -> None:
    """tf.compat.v1.enable_v2_behavior: eager execution, as TF 2."""
    from .eager import enable_eager_execution

    enable_eager_execution()


# ------------------------------------------------------------------ random (host draws)


def _numpy_rng(seed: int | None) -> np.random.Generator:
    g = get_default_graph()
    if seed is None and g.seed is None:
        return np.random.default_rng()
    return np.random.default_rng(variables._seed(seed))


def random_shuffle(value: Any, seed: int | None = None, name: str | None = None) -> Tensor:
    """The rows of `value` in a random order, a new one every run (tf.random.shuffle)."""
    x = _x(value)
    rng = _numpy_rng(seed)

    def run(a):
        return [a[rng.permutation(a.shape[0])] if a.ndim else a]

    return strings.host_op("RandomShuffle", [x], run, [(x.dtype, x.shape)], name)[0]


def _random_flip(axis: int, op_type: str):
    def flip(image: Any, seed: int | None = None) -> Tensor:
        x = _x(image)
        rng = _numpy_rng(seed)
        rank = len(x.shape.dims) if x.shape.dims is not None else 3

        def run(a):
            if a.ndim == 4:  # a batch: each image on its own
                flips = rng.random(a.shape[0]) < 0.5
                return [np.where(flips[:, None, None, None], np.flip(a, axis + 1), a)]
            return [np.flip(a, axis).copy() if rng.random() < 0.5 else a]

        if rank not in (3, 4):
            raise GraphError(f"kl.image.{op_type}: expected an HxWxC image or a batch")
        return strings.host_op(op_type, [x], run, [(x.dtype, x.shape)])[0]

    flip.__doc__ = f"Flip each image along axis {axis} with probability 1/2 (tf.image)."
    return flip


random_flip_left_right = _random_flip(1, "RandomFlipLeftRight")
random_flip_up_down = _random_flip(0, "RandomFlipUpDown")


def random_crop(value: Any, size: Sequence[int], seed: int | None = None, name=None) -> Tensor:
    """A random `size` window of `value`, new each run (tf.image.random_crop)."""
    x = _x(value)
    rng = _numpy_rng(seed)
    size = [int(n) for n in size]

    def run(a):
        if a.ndim != len(size) or any(n > d for n, d in zip(size, a.shape)):
            raise GraphError(f"RandomCrop: cannot crop {list(size)} from shape {list(a.shape)}")
        corner = [int(rng.integers(0, d - n + 1)) for n, d in zip(size, a.shape)]
        return [a[tuple(np.s_[c : c + n] for c, n in zip(corner, size))]]

    return strings.host_op("RandomCrop", [x], run, [(x.dtype, TensorShape(size))], name)[0]


def _random_adjustment(op_type: str, image: Any, seed: Any, draw, apply) -> Tensor:
    """`apply(pixels, factor)` with a factor `draw(rng)` drawn anew each run (tf.image)."""
    rng = _numpy_rng(seed)
    return _image._pixelwise(op_type, image, lambda f: apply(f, draw(rng)))


def _range(op: str, lower: float, upper: float) -> tuple[float, float]:
    if not lower < upper or lower < 0:
        raise GraphError(f"kl.image.{op}: need 0 <= lower < upper, got {lower} and {upper}")
    return float(lower), float(upper)


def random_brightness(image: Any, max_delta: float, seed: int | None = None) -> Tensor:
    """adjust_brightness by a delta uniform in [-max_delta, max_delta) (tf.image)."""
    if max_delta < 0:
        raise GraphError(f"kl.image.random_brightness: max_delta must be >= 0, not {max_delta}")
    return _random_adjustment(
        "RandomBrightness", image, seed, lambda r: r.uniform(-max_delta, max_delta),
        _image.brightness,
    )  # fmt: skip


def random_jpeg_quality(
    image: Any, min_jpeg_quality: int, max_jpeg_quality: int, seed: int | None = None
) -> Tensor:
    """adjust_jpeg_quality at a quality uniform in [min, max) (tf.image)."""
    if not 0 <= min_jpeg_quality < max_jpeg_quality <= 100:
        raise GraphError(
            "kl.image.random_jpeg_quality: need 0 <= min_jpeg_quality < max_jpeg_quality "
            f"<= 100, got {min_jpeg_quality} and {max_jpeg_quality}"
        )
    return _random_adjustment(
        "RandomJpegQuality", image, seed,
        lambda r: int(r.integers(min_jpeg_quality, max_jpeg_quality)), _image.jpeg_round_trip,
    )  # fmt: skip


def random_contrast(image: Any, lower: float, upper: float, seed: int | None = None) -> Tensor:
    """adjust_contrast by a factor uniform in [lower, upper) (tf.image)."""
    lo, hi = _range("random_contrast", lower, upper)
    return _random_adjustment(
        "RandomContrast", image, seed, lambda r: r.uniform(lo, hi), _image.contrast
    )


def random_saturation(image: Any, lower: float, upper: float, seed: int | None = None) -> Tensor:
    """adjust_saturation by a factor uniform in [lower, upper) (tf.image)."""
    lo, hi = _range("random_saturation", lower, upper)
    return _random_adjustment(
        "RandomSaturation", image, seed, lambda r: r.uniform(lo, hi), _image.saturation
    )


def random_hue(image: Any, max_delta: float, seed: int | None = None) -> Tensor:
    """adjust_hue by a delta uniform in [-max_delta, max_delta), max_delta <= 0.5 (tf.image)."""
    if not 0 <= max_delta <= 0.5:
        raise GraphError(f"kl.image.random_hue: max_delta must be in [0, 0.5], not {max_delta}")
    return _random_adjustment(
        "RandomHue", image, seed, lambda r: r.uniform(-max_delta, max_delta), _image.hue
    )


def resize_image_with_crop_or_pad(image: Any, target_height: int, target_width: int) -> Tensor:
    """The centre target_height x target_width of each image, cropped where it is
    larger and padded with zeros where smaller, as TF (tf.image.resize_with_crop_or_pad)."""
    x = _x(image)
    th, tw = int(target_height), int(target_width)
    if th < 1 or tw < 1:
        raise GraphError(
            f"kl.image.resize_image_with_crop_or_pad: sizes must be >= 1, got {th}, {tw}"
        )
    if x.shape.ndims not in (3, 4):
        raise GraphError(
            f"kl.image.resize_image_with_crop_or_pad: expected HxWxC or NxHxWxC, got {x.shape}"
        )

    def fit(a, axis, size):
        n = a.shape[axis]
        if n >= size:
            start = (n - size) // 2
            return np.take(a, np.arange(start, start + size), axis=axis)
        before = (size - n) // 2
        widths = [(0, 0)] * a.ndim
        widths[axis] = (before, size - n - before)
        return np.pad(a, widths)

    def run(a):
        return [fit(fit(a, a.ndim - 3, th), a.ndim - 2, tw)]

    dims = x.shape.as_list()
    shape = TensorShape([*dims[:-3], th, tw, dims[-1]])
    return strings.host_op("ResizeImageWithCropOrPad", [x], run, [(x.dtype, shape)])[0]


def categorical(
    logits: Any, num_samples: int, dtype: Any = int64, seed: int | None = None, name=None
) -> Tensor:
    """Draws from the softmax of each row of `logits`, [batch, num_samples]
    (tf.random.categorical, TF 1.x's tf.multinomial)."""
    x = _x(logits)
    rng = _numpy_rng(seed)
    out = as_dtype(dtype)

    def run(a):
        a = a.astype(np.float64)
        p = np.exp(a - a.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        draws = [rng.choice(p.shape[1], size=num_samples, p=row) for row in p]
        return [np.array(draws, dtype=out.ir.numpy).reshape(len(p), num_samples)]

    batch = x.shape.dims[0] if x.shape.dims else None
    shape = TensorShape([batch, num_samples])
    return strings.host_op("Multinomial", [x], run, [(out, shape)], name)[0]


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    return categorical(logits, num_samples, output_dtype or int64, seed, name)


def _dynamic(shape: Any) -> bool:
    if isinstance(shape, Tensor) or hasattr(shape, "_as_tensor"):
        return True
    return isinstance(shape, list | tuple) and any(isinstance(d, Tensor) for d in shape)


def _host_draw(kind: str, shape: Any, dtype: Any, seed: int | None, args: tuple, name: str):
    """A draw whose shape is known at run time only (tf.random_normal(tf.shape(x))):
    a host op with numpy's generator, a new draw every run."""
    dims = ops.convert_to_tensor(shape) if not isinstance(shape, list | tuple) else None
    if dims is None:
        dims = array_ops.stack([ops.cast(ops.convert_to_tensor(d), int64) for d in shape])
    dt = as_dtype(dtype)
    rng = _numpy_rng(seed)

    def run(d):
        size = tuple(int(n) for n in np.asarray(d).reshape(-1))
        if kind == "normal":
            v = rng.normal(args[0], args[1], size)
        elif kind == "uniform":
            v = rng.uniform(args[0], args[1], size)
        else:  # truncated normal: redraw beyond two standard deviations
            v = rng.standard_normal(size)
            bad = np.abs(v) > 2
            while bad.any():
                v[bad] = rng.standard_normal(int(bad.sum()))
                bad = np.abs(v) > 2
            v = args[0] + args[1] * v
        return [np.asarray(v, dtype=dt.ir.numpy)]

    rank = dims.shape.dims[0] if dims.shape.dims else None
    out = TensorShape(None if rank is None else [None] * rank)
    return strings.host_op(name, [dims], run, [(dt, out)])[0]


def random_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None) -> Tensor:
    """Normal samples (tf.random.normal); a shape known only at run time is drawn
    on the host (_host_draw)."""
    if _dynamic(shape):
        return _host_draw("normal", shape, dtype, seed, (mean, stddev), name or "random_normal")
    return variables.random_normal(shape, mean, stddev, dtype, seed, name)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=float32, seed=None, name=None):
    """Uniform samples in [minval, maxval) (tf.random.uniform)."""
    if _dynamic(shape):
        return _host_draw("uniform", shape, dtype, seed, (minval, maxval), name or "random_uniform")
    return variables.random_uniform(shape, minval, maxval, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None):
    """Normal samples redrawn beyond two standard deviations (tf.random.truncated_normal)."""
    if _dynamic(shape):
        return _host_draw(
            "truncated", shape, dtype, seed, (mean, stddev), name or "truncated_normal"
        )
    return variables.truncated_normal(shape, mean, stddev, dtype, seed, name)


def set_seed(seed: int) -> None:
    """tf.random.set_seed: the graph-level seed, and the op seeds start over, so
    the same program after the same set_seed draws the same values (TF 2)."""
    g = get_default_graph()
    variables.set_random_seed(seed)
    g._seed_counter = 0


random = namespace(
    "kiln.random",
    "tf.random: draws (normal, uniform, truncated_normal, shuffle, categorical).",
    normal=random_normal,
    uniform=random_uniform,
    truncated_normal=truncated_normal,
    set_seed=set_seed,
    set_random_seed=variables.set_random_seed,
    shuffle=random_shuffle,
    categorical=categorical,
    multinomial=multinomial,
)


# ------------------------------------------------------------------ tf.math

_MATH_FROM_OPS = (
    "abs add add_n argmax argmin cumsum divide equal exp floordiv greater greater_equal "
    "less less_equal log logical_and logical_not logical_or maximum minimum multiply "
    "negative not_equal pow reduce_max reduce_mean reduce_min reduce_prod reduce_sum rsqrt "
    "sigmoid sign sin cos sqrt square subtract tan tanh truediv"
).split()
_MATH_FROM_NN = "in_top_k l2_normalize log_softmax softmax softplus softsign top_k".split()
_MATH_HERE = (
    "ceil count_nonzero divide_no_nan erf expm1 floor floormod is_finite is_inf is_nan "
    "log1p log_sigmoid logical_xor mod reciprocal reduce_all reduce_any reduce_logsumexp "
    "reduce_std reduce_variance rint round scalar_mul squared_difference xlogy"
).split()


def _pick(names: Sequence[str], *sources: Any) -> dict[str, Any]:
    out = {}
    for n in names:
        for source in sources:
            if hasattr(source, n):
                out[n] = getattr(source, n)
                break
    return out


math = namespace(
    "kiln.math",
    "tf.math: elementwise math and reductions.",
    **_pick(_MATH_FROM_OPS, ops, array_ops),
    **_pick(_MATH_FROM_NN, nn),
    **_pick(_MATH_HERE, sys.modules[__name__]),
    unsorted_segment_sum=linalg.unsorted_segment_sum,
)
linalg_namespace = namespace("kiln.linalg", "tf.linalg: matrices.", **linalg.linalg_members)


# ------------------------------------------------------------------ tf.strings, tf.io, gfile

strings_namespace = namespace(
    "kiln.strings",
    "tf.strings: string ops (host ops, see frontend/strings.py).",
    **_pick(
        "join length to_number as_string upper lower strip substr regex_replace format "
        "split reduce_join".split(),
        strings,
    ),
)

gfile = namespace(
    "kiln.io.gfile",
    "tf.io.gfile: local file-system helpers.",
    GFile=strings.GFile,
    exists=strings.exists,
    glob=strings.glob,
    isdir=strings.isdir,
    listdir=strings.listdir,
    makedirs=strings.makedirs,
    mkdir=strings.mkdir,
    remove=strings.remove,
    rmtree=strings.rmtree,
    copy=strings.copy,
    rename=strings.rename,
    walk=strings.walk,
)

gfile_v1 = namespace(
    "kiln.gfile",
    "TF 1.x's tf.gfile (CamelCase names over tf.io.gfile).",
    GFile=strings.GFile,
    Open=strings.GFile,
    FastGFile=strings.GFile,
    Exists=strings.exists,
    Glob=strings.glob,
    IsDirectory=strings.isdir,
    ListDirectory=strings.listdir,
    MakeDirs=strings.makedirs,
    MkDir=strings.mkdir,
    Remove=strings.remove,
    DeleteRecursively=strings.rmtree,
    Copy=strings.copy,
    Rename=strings.rename,
    Walk=strings.walk,
)

io = namespace(
    "kiln.io",
    "tf.io: files, CSV and image decoding.",
    gfile=gfile,
    read_file=strings.read_file,
    write_file=strings.write_file,
    matching_files=strings.matching_files,
    decode_csv=strings.decode_csv,
    decode_raw=strings.decode_raw,
    decode_jpeg=_image.decode_jpeg,
    decode_png=_image.decode_png,
    decode_bmp=_image.decode_bmp,
    decode_gif=_image.decode_gif,
    decode_image=_image.decode_image,
    encode_jpeg=_image.encode_jpeg,
    encode_png=_image.encode_png,
    TFRecordWriter=records.TFRecordWriter,
    TFRecordOptions=records.TFRecordOptions,
    tf_record_iterator=records.tf_record_iterator,
    FixedLenFeature=records.FixedLenFeature,
    VarLenFeature=records.VarLenFeature,
    FixedLenSequenceFeature=records.FixedLenSequenceFeature,
    parse_single_example=records.parse_single_example,
    parse_example=records.parse_example,
)

sparse = namespace(
    "kiln.sparse",
    "tf.sparse: SparseTensor and its conversion to dense.",
    SparseTensor=_sparse.SparseTensor,
    to_dense=_sparse.to_dense,
    placeholder=_sparse.sparse_placeholder,
)

debugging = namespace(
    "kiln.debugging",
    "tf.debugging: numeric checks.",
    check_numerics=py_ops.check_numerics,
    is_nan=is_nan,
    is_inf=is_inf,
    is_finite=is_finite,
)

python_io = namespace(
    "kiln.python_io",
    "TF 1.x's tf.python_io: TFRecord files.",
    TFRecordWriter=records.TFRecordWriter,
    TFRecordOptions=records.TFRecordOptions,
    TFRecordCompressionType=records.TFRecordCompressionType,
    tf_record_iterator=records.tf_record_iterator,
)


# ------------------------------------------------------------------ tf.logging

_log = _logging.getLogger("kiln.tf")


def set_verbosity(level: int) -> None:
    _log.setLevel(level)
    if not _log.handlers:
        _log.addHandler(_logging.StreamHandler())


def get_verbosity() -> int:
    return _log.getEffectiveLevel()


def _log_every_n(level: int, msg: str, n: int, *args: Any) -> None:
    _log.log(level, msg, *args)


logging = namespace(
    "kiln.logging",
    "TF 1.x's tf.logging over Python's logging (logger 'kiln.tf').",
    DEBUG=_logging.DEBUG,
    INFO=_logging.INFO,
    WARN=_logging.WARNING,
    ERROR=_logging.ERROR,
    FATAL=_logging.CRITICAL,
    set_verbosity=set_verbosity,
    get_verbosity=get_verbosity,
    debug=_log.debug,
    info=_log.info,
    warn=_log.warning,
    warning=_log.warning,
    error=_log.error,
    fatal=_log.critical,
    log=_log.log,
    vlog=_log.log,
    log_every_n=_log_every_n,
    log_first_n=_log_every_n,
    flush=lambda: None,
)


# ------------------------------------------------------------------ tf.app / tf.flags


class _FlagValues:
    """tf.flags.FLAGS: defined flags as attributes, parsed from sys.argv on
    first access (unknown --flags are left to the program, as absl does)."""

    def __init__(self) -> None:
        self.__dict__["_defs"] = {}
        self.__dict__["_values"] = {}
        self.__dict__["_parsed"] = False

    def _define(self, name: str, default: Any, parse: Callable[[str], Any], help: str) -> None:
        self._defs[name] = (default, parse, help)
        self._values[name] = default
        self.__dict__["_parsed"] = False

    def __call__(self, argv: Sequence[str]) -> list[str]:
        """Parse `argv` (argv[0] is the program); returns what is left."""
        parser = argparse.ArgumentParser(add_help=False)
        for name, (_default, parse, _) in self._defs.items():
            if parse is _boolean:
                parser.add_argument(f"--{name}", nargs="?", const="true", default=None)
                parser.add_argument(f"--no{name}", dest=name, action="store_const", const="false")
            else:
                parser.add_argument(f"--{name}", default=None)
        known, rest = parser.parse_known_args(list(argv[1:]))
        for name, (_default, parse, _) in self._defs.items():
            text = getattr(known, name)
            if text is not None:
                self._values[name] = parse(text)
        self.__dict__["_parsed"] = True
        return [argv[0], *rest] if argv else rest

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._defs:
            raise AttributeError(f"flag --{name} is not defined (tf.flags.DEFINE_...)")
        if not self._parsed:
            self(sys.argv if sys.argv and sys.argv[0] else ["program"])
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self._defs

    def flag_values_dict(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self._defs}

    def mark_as_parsed(self) -> None:
        self.__dict__["_parsed"] = True


def _boolean(text: str) -> bool:
    low = str(text).lower()
    if low in ("1", "true", "t", "yes", "y"):
        return True
    if low in ("0", "false", "f", "no", "n"):
        return False
    raise GraphError(f"not a boolean flag value: {text!r}")


FLAGS = _FlagValues()


def _definer(parse: Callable[[str], Any]):
    def define(name: str, default: Any, help: str | None = None, *args: Any, **kwargs: Any):
        FLAGS._define(name, default, parse, help or "")

    return define


def _list(text: str) -> list[str]:
    return [p for p in str(text).split(",") if p]


def run(main: Callable | None = None, argv: Sequence[str] | None = None) -> None:
    """tf.app.run: parse flags from argv, then call main(argv) and exit with its result."""
    args = FLAGS(list(argv) if argv is not None else sys.argv or ["program"])
    main = main or sys.modules["__main__"].main
    sys.exit(main(args))


flags = namespace(
    "kiln.flags",
    "tf.flags / tf.app.flags: absl-style command-line flags (a small subset).",
    FLAGS=FLAGS,
    DEFINE_string=_definer(str),
    DEFINE_integer=_definer(int),
    DEFINE_float=_definer(float),
    DEFINE_boolean=_definer(_boolean),
    DEFINE_bool=_definer(_boolean),
    DEFINE_list=_definer(_list),
    DEFINE_enum=lambda name, default, enum_values, help=None, **kw: FLAGS._define(
        name, default, str, help or ""
    ),
    mark_flag_as_required=lambda name, flag_values=None: None,
    mark_flags_as_required=lambda names, flag_values=None: None,
)

app = namespace("kiln.app", "tf.app: run(main) and flags.", run=run, flags=flags)


# ------------------------------------------------------------------ tf.config

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])


def list_physical_devices(device_type: str | None = None) -> list:
    """tf.config.list_physical_devices: the CPU, where kiln's sessions and eager ops run
    (as a CPU-only TensorFlow lists it); [] for device_type "GPU"."""
    cpu = PhysicalDevice("/physical_device:CPU:0", "CPU")
    return [cpu] if device_type in (None, "CPU") else []


def list_logical_devices(device_type: str | None = None) -> list:
    """tf.config.list_logical_devices: one logical device per physical one."""
    return [
        LogicalDevice(d.name.replace("physical_device", "device"), d.device_type)
        for d in list_physical_devices(device_type)
    ]


config = namespace(
    "kiln.config",
    "tf.config: the devices kiln runs on.",
    PhysicalDevice=PhysicalDevice,
    LogicalDevice=LogicalDevice,
    list_physical_devices=list_physical_devices,
    list_logical_devices=list_logical_devices,
)


# ------------------------------------------------------------------ session config


class _Options:
    """A protocol-buffer-like options object: keyword fields, nested options on
    first access, any field settable (kiln's sessions read none of them)."""

    _nested: dict[str, type] = {}

    def __init__(self, **fields: Any):
        for key, value in fields.items():
            setattr(self, key, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        kind = type(self)._nested.get(name)
        value = kind() if kind is not None else None
        object.__setattr__(self, name, value)
        return value

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def CopyFrom(self, other: _Options) -> None:  # noqa: N802  (protobuf's name)
        vars(self).update(vars(other))


class GPUOptions(_Options):
    """tf.GPUOptions (allow_growth, per_process_gpu_memory_fraction, ...): accepted."""


class OptimizerOptions(_Options):
    """tf.OptimizerOptions: accepted."""

    ON_1, L1, L0, OFF = 1, 0, -1, 2
    DEFAULT, FIXED = 0, 1


class GraphOptions(_Options):
    """tf.GraphOptions: accepted."""

    _nested = {"optimizer_options": OptimizerOptions}


class ConfigProto(_Options):
    """tf.ConfigProto (device_count, allow_soft_placement, log_device_placement,
    gpu_options, ...): accepted and kept; kiln's Session picks its device from
    kl.device / KILN_DEVICE, not from here."""

    _nested = {"gpu_options": GPUOptions, "graph_options": GraphOptions}


class RunOptions(_Options):
    """tf.RunOptions (trace_level): accepted by Session.run."""

    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3


class RunMetadata(_Options):
    """tf.RunMetadata: accepted by Session.run (nothing is recorded)."""


__all__ = [
    "ConfigProto",
    "GPUOptions",
    "GraphOptions",
    "OptimizerOptions",
    "RunMetadata",
    "RunOptions",
    "app",
    "arg_max",
    "arg_min",
    "debugging",
    "div",
    "flags",
    "gfile_v1",
    "io",
    "logging",
    "math",
    "multinomial",
    "newaxis",
    "python_io",
    "random",
    "random_shuffle",
    "realdiv",
    "sparse",
    "strings_namespace",
    "to_float",
    "to_int32",
    "to_int64",
    "truncatediv",
]

_image.random_flip_left_right = random_flip_left_right
_image.random_flip_up_down = random_flip_up_down
_image.random_crop = random_crop
for _fn in (random_brightness, random_contrast, random_saturation, random_hue, random_jpeg_quality):
    setattr(_image, _fn.__name__, _fn)
_image.resize_image_with_crop_or_pad = resize_image_with_crop_or_pad
_image.resize_with_crop_or_pad = resize_image_with_crop_or_pad

initializers = namespace(
    "kiln.initializers",
    "TF 1.x's tf.initializers.",
    global_variables=variables.global_variables_initializer,
    variables=variables.variables_initializer,
    constant=variables.constant_initializer,
    zeros=variables.zeros_initializer,
    ones=variables.ones_initializer,
    random_normal=variables.random_normal_initializer,
    random_uniform=variables.random_uniform_initializer,
    truncated_normal=variables.truncated_normal_initializer,
    glorot_uniform=variables.glorot_uniform_initializer,
    glorot_normal=variables.glorot_normal_initializer,
)
__all__ += [
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "assign",
    "assign_add",
    "assign_sub",
    "disable_v2_behavior",
    "enable_v2_behavior",
    "initializers",
    "placeholder_with_default",
    "random_crop",
    "slice",
]
