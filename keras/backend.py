"""keras.backend: the few helpers TF 2 tutorials call (floatx, epsilon,
clear_session, get_value / set_value, image_data_format) and the tensor
functions they reach through `K.` (mean, sum, square, exp, ...), which are kl's own."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..frontend import nn
from ..frontend.array_ops import shape
from ..frontend.graph import GraphError
from ..frontend.namespaces import random_normal as _random_normal
from ..frontend.ops import (
    abs,  # noqa: A004
    cast,
    concat,
    exp,
    expand_dims,
    log,
    maximum,
    minimum,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_sum,
    reshape,
    sqrt,
    square,
    squeeze,
    transpose,
)
from .engine import _names

_FLOATX = ["float32"]
_EPSILON = [1e-7]


def floatx() -> str:
    return _FLOATX[0]


def set_floatx(value: str) -> None:
    if value not in ("float16", "float32", "float64"):
        raise GraphError(f"set_floatx: {value!r} (float16, float32 or float64)")
    _FLOATX[0] = value


def epsilon() -> float:
    return _EPSILON[0]


def set_epsilon(value: float) -> None:
    _EPSILON[0] = float(value)


def image_data_format() -> str:
    return "channels_last"


def clear_session() -> None:
    """Reset layer-name numbering (kiln's eager variables need no freeing)."""
    _names.clear()


def get_value(x: Any) -> Any:
    """The value of a variable or tensor as numpy (a Python number stays one)."""
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def set_value(x: Any, value: Any) -> None:
    """Assign to a variable (K.set_value(model.optimizer.lr, 0.001))."""
    if not hasattr(x, "assign"):
        raise GraphError(f"set_value: {x!r} is not a variable")
    x.assign(np.asarray(value, dtype=np.asarray(x).dtype))


def random_normal(
    shape_: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed=None
):
    """Normal samples of a (possibly run-time) shape (K.random_normal)."""
    return _random_normal(shape_, mean, stddev, dtype=dtype or floatx(), seed=seed)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return reduce_mean(x, axis=axis, keepdims=keepdims)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return reduce_sum(x, axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return reduce_max(x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return reduce_min(x, axis=axis, keepdims=keepdims)


def int_shape(x: Any) -> tuple:
    return tuple(x.shape.as_list()) if hasattr(x.shape, "as_list") else tuple(x.shape)


def concatenate(tensors: Any, axis: int = -1) -> Any:
    return concat(list(tensors), axis)


sigmoid, relu, softmax, tanh = nn.sigmoid, nn.relu, nn.softmax, nn.tanh

__all__ = [
    "abs",
    "cast",
    "clear_session",
    "concatenate",
    "epsilon",
    "exp",
    "expand_dims",
    "floatx",
    "get_value",
    "image_data_format",
    "int_shape",
    "log",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "random_normal",
    "relu",
    "reshape",
    "set_epsilon",
    "set_floatx",
    "set_value",
    "shape",
    "sigmoid",
    "softmax",
    "sqrt",
    "square",
    "squeeze",
    "sum",
    "tanh",
    "transpose",
]
