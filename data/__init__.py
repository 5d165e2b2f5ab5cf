"""kl.data: tf.data-style input pipelines (see dataset.py)."""

from . import iterators  # noqa: F401  (registers the initializer hook)
from .dataset import Dataset, Iterator, OutOfRangeError

__all__ = ["Dataset", "Iterator", "OutOfRangeError"]
