"""Layers that combine a list of inputs (keras.layers.Concatenate, Add,
Subtract, Multiply, Average, Maximum, Minimum, Dot) and their lowercase
functions (`concatenate([a, b])` is `Concatenate()([a, b])`)."""

from __future__ import annotations

from functools import reduce
from typing import Any

from ..frontend.graph import GraphError
from ..frontend.nn import l2_normalize
from ..frontend.ops import concat, convert_to_tensor, matmul, maximum, minimum, reduce_sum
from .engine import Layer


class _Merge(Layer):
    least = 2

    def combine(self, xs: list) -> Any:
        raise NotImplementedError

    def call(self, inputs):
        xs = [convert_to_tensor(x) for x in inputs] if isinstance(inputs, (list, tuple)) else None
        if xs is None or len(xs) < self.least:
            raise GraphError(
                f"{self.name}: {type(self).__name__} takes a list of at least {self.least} inputs"
            )
        return self.combine(xs)


class Concatenate(_Merge):
    """The inputs joined along `axis`."""

    least = 1

    def __init__(self, axis: int = -1, **kw: Any):
        super().__init__(**kw)
        self.axis = int(axis)

    def combine(self, xs):
        return concat(xs, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Add(_Merge):
    def combine(self, xs):
        return reduce(lambda a, b: a + b, xs)


class Subtract(_Merge):
    def combine(self, xs):
        if len(xs) != 2:
            raise GraphError(f"{self.name}: Subtract takes exactly 2 inputs, got {len(xs)}")
        return xs[0] - xs[1]


class Multiply(_Merge):
    def combine(self, xs):
        return reduce(lambda a, b: a * b, xs)


class Average(_Merge):
    def combine(self, xs):
        return reduce(lambda a, b: a + b, xs) * (1.0 / len(xs))


class Maximum(_Merge):
    def combine(self, xs):
        return reduce(maximum, xs)


class Minimum(_Merge):
    def combine(self, xs):
        return reduce(minimum, xs)


class Dot(_Merge):
    """The dot product of two (batch, n) inputs over `axes` (1 or -1), or a
    batched matmul of rank-3 inputs; `normalize` takes cosines."""

    def __init__(self, axes: Any, normalize: bool = False, **kw: Any):
        super().__init__(**kw)
        self.axes, self.normalize = axes, bool(normalize)

    def combine(self, xs):
        if len(xs) != 2:
            raise GraphError(f"{self.name}: Dot takes exactly 2 inputs, got {len(xs)}")
        a, b = xs
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        rank = a.shape.ndims
        axes = [ax % rank for ax in axes]
        if self.normalize:
            a, b = l2_normalize(a, axis=axes[0]), l2_normalize(b, axis=axes[1])
        if rank == 2:
            if axes != [1, 1]:
                raise GraphError(f"{self.name}: Dot of rank-2 inputs needs axes=1")
            return reduce_sum(a * b, axis=1, keepdims=True)
        if rank == 3:
            return matmul(a, b, transpose_a=axes[0] == 1, transpose_b=axes[1] == 2)
        raise GraphError(f"{self.name}: Dot takes rank-2 or rank-3 inputs, got rank {rank}")


def _functional(cls: type):
    def fn(inputs: Any, **kw: Any) -> Any:
        return cls(**kw)(inputs)

    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"{cls.__name__}(**kw)(inputs)"
    return fn


concatenate, add, subtract, multiply = (
    _functional(c) for c in (Concatenate, Add, Subtract, Multiply)
)
average = _functional(Average)


def dot(inputs: Any, axes: Any, normalize: bool = False, **kw: Any) -> Any:
    return Dot(axes, normalize, **kw)(inputs)


__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "multiply",
    "subtract",
]
