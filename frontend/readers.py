"""Readers: TensorFlow 1.x's record readers over a queue of file names.

    files = kl.train.string_input_producer(["a.csv", "b.csv"])
    key, value = kl.TextLineReader(skip_header_lines=1).read(files)   # b"a.csv:2", b"7,1.5"

`read(queue)` gives one record per run as two scalar strings, the key
("<file>:<record number>", TF's) and the value; a reader takes the next file
name from the queue when its file is spent, and raises OutOfRangeError when the
queue is closed and empty (a producer's epochs are spent). `read_up_to(queue, n)`
gives up to n records as vectors. The readers are host operations of the queue
hook (frontend/queues.py): each Session has its own position in its own file, and
the queue runners' threads share it under a lock, as TF's reader resources are.

TextLineReader: the lines of text files, without their line ends.
WholeFileReader: each file whole (key = value's file name).
FixedLengthRecordReader: records of record_bytes after header_bytes, before footer_bytes.
TFRecordReader: the records of TFRecord files (frontend/records.py).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from .dtypes import string
from .errors import NotFoundError, OutOfRangeError
from .graph import GraphError, Tensor, get_default_graph
from .ops import placeholder
from .queues import QueueBase, _HostOp, _register
from .records import read_records

__all__ = [
    "FixedLengthRecordReader",
    "ReaderBase",
    "TFRecordReader",
    "TextLineReader",
    "WholeFileReader",
]


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise NotFoundError(f"{path}: {e.strerror}") from None


def _next_file(session: Any, queue: QueueBase) -> str:
    """The queue's next file name (blocking; OutOfRangeError once it is spent)."""
    ((path, *_),) = queue._take(session, None, False)
    return path.decode() if isinstance(path, bytes) else str(path)


class ReaderBase:
    """A reader of records from the files a queue names (tf.ReaderBase)."""

    def __init__(self, name: str | None = None):
        self.graph = get_default_graph()
        self.name = self.graph.unique_name(name or type(self).__name__)
        self._states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def records(self, path: str) -> Iterator[bytes]:
        """The records of one file (subclasses)."""
        raise NotImplementedError

    def read(self, queue: Any, name: str | None = None) -> tuple[Tensor, Tensor]:
        """(key, value) of the next record: scalar strings."""
        return self._op(queue, None, name or "ReaderReadV2")

    def read_up_to(self, queue: Any, num_records: int, name: str | None = None):
        """(keys, values) of up to `num_records` records: string vectors."""
        if int(num_records) < 1:
            raise GraphError(f"{self.name}: read_up_to needs num_records >= 1, not {num_records}")
        return self._op(queue, int(num_records), name or "ReaderReadUpToV2")

    def reset(self, name: str | None = None) -> None:
        """Forget every session's position (tf.ReaderBase.reset)."""
        with self._lock:
            self._states = weakref.WeakKeyDictionary()

    def _op(self, queue: Any, n: int | None, name: str) -> tuple[Tensor, Tensor]:
        if not isinstance(queue, QueueBase):
            raise GraphError(
                f"{self.name}: read takes a queue of file names (tf.train.string_input_producer"
                f" or a FIFOQueue of strings), got {type(queue).__name__}"
            )
        if queue.dtypes[0] is not string:
            raise GraphError(f"{self.name}: {queue.name} holds {queue.dtypes[0].name}, not strings")
        dims = [] if n is None else [None]
        with self.graph.name_scope(f"{self.name}_{name}"):
            key = placeholder(string, dims, name="key")
            value = placeholder(string, dims, name="value")
        host = _Read(self, queue, [key, value], n)
        for t in (key, value):
            _register(t.op, host)
        return key, value

    def _next(self, session: Any, queue: QueueBase) -> tuple[bytes, bytes]:
        """The next record of this session (the lock held): from the current
        file, else from the next file the queue gives."""
        state = self._states.setdefault(session, {"file": None, "records": iter(())})
        while True:
            record = next(state["records"], None)
            if record is not None:
                state["count"] += 1
                return f"{state['file']}:{state['count']}".encode(), record
            path = _next_file(session, queue)
            state.update(file=path, records=iter(self.records(path)), count=0)


class _Read(_HostOp):
    def __init__(self, reader: ReaderBase, queue: QueueBase, outputs: list[Tensor], n: int | None):
        self.reader, self.queue, self.outputs, self.n = reader, queue, outputs, n

    def feed(self, session: Any) -> dict[Tensor, np.ndarray]:
        key, value = self.outputs
        with self.reader._lock:
            if self.n is None:
                k, v = self.reader._next(session, self.queue)
                return {key: np.array(k, dtype=object), value: np.array(v, dtype=object)}
            pairs = []
            try:
                while len(pairs) < self.n:
                    pairs.append(self.reader._next(session, self.queue))
            except OutOfRangeError:  # the queue is spent: what was read
                if not pairs:
                    raise
        keys, values = zip(*pairs)
        return {key: np.array(keys, dtype=object), value: np.array(values, dtype=object)}


class TextLineReader(ReaderBase):
    """The lines of text files, line ends dropped (tf.TextLineReader)."""

    def __init__(self, skip_header_lines: int | None = None, name: str | None = None):
        super().__init__(name or "TextLineReader")
        self.skip = int(skip_header_lines or 0)

    def records(self, path: str) -> Iterator[bytes]:
        lines = _read_file(path).split(b"\n")
        if lines and lines[-1] == b"":  # the last line's end
            lines.pop()
        for line in lines[self.skip :]:
            yield line[:-1] if line.endswith(b"\r") else line


class WholeFileReader(ReaderBase):
    """Each file as one record (tf.WholeFileReader): the key is the file name."""

    def __init__(self, name: str | None = None):
        super().__init__(name or "WholeFileReader")

    def records(self, path: str) -> Iterator[bytes]:
        yield _read_file(path)

    def _next(self, session: Any, queue: QueueBase) -> tuple[bytes, bytes]:
        path = _next_file(session, queue)
        return path.encode(), _read_file(path)


class FixedLengthRecordReader(ReaderBase):
    """Records of `record_bytes` bytes after `header_bytes`, the last `footer_bytes`
    left out (tf.FixedLengthRecordReader: CIFAR-10's binary files); a file whose
    records do not divide evenly is an error, as in TF."""

    def __init__(
        self,
        record_bytes: int,
        header_bytes: int | None = None,
        footer_bytes: int | None = None,
        hop_bytes: int | None = None,
        name: str | None = None,
        encoding: str | None = None,
    ):
        super().__init__(name or "FixedLengthRecordReader")
        if int(record_bytes) < 1:
            raise GraphError(
                f"FixedLengthRecordReader: record_bytes must be >= 1, not {record_bytes}"
            )
        if hop_bytes or encoding:
            raise GraphError("FixedLengthRecordReader: hop_bytes and encoding are not supported")
        self.size, self.header, self.footer = (
            int(record_bytes),
            int(header_bytes or 0),
            int(footer_bytes or 0),
        )

    def records(self, path: str) -> Iterator[bytes]:
        data = _read_file(path)
        body = data[self.header : len(data) - self.footer]
        if len(body) % self.size:
            raise GraphError(
                f"{path}: {len(body)} bytes between header and footer are not a whole number "
                f"of {self.size}-byte records"
            )
        for i in range(0, len(body), self.size):
            yield body[i : i + self.size]


class TFRecordReader(ReaderBase):
    """The records of TFRecord files (tf.TFRecordReader)."""

    def __init__(self, name: str | None = None, options: Any = None):
        super().__init__(name or "TFRecordReader")
        self.options = options

    def records(self, path: str) -> Iterator[bytes]:
        return read_records(path, self.options)
