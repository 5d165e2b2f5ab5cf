"""Keras layers written with kl ops (keras.layers): Dense, Dropout,
BatchNormalization, Activation, Embedding, Softmax here; convolutions in
conv.py, pooling in pooling.py, reshaping in reshaping.py, merging in merge.py,
the small ones in core.py, recurrent ones in recurrent.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ..frontend import array_ops, nn
from ..frontend.dtypes import int32
from ..frontend.graph import GraphError
from ..frontend.ops import cast, convert_to_tensor, matmul, not_equal, reshape
from . import activations
from .conv import *  # noqa: F403
from .conv import __all__ as _conv
from .core import *  # noqa: F403
from .core import __all__ as _core
from .dense_features import DenseFeatures
from .engine import Input, InputLayer, Layer
from .merge import *  # noqa: F403
from .merge import __all__ as _merge
from .pooling import *  # noqa: F403
from .pooling import __all__ as _pooling
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from .reshaping import *  # noqa: F403
from .reshaping import __all__ as _reshaping
from .text_vectorization import TextVectorization

__all__ = [
    "Activation",
    "BatchNormalization",
    "Bidirectional",
    "Dense",
    "DenseFeatures",
    "Dropout",
    "Embedding",
    "GRU",
    "Input",
    "InputLayer",
    "LSTM",
    "Layer",
    "SimpleRNN",
    "Softmax",
    "TextVectorization",
    *_conv,
    *_core,
    *_merge,
    *_pooling,
    *_reshaping,
]


class Dense(Layer):
    """activation(inputs @ kernel + bias) over the last axis."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise GraphError(f"{self.name}: the last input dim must be known")
        self.kernel = self.add_weight(
            "kernel",
            [input_shape[-1], self.units],
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = (
            self.add_weight(
                "bias", [self.units], self.bias_initializer, regularizer=self.bias_regularizer
            )
            if self.use_bias
            else None
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
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kw: Any,
    ):
        super().__init__(**kw)
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer

    def build(self, input_shape):
        self.rank = len(input_shape)
        axis = self.axis % self.rank
        if axis != self.rank - 1:
            raise GraphError(f"{self.name}: BatchNormalization supports the last axis only")
        n = [input_shape[axis]]
        self.gamma = self.add_weight("gamma", n, self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight("beta", n, self.beta_initializer) if self.center else None
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
        embeddings_regularizer: Any = None,
        mask_zero: bool = False,
        input_length: int | None = None,
        **kw: Any,
    ):
        if input_length is not None and "input_shape" not in kw:
            kw["input_shape"] = [input_length]
        super().__init__(**kw)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.mask_zero = bool(mask_zero)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """[batch, time] bool, False at id 0 when mask_zero (else None)."""
        if not self.mask_zero:
            return None
        return not_equal(convert_to_tensor(inputs), 0)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings",
            [self.input_dim, self.output_dim],
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
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


# TF 2.3-2.5's home of the preprocessing layers (tf.keras.layers.experimental.preprocessing)
experimental = SimpleNamespace(
    preprocessing=SimpleNamespace(Normalization=Normalization, Rescaling=Rescaling)  # noqa: F405
)
