"""Activations by name (keras.activations.get)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..frontend import nn
from ..frontend.graph import GraphError
from ..frontend.ops import clip_by_value, exp


def linear(x: Any) -> Any:
    return x


def softmax(x: Any, axis: int = -1) -> Any:
    return nn.softmax(x, axis=axis)


def swish(x: Any) -> Any:
    """x * sigmoid(x) (also "silu")."""
    return x * nn.sigmoid(x)


def hard_sigmoid(x: Any) -> Any:
    """clip(0.2 x + 0.5, 0, 1) (Keras 2's piecewise-linear sigmoid)."""
    return clip_by_value(x * 0.2 + 0.5, 0.0, 1.0)


def exponential(x: Any) -> Any:
    return exp(x)


relu, elu, selu, sigmoid, tanh = nn.relu, nn.elu, nn.selu, nn.sigmoid, nn.tanh
softplus, gelu, relu6 = nn.softplus, nn.gelu, nn.relu6


_BY_NAME: dict[str, Callable] = {
    "linear": linear,
    "relu": nn.relu,
    "elu": nn.elu,
    "selu": nn.selu,
    "sigmoid": nn.sigmoid,
    "tanh": nn.tanh,
    "softmax": softmax,
    "softplus": nn.softplus,
    "relu6": nn.relu6,
    "gelu": nn.gelu,
    "leaky_relu": nn.leaky_relu,
    "log_softmax": nn.log_softmax,
    "swish": swish,
    "silu": swish,
    "hard_sigmoid": hard_sigmoid,
    "exponential": exponential,
}


def get(identifier: Any) -> Callable:
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise GraphError(f"unknown activation {identifier!r} (one of {', '.join(_BY_NAME)})")


def serialize(fn: Callable) -> str:
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    raise GraphError(f"activation {fn!r} has no name: models using it cannot be saved")
