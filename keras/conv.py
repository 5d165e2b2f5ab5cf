"""Convolution layers (keras.layers.Conv1D, Conv2D, Conv3D, Conv2DTranspose,
DepthwiseConv2D, SeparableConv2D), channels-last, written with kl.nn ops:
a 1-D convolution is the 2-D one over a height of 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..frontend import nn
from ..frontend.conv3d import conv3d
from ..frontend.graph import GraphError
from ..frontend.ops import convert_to_tensor, expand_dims, reshape, squeeze
from . import activations
from .engine import Layer


def as_tuple(value: Any, n: int, what: str) -> list[int]:
    """One int or n of them (Keras's kernel_size / strides / pool_size)."""
    v = [int(value)] * n if isinstance(value, int) else [int(x) for x in value]
    if len(v) != n:
        raise GraphError(f"{what} needs one int or {n}, got {value!r}")
    return v


def _padding(padding: str, name: str) -> str:
    p = str(padding).upper()
    if p not in ("VALID", "SAME"):
        raise GraphError(f"{name}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def _channels_last(data_format: Any, name: str) -> None:
    if data_format not in (None, "channels_last"):
        raise GraphError(f"{name}: only data_format='channels_last' is supported")


class _Conv(Layer):
    """The shared settings: filters, kernel_size, strides, padding, dilation,
    activation, initializers and regularizers of kernel and bias."""

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: Any = 1,
        padding: str = "valid",
        data_format: Any = None,
        dilation_rate: Any = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        kind = type(self).__name__
        _channels_last(data_format, self.name)
        self.filters = int(filters)
        self.kernel_size = as_tuple(kernel_size, self.rank, f"{kind} kernel_size")
        self.strides = as_tuple(strides, self.rank, f"{kind} strides")
        self.dilation_rate = as_tuple(dilation_rate, self.rank, f"{kind} dilation_rate")
        self.padding = _padding(padding, self.name)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def _check_input(self, input_shape: Any) -> int:
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise GraphError(
                f"{self.name}: {type(self).__name__} takes inputs of rank {self.rank + 2} "
                f"(batch, ..., channels) with known channels, got shape {list(input_shape)}"
            )
        return int(input_shape[-1])

    def _kernel_shape(self, channels: int) -> list[int]:
        return [*self.kernel_size, channels, self.filters]

    def build(self, input_shape):
        channels = self._check_input(input_shape)
        self.kernel = self.add_weight(
            "kernel",
            self._kernel_shape(channels),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = (
            self.add_weight(
                "bias", [self.filters], self.bias_initializer, regularizer=self.bias_regularizer
            )
            if self.use_bias
            else None
        )

    def _convolve(self, conv: Any, inputs: Any) -> Any:
        """`conv` (kl.nn.conv2d or conv3d) with the layer's settings, then bias and activation."""
        y = conv(
            inputs,
            self.kernel,
            strides=[1, *self.strides, 1],
            padding=self.padding,
            dilations=[1, *self.dilation_rate, 1],
        )
        return self._finish(y)

    def _finish(self, y: Any) -> Any:
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
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "activation": activations.serialize(self.activation),
        }


class Conv2D(_Conv):
    """2-D convolution over NHWC inputs with HWIO kernels."""

    def call(self, inputs):
        return self._convolve(nn.conv2d, inputs)


class Conv3D(_Conv):
    """3-D convolution over NDHWC inputs with DHWIO kernels (kl.nn.conv3d)."""

    rank = 3

    def call(self, inputs):
        return self._convolve(conv3d, inputs)


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); kernel (size, in, filters)."""

    rank = 1

    def call(self, inputs):
        x = expand_dims(convert_to_tensor(inputs), 1)
        k = reshape(self.kernel, [1, *self.kernel.shape.as_list()])
        y = nn.conv2d(
            x,
            k,
            strides=[1, 1, self.strides[0], 1],
            padding=self.padding,
            dilations=[1, 1, self.dilation_rate[0], 1],
        )
        return self._finish(squeeze(y, [1]))


def transposed_size(size: int, kernel: int, stride: int, padding: str, dilation: int) -> int:
    """The output length of a transposed convolution (Keras's deconv_output_length)."""
    k = (kernel - 1) * dilation + 1
    return size * stride if padding == "SAME" else size * stride + max(k - stride, 0)


class Conv2DTranspose(_Conv):
    """The transpose of Conv2D (keras Conv2DTranspose): kernel
    (kh, kw, filters, in_channels); 'same' multiplies the size by the stride."""

    def _kernel_shape(self, channels):
        return [*self.kernel_size, self.filters, channels]

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        dims = x.shape.as_list()
        if dims[1] is None or dims[2] is None:
            raise GraphError(f"{self.name}: Conv2DTranspose needs known height and width")
        size = [
            transposed_size(dims[i + 1], self.kernel_size[i], self.strides[i], self.padding, 1)
            for i in range(2)
        ]
        if self.dilation_rate != [1, 1]:
            raise GraphError(f"{self.name}: Conv2DTranspose supports dilation_rate 1 only")
        y = nn.conv2d_transpose(
            x,
            self.kernel,
            output_shape=[-1, *size, self.filters],
            strides=[1, *self.strides, 1],
            padding=self.padding,
        )
        return self._finish(y)


class DepthwiseConv2D(_Conv):
    """Each input channel convolved with its own `depth_multiplier` kernels."""

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        depthwise_initializer: Any = "glorot_uniform",
        depthwise_regularizer: Any = None,
        **kw: Any,
    ):
        kw.setdefault("kernel_initializer", depthwise_initializer)
        kw.setdefault("kernel_regularizer", depthwise_regularizer)
        super().__init__(0, kernel_size, strides, padding, **kw)
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape):
        self.filters = self._check_input(input_shape) * self.depth_multiplier
        super().build(input_shape)

    def _kernel_shape(self, channels):
        return [*self.kernel_size, channels, self.depth_multiplier]

    def call(self, inputs):
        y = nn.depthwise_conv2d(
            inputs,
            self.kernel,
            strides=[1, *self.strides, 1],
            padding=self.padding,
            dilations=self.dilation_rate,
        )
        return self._finish(y)


class SeparableConv2D(_Conv):
    """A depthwise convolution then a 1x1 one to `filters` channels."""

    def __init__(self, filters: int, kernel_size: Any, depth_multiplier: int = 1, **kw: Any):
        super().__init__(filters, kernel_size, **kw)
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape):
        channels = self._check_input(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            [*self.kernel_size, channels, self.depth_multiplier],
            self.kernel_initializer,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            [1, 1, channels * self.depth_multiplier, self.filters],
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = (
            self.add_weight("bias", [self.filters], self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs):
        y = nn.depthwise_conv2d(
            inputs,
            self.depthwise_kernel,
            strides=[1, *self.strides, 1],
            padding=self.padding,
            dilations=self.dilation_rate,
        )
        return self._finish(nn.conv2d(y, self.pointwise_kernel, strides=1, padding="VALID"))


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose = Conv2DTranspose

__all__ = [
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Convolution1D",
    "Convolution2D",
    "Convolution3D",
    "Convolution2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
]
