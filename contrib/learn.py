"""tf.contrib.learn (TF 1.15): only RunConfig, the one name the corpus programs
that build tf.contrib estimators take from it (their datasets come through a shim).
It is kiln.estimator's RunConfig, which accepts TF's other settings
(save_checkpoints_secs, ...) and keeps the ones kiln's Estimator reads."""

from __future__ import annotations

from ..estimator import RunConfig

__all__ = ["RunConfig"]
