"""kl.data: tf.data-style input pipelines (see dataset.py)."""

import types as _types

from . import iterators  # noqa: F401  (registers the initializer hook)
from .dataset import AUTOTUNE, Dataset, Iterator, OutOfRangeError
from .readers import TextLineDataset, TFRecordDataset

# tf.data.experimental: the names TF 2 tutorials still read from there
experimental = _types.SimpleNamespace(AUTOTUNE=AUTOTUNE)

__all__ = [
    "AUTOTUNE",
    "Dataset",
    "Iterator",
    "OutOfRangeError",
    "TFRecordDataset",
    "TextLineDataset",
    "experimental",
]
