"""tf.contrib.layers: layer functions with TF-contrib's argument names
(`num_outputs`, `activation_fn`, `weights_initializer`, `scope`), over
kiln's get_variable and kl.nn; initializers and regularizers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import frontend as kf
from ..frontend import layers as kl_layers
from ..frontend import nn
from ..frontend.dtypes import float32
from ..frontend.graph import GraphError, Tensor, get_default_graph
from ..frontend.ops import GraphKeys, add_n, convert_to_tensor, matmul, multiply, reduce_sum
from ..frontend.variables import (
    Initializer,
    _fans,
    get_variable,
    random_uniform,
    truncated_normal,
    variable_scope,
    zeros_initializer,
)
from .framework import add_arg_scope

WEIGHTS = "weights"
BIASES = "biases"
_ZEROS = zeros_initializer()  # TF-contrib layers make biases by default


# ------------------------------------------------------------------ initializers


def variance_scaling_initializer(
    factor: float = 2.0,
    mode: str = "FAN_IN",
    uniform: bool = False,
    seed: int | None = None,
    dtype: Any = float32,
) -> Initializer:
    """TF-contrib's variance scaling: n is fan_in, fan_out or their mean;
    uniform in +-sqrt(3 factor / n), else a truncated normal with stddev
    sqrt(1.3 factor / n)."""
    if mode not in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
        raise GraphError(f"variance_scaling_initializer: unknown mode {mode!r}")

    def make_value(shape, dt):
        fan_in, fan_out = _fans(shape)
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[mode]
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return random_uniform(shape, -limit, limit, dt, seed)
        return truncated_normal(shape, 0.0, math.sqrt(1.3 * factor / n), dt, seed)

    return Initializer(make_value, dtype)


def xavier_initializer(uniform: bool = True, seed: int | None = None, dtype: Any = float32):
    """Glorot's initializer (tf.contrib.layers.xavier_initializer)."""
    return variance_scaling_initializer(1.0, "FAN_AVG", uniform, seed, dtype)


xavier_initializer_conv2d = xavier_initializer


# ------------------------------------------------------------------ regularizers


def l2_regularizer(scale: float, scope: str | None = None):
    """weights -> scale * sum(w^2) / 2 (None when scale is 0, as TF)."""
    if scale < 0:
        raise GraphError(f"l2_regularizer: scale must be >= 0, got {scale}")

    def l2(weights: Any) -> Tensor | None:
        if scale == 0:
            return None
        with get_default_graph().name_scope(scope or "l2_regularizer"):
            return multiply(nn.l2_loss(weights), float(scale), name="value")

    return l2


def l1_regularizer(scale: float, scope: str | None = None):
    """weights -> scale * sum(|w|) (None when scale is 0, as TF)."""
    if scale < 0:
        raise GraphError(f"l1_regularizer: scale must be >= 0, got {scale}")

    def l1(weights: Any) -> Tensor | None:
        if scale == 0:
            return None
        with get_default_graph().name_scope(scope or "l1_regularizer"):
            return multiply(reduce_sum(kf.abs(convert_to_tensor(weights))), float(scale))

    return l1


def apply_regularization(regularizer: Any, weights_list: Sequence[Any] | None = None):
    """The sum of `regularizer(w)` over weights_list (default: the WEIGHTS
    collection), also added to REGULARIZATION_LOSSES."""
    g = get_default_graph()
    weights = list(weights_list) if weights_list is not None else g.get_collection(WEIGHTS)
    if not weights:
        raise GraphError("apply_regularization: no weights to regularize")
    terms = [t for t in (regularizer(w) for w in weights) if t is not None]
    if not terms:
        return convert_to_tensor(0.0)
    total = add_n(terms)
    g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, total)
    return total


def _regularize(regularizer: Any, var: Any) -> None:
    if regularizer is not None:
        loss = regularizer(var)
        if loss is not None:
            get_default_graph().add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)


# ------------------------------------------------------------------ layers


@add_arg_scope
def flatten(inputs: Any, outputs_collections: Any = None, scope: str | None = None) -> Tensor:
    """[batch, ...] -> [batch, k] (tf.contrib.layers.flatten)."""
    return kl_layers.flatten(inputs, name=scope or "Flatten")


def _scope(scope: str | None, default: str) -> str:
    return scope or get_default_graph().unique_name(default, mark_as_used=False).split("/")[-1]


def _weights_and_bias(
    shape,
    num_outputs,
    dtype,
    weights_initializer,
    weights_regularizer,
    biases_initializer,
    biases_regularizer,
    trainable,
    collections,
):
    w = get_variable(
        "weights",
        shape,
        dtype=dtype,
        trainable=trainable,
        initializer=weights_initializer or xavier_initializer(),
    )
    _regularize(weights_regularizer, w)
    g = get_default_graph()
    g.add_to_collection(WEIGHTS, w)
    b = None
    if biases_initializer is not None:
        b = get_variable(
            "biases",
            [num_outputs],
            dtype=dtype,
            trainable=trainable,
            initializer=biases_initializer,
        )
        _regularize(biases_regularizer, b)
        g.add_to_collection(BIASES, b)
    for key in collections or ():
        g.add_to_collection(key, w)
        if b is not None:
            g.add_to_collection(key, b)
    return w, b


def _finish(y: Tensor, b: Any, normalizer_fn: Any, normalizer_params: Any, activation_fn: Any):
    if normalizer_fn is not None:
        y = normalizer_fn(y, **(normalizer_params or {}))
    elif b is not None:
        y = nn.bias_add(y, b)
    return activation_fn(y) if activation_fn is not None else y


@add_arg_scope
def fully_connected(
    inputs: Any,
    num_outputs: int,
    activation_fn: Any = nn.relu,
    normalizer_fn: Any = None,
    normalizer_params: Any = None,
    weights_initializer: Any = None,
    weights_regularizer: Any = None,
    biases_initializer: Any = _ZEROS,
    biases_regularizer: Any = None,
    reuse: Any = None,
    variables_collections: Any = None,
    outputs_collections: Any = None,
    trainable: bool = True,
    scope: str | None = None,
) -> Tensor:
    """activation_fn(inputs @ weights + biases), variables `<scope>/weights`
    and `<scope>/biases` (tf.contrib.layers.fully_connected; relu by default)."""
    x = convert_to_tensor(inputs)
    if x.shape.ndims is None or x.shape[-1] is None:
        raise GraphError(f"fully_connected: the last dim of {x.name} must be known")
    with variable_scope(_scope(scope, "fully_connected"), reuse=reuse):
        w, b = _weights_and_bias(
            [x.shape[-1], num_outputs],
            num_outputs,
            x.dtype,
            weights_initializer,
            weights_regularizer,
            biases_initializer,
            biases_regularizer,
            trainable,
            variables_collections,
        )
        if x.shape.ndims == 2:
            y = matmul(x, w)
        else:
            y = kl_layers._matmul_last(x, w, num_outputs)
        return _finish(y, b, normalizer_fn, normalizer_params, activation_fn)


def _pair(v: Any) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v]


@add_arg_scope
def conv2d(
    inputs: Any,
    num_outputs: int,
    kernel_size: Any,
    stride: Any = 1,
    padding: str = "SAME",
    data_format: str | None = None,
    rate: Any = 1,
    activation_fn: Any = nn.relu,
    normalizer_fn: Any = None,
    normalizer_params: Any = None,
    weights_initializer: Any = None,
    weights_regularizer: Any = None,
    biases_initializer: Any = _ZEROS,
    biases_regularizer: Any = None,
    reuse: Any = None,
    variables_collections: Any = None,
    outputs_collections: Any = None,
    trainable: bool = True,
    scope: str | None = None,
) -> Tensor:
    """A 2-D convolution with `<scope>/weights` [kh, kw, in, out] and
    `<scope>/biases` (tf.contrib.layers.conv2d; NHWC, SAME, relu by default)."""
    x = convert_to_tensor(inputs)
    fmt = data_format or "NHWC"
    channels = x.shape[-1] if fmt == "NHWC" else x.shape[1]
    if channels is None:
        raise GraphError(f"conv2d: the channels of {x.name} must be known")
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    with variable_scope(_scope(scope, "Conv"), reuse=reuse):
        w, b = _weights_and_bias(
            [kh, kw, channels, num_outputs],
            num_outputs,
            x.dtype,
            weights_initializer,
            weights_regularizer,
            biases_initializer,
            biases_regularizer,
            trainable,
            variables_collections,
        )
        strides = [1, sh, sw, 1] if fmt == "NHWC" else [1, 1, sh, sw]
        dil = _pair(rate)
        dilations = [1, *dil, 1] if fmt == "NHWC" else [1, 1, *dil]
        y = nn.conv2d(x, w, strides, padding.upper(), data_format=fmt, dilations=dilations)
        if b is not None and normalizer_fn is None:
            y = nn.bias_add(y, b, data_format=fmt)
            b = None
        return _finish(y, b, normalizer_fn, normalizer_params, activation_fn)


convolution2d = conv2d


def _pool(fn, default):
    def layer(
        inputs: Any,
        kernel_size: Any,
        stride: Any = 2,
        padding: str = "VALID",
        data_format: str = "NHWC",
        outputs_collections: Any = None,
        scope: str | None = None,
    ) -> Tensor:
        kh, kw = _pair(kernel_size)
        sh, sw = _pair(stride)
        ksize = [1, kh, kw, 1] if data_format == "NHWC" else [1, 1, kh, kw]
        strides = [1, sh, sw, 1] if data_format == "NHWC" else [1, 1, sh, sw]
        return fn(
            convert_to_tensor(inputs),
            ksize,
            strides,
            padding.upper(),
            data_format=data_format,
            name=scope or default,
        )

    layer.__name__ = default
    return layer


max_pool2d = add_arg_scope(_pool(nn.max_pool, "MaxPool2D"))
avg_pool2d = add_arg_scope(_pool(nn.avg_pool, "AvgPool2D"))


@add_arg_scope
def dropout(
    inputs: Any,
    keep_prob: float = 0.5,
    noise_shape: Any = None,
    is_training: Any = True,
    outputs_collections: Any = None,
    scope: str | None = None,
    seed: int | None = None,
) -> Tensor:
    """Dropout keeping `keep_prob` while is_training (tf.contrib.layers.dropout)."""
    return kl_layers.dropout(
        inputs,
        rate=1.0 - keep_prob,
        noise_shape=noise_shape,
        seed=seed,
        training=is_training,
        name=scope or "Dropout",
    )


@add_arg_scope
def batch_norm(
    inputs: Any,
    decay: float = 0.999,
    center: bool = True,
    scale: bool = False,
    epsilon: float = 0.001,
    activation_fn: Any = None,
    param_initializers: Any = None,
    updates_collections: Any = GraphKeys.UPDATE_OPS,
    is_training: Any = True,
    reuse: Any = None,
    variables_collections: Any = None,
    outputs_collections: Any = None,
    trainable: bool = True,
    fused: Any = None,
    data_format: str = "NHWC",
    zero_debias_moving_mean: bool = False,
    scope: str | None = None,
    **_: Any,
) -> Tensor:
    """Batch normalization over the last axis (tf.contrib.layers.batch_norm:
    scale off and decay 0.999 by default; moving averages updated through
    UPDATE_OPS)."""
    params = param_initializers or {}
    y = kl_layers.batch_normalization(
        inputs,
        axis=-1 if data_format == "NHWC" else 1,
        momentum=decay,
        epsilon=epsilon,
        center=center,
        scale=scale,
        beta_initializer=params.get("beta"),
        gamma_initializer=params.get("gamma"),
        moving_mean_initializer=params.get("moving_mean"),
        moving_variance_initializer=params.get("moving_variance"),
        training=is_training,
        trainable=trainable,
        name=scope or _scope(None, "BatchNorm"),
        reuse=reuse,
    )
    return activation_fn(y) if activation_fn is not None else y


def _linear(inputs: Any, num_outputs: int, **kwargs: Any) -> Tensor:
    return fully_connected(inputs, num_outputs, activation_fn=None, **kwargs)


linear = _linear
