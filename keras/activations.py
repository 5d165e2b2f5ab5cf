"""Activations by name (keras.activations.get)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..frontend import nn
from ..frontend.graph import GraphError


def linear(x: Any) -> Any:
    return x


def softmax(x: Any) -> Any:
    return nn.softmax(x, axis=-1)


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
