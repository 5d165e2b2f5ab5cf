"""kl.nn: activations, convolutions, pooling and losses with TensorFlow's
names and signatures. Composite ops (softmax, cross-entropies) are single IR
ops that the `decompose` pass expands, so graphs stay readable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .array_ops import clip_by_norm, gather, shape
from .dtypes import float64, int32, int64
from .graph import GraphError, Tensor, get_default_graph
from .ops import (
    _pair,
    abs,
    add,
    cast,
    constant,
    convert_to_tensor,
    divide,
    equal,
    exp,
    expand_dims,
    greater,
    greater_equal,
    less,
    log,
    logical_and,
    make,
    maximum,
    multiply,
    negative,
    pow,
    reduce_mean,
    reduce_sum,
    reshape,
    rsqrt,
    shape_entries,
    sigmoid,
    square,
    squeeze,
    stop_gradient,
    subtract,
    tanh,
    transpose,
    where,
    zeros_like,
)
from .variables import Variable, _seed

__all__ = [
    "avg_pool",
    "batch_norm_with_global_normalization",
    "batch_normalization",
    "bias_add",
    "conv2d",
    "conv2d_transpose",
    "depthwise_conv2d",
    "dropout",
    "elu",
    "embedding_lookup",
    "gelu",
    "in_top_k",
    "l2_loss",
    "l2_normalize",
    "local_response_normalization",
    "lrn",
    "silu",
    "swish",
    "xw_plus_b",
    "leaky_relu",
    "log_softmax",
    "max_pool",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "softplus",
    "softsign",
    "sparse_softmax_cross_entropy_with_logits",
    "tanh",
    "top_k",
    "weighted_cross_entropy_with_logits",
]


def _activation(op_type: str, ir_op: str, **fixed: Any):
    def fn(features: Any, name: str | None = None, **attrs: Any) -> Tensor:
        return make(op_type, ir_op, [convert_to_tensor(features)], name, **fixed, **attrs)

    fn.__name__ = ir_op[5:]
    fn.__doc__ = f"tf.nn.{fn.__name__}."
    return fn


relu = _activation("Relu", "kiln.relu")
elu = _activation("Elu", "kiln.elu")
relu6 = _activation("Relu6", "kiln.relu6")
softplus = _activation("Softplus", "kiln.softplus")
selu = _activation("Selu", "kiln.selu")


def softsign(features: Any, name: str | None = None) -> Tensor:
    """features / (|features| + 1) (tf.nn.softsign, tf.math.softsign)."""
    x = convert_to_tensor(features)
    return divide(x, add(abs(x), constant(1, x.dtype)), name=name)


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    return make(
        "LeakyRelu", "kiln.leaky_relu", [convert_to_tensor(features)], name, alpha=float(alpha)
    )


def gelu(features: Any, approximate: bool = False, name: str | None = None) -> Tensor:
    return make(
        "Gelu", "kiln.gelu", [convert_to_tensor(features)], name, approximate=bool(approximate)
    )


def softmax(
    logits: Any, axis: int | None = None, name: str | None = None, dim: int | None = None
) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis` (default -1; `dim` is TF 1.x's old name)."""
    axis = -1 if axis is None and dim is None else (axis if axis is not None else dim)
    return make("Softmax", "kiln.softmax", [convert_to_tensor(logits)], name, axis=int(axis))


def log_softmax(
    logits: Any, axis: int | None = None, name: str | None = None, dim: int | None = None
) -> Tensor:
    """x - logsumexp(x) along `axis` (default -1), computed stably."""
    axis = -1 if axis is None and dim is None else (axis if axis is not None else dim)
    return make("LogSoftmax", "kiln.log_softmax", [convert_to_tensor(logits)], name, axis=int(axis))


def bias_add(
    value: Any, bias: Any, data_format: str | None = None, name: str | None = None
) -> Tensor:
    """value + bias along the channel dim: the last (NHWC, the default) or
    dim 1 (NCHW, NCDHW, ...), as tf.nn.bias_add."""
    data_format = data_format or "NHWC"
    x, b = _pair(value, bias, "BiasAdd")
    if b.shape.ndims != 1:
        raise GraphError(f"bias_add: bias must be 1-D, got shape {b.shape}")
    if data_format.startswith("NC"):
        rank = x.shape.ndims
        if rank is None or rank < 2:
            raise GraphError(f"bias_add: {data_format} needs a value of known rank >= 2")
        b = reshape(b, [-1] + [1] * (rank - 2))
    elif not data_format.startswith("N") or not data_format.endswith("C"):
        raise GraphError(
            f"bias_add: data_format must be NHWC-like or NCHW-like, got {data_format!r}"
        )
    return make("BiasAdd", "kiln.add", [x, b], name)


def _window(values: Sequence[int] | int, name: str, n: int = 2) -> list[int]:
    """TF's (n+2)-long NHWC / NDHWC lists (or 1 or n ints) -> the n spatial values."""
    v = [values] if isinstance(values, int) else list(values)
    if len(v) == n + 2:
        if v[0] != 1 or v[-1] != 1:
            raise GraphError(f"{name}: only the spatial dims may differ from 1, got {v}")
        return v[1:-1]
    if len(v) == 1:
        return v * n
    if len(v) == n:
        return v
    raise GraphError(f"{name}: expected 1, {n} or {n + 2} values, got {v}")


def _nchw_in(x: Tensor, data_format: str) -> Tensor:
    if data_format == "NHWC":
        return x
    if data_format == "NCHW":
        return transpose(x, [0, 2, 3, 1])
    raise GraphError(f"data_format must be NHWC or NCHW, got {data_format!r}")


def _nchw_out(y: Tensor, data_format: str) -> Tensor:
    return y if data_format == "NHWC" else transpose(y, [0, 3, 1, 2])


def _nchw_window(v: Sequence[int] | int, data_format: str) -> Sequence[int] | int:
    if data_format == "NCHW" and not isinstance(v, int) and len(v) == 4:
        return [v[0], v[2], v[3], v[1]]
    return v


def conv2d(
    input: Any,
    filter: Any = None,
    strides: Any = 1,
    padding: str = "VALID",
    data_format: str = "NHWC",
    dilations: Any = 1,
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """2-D convolution, HWIO filters (tf.nn.conv2d); NCHW is transposed to NHWC."""
    x = _nchw_in(convert_to_tensor(input), data_format)
    w = convert_to_tensor(filter if filter is not None else filters, dtype=x.dtype)
    y = make(
        "Conv2D",
        "kiln.conv2d",
        [x, w],
        name,
        strides=_window(_nchw_window(strides, data_format), "conv2d strides"),
        dilations=_window(_nchw_window(dilations, data_format), "conv2d dilations"),
        padding=padding.upper(),
    )
    return _nchw_out(y, data_format)


def _pool(op_type: str, ir_op: str):
    def fn(
        value: Any,
        ksize: Any,
        strides: Any,
        padding: str,
        data_format: str = "NHWC",
        name: str | None = None,
        input: Any = None,
    ) -> Tensor:
        x = _nchw_in(convert_to_tensor(value if value is not None else input), data_format)
        y = make(
            op_type,
            ir_op,
            [x],
            name,
            ksize=_window(_nchw_window(ksize, data_format), f"{ir_op[5:]} ksize"),
            strides=_window(_nchw_window(strides, data_format), f"{ir_op[5:]} strides"),
            padding=padding.upper(),
        )
        return _nchw_out(y, data_format)

    fn.__name__ = ir_op[5:]
    fn.__doc__ = f"tf.nn.{fn.__name__} (NHWC; NCHW is transposed)."
    return fn


max_pool = _pool("MaxPool", "kiln.max_pool")
avg_pool = _pool("AvgPool", "kiln.avg_pool")


def _labels_logits(labels: Any, logits: Any, op_type: str) -> tuple[Tensor, Tensor]:
    if labels is None or logits is None:
        raise GraphError(f"{op_type}: pass labels= and logits= by name")
    z, x = _pair(labels, logits, op_type)
    return z, x


def sigmoid_cross_entropy_with_logits(
    _sentinel: Any = None, labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    """max(x, 0) - x*z + log(1 + exp(-|x|)), elementwise (stable)."""
    z, x = _labels_logits(labels, logits, "SigmoidCrossEntropyWithLogits")
    return make("SigmoidCrossEntropyWithLogits", "kiln.sigmoid_cross_entropy", [x, z], name)


def weighted_cross_entropy_with_logits(
    labels: Any = None,
    logits: Any = None,
    pos_weight: Any = None,
    name: str | None = None,
    targets: Any = None,
) -> Tensor:
    """Sigmoid cross entropy with the positive term weighted, q = pos_weight:
    (1 - z) x + (1 + (q - 1) z) (log(1 + exp(-|x|)) + max(-x, 0)), elementwise and
    stable, as TensorFlow computes it (tf.nn.weighted_cross_entropy_with_logits;
    TF 1.x names the labels `targets`)."""
    labels = targets if labels is None else labels
    z, x = _labels_logits(labels, logits, "WeightedCrossEntropyWithLogits")
    with get_default_graph().name_scope(name or "logistic_loss"):
        q = convert_to_tensor(pos_weight, dtype=x.dtype)
        one = constant(1, x.dtype)
        log_weight = add(one, multiply(subtract(q, one), z))
        soft = add(log(add(one, exp(negative(abs(x))))), maximum(negative(x), 0.0))
        return add(multiply(subtract(one, z), x), multiply(log_weight, soft))


def leading_dims(x: Tensor, k: int) -> list:
    """A reshape target for x's first k dims: its static sizes, -1 for one unknown,
    and x's run-time size for the first when more are unknown (kl.reshape takes
    one -1 or one tensor entry)."""
    dims = x.shape.as_list()[:k]
    unknown = [i for i, d in enumerate(dims) if d is None]
    if len(unknown) <= 1:
        return [-1 if d is None else d for d in dims]
    if unknown != list(range(len(unknown))) or len(unknown) > 2:
        raise GraphError(f"{x.name}: more than two unknown leading dims in {x.shape}")
    return [shape(x)[0], -1, *dims[2:]]


def softmax_cross_entropy_with_logits_v2(
    _sentinel: Any = None,
    labels: Any = None,
    logits: Any = None,
    axis: int = -1,
    name: str | None = None,
    dim: Any = None,
) -> Tensor:
    """-sum(labels * log_softmax(logits)) along `axis`: one loss per example.
    Labels and logits of different ranks are each flattened to [-1, classes]
    first, as TensorFlow does (`labels=[y]` of a [1, N, C] list against [N, C]
    logits), and the losses take the logits' shape without its last dim."""
    z, x = _labels_logits(labels, logits, "SoftmaxCrossEntropyWithLogits")
    ranks = (z.shape.ndims, x.shape.ndims)
    if None not in ranks and ranks[0] != ranks[1] and int(axis if dim is None else dim) == -1:
        classes = x.shape.as_list()[-1] or z.shape.as_list()[-1]
        if classes is None:
            raise GraphError(
                "SoftmaxCrossEntropyWithLogits: labels and logits of different ranks need a "
                f"static number of classes, got {z.shape} and {x.shape}"
            )
        loss = softmax_cross_entropy_with_logits_v2(
            labels=reshape(z, [-1, classes]), logits=reshape(x, [-1, classes]), name=name
        )
        return loss if ranks[1] == 2 else reshape(loss, leading_dims(x, ranks[1] - 1))
    return make(
        "SoftmaxCrossEntropyWithLogits",
        "kiln.softmax_cross_entropy",
        [x, z],
        name,
        axis=int(axis if dim is None else dim),
    )


def softmax_cross_entropy_with_logits(
    _sentinel: Any = None,
    labels: Any = None,
    logits: Any = None,
    axis: int = -1,
    name: str | None = None,
    dim: Any = None,
) -> Tensor:
    """TF 1.x's v1: gradients do not flow into the labels (kl.stop_gradient on them)."""
    if labels is not None:
        labels = stop_gradient(labels)
    return softmax_cross_entropy_with_logits_v2(
        labels=labels, logits=logits, axis=axis, name=name, dim=dim
    )


def sparse_softmax_cross_entropy_with_logits(
    _sentinel: Any = None, labels: Any = None, logits: Any = None, name: str | None = None
) -> Tensor:
    if labels is None or logits is None:
        raise GraphError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits=")
    return make(
        "SparseSoftmaxCrossEntropyWithLogits",
        "kiln.sparse_softmax_cross_entropy",
        [convert_to_tensor(logits), convert_to_tensor(labels)],
        name,
    )


def l2_loss(t: Any, name: str | None = None) -> Tensor:
    return make("L2Loss", "kiln.l2_loss", [convert_to_tensor(t)], name)


# ------------------------------------------------------------------ more convolutions


def _four(values: Any, name: str) -> Any:
    """None (TF's default for dilations) as 1."""
    return values if values is not None else 1


def conv2d_transpose(
    value: Any = None,
    filter: Any = None,
    output_shape: Any = None,
    strides: Any = 1,
    padding: str = "SAME",
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
    filters: Any = None,
    dilations: Any = None,
) -> Tensor:
    """The transpose (gradient) of conv2d with respect to its input
    (tf.nn.conv2d_transpose): filter [kh, kw, out_channels, in_channels];
    `output_shape` [batch, height, width, out_channels] in `data_format`, whose
    spatial dims must be Python ints (the batch may be anything: it is the
    value's)."""
    x = _nchw_in(convert_to_tensor(value if value is not None else input), data_format)
    w = convert_to_tensor(filter if filter is not None else filters, dtype=x.dtype)
    if output_shape is None:
        raise GraphError("conv2d_transpose: output_shape is required")
    dims = shape_entries(output_shape)
    if dims is None or any(isinstance(d, Tensor) for d in dims[1:]):
        raise GraphError(
            "conv2d_transpose: output_shape's spatial sizes and channels must be Python ints "
            "(kiln's spatial sizes are static; the batch may be a tensor)"
        )
    if len(dims) != 4:
        raise GraphError(f"conv2d_transpose: output_shape must have 4 entries, got {dims}")
    if data_format == "NCHW":
        dims = [dims[0], dims[2], dims[3], dims[1]]
    size = [int(d) for d in dims[1:3]]
    channels = dims[3]
    if not isinstance(channels, Tensor) and w.shape[2] is not None and int(channels) != w.shape[2]:
        raise GraphError(
            f"conv2d_transpose: output_shape has {channels} channels, the filter {w.shape[2]}"
        )
    y = make(
        "Conv2DBackpropInput",
        "kiln.conv2d_transpose",
        [x, w],
        name,
        strides=_window(_nchw_window(strides, data_format), "conv2d_transpose strides"),
        dilations=_window(
            _nchw_window(_four(dilations, ""), data_format), "conv2d_transpose dilations"
        ),
        padding=padding.upper(),
        output_size=size,
    )
    return _nchw_out(y, data_format)


def depthwise_conv2d(
    input: Any,
    filter: Any,
    strides: Any,
    padding: str,
    rate: Any = None,
    name: str | None = None,
    data_format: str | None = None,
    dilations: Any = None,
) -> Tensor:
    """Each input channel convolved with its own `channel_multiplier` filters
    (tf.nn.depthwise_conv2d): filter [kh, kw, in_channels, multiplier], output
    channel c * multiplier + m. One kiln.depthwise_conv2d op (TF's
    DepthwiseConv2dNative), whose gradients are its own ops too."""
    data_format = data_format or "NHWC"
    x = _nchw_in(convert_to_tensor(input), data_format)
    w = convert_to_tensor(filter, dtype=x.dtype)
    if w.shape.ndims != 4 or not w.shape.is_fully_defined():
        raise GraphError(
            f"depthwise_conv2d: the filter must have a static 4-D shape, got {w.shape}"
        )
    channels = w.shape.as_list()[2]
    if x.shape.ndims == 4 and x.shape[3] is not None and x.shape[3] != channels:
        raise GraphError(
            f"depthwise_conv2d: input channels {x.shape[3]} differ from the filter's {channels}"
        )
    dil = rate if rate is not None else _four(dilations, "")
    y = make(
        "DepthwiseConv2dNative",
        "kiln.depthwise_conv2d",
        [x, w],
        name or "depthwise",
        strides=_window(_nchw_window(strides, data_format), "depthwise strides"),
        dilations=_window(_nchw_window(dil, data_format), "depthwise dilations"),
        padding=padding.upper(),
    )
    return _nchw_out(y, data_format)


# ------------------------------------------------------------------ dropout

GOLDEN = 0.6180339887498949  # the per-run phase step: the golden ratio's fraction
MIX = 9973.0  # a prime: frac(MIX * (phase + u)^2) scatters nearby phases


def _frac(x: Tensor) -> Tensor:
    """x - floor(x) for x >= 0 (the cast truncates)."""
    return x - cast(cast(x, int64), x.dtype)


def dropout(
    x: Any,
    keep_prob: Any = None,
    noise_shape: Sequence[int] | None = None,
    seed: int | None = None,
    name: str | None = None,
    rate: Any = None,
) -> Tensor:
    """Each element zeroed with probability `rate` (= 1 - keep_prob), the rest
    scaled by 1 / (1 - rate) (tf.nn.dropout; TF 1.x's keep_prob or TF 2's
    rate, a number or a tensor). With rate 0 it is the identity.

    kiln's random op is stateless (the same seed gives the same numbers), so
    that every run draws a new mask the op keeps a run counter, a
    non-trainable variable `<name>/counter` that global_variables_initializer
    starts at 0 and each run that computes the dropout advances: the mask is
    frac(MIX * (frac(u1 + runs * GOLDEN) + u2)^2) >= rate for two fixed
    uniform draws u1, u2 per element."""
    xt = convert_to_tensor(x)
    if not xt.dtype.is_floating:
        raise GraphError(f"dropout: {xt.name} must be floating point, got {xt.dtype.name}")
    if (keep_prob is None) == (rate is None):
        raise GraphError("dropout: give exactly one of keep_prob and rate")
    if rate is None:
        if not isinstance(keep_prob, Tensor | float | int):
            keep_prob = convert_to_tensor(keep_prob)
        rate = 1.0 - keep_prob
    if not isinstance(rate, Tensor):
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise GraphError(f"dropout: rate must be in [0, 1), got {rate}")
        if rate == 0.0:
            return xt
    with get_default_graph().name_scope(name or "dropout"):
        return dropout_at(xt, rate, run_counter(), noise_shape, seed)


def run_counter() -> Tensor:
    """A new dropout run counter: a non-trainable float64 variable `counter` (from 0) and the
    count after this run's increment. An RNN cell's dropout inside a loop region takes one
    made before the loop (DropoutWrapper), since regions do not update variables."""
    counter = Variable(0.0, trainable=False, name="counter", dtype=float64)
    return counter.assign_add(1.0)


def dropout_at(
    xt: Tensor,
    rate: Any,
    runs: Tensor,
    noise_shape: Sequence[int] | None = None,
    seed: int | None = None,
) -> Tensor:
    """tf.nn.dropout's mask for run number `runs` (see dropout), rate a float in (0, 1) or a
    tensor."""
    if isinstance(rate, Tensor) and rate.shape.ndims is None:
        rate = reshape(rate, [])  # a scalar, as TF requires: the output keeps x's shape
    draws = []
    for k in range(2):
        attrs = {
            "distribution": "uniform",
            "seed": (_op_seed(seed) + 7919 * k) % (2**31 - 1),
            "dtype": float64.ir,
        }
        if noise_shape is not None:
            draws.append(
                make(
                    "RandomUniform",
                    "kiln.random",
                    [],
                    None,
                    shape=[int(d) for d in noise_shape],
                    **attrs,
                )
            )
        else:
            draws.append(make("RandomUniform", "kiln.random", [xt], None, **attrs))
    phase = _frac(draws[0] + runs * GOLDEN)
    u = _frac(square(phase + draws[1]) * MIX)
    keep_rate = 1.0 - (cast(rate, xt.dtype) if isinstance(rate, Tensor) else rate)
    threshold = cast(rate, float64) if isinstance(rate, Tensor) else rate
    kept = greater_equal(u, threshold)
    return where(kept, xt / keep_rate, zeros_like(xt))


def _op_seed(seed: int | None) -> int:
    return _seed(seed)


# ------------------------------------------------------------------ normalization


def moments(
    x: Any,
    axes: Sequence[int],
    shift: Any = None,
    name: str | None = None,
    keep_dims: bool | None = None,
    keepdims: bool | None = None,
) -> tuple[Tensor, Tensor]:
    """Mean and (biased) variance over `axes` (tf.nn.moments): the variance is
    taken around the mean with its gradient stopped, as TensorFlow does."""
    xt = convert_to_tensor(x)
    keep = bool(keepdims or keep_dims)
    axes = [int(a) for a in axes]
    with get_default_graph().name_scope(name or "moments"):
        mean = reduce_mean(xt, axis=axes, keepdims=True, name="mean")
        variance = reduce_mean(
            square(xt - stop_gradient(mean)), axis=axes, keepdims=True, name="variance"
        )
        if not keep:
            mean, variance = squeeze(mean, axis=axes), squeeze(variance, axis=axes)
    return mean, variance


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    offset: Any,
    scale: Any,
    variance_epsilon: float,
    name: str | None = None,
) -> Tensor:
    """(x - mean) / sqrt(variance + variance_epsilon) * scale + offset, every
    operand broadcasting (tf.nn.batch_normalization); offset or scale None
    means 0 or 1."""
    xt = convert_to_tensor(x)
    dt = xt.dtype
    operands = [
        xt,
        convert_to_tensor(mean, dtype=dt),
        convert_to_tensor(variance, dtype=dt),
        convert_to_tensor(0.0 if offset is None else offset, dtype=dt),
        convert_to_tensor(1.0 if scale is None else scale, dtype=dt),
    ]
    return make(
        "BatchNorm",
        "kiln.batch_norm",
        operands,
        name or "batchnorm",
        epsilon=float(variance_epsilon),
    )


def batch_norm_with_global_normalization(
    t: Any = None,
    m: Any = None,
    v: Any = None,
    beta: Any = None,
    gamma: Any = None,
    variance_epsilon: float = 0.001,
    scale_after_normalization: bool = True,
    name: str | None = None,
    input: Any = None,  # noqa: A002 (TF's keyword names)
    mean: Any = None,
    variance: Any = None,
) -> Tensor:
    """TF 1.x's older batch norm: (t - m) / sqrt(v + eps) * gamma + beta, gamma
    used only with scale_after_normalization (tf.nn.batch_norm_with_global_normalization)."""
    t = input if t is None else t
    m = mean if m is None else m
    v = variance if v is None else v
    if t is None or m is None or v is None or beta is None:
        raise GraphError("batch_norm_with_global_normalization: needs t, m, v and beta")
    scale = gamma if scale_after_normalization else None
    return batch_normalization(t, m, v, beta, scale, variance_epsilon, name)


def l2_normalize(
    x: Any, axis: Any = None, epsilon: float = 1e-12, name: str | None = None, dim: Any = None
) -> Tensor:
    """x / sqrt(max(sum(x^2), epsilon)) over `axis` (tf.nn.l2_normalize)."""
    xt = convert_to_tensor(x)
    axis = axis if axis is not None else dim
    with get_default_graph().name_scope(name or "l2_normalize"):
        total = reduce_sum(square(xt), axis=axis, keepdims=True)
        return multiply(xt, rsqrt(maximum(total, epsilon)))


def local_response_normalization(
    input: Any,
    depth_radius: int = 5,
    bias: float = 1.0,
    alpha: float = 1.0,
    beta: float = 0.5,
    name: str | None = None,
) -> Tensor:
    """input / (bias + alpha * sqr_sum) ** beta, where sqr_sum sums the squares
    over the last dim's window [d - depth_radius, d + depth_radius]
    (tf.nn.lrn, AlexNet's normalisation): the window is a sum of shifted
    slices of the zero-padded squares, so the gradient comes from theirs."""
    x = convert_to_tensor(input)
    r = int(depth_radius)
    if x.shape.ndims != 4:
        raise GraphError(f"lrn: {x.name} must be 4-D (NHWC), got {x.shape}")
    depth = x.shape[3]
    if depth is None:
        raise GraphError(f"lrn: the depth (last dim) of {x.name} must be static")
    with get_default_graph().name_scope(name or "LRN"):
        sq = make(
            "PadV2", "kiln.pad", [square(x)], None, low=[0, 0, 0, r], high=[0, 0, 0, r], value=0.0
        )
        total = None
        for k in range(2 * r + 1):
            part = make(
                "StridedSlice",
                "kiln.slice",
                [sq],
                None,
                axes=[3],
                starts=[k],
                stops=[k + depth],
                steps=[1],
            )
            total = part if total is None else add(total, part)
        scale = add(multiply(total, alpha), bias)
        return multiply(x, pow(scale, -beta))


lrn = local_response_normalization


def swish(features: Any, beta: float = 1.0, name: str | None = None) -> Tensor:
    """features * sigmoid(beta * features) (tf.nn.swish, tf.nn.silu)."""
    x = convert_to_tensor(features)
    with get_default_graph().name_scope(name or "swish"):
        return multiply(x, sigmoid(multiply(x, beta) if beta != 1.0 else x))


silu = swish


def xw_plus_b(x: Any, weights: Any, biases: Any, name: str | None = None) -> Tensor:
    """matmul(x, weights) + biases (tf.nn.xw_plus_b)."""
    with get_default_graph().name_scope(name or "xw_plus_b"):
        return bias_add(make("MatMul", "kiln.matmul", _pair(x, weights, "MatMul"), None), biases)


# ------------------------------------------------------------------ lookups and rankings


def embedding_lookup(
    params: Any,
    ids: Any,
    partition_strategy: str = "mod",
    name: str | None = None,
    validate_indices: bool = True,
    max_norm: float | None = None,
) -> Tensor:
    """Rows of `params` at `ids` (tf.nn.embedding_lookup); a list of
    params must hold one tensor (kiln does not shard). With max_norm, rows
    with a larger l2 norm are scaled down to it."""
    if isinstance(params, list | tuple):
        if len(params) != 1:
            raise GraphError(
                "embedding_lookup: sharded params (a list of several tensors) "
                "are not supported; concatenate them first"
            )
        params = params[0]
    with get_default_graph().name_scope(name or "embedding_lookup"):
        rows = gather(params, ids)
        if max_norm is not None:
            rank = rows.shape.ndims
            rows = clip_by_norm(rows, max_norm, axes=[rank - 1])
        return rows


class TopKV2(tuple):
    """(values, indices), also readable as .values and .indices."""

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def top_k(input: Any, k: int = 1, sorted: bool = True, name: str | None = None) -> TopKV2:
    """The k largest entries along the last dim and their int32 indices,
    largest first, the lower index first on ties (tf.nn.top_k; kiln always
    sorts)."""
    xt = convert_to_tensor(input)
    if isinstance(k, Tensor):
        raise GraphError("top_k: k must be a Python int")
    op = get_default_graph().create_op(
        "TopKV2", [xt], name=name, ir_op="kiln.top_k", ir_attrs={"k": int(k)}, attrs={"k": int(k)}
    )
    return TopKV2(op.outputs)


def in_top_k(predictions: Any, targets: Any, k: int, name: str | None = None) -> Tensor:
    """Whether each target class is among the k highest predictions of its row
    (tf.nn.in_top_k): fewer than k classes score strictly more than the
    target. A target outside the classes, or a non-finite score, is False."""
    p, t = convert_to_tensor(predictions), convert_to_tensor(targets)
    if p.shape.ndims != 2 or p.shape[1] is None:
        raise GraphError(
            f"in_top_k: predictions must be [batch, classes] with the classes static, got {p.shape}"
        )
    if not t.dtype.is_integer:
        raise GraphError(f"in_top_k: targets {t.name} must be integers")
    classes = p.shape[1]
    with get_default_graph().name_scope(name or "in_top_k"):
        picked = equal(
            expand_dims(t, 1),
            make("Range", "kiln.iota", [], None, shape=[classes], dtype=t.dtype.ir),
        )
        score = reduce_sum(where(picked, p, zeros_like(p)), axis=1, keepdims=True)
        above = reduce_sum(cast(greater(p, score), int32), axis=1)
        finite = less(abs(score), float("inf"))
        inside = logical_and(greater_equal(t, 0), less(t, classes))
        return logical_and(logical_and(less(above, int(k)), squeeze(finite, axis=[1])), inside)


# ------------------------------------------------------------------ sampled losses


class CandidateSamples(tuple):
    """(sampled_candidates, true_expected_count, sampled_expected_count), as TF's samplers."""

    sampled_candidates = property(lambda self: self[0])
    true_expected_count = property(lambda self: self[1])
    sampled_expected_count = property(lambda self: self[2])


def log_uniform_candidate_sampler(
    true_classes: Any,
    num_true: int,
    num_sampled: int,
    unique: bool,
    range_max: int,
    seed: int | None = None,
    name: str | None = None,
) -> CandidateSamples:
    """`num_sampled` classes from the log-uniform (Zipfian) distribution
    P(c) = log((c + 2) / (c + 1)) / log(range_max + 1), new ones every run
    (tf.nn.log_uniform_candidate_sampler). kiln samples with replacement (a
    run counter and the dropout hash give fresh uniforms per run; inverse
    CDF c = floor(exp(u log(range_max + 1))) - 1) and reports TF's expected
    counts for that: num_sampled * P(c). `unique=True` is accepted and drawn
    the same way (TF then rejects repeats; the NCE and sampled-softmax
    estimates stay consistent with the expected counts given)."""
    from .ops import exp, log

    g = get_default_graph()
    with g.name_scope(name or "LogUniformCandidateSampler"):
        counter = Variable(0.0, trainable=False, name="counter", dtype=float64)
        runs = counter.assign_add(1.0)
        draws = [
            make(
                "RandomUniform",
                "kiln.random",
                [],
                None,
                shape=[int(num_sampled)],
                distribution="uniform",
                seed=(_op_seed(seed) + 7919 * k) % (2**31 - 1),
                dtype=float64.ir,
            )
            for k in range(2)
        ]
        u = _frac(square(_frac(draws[0] + runs * GOLDEN) + draws[1]) * MIX)
        span = float(np.log(range_max + 1.0))
        value = exp(u * span) - 1.0
        sampled = cast(value, int64)
        sampled = where(greater_equal(sampled, range_max), sampled * 0 + (range_max - 1), sampled)

        def expected(classes: Tensor) -> Tensor:
            c = cast(classes, float64)
            p = (log(c + 2.0) - log(c + 1.0)) / span
            return cast(p * float(num_sampled), "float32")

        true = cast(convert_to_tensor(true_classes), int64)
        return CandidateSamples((stop_gradient(sampled), expected(true), expected(sampled)))


def _compute_sampled_logits(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true,
    sampled_values,
    subtract_log_q,
    remove_accidental_hits,
    seed=None,
):
    from .ops import concat, log, matmul, ones_like

    if isinstance(weights, (list, tuple)):
        if len(weights) != 1:
            raise GraphError("sampled losses: partitioned weights are not supported")
        weights = weights[0]
    x = convert_to_tensor(inputs)
    labels = cast(convert_to_tensor(labels), int64)
    if labels.shape.ndims == 1:
        labels = expand_dims(labels, 1)
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(
            labels, num_true, num_sampled, True, num_classes, seed=seed
        )
    sampled, true_expected, sampled_expected = sampled_values
    sampled = cast(convert_to_tensor(sampled), int64)
    flat = reshape(labels, [-1])
    dim = x.shape[-1]
    true_w = reshape(embedding_lookup(weights, flat), [-1, num_true, dim])
    true_b = reshape(embedding_lookup(biases, flat), [-1, num_true])
    sampled_w = embedding_lookup(weights, sampled)
    sampled_b = embedding_lookup(biases, sampled)
    true_logits = reduce_sum(multiply(expand_dims(x, 1), true_w), axis=2) + true_b
    sampled_logits = matmul(x, sampled_w, transpose_b=True) + sampled_b
    if remove_accidental_hits:
        hits = reduce_sum(
            cast(equal(expand_dims(labels, 2), reshape(sampled, [1, 1, -1])), "float32"), axis=1
        )
        sampled_logits = where(
            greater(hits, 0.0), sampled_logits * 0.0 - 3.4028235e38, sampled_logits
        )
    if subtract_log_q:
        true_logits = true_logits - log(cast(convert_to_tensor(true_expected), x.dtype))
        sampled_logits = sampled_logits - log(cast(convert_to_tensor(sampled_expected), x.dtype))
    logits = concat([true_logits, sampled_logits], 1)
    targets = concat([ones_like(true_logits) / float(num_true), zeros_like(sampled_logits)], 1)
    return logits, targets


def nce_loss(
    weights: Any,
    biases: Any,
    labels: Any,
    inputs: Any,
    num_sampled: int,
    num_classes: int,
    num_true: int = 1,
    sampled_values: Any = None,
    remove_accidental_hits: bool = False,
    partition_strategy: str = "mod",
    name: str = "nce_loss",
    seed: int | None = None,
) -> Tensor:
    """Noise-contrastive estimation's loss per example (tf.nn.nce_loss): the
    sigmoid cross entropy of the true classes against `num_sampled` sampled
    ones, logits corrected by log(expected count), summed over them."""
    with get_default_graph().name_scope(name):
        logits, targets = _compute_sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            num_sampled,
            num_classes,
            num_true,
            sampled_values,
            True,
            remove_accidental_hits,
            seed,
        )
        return reduce_sum(sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), 1)


def sampled_softmax_loss(
    weights: Any,
    biases: Any,
    labels: Any,
    inputs: Any,
    num_sampled: int,
    num_classes: int,
    num_true: int = 1,
    sampled_values: Any = None,
    remove_accidental_hits: bool = True,
    partition_strategy: str = "mod",
    name: str = "sampled_softmax_loss",
    seed: int | None = None,
) -> Tensor:
    """The softmax cross entropy over the true classes and `num_sampled`
    sampled ones, per example (tf.nn.sampled_softmax_loss)."""
    with get_default_graph().name_scope(name):
        logits, targets = _compute_sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            num_sampled,
            num_classes,
            num_true,
            sampled_values,
            True,
            remove_accidental_hits,
            seed,
        )
        return softmax_cross_entropy_with_logits_v2(labels=targets, logits=logits)


__all__ += ["log_uniform_candidate_sampler", "nce_loss", "sampled_softmax_loss"]
