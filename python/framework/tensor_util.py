"""tensorflow.python.framework.tensor_util: what is known of a tensor when the graph is built."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...frontend.graph import Tensor

__all__ = ["constant_value", "is_tensor"]


def constant_value(tensor: Any) -> np.ndarray | None:
    """The value of a constant (or of a Python value), else None: TF's constant folding
    of what the graph says when it is built."""
    if not isinstance(tensor, Tensor):
        return np.asarray(tensor)
    op = tensor.op
    if op.type == "Const" and "value" in op.attrs:
        return np.asarray(op.attrs["value"])
    if op.type == "Identity" and op.inputs:
        return constant_value(op.inputs[0])
    return None


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)
