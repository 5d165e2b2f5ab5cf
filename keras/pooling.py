"""Pooling layers (keras.layers.MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the
global poolings), channels-last; the 1-D ones are 2-D over a height of 1, the
3-D ones are frontend/conv3d.py's 2-D pools per depth tap."""

from __future__ import annotations

from typing import Any

from ..frontend import nn
from ..frontend.conv3d import avg_pool3d, max_pool3d
from ..frontend.ops import (
    cast,
    convert_to_tensor,
    expand_dims,
    maximum,
    reduce_max,
    reduce_mean,
    reduce_sum,
    squeeze,
)
from .conv import _channels_last, _padding, as_tuple
from .engine import Layer


class _Pooling(Layer):
    rank = 2
    pool = staticmethod(nn.max_pool)

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: Any = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        kind = type(self).__name__
        _channels_last(data_format, self.name)
        self.pool_size = as_tuple(pool_size, self.rank, f"{kind} pool_size")
        self.strides = (
            as_tuple(strides, self.rank, f"{kind} strides")
            if strides is not None
            else self.pool_size
        )
        self.padding = _padding(padding, self.name)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        if self.rank == 1:
            x = expand_dims(x, 1)
        y = self.pool(
            x,
            ksize=[1, *([1] if self.rank == 1 else []), *self.pool_size, 1],
            strides=[1, *([1] if self.rank == 1 else []), *self.strides, 1],
            padding=self.padding,
        )
        return squeeze(y, [1]) if self.rank == 1 else y

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding.lower(),
        }


class MaxPooling2D(_Pooling):
    """The largest value of each window (NHWC)."""


class AveragePooling2D(_Pooling):
    """The mean of each window (NHWC)."""

    pool = staticmethod(nn.avg_pool)


class MaxPooling1D(_Pooling):
    """The largest value of each window of steps (batch, steps, channels)."""

    rank = 1


class AveragePooling1D(_Pooling):
    """The mean of each window of steps."""

    rank = 1
    pool = staticmethod(nn.avg_pool)


class MaxPooling3D(_Pooling):
    """The largest value of each window (NDHWC; kl.nn.max_pool3d)."""

    rank = 3
    pool = staticmethod(max_pool3d)


class AveragePooling3D(_Pooling):
    """The mean of each window (NDHWC; kl.nn.avg_pool3d)."""

    rank = 3
    pool = staticmethod(avg_pool3d)


class _Global(Layer):
    reduce = staticmethod(reduce_mean)
    rank = 2

    def __init__(self, data_format: Any = None, keepdims: bool = False, **kw: Any):
        super().__init__(**kw)
        _channels_last(data_format, self.name)
        self.keepdims = bool(keepdims)

    def call(self, inputs):
        axes = list(range(1, self.rank + 1))
        return self.reduce(convert_to_tensor(inputs), axis=axes, keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalAveragePooling2D(_Global):
    """The mean over height and width: (batch, channels)."""


class GlobalMaxPooling2D(_Global):
    """The largest value over height and width."""

    reduce = staticmethod(reduce_max)


class GlobalAveragePooling1D(_Global):
    """The mean over the steps: (batch, channels); with a [batch, time] mask
    the mean of the unmasked steps, as Keras."""

    rank = 1

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        x = convert_to_tensor(inputs)
        w = expand_dims(cast(mask, x.dtype), -1)
        total = reduce_sum(x * w, axis=[1], keepdims=self.keepdims)
        return total / maximum(reduce_sum(w, axis=[1], keepdims=self.keepdims), 1e-30)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalMaxPooling1D(_Global):
    """The largest value over the steps."""

    rank = 1
    reduce = staticmethod(reduce_max)


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D

__all__ = [
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
]
