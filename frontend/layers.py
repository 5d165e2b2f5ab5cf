"""kl.layers: the TF 1.x functional layers, with variables from get_variable
so that `variable_scope(..., reuse=True)` shares them; `trainable=False`
keeps a layer's variables out of TRAINABLE_VARIABLES."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .graph import GraphError, Tensor, get_default_graph
from .nn import avg_pool, bias_add, max_pool, moments
from .nn import batch_normalization as nn_batch_normalization
from .nn import conv2d as nn_conv2d
from .nn import dropout as nn_dropout
from .ops import GraphKeys, add, cast, convert_to_tensor, matmul, reshape, where
from .variables import (
    get_variable,
    glorot_uniform_initializer,
    ones_initializer,
    variable_scope,
    zeros_initializer,
)

__all__ = [
    "average_pooling2d",
    "batch_normalization",
    "conv2d",
    "dense",
    "dropout",
    "flatten",
    "max_pooling2d",
]


def _scope_name(name: str | None, default: str) -> str:
    """The layer's variable scope: `name`, else a fresh `default`, `default_1`, ..."""
    return name or get_default_graph().unique_name(default, mark_as_used=False).split("/")[-1]


def dense(
    inputs: Any,
    units: int,
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
) -> Tensor:
    """activation(inputs @ kernel + bias) (tf.layers.dense): variables
    `<name>/kernel` and `<name>/bias` under the current variable scope."""
    x = convert_to_tensor(inputs)
    if x.shape.ndims is None or x.shape[-1] is None:
        raise GraphError(f"dense: the last dim of {x.name} must be known, got {x.shape}")
    with variable_scope(_scope_name(name, "dense"), reuse=reuse):
        kernel = get_variable(
            "kernel",
            [x.shape[-1], units],
            dtype=x.dtype,
            initializer=kernel_initializer or glorot_uniform_initializer(),
            trainable=trainable,
        )
        y = matmul(x, kernel) if x.shape.ndims == 2 else _matmul_last(x, kernel, units)
        if use_bias:
            bias = get_variable(
                "bias",
                [units],
                dtype=x.dtype,
                initializer=bias_initializer or zeros_initializer(),
                trainable=trainable,
            )
            y = add(y, bias)
        if activation is not None:
            y = activation(y)
    return y


def _matmul_last(x: Tensor, kernel: Any, units: int) -> Tensor:
    flat = reshape(x, [-1, x.shape[-1]])
    dims = [-1 if d is None else d for d in x.shape.as_list()[:-1]]
    return reshape(matmul(flat, kernel), [*dims, units])


def flatten(inputs: Any, name: str | None = None, data_format: str = "channels_last") -> Tensor:
    """[batch, ...] -> [batch, prod(...)] (tf.layers.flatten)."""
    x = convert_to_tensor(inputs)
    rest = x.shape.as_list()[1:]
    if None in rest:
        raise GraphError(f"flatten: the non-batch dims of {x.name} must be known")
    size = 1
    for d in rest:
        size *= d
    return reshape(x, [-1, size], name=name)


# ------------------------------------------------------------------ convolution and pooling


def _two(value: int | Sequence[int], what: str) -> list[int]:
    v = [value] * 2 if isinstance(value, int) else [int(a) for a in value]
    if len(v) != 2:
        raise GraphError(f"{what}: expected an int or two ints, got {value!r}")
    return v


def _format(data_format: str) -> str:
    if data_format not in ("channels_last", "channels_first"):
        raise GraphError(
            f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
        )
    return "NHWC" if data_format == "channels_last" else "NCHW"


def conv2d(
    inputs: Any,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1),
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: int | Sequence[int] = (1, 1),
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
) -> Tensor:
    """activation(conv2d(inputs, kernel) + bias) (tf.layers.conv2d): variables
    `<name>/kernel` [kh, kw, in, filters] and `<name>/bias` [filters]."""
    x = convert_to_tensor(inputs)
    fmt = _format(data_format)
    if x.shape.ndims != 4:
        raise GraphError(f"conv2d: expected a 4-D input, got {x.name} {x.shape}")
    channels = x.shape[3 if fmt == "NHWC" else 1]
    if channels is None:
        raise GraphError(f"conv2d: the channel dim of {x.name} must be known")
    kh, kw = _two(kernel_size, "conv2d kernel_size")
    with variable_scope(_scope_name(name, "conv2d"), reuse=reuse):
        kernel = get_variable(
            "kernel",
            [kh, kw, channels, filters],
            dtype=x.dtype,
            initializer=kernel_initializer or glorot_uniform_initializer(),
            trainable=trainable,
        )
        y = nn_conv2d(
            x,
            kernel,
            strides=_two(strides, "conv2d strides"),
            padding=padding.upper(),
            data_format=fmt,
            dilations=_two(dilation_rate, "conv2d dilation_rate"),
        )
        if use_bias:
            bias = get_variable(
                "bias",
                [filters],
                dtype=x.dtype,
                initializer=bias_initializer or zeros_initializer(),
                trainable=trainable,
            )
            y = bias_add(y, bias, data_format=fmt)
        if activation is not None:
            y = activation(y)
    return y


def _pooling(pool: Any, default: str):
    def layer(
        inputs: Any,
        pool_size: int | Sequence[int],
        strides: int | Sequence[int],
        padding: str = "valid",
        data_format: str = "channels_last",
        name: str | None = None,
    ) -> Tensor:
        return pool(
            convert_to_tensor(inputs),
            _two(pool_size, f"{default} pool_size"),
            _two(strides, f"{default} strides"),
            padding.upper(),
            data_format=_format(data_format),
            name=name or default,
        )

    layer.__name__ = default
    layer.__doc__ = f"tf.layers.{default}: a {default[:3]} pool over pool_size windows."
    return layer


max_pooling2d = _pooling(max_pool, "max_pooling2d")
average_pooling2d = _pooling(avg_pool, "average_pooling2d")


# ------------------------------------------------------------------ dropout, batch norm


def dropout(
    inputs: Any,
    rate: Any = 0.5,
    noise_shape: Sequence[int] | None = None,
    seed: int | None = None,
    training: Any = False,
    name: str | None = None,
) -> Tensor:
    """kl.nn.dropout while `training` (a Python bool or a bool tensor), the
    identity otherwise (tf.layers.dropout)."""
    x = convert_to_tensor(inputs)
    if isinstance(training, bool):
        return (
            nn_dropout(x, rate=rate, noise_shape=noise_shape, seed=seed, name=name or "dropout")
            if training
            else x
        )
    flag = convert_to_tensor(training)
    with get_default_graph().name_scope(name or "dropout"):
        dropped = nn_dropout(x, rate=rate, noise_shape=noise_shape, seed=seed)
        return where(flag, dropped, x)


def batch_normalization(
    inputs: Any,
    axis: int = -1,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    center: bool = True,
    scale: bool = True,
    beta_initializer: Any = None,
    gamma_initializer: Any = None,
    moving_mean_initializer: Any = None,
    moving_variance_initializer: Any = None,
    training: Any = False,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
) -> Tensor:
    """Batch normalization over every axis but `axis` (tf.layers.batch_normalization).

    Variables `<name>/gamma`, `<name>/beta` (trainable) and `<name>/moving_mean`,
    `<name>/moving_variance` (not trainable). While `training` (a Python bool or
    a bool tensor) the batch's moments normalize, and two update ops, added to
    the UPDATE_OPS collection as in TensorFlow, move the averages:
    moving -= (moving - batch) * (1 - momentum). Run them with the train op
    (`with kl.control_dependencies(kl.get_collection(kl.GraphKeys.UPDATE_OPS))`).
    Otherwise the moving averages normalize."""
    x = convert_to_tensor(inputs)
    rank = x.shape.ndims
    if rank is None:
        raise GraphError(f"batch_normalization: the rank of {x.name} must be known")
    axis = axis % rank
    channels = x.shape[axis]
    if channels is None:
        raise GraphError(f"batch_normalization: dim {axis} of {x.name} must be known")
    reduce_axes = [a for a in range(rank) if a != axis]
    view = [1] * rank
    view[axis] = channels
    g = get_default_graph()
    with variable_scope(_scope_name(name, "batch_normalization"), reuse=reuse):

        def param(var_name, init, default, learn):
            return get_variable(
                var_name, [channels], dtype=x.dtype, initializer=init or default, trainable=learn
            )

        gamma = param("gamma", gamma_initializer, ones_initializer(), trainable) if scale else None
        beta = param("beta", beta_initializer, zeros_initializer(), trainable) if center else None
        moving_mean = param("moving_mean", moving_mean_initializer, zeros_initializer(), False)
        moving_var = param(
            "moving_variance", moving_variance_initializer, ones_initializer(), False
        )

        def shaped(v):
            return None if v is None else (v if axis == rank - 1 else reshape(v, view))

        if training is False:
            return nn_batch_normalization(
                x, shaped(moving_mean), shaped(moving_var), shaped(beta), shaped(gamma), epsilon
            )
        mean, variance = moments(x, reduce_axes)
        if training is True:
            use_mean, use_var, decay = mean, variance, 1.0 - momentum
        else:
            flag = convert_to_tensor(training)
            use_mean = where(flag, mean, moving_mean)
            use_var = where(flag, variance, moving_var)
            decay = cast(flag, x.dtype) * (1.0 - momentum)  # no update at inference
        y = nn_batch_normalization(
            x, shaped(use_mean), shaped(use_var), shaped(beta), shaped(gamma), epsilon
        )
        for var, batch in ((moving_mean, mean), (moving_var, variance)):
            g.add_to_collection(GraphKeys.UPDATE_OPS, var.assign_sub((var - batch) * decay).op)
    return y
