"""tensorflow.python.layers.utils: smart_cond and constant_value over kiln's cond."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...frontend.control_flow import cond
from ..framework.tensor_util import constant_value as _constant

__all__ = ["constant_value", "smart_cond"]


def constant_value(pred: Any) -> bool | None:
    """pred as a Python bool when the graph already says it (a bool or a constant), else None."""
    if isinstance(pred, bool):
        return pred
    value = _constant(pred)
    return None if value is None else bool(value)


def smart_cond(pred: Any, true_fn: Callable, false_fn: Callable, name: str | None = None):
    """true_fn() or false_fn() directly when pred is known now, else kl.cond."""
    known = constant_value(pred)
    if known is not None:
        return true_fn() if known else false_fn()
    return cond(pred, true_fn, false_fn, name=name)
