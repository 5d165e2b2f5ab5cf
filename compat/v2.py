"""`import kiln.compat.v2 as tf`: TensorFlow 2's API, eager by default.

Importing this module makes eager execution the process default (as a TF 2
process starts); `tf.compat.v1.disable_eager_execution()` (or
`disable_v2_behavior()`) goes back to graphs. Names are kiln's own:
tf.function, tf.GradientTape, tf.keras, tf.random, tf.data, ...
"""

from __future__ import annotations

from typing import Any

import kiln as _kiln

from ._v2 import (
    disable_v2_behavior,
    enable_v2_behavior,
    initializers,
    losses,
    metrics,
    optimizers,
)

_kiln.enable_eager_execution()

# The TensorFlow release this module's API follows, for programs that check it
# (`assert tf.__version__.startswith("2.")`): 2.15, the last whose tf.keras is
# Keras 2, which kiln.keras is (2.16 on make it Keras 3). kiln's own: kiln.__version__.
__version__ = "2.15.0"


def __getattr__(name: str) -> Any:
    return getattr(_kiln, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_kiln)) | set(globals()) - {"annotations", "Any"})


__all__: list[str] = []  # `from kiln.compat.v2 import *` is not a TF idiom
_ = (disable_v2_behavior, enable_v2_behavior, initializers, losses, metrics, optimizers)
