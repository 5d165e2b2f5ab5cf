"""More weightless and small layers (keras.layers): the activation layers
(ReLU, LeakyReLU, ELU, PReLU), Lambda, Masking, the noise layers
(GaussianNoise, GaussianDropout, SpatialDropout1D/2D), LayerNormalization,
TimeDistributed and ActivityRegularization."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..frontend import nn
from ..frontend.array_ops import shape as tensor_shape
from ..frontend.graph import GraphError
from ..frontend.namespaces import random_normal
from ..frontend.ops import (
    cast,
    convert_to_tensor,
    greater,
    maximum,
    minimum,
    not_equal,
    ones,
    reduce_max,
    reshape,
    sqrt,
    where,
)
from .engine import Layer
from .regularizers import L1L2


class ReLU(Layer):
    """max(x, 0) capped at `max_value`, with `negative_slope` below `threshold`."""

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        if self.negative_slope == 0.0 and self.threshold == 0.0:
            y = nn.relu(x)
        else:
            below = (x - self.threshold) * self.negative_slope
            y = where(greater(x, self.threshold), x, below)
        return minimum(y, self.max_value) if self.max_value is not None else y

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """x for x > 0, alpha * x otherwise (Keras's default alpha is 0.3)."""

    def __init__(self, alpha: float = 0.3, negative_slope: float | None = None, **kw: Any):
        super().__init__(**kw)
        self.alpha = float(alpha if negative_slope is None else negative_slope)

    def call(self, inputs):
        return nn.leaky_relu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, **kw: Any):
        super().__init__(**kw)
        self.alpha = float(alpha)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        y = nn.elu(x)
        return y if self.alpha == 1.0 else where(greater(x, 0.0), y, y * self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """LeakyReLU with a learned slope per element (shared over `shared_axes`)."""

    def __init__(self, alpha_initializer: Any = "zeros", shared_axes: Any = None, **kw: Any):
        super().__init__(**kw)
        self.alpha_initializer = alpha_initializer
        self.shared_axes = [shared_axes] if isinstance(shared_axes, int) else shared_axes

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            shape[axis - 1] = 1
        self.alpha = self.add_weight("alpha", shape, self.alpha_initializer)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        return maximum(x, 0.0) + self.alpha * minimum(x, 0.0)


class Lambda(Layer):
    """Any function of the inputs as a layer: `function(inputs, **arguments)`."""

    def __init__(
        self,
        function: Callable,
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict | None = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.function, self.arguments = function, dict(arguments or {})

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        raise GraphError(f"{self.name}: a Lambda layer's function is code; it cannot be saved")


class Masking(Layer):
    """Zeroes the time steps whose features all equal `mask_value` (Keras
    passes the mask on to later layers; here the masked steps are zero, which
    is what a later Dense or pooling sees, and a recurrent layer given
    `mask=` freezes its state there)."""

    def __init__(self, mask_value: float = 0.0, **kw: Any):
        super().__init__(**kw)
        self.mask_value = float(mask_value)

    def _keep(self, x: Any, keepdims: bool) -> Any:
        differs = cast(not_equal(x, self.mask_value), x.dtype)
        return reduce_max(differs, axis=-1, keepdims=keepdims)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """[batch, time] bool: True where a step has a feature != mask_value."""
        return greater(self._keep(convert_to_tensor(inputs), False), 0.0)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        return x * self._keep(x, True)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class GaussianNoise(Layer):
    """x + Normal(0, stddev) noise while training; the identity otherwise."""

    def __init__(self, stddev: float, seed: int | None = None, **kw: Any):
        super().__init__(**kw)
        self.stddev, self.seed = float(stddev), seed

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        if not training or self.stddev == 0.0:
            return x
        return x + random_normal(tensor_shape(x), stddev=self.stddev, dtype=x.dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(Layer):
    """x * Normal(1, sqrt(rate / (1 - rate))) while training."""

    def __init__(self, rate: float, seed: int | None = None, **kw: Any):
        super().__init__(**kw)
        self.rate, self.seed = float(rate), seed

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        if not training or self.rate == 0.0:
            return x
        sd = math.sqrt(self.rate / (1.0 - self.rate))
        return x * random_normal(tensor_shape(x), 1.0, sd, dtype=x.dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class SpatialDropout2D(Layer):
    """Dropout of whole channels (one draw per example and channel) while training."""

    rank = 2

    def __init__(self, rate: float, data_format: Any = None, **kw: Any):
        super().__init__(**kw)
        self.rate = float(rate)

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        if not training or self.rate == 0.0:
            return x
        dims = x.shape.as_list()
        if dims[0] is None or dims[-1] is None:
            raise GraphError(f"{self.name}: needs known batch and channels while training")
        keep = nn.dropout(ones([dims[0], *[1] * self.rank, dims[-1]], x.dtype), rate=self.rate)
        return x * keep

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class SpatialDropout1D(SpatialDropout2D):
    """Dropout of whole feature maps of (batch, steps, channels)."""

    rank = 1


class LayerNormalization(Layer):
    """Normalise each example over `axis` (default the last), then gamma, beta."""

    def __init__(
        self,
        axis: Any = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.axis = [axis] if isinstance(axis, int) else list(axis)
        self.epsilon, self.center, self.scale = float(epsilon), center, scale

    def build(self, input_shape):
        rank = len(input_shape)
        self.axes = sorted(a % rank for a in self.axis)
        shape = [input_shape[a] for a in self.axes]
        if None in shape:
            raise GraphError(f"{self.name}: the normalised dims must be known, got {input_shape}")
        param = [input_shape[a] if a in self.axes else 1 for a in range(rank)][1:]
        self.gamma = self.add_weight("gamma", param, "ones") if self.scale else None
        self.beta = self.add_weight("beta", param, "zeros") if self.center else None

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        mean, variance = nn.moments(x, axes=self.axes, keepdims=True)
        return nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class TimeDistributed(Layer):
    """`layer` applied to every time step: (batch, time, ...) folded into the batch."""

    def __init__(self, layer: Layer, **kw: Any):
        super().__init__(**kw)
        self.layer = layer

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        dims = x.shape.as_list()
        if len(dims) < 3 or dims[1] is None:
            raise GraphError(f"{self.name}: needs (batch, time, ...) with known time, got {dims}")
        y = self.layer(reshape(x, [-1, *dims[2:]]), training=training)
        return reshape(y, [-1, dims[1], *y.shape.as_list()[1:]])


class Normalization(Layer):
    """(x - mean) / max(sqrt(variance), 1e-7) per feature of `axis`, the
    statistics given or learned by `adapt(data)` (keras.layers.Normalization)."""

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None, **kw: Any):
        super().__init__(**kw)
        self.axis = axis
        self._given = None if mean is None else (np.asarray(mean), np.asarray(variance))

    def _feature_shape(self, shape: list) -> list[int]:
        axis = self.axis % len(shape)
        return [1 if i != axis else int(d) for i, d in enumerate(shape)]  # as Keras: [1, d]

    def adapt(self, data: Any, batch_size: Any = None, steps: Any = None) -> None:
        """Learn the mean and variance of `data` (an array) over all but `axis`."""
        values = np.asarray(data.numpy() if hasattr(data, "numpy") else data, np.float64)
        if values.ndim == 1:
            values = values[:, None]
        axes = tuple(i for i in range(values.ndim) if i != self.axis % values.ndim)
        mean = values.mean(axis=axes, keepdims=True)
        variance = values.var(axis=axes, keepdims=True)
        if not self.built:
            self.build([None, *values.shape[1:]])
            self.built = True
        self.mean.assign(mean.astype(np.float32))
        self.variance.assign(variance.astype(np.float32))

    def build(self, input_shape):
        shape = self._feature_shape(list(input_shape))
        self.mean = self.add_weight("mean", shape, "zeros", trainable=False)
        self.variance = self.add_weight("variance", shape, "ones", trainable=False)
        if self._given is not None:
            self.mean.assign(np.broadcast_to(self._given[0], shape).astype(np.float32))
            self.variance.assign(np.broadcast_to(self._given[1], shape).astype(np.float32))

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        return (x - self.mean) / maximum(sqrt(self.variance), 1e-7)


class Rescaling(Layer):
    """x * scale + offset (keras.layers.Rescaling, e.g. 1/255 for images)."""

    def __init__(self, scale: float, offset: float = 0.0, **kw: Any):
        super().__init__(**kw)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, inputs):
        return convert_to_tensor(inputs) * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class ActivityRegularization(Layer):
    """The identity, adding l1 * sum|x| + l2 * sum x^2 (over the batch size) to losses."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kw: Any):
        super().__init__(activity_regularizer=L1L2(l1, l2), **kw)

    def call(self, inputs):
        return inputs


__all__ = [
    "ELU",
    "ActivityRegularization",
    "Normalization",
    "Rescaling",
    "GaussianDropout",
    "GaussianNoise",
    "LayerNormalization",
    "Lambda",
    "LeakyReLU",
    "Masking",
    "PReLU",
    "ReLU",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "TimeDistributed",
]
