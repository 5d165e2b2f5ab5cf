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
    get_variable_scope,
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
    kernel_regularizer: Any = None,
    bias_regularizer: Any = None,
    activity_regularizer: Any = None,
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
            regularizer=kernel_regularizer,
            trainable=trainable,
        )
        y = matmul(x, kernel) if x.shape.ndims == 2 else _matmul_last(x, kernel, units)
        if use_bias:
            bias = get_variable(
                "bias",
                [units],
                dtype=x.dtype,
                initializer=bias_initializer or zeros_initializer(),
                regularizer=bias_regularizer,
                trainable=trainable,
            )
            y = add(y, bias)
        if activation is not None:
            y = activation(y)
        _regularize_activity(activity_regularizer, y)
    return y


def _regularize_activity(regularizer: Any, y: Tensor) -> None:
    """activity_regularizer(output) into REGULARIZATION_LOSSES, as TF's layers."""
    if regularizer is not None:
        with get_default_graph().name_scope("ActivityRegularizer"):
            loss = regularizer(y)
        if loss is not None:
            get_default_graph().add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)


def _matmul_last(x: Tensor, kernel: Any, units: int) -> Tensor:
    dims = [-1 if d is None else d for d in x.shape.as_list()[:-1]]
    if dims.count(-1) > 1:  # [batch, time, depth] both unknown (seq2seq): a broadcast matmul
        return matmul(x, kernel)
    flat = reshape(x, [-1, x.shape[-1]])
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
    kernel_regularizer: Any = None,
    bias_regularizer: Any = None,
    activity_regularizer: Any = None,
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
            regularizer=kernel_regularizer,
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
                regularizer=bias_regularizer,
                trainable=trainable,
            )
            y = bias_add(y, bias, data_format=fmt)
        if activation is not None:
            y = activation(y)
        _regularize_activity(activity_regularizer, y)
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


def _training_flag(training: Any) -> Tensor:
    """A `training` tensor as a scalar: tf.placeholder(tf.bool) has no shape, and the
    layers' outputs would lose theirs through the select (TF's cond takes a scalar)."""
    flag = convert_to_tensor(training)
    return reshape(flag, []) if flag.shape.ndims is None else flag


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
    flag = _training_flag(training)
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
            flag = _training_flag(training)
            use_mean = where(flag, mean, moving_mean)
            use_var = where(flag, variance, moving_var)
            decay = cast(flag, x.dtype) * (1.0 - momentum)  # no update at inference
        y = nn_batch_normalization(
            x, shaped(use_mean), shaped(use_var), shaped(beta), shaped(gamma), epsilon
        )
        for var, batch in ((moving_mean, mean), (moving_var, variance)):
            g.add_to_collection(GraphKeys.UPDATE_OPS, var.assign_sub((var - batch) * decay).op)
    return y


# ------------------------------------------------------------------ transposed convolution


def conv2d_transpose(
    inputs: Any,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1),
    padding: str = "valid",
    data_format: str = "channels_last",
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    kernel_regularizer: Any = None,
    bias_regularizer: Any = None,
    activity_regularizer: Any = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
) -> Tensor:
    """A transposed convolution (tf.layers.conv2d_transpose): kernel
    [kh, kw, filters, in]; output size in * stride ("same") or
    (in - 1) * stride + k ("valid")."""
    from .nn import conv2d_transpose as nn_conv2d_transpose

    x = convert_to_tensor(inputs)
    fmt = _format(data_format)
    if x.shape.ndims != 4:
        raise GraphError(f"conv2d_transpose: expected a 4-D input, got {x.name} {x.shape}")
    h_axis, c_axis = (1, 3) if fmt == "NHWC" else (2, 1)
    channels, h, w = x.shape[c_axis], x.shape[h_axis], x.shape[h_axis + 1]
    if channels is None or h is None or w is None:
        raise GraphError(f"conv2d_transpose: {x.name} needs known spatial and channel dims")
    kh, kw = _two(kernel_size, "conv2d_transpose kernel_size")
    sh, sw = _two(strides, "conv2d_transpose strides")
    if padding.lower() == "same":
        out_h, out_w = h * sh, w * sw
    else:
        out_h, out_w = (h - 1) * sh + max(kh, sh), (w - 1) * sw + max(kw, sw)
    with variable_scope(_scope_name(name, "conv2d_transpose"), reuse=reuse):
        kernel = get_variable(
            "kernel",
            [kh, kw, filters, channels],
            dtype=x.dtype,
            initializer=kernel_initializer or glorot_uniform_initializer(),
            regularizer=kernel_regularizer,
            trainable=trainable,
        )
        shape = [0, out_h, out_w, filters] if fmt == "NHWC" else [0, filters, out_h, out_w]
        window = [1, sh, sw, 1] if fmt == "NHWC" else [1, 1, sh, sw]
        y = nn_conv2d_transpose(x, kernel, shape, window, padding.upper(), data_format=fmt)
        if use_bias:
            bias = get_variable(
                "bias",
                [filters],
                dtype=x.dtype,
                initializer=bias_initializer or zeros_initializer(),
                regularizer=bias_regularizer,
                trainable=trainable,
            )
            y = bias_add(y, bias, data_format=fmt)
        if activation is not None:
            y = activation(y)
        _regularize_activity(activity_regularizer, y)
    return y


# ------------------------------------------------------------------ layer objects


class Layer:
    """TF 1.x's layer objects (tf.layers.Dense, ...): the functional layer
    with its arguments kept; the first call makes the variables under the
    layer's scope, later calls reuse them."""

    _function: Any = None
    _default = "layer"

    def __init__(self, *args: Any, name: str | None = None, **kwargs: Any):
        self._args, self._kwargs = args, kwargs
        self.name = name
        self._built = False
        self._scope: str | None = None
        self.variables: list = []

    def __call__(self, inputs: Any, **call_kwargs: Any) -> Tensor:
        if self._scope is None:
            self._scope = self.name or _layer_name(self._default)
            self.name = self._scope
        # the variable store, not the collections: eagerly there are no collections
        store = get_default_graph().variable_store
        before = set(store)
        kwargs = {**self._kwargs, **call_kwargs, "name": self._scope}
        if self._takes_variables:
            kwargs["reuse"] = True if self._built else kwargs.get("reuse")
        out = type(self)._function(inputs, *self._args, **kwargs)
        if not self._built:
            self.variables = [v for k, v in store.items() if k not in before]
            self._built = True
        return out

    _takes_variables = True

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if getattr(v, "trainable", True)]

    trainable_weights = trainable_variables
    weights = property(lambda self: list(self.variables))

    def _var(self, suffix: str) -> Any:
        for v in self.variables:
            if v.op.name.endswith("/" + suffix):
                return v
        raise GraphError(f"layer {self.name!r} has no {suffix} (call it on an input first)")

    kernel = property(lambda self: self._var("kernel"))
    bias = property(lambda self: self._var("bias"))


def _layer_name(default: str) -> str:
    """`default`, `default_1`, ...: the first no variable scope of the graph uses
    yet (TF names layer objects by a per-graph count of each kind)."""
    g = get_default_graph()
    scope = get_variable_scope().name
    taken = {name.split("/")[len(scope.split("/")) if scope else 0] for name in g.variable_store}
    i = 0
    while (name := default if i == 0 else f"{default}_{i}") in taken:
        i += 1
    return name


def _layer_class(name: str, function: Any, default: str, variables: bool = True) -> type:
    return type(
        name,
        (Layer,),
        {
            "_function": staticmethod(function),
            "_default": default,
            "_takes_variables": variables,
            "__doc__": f"tf.layers.{name}: the object form of tf.layers.{function.__name__}.",
        },
    )


Dense = _layer_class("Dense", dense, "dense")
Conv2D = _layer_class("Conv2D", conv2d, "conv2d")
Conv2DTranspose = _layer_class("Conv2DTranspose", conv2d_transpose, "conv2d_transpose")
BatchNormalization = _layer_class("BatchNormalization", batch_normalization, "batch_normalization")
Flatten = _layer_class("Flatten", flatten, "flatten", variables=False)
Dropout = _layer_class("Dropout", dropout, "dropout", variables=False)
MaxPooling2D = _layer_class("MaxPooling2D", max_pooling2d, "max_pooling2d", variables=False)
AveragePooling2D = _layer_class(
    "AveragePooling2D", average_pooling2d, "average_pooling2d", variables=False
)
MaxPool2D, AveragePool2D = MaxPooling2D, AveragePooling2D
__all__ += [
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPooling2D",
    "conv2d_transpose",
]
