"""tensorflow.python.ops.math_ops: kiln's ops of that name, as `tf.*` has them (every kl name
resolves here, e.g. math_ops.shape, math_ops.floor, math_ops.random_uniform)."""

from __future__ import annotations

from typing import Any

import kiln as _kiln


def __getattr__(name: str) -> Any:
    return getattr(_kiln, name)
