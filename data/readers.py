"""File datasets: tf.data.TFRecordDataset (the records of TFRecord files, frontend/records.py's
framing) and tf.data.TextLineDataset (the lines of text files, without their line ends).

Both are Datasets of scalar string elements, the files read in order, each pass (epoch)
reading them again; `filenames` is a path, a list of paths or a string tensor/dataset of them.
A missing file raises NotFoundError and a corrupted record DataLossError when iterated, as in
TensorFlow.
"""

from __future__ import annotations

import collections.abc as abc
from typing import Any

import numpy as np

from ..frontend.errors import NotFoundError
from ..frontend.records import _decompress, _options, read_records
from .dataset import Dataset

__all__ = ["TFRecordDataset", "TextLineDataset"]


def _filenames(filenames: Any) -> list[str]:
    if isinstance(filenames, Dataset):
        values = [np.asarray(v).item() for v in filenames.as_numpy_iterator()]
    elif hasattr(filenames, "numpy"):
        values = np.asarray(filenames.numpy(), dtype=object).ravel().tolist()
    elif isinstance(filenames, str | bytes):
        values = [filenames]
    else:
        values = np.asarray(filenames, dtype=object).ravel().tolist()
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _scalar(value: bytes) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = value
    return out


class TFRecordDataset(Dataset):
    """The records of TFRecord files, one string element each (tf.data.TFRecordDataset)."""

    def __init__(
        self,
        filenames: Any,
        compression_type: Any = None,
        buffer_size: Any = None,
        num_parallel_reads: Any = None,
    ):
        files = _filenames(filenames)
        kind = _options(compression_type)

        def make() -> abc.Iterator[np.ndarray]:
            for f in files:
                for record in read_records(f, kind):
                    yield _scalar(record)

        super().__init__(make)


class TextLineDataset(Dataset):
    """The lines of text files, one string element each, without "\\n" / "\\r\\n"
    (tf.data.TextLineDataset)."""

    def __init__(
        self,
        filenames: Any,
        compression_type: Any = None,
        buffer_size: Any = None,
        num_parallel_reads: Any = None,
    ):
        files = _filenames(filenames)
        kind = _options(compression_type).compression_type

        def make() -> abc.Iterator[np.ndarray]:
            for f in files:
                try:
                    with open(f, "rb") as fh:
                        data = _decompress(fh.read(), kind, f)
                except OSError as e:
                    raise NotFoundError(f"{f}: {e.strerror}") from None
                for line in data.split(b"\n")[: -1 if data.endswith(b"\n") else None]:
                    yield _scalar(line[:-1] if line.endswith(b"\r") else line)

        super().__init__(make)
