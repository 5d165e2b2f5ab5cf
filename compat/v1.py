"""`import kiln.compat.v1 as tf`: TensorFlow 1.15's API (tf.compat.v1).

A view of kiln's namespace: every name is kiln's own (`tf.placeholder is
kiln.placeholder`). Graph mode is the default, as in TF 1.15.
"""

from __future__ import annotations

from typing import Any

import kiln as _kiln

# The TensorFlow release whose API this module is: programs branch on it
# (`int(tf.__version__.split('.')[1]) < 12`); kiln's own is kiln.__version__.
__version__ = VERSION = "1.15.0"


def disable_v2_behavior() -> None:
    """tf.compat.v1.disable_v2_behavior: back to TF 1.x graph mode."""
    _kiln.disable_eager_execution()


def enable_v2_behavior() -> None:
    """tf.compat.v1.enable_v2_behavior: eager execution, as TF 2."""
    _kiln.enable_eager_execution()


disable_eager_execution = _kiln.disable_eager_execution
enable_eager_execution = _kiln.enable_eager_execution


def disable_resource_variables() -> None:
    """Accepted (kiln's variables behave the same either way)."""


def enable_resource_variables() -> None:
    """Accepted (kiln's variables behave the same either way)."""


def disable_control_flow_v2() -> None:
    """Accepted."""


def disable_tensor_equality() -> None:
    """Accepted."""


def __getattr__(name: str) -> Any:
    return getattr(_kiln, name)  # kiln's own __getattr__ names what it lacks


def __dir__() -> list[str]:
    return sorted(set(dir(_kiln)) | set(globals()))
