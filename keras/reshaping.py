"""Layers that move values without weights (keras.layers): Flatten, Reshape,
Permute, RepeatVector, UpSampling1D/2D (nearest), ZeroPadding1D/2D and
Cropping1D/2D, channels-last."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..frontend.array_ops import tile
from ..frontend.graph import GraphError
from ..frontend.ops import concat, convert_to_tensor, expand_dims, reshape, transpose, zeros_like
from .conv import _channels_last, as_tuple
from .engine import Layer


def _known(x: Any, name: str, what: str) -> list[int]:
    dims = x.shape.as_list()[1:]
    if None in dims:
        raise GraphError(f"{name}: {what} needs known non-batch dims, got {x.shape}")
    return dims


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def __init__(self, data_format: Any = None, **kw: Any):
        super().__init__(**kw)
        _channels_last(data_format, self.name)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        return reshape(x, [-1, math.prod(_known(x, self.name, "Flatten"))])


class Reshape(Layer):
    """Reshape the non-batch dims to `target_shape` (one may be -1)."""

    def __init__(self, target_shape: Sequence[int], **kw: Any):
        super().__init__(**kw)
        self.target_shape = [int(d) for d in target_shape]

    def call(self, inputs):
        return reshape(inputs, [-1, *self.target_shape])

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permute the non-batch dims: `dims` numbers them from 1."""

    def __init__(self, dims: Sequence[int], **kw: Any):
        super().__init__(**kw)
        self.dims = [int(d) for d in dims]
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise GraphError(f"Permute: dims must be a permutation of 1..n, got {dims!r}")

    def call(self, inputs):
        return transpose(inputs, [0, *self.dims])

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kw: Any):
        super().__init__(**kw)
        self.n = int(n)

    def call(self, inputs):
        return tile(expand_dims(convert_to_tensor(inputs), 1), [1, self.n, 1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


def _repeat(x: Any, axis: int, times: int) -> Any:
    """Each entry along `axis` repeated `times` times in place (nearest upsampling)."""
    dims = x.shape.as_list()
    y = tile(expand_dims(x, axis + 1), [1] * (axis + 1) + [times] + [1] * (len(dims) - axis - 1))
    return reshape(y, [-1, *dims[1:axis], dims[axis] * times, *dims[axis + 1 :]])


class UpSampling2D(Layer):
    """Each pixel repeated size[0] x size[1] times (nearest neighbour)."""

    rank = 2

    def __init__(
        self, size: Any = 2, data_format: Any = None, interpolation: str = "nearest", **kw: Any
    ):
        super().__init__(**kw)
        _channels_last(data_format, self.name)
        if interpolation != "nearest":
            raise GraphError(f"{self.name}: only interpolation='nearest' is supported")
        self.size = as_tuple(size, self.rank, f"{type(self).__name__} size")

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        _known(x, self.name, type(self).__name__)
        for axis, times in enumerate(self.size, 1):
            if times != 1:
                x = _repeat(x, axis, times)
        return x

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling1D(UpSampling2D):
    """Each step repeated `size` times."""

    rank = 1


def _pairs(value: Any, rank: int, what: str) -> list[list[int]]:
    """Keras's padding/cropping argument: n, (a, b) per axis, or ((a, b), ...)."""
    if isinstance(value, int):
        return [[value, value]] * rank
    value = list(value)
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [[int(value[0]), int(value[1])]]
    if len(value) != rank:
        raise GraphError(f"{what}: needs {rank} entries, got {value!r}")
    return [[int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])] for v in value]


class ZeroPadding2D(Layer):
    """Zeros added around the spatial dims (top/bottom, left/right)."""

    rank = 2

    def __init__(self, padding: Any = 1, data_format: Any = None, **kw: Any):
        super().__init__(**kw)
        _channels_last(data_format, self.name)
        self.padding = _pairs(padding, self.rank, type(self).__name__)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        _known(x, self.name, type(self).__name__)
        for axis, (before, after) in enumerate(self.padding, 1):
            edge = zeros_like(x[(slice(None),) * axis + (slice(0, 1),)])
            parts = []
            if before:
                parts.append(tile(edge, [1] * axis + [before] + [1] * (x.shape.ndims - axis - 1)))
            parts.append(x)
            if after:
                parts.append(tile(edge, [1] * axis + [after] + [1] * (x.shape.ndims - axis - 1)))
            x = concat(parts, axis) if len(parts) > 1 else x
        return x

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


class ZeroPadding1D(ZeroPadding2D):
    """Zeros added before and after the steps."""

    rank = 1


class Cropping2D(Layer):
    """Rows and columns cut from the spatial dims' ends."""

    rank = 2

    def __init__(self, cropping: Any = 0, data_format: Any = None, **kw: Any):
        super().__init__(**kw)
        _channels_last(data_format, self.name)
        self.cropping = _pairs(cropping, self.rank, type(self).__name__)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        dims = _known(x, self.name, type(self).__name__)
        index: list[slice] = [slice(None)]
        for axis, (before, after) in enumerate(self.cropping):
            if before + after >= dims[axis]:
                raise GraphError(
                    f"{self.name}: cropping {before}+{after} leaves nothing of {dims[axis]}"
                )
            index.append(slice(before, dims[axis] - after))
        return x[tuple(index)]

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping1D(Cropping2D):
    """Steps cut from both ends."""

    rank = 1


__all__ = [
    "Cropping1D",
    "Cropping2D",
    "Flatten",
    "Permute",
    "RepeatVector",
    "Reshape",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
]
