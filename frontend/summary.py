"""TensorBoard summaries: event files that the real `tensorboard --logdir` reads.

    loss_summary = kl.summary.scalar("loss", loss)        # graph style (TF 1.x)
    merged = kl.summary.merge_all()
    writer = kl.summary.FileWriter("logs", sess.graph)   # the graph, for the Graphs tab
    summary, _ = sess.run([merged, train], feed)         # bytes: a serialized Summary
    writer.add_summary(summary, global_step=step)

    writer = kl.summary.create_file_writer("logs")       # eager style (TF 2)
    with writer.as_default():
        kl.summary.scalar("loss", 0.25, step=3)

How summary ops work in kiln. TensorFlow's summary ops produce serialized
`Summary` protos as string tensors; kiln's IR has no string dtype (and should
not grow one for this), so a summary op here is a graph node with no outputs
(types ScalarSummary, HistogramSummary, ImageSummary, TensorSummary for
text, MergeSummary) whose input is the tensor it summarises. A Session run
hook (`SummaryHook`) evaluates a fetched summary op: it adds its input
tensors to the same run (one compiled function, as for any fetch) and
serialises the proto in Python: `sess.run(merged)` gives `bytes`, as in TensorFlow. The nodes are
ordinary graph ops otherwise: they are named under the name scope, kept in
the `summaries` collection, saved in meta graphs and drawn by TensorBoard.

The files are TFRecord-framed `Event` protos (length, masked CRC32C of the
length, data, masked CRC32C of the data) written with the `tensorboard`
package's protos and its `EventFileWriter` (no TensorFlow needed): install
the extra, `pip install 'kiln[tensorboard]'`. `summary_iterator(path)` reads
a file back, checking every CRC. The GraphDef carries each op's name (so
TensorBoard groups by name scope), its TensorFlow type (MatMul, Relu, ...),
the kiln IR op it lowers to (attribute `_kiln_op`), and output dtypes and
shapes (`_output_shapes`, which TensorBoard shows on edges).
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..ir import KilnError
from .errors import DataLossError  # noqa: F401  (kl.summary.DataLossError)
from .graph import Graph, Operation, Tensor, get_default_graph
from .records import unframe
from .session import (
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
    register_run_hook,
)

SUMMARIES = "summaries"  # the collection (tf.GraphKeys.SUMMARIES)
SUMMARY_TYPES = frozenset(
    {"ScalarSummary", "HistogramSummary", "ImageSummary", "TensorSummary", "MergeSummary"}
)


def _tb():
    """The tensorboard package's protos (an optional dependency)."""
    try:
        from tensorboard.compat.proto import event_pb2, graph_pb2, summary_pb2
    except ImportError:
        raise KilnError(
            "kl.summary needs the tensorboard package: pip install 'kiln[tensorboard]'"
        ) from None
    return event_pb2, summary_pb2, graph_pb2


# ------------------------------------------------------------------ graph ops

_INVALID = re.compile(r"[^A-Za-z0-9_.\-/]")


def _summary_op(
    type: str,
    name: str,
    inputs: Sequence[Tensor],
    attrs: dict[str, Any],
    collections: Sequence[str] | None,
    family: str | None = None,
    control_inputs: Sequence[Operation] = (),
) -> Operation:
    g = inputs[0].graph if inputs else get_default_graph()
    clean = _INVALID.sub("_", name).lstrip("_/") or "summary"
    scope = f"{family}/{clean}" if family else clean
    op = g.create_op(type, list(inputs), name=scope, output_types=[], control_inputs=control_inputs)
    op.attrs.update({"tag": op.name, **attrs})
    for key in [SUMMARIES] if collections is None else collections:
        g.add_to_collection(key, op)
    return op


def _graph_value(value: Any) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "_as_tensor")


def _as_tensor(value: Any) -> Tensor:
    return value._as_tensor() if hasattr(value, "_as_tensor") else value


def scalar(
    name: str,
    tensor: Any = None,
    collections: Sequence[str] | None = None,
    family: str | None = None,
    step: int | None = None,
    data: Any = None,
    description: str | None = None,
) -> Operation | bool:
    """A scalar summary: a graph op for a kl.Tensor (TF 1.x), else (TF 2 style,
    `scalar(name, value, step=...)`) written at once to the default writer."""
    value = data if tensor is None else tensor
    if _graph_value(value):
        return _summary_op("ScalarSummary", name, [_as_tensor(value)], {}, collections, family)
    return _write_now(name, value, step, _scalar_value)


def histogram(
    name: str,
    values: Any = None,
    collections: Sequence[str] | None = None,
    family: str | None = None,
    step: int | None = None,
    data: Any = None,
    description: str | None = None,
) -> Operation | bool:
    """A histogram of `values` (any shape), in TensorFlow's exponential buckets."""
    value = data if values is None else values
    if _graph_value(value):
        return _summary_op("HistogramSummary", name, [_as_tensor(value)], {}, collections, family)
    return _write_now(name, value, step, _histogram_value)


def image(
    name: str,
    tensor: Any = None,
    max_outputs: int = 3,
    collections: Sequence[str] | None = None,
    family: str | None = None,
    step: int | None = None,
    data: Any = None,
    description: str | None = None,
) -> Operation | bool:
    """Images from a [batch, height, width, channels] tensor (channels 1, 3 or 4)."""
    value = data if tensor is None else tensor
    if _graph_value(value):
        return _summary_op(
            "ImageSummary",
            name,
            [_as_tensor(value)],
            {"max_outputs": int(max_outputs)},
            collections,
            family,
        )
    return _write_now(
        name, value, step, lambda tag, v, op=None: _image_values(tag, v, int(max_outputs), op)
    )


def text(
    name: str,
    tensor: Any = None,
    collections: Sequence[str] | None = None,
    step: int | None = None,
    data: Any = None,
    description: str | None = None,
) -> Operation | bool:
    """A text summary (markdown): a string tensor (its value at each run), or a
    Python str (or a list of them) fixed when the graph is built."""
    value = data if tensor is None else tensor
    if _graph_value(value):
        t = _as_tensor(value)
        if not t.dtype.is_string:
            raise KilnError(
                f"kl.summary.text({name!r}): {t.name} is {t.dtype.name}, not a string tensor"
            )
        return _summary_op("TensorSummary", name, [t], {}, collections)
    strings = [value] if isinstance(value, (str, bytes)) else list(value)
    if not all(isinstance(s, (str, bytes)) for s in strings):
        raise KilnError(
            f"kl.summary.text({name!r}): expected a str or a list of str, got {value!r}"
        )
    if _default_writer() is not None and step is not None:
        return _write_now(name, strings, step, _text_value)
    texts = [s.decode() if isinstance(s, bytes) else s for s in strings]
    return _summary_op("TensorSummary", name, [], {"text": texts}, collections)


def merge(
    inputs: Sequence[Operation], collections: Sequence[str] | None = None, name: str | None = None
) -> Operation:
    """One summary op whose value holds every value of `inputs`."""
    ops = [x.op if isinstance(x, Tensor) else x for x in inputs]
    for op in ops:
        if not isinstance(op, Operation) or op.type not in SUMMARY_TYPES:
            raise KilnError(f"kl.summary.merge: {op!r} is not a summary op")
    g = ops[0].graph if ops else get_default_graph()
    op = g.create_op(
        "MergeSummary", [], name=name or "Merge/MergeSummary", output_types=[], control_inputs=ops
    )
    for key in collections or []:
        g.add_to_collection(key, op)
    return op


def merge_all(
    key: str = SUMMARIES, scope: str | None = None, name: str | None = None
) -> Operation | None:
    """All summary ops of the collection `key` merged into one; None when there are none."""
    ops = [
        op
        for op in get_default_graph().get_collection(key, scope)
        if isinstance(op, Operation) and op.type in SUMMARY_TYPES
    ]
    return merge(ops, name=name) if ops else None


# ------------------------------------------------------------------ evaluation


def _leaves(op: Operation, out: list[Operation]) -> None:
    if op.type == "MergeSummary":
        for c in op.control_inputs:
            if c.type in SUMMARY_TYPES:
                _leaves(c, out)
    elif op not in out:
        out.append(op)


class SummaryHook(SessionRunHook):
    """Session.run for fetches that include summary ops: their input tensors are
    fetched in the same run as the other fetches, then each proto is serialised."""

    def before_run(self, context: SessionRunContext) -> SessionRunArgs | None:
        summary_ops = [
            x for x in context.fetches if type(x) is Operation and x.type in SUMMARY_TYPES
        ]
        if not summary_ops:
            return None
        inputs = [t for op in summary_ops for s in _basic(op) for t in s.inputs]
        return SessionRunArgs(fetches=list(dict.fromkeys(inputs)), provides=summary_ops)

    def after_run(self, context: SessionRunContext, values: SessionRunValues) -> None:
        results = values.results
        _, summary_pb2, _ = _tb()
        for op in context.fetches:
            if type(op) is not Operation or op.type not in SUMMARY_TYPES:
                continue
            summary = summary_pb2.Summary()
            for s in _basic(op):
                summary.value.extend(_serialise(s, [results[t] for t in s.inputs]))
            results[op] = summary.SerializeToString()


def _basic(op: Operation) -> list[Operation]:
    """The summary ops a (merged) summary op stands for."""
    out: list[Operation] = []
    _leaves(op, out)
    return out


register_run_hook(SummaryHook())


def _serialise(op: Operation, inputs: list[np.ndarray]) -> list:
    tag = op.attrs["tag"]
    if op.type == "ScalarSummary":
        return _scalar_value(tag, inputs[0], op)
    if op.type == "HistogramSummary":
        return _histogram_value(tag, inputs[0], op)
    if op.type == "ImageSummary":
        return _image_values(tag, inputs[0], op.attrs["max_outputs"], op)
    if "text" not in op.attrs:  # a string tensor's value at this run
        texts = [v.decode() for v in np.asarray(inputs[0], dtype=object).reshape(-1)]
        return _text_value(tag, texts, op)
    return _text_value(tag, op.attrs["text"], op)


def _where(tag: str, op: Operation | None) -> str:
    return f"summary op {op.name} ({op.type})" if op is not None else f"summary {tag!r}"


def _scalar_value(tag: str, value: Any, op: Operation | None = None) -> list:
    _, summary_pb2, _ = _tb()
    array = np.asarray(value)
    if array.size != 1:
        raise KilnError(
            f"{_where(tag, op)}: a scalar summary needs one value, got shape {list(array.shape)}"
        )
    return [summary_pb2.Summary.Value(tag=tag, simple_value=float(array.reshape(()).item()))]


def _bucket_limits() -> np.ndarray:
    """TensorFlow's default histogram buckets: +-1e-12 * 1.1^k up to 1e20, and DBL_MAX."""
    positive = []
    v = 1e-12
    while v < 1e20:
        positive.append(v)
        v *= 1.1
    return np.array(
        [-x for x in reversed(positive)] + [0.0] + positive + [np.finfo(np.float64).max]
    )


_LIMITS = _bucket_limits()


def _histogram_value(tag: str, value: Any, op: Operation | None = None) -> list:
    _, summary_pb2, _ = _tb()
    data = np.asarray(value, dtype=np.float64).ravel()
    if not np.all(np.isfinite(data)):
        raise KilnError(f"{_where(tag, op)}: the histogram's values hold NaN or infinity")
    histo = summary_pb2.HistogramProto()
    if data.size:
        counts = np.bincount(np.searchsorted(_LIMITS, data, side="right"), minlength=len(_LIMITS))[
            : len(_LIMITS)
        ]
        used = np.nonzero(counts)[0]
        lo, hi = max(int(used[0]) - 1, 0), int(used[-1])
        histo.min, histo.max = float(data.min()), float(data.max())
        histo.num, histo.sum = float(data.size), float(data.sum())
        histo.sum_squares = float(np.dot(data, data))
        histo.bucket_limit.extend(_LIMITS[lo : hi + 1].tolist())
        histo.bucket.extend(counts[lo : hi + 1].astype(float).tolist())
    return [summary_pb2.Summary.Value(tag=tag, histo=histo)]


def _image_values(tag: str, value: Any, max_outputs: int, op: Operation | None = None) -> list:
    _, summary_pb2, _ = _tb()
    array = np.asarray(value)
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise KilnError(
            f"{_where(tag, op)}: images must be [batch, height, width, channels] "
            f"with 1, 3 or 4 channels, got shape {list(array.shape)}"
        )
    images = array[:max_outputs]
    if images.dtype.kind == "f":
        # TensorFlow's rule: non-negative images are scaled so the largest value is 255;
        # others are shifted so that 0 is 127 and scaled to fit
        finite = np.where(np.isfinite(images), images, 0.0)
        lo, hi = float(finite.min(initial=0.0)), float(finite.max(initial=0.0))
        if lo >= 0:
            scale = 255.0 / hi if hi > 0 else 0.0
            images = finite * scale
        else:
            scale = 127.0 / max(-lo, hi)
            images = finite * scale + 127.0
    pixels = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    values = []
    for i, image in enumerate(pixels):
        h, w, c = image.shape
        name = f"{tag}/image/{i}" if max_outputs > 1 else f"{tag}/image"
        encoded = summary_pb2.Summary.Image(
            height=h, width=w, colorspace=c, encoded_image_string=encode_png(image)
        )
        values.append(summary_pb2.Summary.Value(tag=name, image=encoded))
    return values


def _text_value(tag: str, strings: Sequence[str], op: Operation | None = None) -> list:
    from tensorboard.plugins.text.summary_v2 import text_pb

    data = strings[0] if len(strings) == 1 else np.array(strings, dtype=object)
    return list(text_pb(tag, data).value)


def encode_png(image: np.ndarray) -> bytes:
    """A PNG of an [height, width, channels] uint8 array (1 gray, 3 RGB, 4 RGBA)."""
    h, w, c = image.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ GraphDef

_DT = {
    "float32": 1,
    "float64": 2,
    "int32": 3,
    "int8": 6,
    "int64": 9,
    "bool": 10,
    "bfloat16": 14,
    "float16": 19,
}


def to_graph_def(graph: Graph):
    """The graph as TensorFlow's GraphDef proto: names (so TensorBoard groups by name
    scope), TensorFlow op types, the kiln IR op, output dtypes and shapes."""
    _, _, graph_pb2 = _tb()
    from tensorboard.compat.proto import attr_value_pb2, tensor_shape_pb2, versions_pb2

    AttrValue = attr_value_pb2.AttrValue
    gd = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=22))
    for op in graph.get_operations():
        node = gd.node.add(name=op.name, op=op.type)
        node.input.extend([t.op.name if t.value_index == 0 else t.name for t in op.inputs])
        node.input.extend(f"^{c.name}" for c in op.control_inputs)
        if op.ir_op:
            node.attr["_kiln_op"].CopyFrom(AttrValue(s=op.ir_op.encode()))
        if op.outputs:
            node.attr["T" if op.inputs else "dtype"].CopyFrom(
                AttrValue(type=_DT.get(op.outputs[0].dtype.name, 0))
            )
            shapes = []
            for t in op.outputs:
                if t.shape.dims is None:
                    shapes.append(tensor_shape_pb2.TensorShapeProto(unknown_rank=True))
                else:
                    shapes.append(
                        tensor_shape_pb2.TensorShapeProto(
                            dim=[
                                tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d)
                                for d in t.shape.dims
                            ]
                        )
                    )
            node.attr["_output_shapes"].CopyFrom(AttrValue(list=AttrValue.ListValue(shape=shapes)))
        for key, value in op.attrs.items():
            if key in ("dtype", "value") or key.startswith("_"):
                continue
            if isinstance(value, bool):
                node.attr[key].CopyFrom(AttrValue(b=value))
            elif isinstance(value, int):
                node.attr[key].CopyFrom(AttrValue(i=value))
            elif isinstance(value, float):
                node.attr[key].CopyFrom(AttrValue(f=value))
            elif isinstance(value, str):
                node.attr[key].CopyFrom(AttrValue(s=value.encode()))
    return gd


# ------------------------------------------------------------------ writers


class FileWriter:
    """Writes event files in `logdir` (tf.summary.FileWriter): the graph, if given,
    then summaries added with `add_summary(summary, global_step)`."""

    def __init__(
        self,
        logdir: str,
        graph: Graph | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: str | None = None,
        session: Any = None,
    ):
        _tb()
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.logdir = str(logdir)
        self._writer = EventFileWriter(self.logdir, max_queue, flush_secs, filename_suffix or "")
        self._closed = False
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def get_logdir(self) -> str:
        return self.logdir

    @property
    def path(self) -> str:
        """The event file being written."""
        return self._writer._file_name

    def add_event(self, event: Any) -> None:
        if self._closed:
            raise KilnError(f"FileWriter({self.logdir!r}) is closed")
        self._writer.add_event(event)

    def add_summary(self, summary: Any, global_step: Any = None) -> None:
        """`summary`: bytes from `sess.run(summary_op)` or a Summary proto."""
        event_pb2, summary_pb2, _ = _tb()
        if isinstance(summary, (bytes, bytearray)):
            try:
                summary = summary_pb2.Summary.FromString(bytes(summary))
            except Exception as e:  # protobuf's DecodeError
                raise KilnError(f"add_summary: not a serialized Summary proto: {e}") from None
        elif not isinstance(summary, summary_pb2.Summary):
            raise KilnError(
                f"add_summary: expected bytes from a summary op or a Summary "
                f"proto, got {type(summary).__name__}"
            )
        self.add_event(
            event_pb2.Event(wall_time=time.time(), step=_step(global_step), summary=summary)
        )

    def add_graph(
        self, graph: Graph | None, global_step: Any = None, graph_def: Any = None
    ) -> None:
        """Write the graph (or a GraphDef proto) for TensorBoard's Graphs tab."""
        event_pb2, _, _ = _tb()
        if graph_def is None:
            if not isinstance(graph, Graph):
                graph = getattr(graph, "graph", graph)  # a Session
            if not isinstance(graph, Graph):
                raise KilnError(f"add_graph: expected a kl.Graph, got {type(graph).__name__}")
            graph_def = to_graph_def(graph)
        self.add_event(
            event_pb2.Event(
                wall_time=time.time(),
                step=_step(global_step),
                graph_def=graph_def.SerializeToString(),
            )
        )

    def flush(self) -> None:
        if not self._closed:
            self._writer.flush()

    def close(self) -> None:
        if not self._closed:
            self._writer.close()
            self._closed = True

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _step(step: Any) -> int:
    if step is None:
        return 0
    try:
        return int(np.asarray(step).reshape(()))
    except (TypeError, ValueError):
        raise KilnError(f"a summary step must be an integer, got {step!r}") from None


class SummaryWriter(FileWriter):
    """The TF 2 style writer (`create_file_writer`): make it the default with
    `with writer.as_default():`, then `kl.summary.scalar(name, value, step=...)`."""

    @contextlib.contextmanager
    def as_default(self, step: int | None = None) -> Iterator[SummaryWriter]:
        stack = _writers()
        stack.append((self, step))
        try:
            yield self
        finally:
            stack.pop()
            self.flush()

    def set_as_default(self, step: int | None = None) -> None:
        _writers().append((self, step))

    def write(self, values: list, step: Any) -> None:
        _, summary_pb2, _ = _tb()
        self.add_summary(summary_pb2.Summary(value=values), step)


def create_file_writer(
    logdir: str,
    max_queue: int = 10,
    flush_millis: int = 120_000,
    filename_suffix: str | None = None,
    name: str | None = None,
) -> SummaryWriter:
    return SummaryWriter(
        logdir, max_queue=max_queue, flush_secs=flush_millis / 1000, filename_suffix=filename_suffix
    )


_local = threading.local()


def _writers() -> list:
    if not hasattr(_local, "writers"):
        _local.writers = []
    return _local.writers


def _default_writer() -> tuple[SummaryWriter, int | None] | None:
    stack = _writers()
    return stack[-1] if stack else None


def _write_now(name: str, value: Any, step: Any, make) -> bool:
    """Eager summaries: False when no writer is the default (as in TF 2)."""
    default = _default_writer()
    if default is None:
        return False
    writer, default_step = default
    step = default_step if step is None else step
    if step is None:
        raise KilnError(
            f"summary {name!r}: no step given (pass step= or writer.as_default(step=...))"
        )
    if hasattr(value, "numpy"):
        value = value.numpy()
    writer.write(make(name, value), step)
    return True


def flush(writer: SummaryWriter | None = None) -> None:
    target = writer or (_default_writer() or (None,))[0]
    if target is not None:
        target.flush()


# ------------------------------------------------------------------ reading


def summary_iterator(path: str) -> Iterator[Any]:
    """The Event protos of an event file, checking each record's length and data
    CRCs (records.py's TFRecord framing); a corrupted or truncated record raises
    DataLossError."""
    event_pb2, _, _ = _tb()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise KilnError(f"cannot read event file {path}: {e.strerror}") from None
    for body in unframe(data, path):
        yield event_pb2.Event.FromString(body)
