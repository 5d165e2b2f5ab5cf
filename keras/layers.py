"""Keras layers written with kl ops (keras.layers): Dense, Conv2D, pools,
Flatten, Dropout, BatchNormalization, Activation, Embedding, Reshape."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..frontend import array_ops, nn
from ..frontend.dtypes import int32
from ..frontend.graph import GraphError
from ..frontend.ops import cast, convert_to_tensor, matmul, reshape
from . import activations
from .engine import Input, InputLayer, Layer
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN

__all__ = [
    "Activation",
    "Bidirectional",
    "GRU",
    "LSTM",
    "SimpleRNN",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Input",
    "InputLayer",
    "Layer",
    "MaxPooling2D",
    "Reshape",
]


def _pair(value: int | Sequence[int], what: str) -> list[int]:
    v = [int(value)] * 2 if isinstance(value, int) else [int(x) for x in value]
    if len(v) != 2:
        raise GraphError(f"{what} needs one int or two, got {value!r}")
    return v


class Dense(Layer):
    """activation(inputs @ kernel + bias) over the last axis."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kw: Any,
    ):
        super().__init__(**kw)
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise GraphError(f"{self.name}: the last input dim must be known")
        self.kernel = self.add_weight(
            "kernel", [input_shape[-1], self.units], self.kernel_initializer
        )
        self.bias = (
            self.add_weight("bias", [self.units], self.bias_initializer) if self.use_bias else None
        )

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        rank = x.shape.ndims
        if rank is not None and rank > 2:
            dims = x.shape.as_list()
            y = reshape(
                matmul(reshape(x, [-1, dims[-1]]), self.kernel), [-1, *dims[1:-1], self.units]
            )
        else:
            y = matmul(x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "activation": activations.serialize(self.activation),
        }


class Conv2D(Layer):
    """2-D convolution over NHWC inputs with HWIO kernels."""

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = (1, 1),
        padding: str = "valid",
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kw: Any,
    ):
        super().__init__(**kw)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "Conv2D kernel_size")
        self.strides = _pair(strides, "Conv2D strides")
        self.padding = padding.upper()
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise GraphError(
                f"{self.name}: Conv2D takes NHWC inputs with known channels, "
                f"got shape {input_shape}"
            )
        self.kernel = self.add_weight(
            "kernel", [*self.kernel_size, input_shape[-1], self.filters], self.kernel_initializer
        )
        self.bias = (
            self.add_weight("bias", [self.filters], self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs):
        y = nn.conv2d(inputs, self.kernel, strides=[1, *self.strides, 1], padding=self.padding)
        if self.bias is not None:
            y = nn.bias_add(y, self.bias)
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding.lower(),
            "use_bias": self.use_bias,
            "activation": activations.serialize(self.activation),
        }


class _Pooling2D(Layer):
    pool = staticmethod(nn.max_pool)

    def __init__(
        self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid", **kw: Any
    ):
        super().__init__(**kw)
        self.pool_size = _pair(pool_size, f"{type(self).__name__} pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = padding.upper()

    def call(self, inputs):
        return self.pool(
            inputs,
            ksize=[1, *self.pool_size, 1],
            strides=[1, *self.strides, 1],
            padding=self.padding,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding.lower(),
        }


class MaxPooling2D(_Pooling2D):
    """The largest value of each window (NHWC)."""

    pool = staticmethod(nn.max_pool)


class AveragePooling2D(_Pooling2D):
    """The mean of each window (NHWC)."""

    pool = staticmethod(nn.avg_pool)


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        dims = x.shape.as_list()[1:]
        if None in dims:
            raise GraphError(f"{self.name}: Flatten needs known non-batch dims, got {x.shape}")
        return reshape(x, [-1, math.prod(dims)])


class Reshape(Layer):
    """Reshape the non-batch dims to `target_shape` (one may be -1)."""

    def __init__(self, target_shape: Sequence[int], **kw: Any):
        super().__init__(**kw)
        self.target_shape = [int(d) for d in target_shape]

    def call(self, inputs):
        return reshape(inputs, [-1, *self.target_shape])

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Activation(Layer):
    """An activation as a layer."""

    def __init__(self, activation: Any, **kw: Any):
        super().__init__(**kw)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zero a fraction `rate` of the inputs while training, scaling the rest by
    1/(1-rate) (kl.nn.dropout: a new mask every step); identity otherwise."""

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kw: Any):
        super().__init__(**kw)
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        return nn.dropout(inputs, rate=self.rate, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class BatchNormalization(Layer):
    """Normalise over the batch while training (moving statistics updated with
    `momentum`), with the moving statistics otherwise."""

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale

    def build(self, input_shape):
        self.rank = len(input_shape)
        axis = self.axis % self.rank
        if axis != self.rank - 1:
            raise GraphError(f"{self.name}: BatchNormalization supports the last axis only")
        n = [input_shape[axis]]
        self.gamma = self.add_weight("gamma", n, "ones") if self.scale else None
        self.beta = self.add_weight("beta", n, "zeros") if self.center else None
        self.moving_mean = self.add_weight("moving_mean", n, "zeros", trainable=False)
        self.moving_variance = self.add_weight("moving_variance", n, "ones", trainable=False)

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        if training:
            mean, variance = nn.moments(x, axes=list(range(self.rank - 1)))
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class Embedding(Layer):
    """Rows of a (input_dim, output_dim) table looked up by integer ids."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "random_uniform",
        **kw: Any,
    ):
        super().__init__(**kw)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = embeddings_initializer

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings", [self.input_dim, self.output_dim], self.embeddings_initializer
        )

    def call(self, inputs):
        ids = convert_to_tensor(inputs)
        if not ids.dtype.is_integer:
            ids = cast(ids, int32)
        return array_ops.gather(self.embeddings, ids)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim}


class Softmax(Layer):
    """softmax over `axis` as a layer (tf.keras.layers.Softmax)."""

    def __init__(self, axis: int = -1, **kw: Any):
        super().__init__(**kw)
        self.axis = int(axis)

    def call(self, inputs):
        return nn.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


# Keras's short aliases (tf.keras.layers.MaxPool2D is MaxPooling2D)
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
__all__ += ["AvgPool2D", "MaxPool2D", "Softmax"]
