"""TensorFlow 2's namespace over kiln's (kiln.compat.v2 without switching to eager)."""

from __future__ import annotations

from typing import Any

import kiln as _kiln

from . import v1 as _v1

disable_v2_behavior = _v1.disable_v2_behavior
enable_v2_behavior = _v1.enable_v2_behavior

# where TF 2 moved a namespace to Keras's: tf.losses.SparseCategoricalCrossentropy,
# tf.metrics.Mean, tf.optimizers.Adam, tf.initializers.GlorotUniform
losses = _kiln.keras.losses
metrics = _kiln.keras.metrics
optimizers = _kiln.keras.optimizers
initializers = _kiln.keras.initializers


def __getattr__(name: str) -> Any:
    return getattr(_kiln, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_kiln)) | set(globals()))
