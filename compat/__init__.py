"""tf.compat: `import kiln.compat.v1 as tf` and `import kiln.compat.v2 as tf`.

The rule (docs/tensorflow.md): `import kiln as tf` and `kiln.compat.v1`
behave as TensorFlow 1.15, building graphs by default (with
tf.enable_eager_execution() and tf.compat.v1.disable_v2_behavior()
accepted); importing `kiln.compat.v2` behaves as TensorFlow 2: it makes
eager execution the process default, as TF 2 starts, and its names are
kiln's (tf.function, tf.keras, tf.random, tf.GradientTape, ...). Both
namespaces are views of the one kiln namespace, so a tensor, a dtype or a
variable is the same object whichever path made it. `tf.compat.v2` read
as an attribute (from a TF 1.x program) does not switch to eager; only
importing kiln.compat.v2 does.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ..frontend.graph import dimension_value
from . import v1


def __getattr__(name: str) -> Any:
    if name == "v2":
        if "kiln.compat.v2" in sys.modules:
            return sys.modules["kiln.compat.v2"]
        return importlib.import_module("kiln.compat._v2")
    raise AttributeError(f"kiln.compat has no attribute {name!r}")


def as_bytes(text: Any, encoding: str = "utf-8") -> bytes:
    """tf.compat.as_bytes."""
    return text if isinstance(text, bytes) else str(text).encode(encoding)


def as_text(text: Any, encoding: str = "utf-8") -> str:
    """tf.compat.as_text / as_str."""
    return text.decode(encoding) if isinstance(text, bytes) else str(text)


as_str = as_str_any = as_text

__all__ = ["as_bytes", "as_str", "as_str_any", "as_text", "dimension_value", "v1"]
