"""TensorFlow 2's namespace over kiln's (kiln.compat.v2 without switching to eager)."""

from __future__ import annotations

from typing import Any

import kiln as _kiln

from . import v1 as _v1

disable_v2_behavior = _v1.disable_v2_behavior
enable_v2_behavior = _v1.enable_v2_behavior


def __getattr__(name: str) -> Any:
    return getattr(_kiln, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_kiln)) | set(globals()))
