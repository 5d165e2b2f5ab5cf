"""tf.contrib.learn (TF 1.15): RunConfig, the one name the corpus programs that build
tf.contrib estimators take from it (their datasets come through a shim), and
preprocessing.VocabularyProcessor (learn_preprocessing.py).
It is kiln.estimator's RunConfig, which accepts TF's other settings
(save_checkpoints_secs, ...) and keeps the ones kiln's Estimator reads."""

from __future__ import annotations

import types

from ..estimator import RunConfig
from . import learn_preprocessing

preprocessing = types.ModuleType(
    "kiln.contrib.learn.preprocessing", "tf.contrib.learn.preprocessing: VocabularyProcessor."
)
for _name in learn_preprocessing.__all__:
    setattr(preprocessing, _name, getattr(learn_preprocessing, _name))

__all__ = ["RunConfig", "preprocessing"]
