"""kl.data: tf.data-style input pipelines (see dataset.py)."""

from .dataset import Dataset, Iterator, OutOfRangeError

__all__ = ["Dataset", "Iterator", "OutOfRangeError"]
