"""TFRecord files and tf.train.Example protos, without TensorFlow or protobuf.

    with tf.io.TFRecordWriter(path) as w:                  # tf.python_io.TFRecordWriter (TF 1)
        ex = tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0]))}))
        w.write(ex.SerializeToString())
    ds = tf.data.TFRecordDataset(path).map(
        lambda s: tf.io.parse_single_example(s, {"x": tf.io.FixedLenFeature([2], tf.float32)}))

A TFRecord file is a sequence of records framed as TensorFlow (and TensorBoard's event files,
summary.py) frame them: uint64 length, masked CRC32C of the length, the data, masked CRC32C of
the data, little-endian; reading checks both CRCs (DataLossError on a mismatch or a truncated
record). GZIP and ZLIB compression (tf.io.TFRecordOptions) compress the whole stream.

The Example protos (example.proto / feature.proto) are encoded here in protobuf's wire format:
a field is a varint key (field number << 3 | wire type) then a varint, 4 bytes (float) or a
varint length and bytes; repeated numbers are written packed, as protobuf does for proto3, and
read packed or not. Serialized bytes equal TensorFlow's for the same message (map entries in
insertion order). parse_single_example / parse_example decode serialized Examples into tensors
per FixedLenFeature (dense: float32, int64 or string of a fixed shape, or a default),
VarLenFeature (a kl.SparseTensor of each example's values, sparse.py) and
FixedLenSequenceFeature (dense, padded to the longest example): eagerly at once, in a
graph as a host op the Session runs (strings.host_op), with TensorFlow's
InvalidArgumentError texts for a missing key, a wrong type or a wrong count.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .dtypes import as_dtype, float32, int64, string
from .eager import EagerTensor
from .errors import DataLossError, InvalidArgumentError, NotFoundError
from .graph import Tensor, TensorShape, executing_eagerly
from .ops import constant
from .sparse import SparseTensor

# ------------------------------------------------------------------ CRC32C (Castagnoli)


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC32C rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC, the data, its masked CRC."""
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def unframe(data: bytes, where: str) -> Iterator[bytes]:
    """The records of a TFRecord stream, each CRC checked (DataLossError if one is wrong)."""
    offset, index = 0, 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise DataLossError(f"{where}: record {index} at byte {offset} is truncated")
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        if masked_crc32c(header) != crc:
            raise DataLossError(
                f"{where}: corrupted record at {offset}: the length's CRC does not match"
            )
        end = offset + 12 + length
        if end + 4 > len(data):
            raise DataLossError(f"{where}: record {index} at byte {offset} is truncated")
        body = data[offset + 12 : end]
        (crc,) = struct.unpack("<I", data[end : end + 4])
        if masked_crc32c(body) != crc:
            raise DataLossError(
                f"{where}: corrupted record at {offset}: the data's CRC does not match"
            )
        yield body
        offset, index = end + 4, index + 1


# ------------------------------------------------------------------ TFRecord files


class TFRecordCompressionType:
    """tf.python_io.TFRecordCompressionType."""

    NONE, ZLIB, GZIP = 0, 1, 2


_COMPRESSION = {None: "", "": "", 0: "", "ZLIB": "ZLIB", 1: "ZLIB", "GZIP": "GZIP", 2: "GZIP"}


class TFRecordOptions:
    """tf.io.TFRecordOptions: the compression of a TFRecord file ("", "ZLIB" or "GZIP")."""

    def __init__(self, compression_type: Any = None, **_: Any):
        if isinstance(compression_type, TFRecordOptions):
            compression_type = compression_type.compression_type
        if compression_type not in _COMPRESSION:
            raise InvalidArgumentError(
                f"TFRecordOptions: compression_type {compression_type!r} is not one of "
                "'', 'ZLIB', 'GZIP'"
            )
        self.compression_type = _COMPRESSION[compression_type]

    @staticmethod
    def get_compression_type_string(options: Any) -> str:
        return _options(options).compression_type


def _options(options: Any) -> TFRecordOptions:
    return options if isinstance(options, TFRecordOptions) else TFRecordOptions(options)


def _compress(data: bytes, kind: str) -> bytes:
    if kind == "GZIP":
        return gzip.compress(data, mtime=0)
    return zlib.compress(data) if kind == "ZLIB" else data


def _decompress(data: bytes, kind: str, where: str) -> bytes:
    try:
        if kind == "GZIP":
            return gzip.decompress(data)
        return zlib.decompress(data) if kind == "ZLIB" else data
    except (OSError, zlib.error) as e:
        raise DataLossError(f"{where}: not a {kind} stream ({e})") from None


class TFRecordWriter:
    """tf.io.TFRecordWriter(path, options): `write(record_bytes)` appends one record; the file
    is complete after `close()` (or the end of a `with` block)."""

    def __init__(self, path: str, options: Any = None):
        self.path = str(path)
        self._kind = _options(options).compression_type
        try:
            self._file = open(self.path, "wb")  # noqa: SIM115  (closed by close())
        except OSError as e:
            raise NotFoundError(f"TFRecordWriter: cannot open {self.path}: {e.strerror}") from None
        self._pending: list[bytes] = []

    def write(self, record: Any) -> None:
        if self._file is None:
            raise InvalidArgumentError(f"TFRecordWriter({self.path!r}) is closed")
        if isinstance(record, str):
            record = record.encode()
        if not isinstance(record, bytes | bytearray):
            raise InvalidArgumentError(
                f"TFRecordWriter.write: a record is bytes, got {type(record).__name__}"
            )
        framed = frame(bytes(record))
        if self._kind:
            self._pending.append(framed)  # compressed as one stream at close()
        else:
            self._file.write(framed)

    def flush(self) -> None:
        if self._file is not None and not self._kind:
            self._file.flush()

    def close(self) -> None:
        if self._file is None:
            return
        if self._kind:
            self._file.write(_compress(b"".join(self._pending), self._kind))
        self._file.close()
        self._file = None

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_records(path: str, compression_type: Any = None) -> Iterator[bytes]:
    """The records of one TFRecord file (NotFoundError if it is missing)."""
    try:
        with open(str(path), "rb") as f:
            data = f.read()
    except OSError as e:
        raise NotFoundError(f"{path}: {e.strerror}") from None
    yield from unframe(_decompress(data, _options(compression_type).compression_type, path), path)


def tf_record_iterator(path: str, options: Any = None) -> Iterator[bytes]:
    """tf.python_io.tf_record_iterator: the records of a TFRecord file, as bytes."""
    return read_records(path, options)


# ------------------------------------------------------------------ protobuf wire format


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # negative int64s take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DataLossError("truncated protobuf varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of a message."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _read_varint(data, pos)
            value, pos = data[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise DataLossError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise DataLossError("truncated protobuf message")
        yield number, wire, value


class _Message:
    """What the Example protos share with protobuf messages: SerializeToString,
    FromString, ParseFromString, equality."""

    def SerializeToString(self, deterministic: bool | None = None) -> bytes:  # noqa: N802
        return self._encode()

    @classmethod
    def FromString(cls, data: bytes) -> Any:  # noqa: N802
        message = cls()
        message.ParseFromString(data)
        return message

    def ParseFromString(self, data: bytes) -> int:  # noqa: N802
        self._decode(bytes(data))
        return len(data)

    def ByteSize(self) -> int:  # noqa: N802
        return len(self._encode())

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and self._encode() == other._encode()

    __hash__ = None  # mutable, as protobuf messages

    def _encode(self) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes) -> None:
        raise NotImplementedError


class BytesList(_Message):
    """tf.train.BytesList: repeated bytes `value`."""

    def __init__(self, value: Sequence[Any] = ()):
        self.value = [v.encode() if isinstance(v, str) else bytes(v) for v in value]

    def _encode(self) -> bytes:
        return b"".join(_field(1, v) for v in self.value)

    def _decode(self, data: bytes) -> None:
        self.value = [bytes(v) for n, w, v in _fields(data) if n == 1 and w == 2]

    def __repr__(self) -> str:
        return f"BytesList(value={self.value!r})"


class FloatList(_Message):
    """tf.train.FloatList: repeated float `value` (float32, packed)."""

    def __init__(self, value: Sequence[float] = ()):
        self.value = [float(np.float32(v)) for v in np.asarray(value, np.float32).ravel()]

    def _encode(self) -> bytes:
        if not self.value:
            return b""
        return _field(1, np.asarray(self.value, "<f4").tobytes())

    def _decode(self, data: bytes) -> None:
        out: list[float] = []
        for n, w, v in _fields(data):
            if n == 1 and w == 2:
                out += np.frombuffer(v, "<f4").tolist()
            elif n == 1 and w == 5:
                out += np.frombuffer(v, "<f4").tolist()
        self.value = out

    def __repr__(self) -> str:
        return f"FloatList(value={self.value!r})"


class Int64List(_Message):
    """tf.train.Int64List: repeated int64 `value` (packed varints)."""

    def __init__(self, value: Sequence[int] = ()):
        self.value = [int(v) for v in np.asarray(value, np.int64).ravel()]

    def _encode(self) -> bytes:
        if not self.value:
            return b""
        return _field(1, b"".join(_varint(v) for v in self.value))

    def _decode(self, data: bytes) -> None:
        out: list[int] = []

        def signed(u: int) -> int:
            return u - (1 << 64) if u >= 1 << 63 else u

        for n, w, v in _fields(data):
            if n == 1 and w == 0:
                out.append(signed(v))
            elif n == 1 and w == 2:
                pos = 0
                while pos < len(v):
                    u, pos = _read_varint(v, pos)
                    out.append(signed(u))
        self.value = out

    def __repr__(self) -> str:
        return f"Int64List(value={self.value!r})"


_KINDS = (("bytes_list", BytesList), ("float_list", FloatList), ("int64_list", Int64List))


class Feature(_Message):
    """tf.train.Feature: one of bytes_list, float_list, int64_list."""

    def __init__(
        self,
        bytes_list: BytesList | None = None,
        float_list: FloatList | None = None,
        int64_list: Int64List | None = None,
    ):
        given = [
            (k, v)
            for k, v in zip(
                ("bytes_list", "float_list", "int64_list"), (bytes_list, float_list, int64_list)
            )
            if v is not None
        ]
        if len(given) > 1:
            raise InvalidArgumentError(
                "tf.train.Feature: give one of bytes_list, float_list, int64_list, got "
                + ", ".join(k for k, _ in given)
            )
        self._kind = given[0][0] if given else None
        self._value = given[0][1] if given else None

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802
        return self._kind

    def HasField(self, name: str) -> bool:  # noqa: N802
        return self._kind == name

    def __getattr__(self, name: str) -> Any:
        for kind, cls in _KINDS:
            if name == kind:
                return self._value if self._kind == kind else cls()
        raise AttributeError(name)

    def _encode(self) -> bytes:
        if self._kind is None:
            return b""
        number = 1 + [k for k, _ in _KINDS].index(self._kind)
        return _field(number, self._value._encode())

    def _decode(self, data: bytes) -> None:
        self._kind = self._value = None
        for n, w, v in _fields(data):
            if w == 2 and 1 <= n <= 3:
                kind, cls = _KINDS[n - 1]
                self._kind, self._value = kind, cls.FromString(v)

    def __repr__(self) -> str:
        return f"Feature({self._kind}={self._value!r})" if self._kind else "Feature()"


class Features(_Message):
    """tf.train.Features: map<string, Feature> `feature`."""

    def __init__(self, feature: dict[str, Feature] | None = None):
        self.feature: dict[str, Feature] = dict(feature or {})

    def _encode(self) -> bytes:
        return b"".join(
            _field(1, _field(1, key.encode()) + _field(2, value._encode()))
            for key, value in self.feature.items()
        )

    def _decode(self, data: bytes) -> None:
        self.feature = {}
        for n, w, entry in _fields(data):
            if n == 1 and w == 2:
                key, value = "", Feature()
                for m, _, v in _fields(entry):
                    if m == 1:
                        key = bytes(v).decode()
                    elif m == 2:
                        value = Feature.FromString(v)
                self.feature[key] = value

    def __repr__(self) -> str:
        return f"Features(feature={self.feature!r})"


class Example(_Message):
    """tf.train.Example: a Features message."""

    def __init__(self, features: Features | None = None):
        self._given = features is not None
        self.features = features if features is not None else Features()

    def _encode(self) -> bytes:
        body = self.features._encode()
        return _field(1, body) if body or self._given else b""

    def _decode(self, data: bytes) -> None:
        self.features = Features()
        for n, w, v in _fields(data):
            if n == 1 and w == 2:
                self.features, self._given = Features.FromString(v), True

    def __repr__(self) -> str:
        return f"Example(features={self.features!r})"


# ------------------------------------------------------------------ parsing


class FixedLenFeature:
    """tf.io.FixedLenFeature(shape, dtype, default_value): a dense feature of a fixed shape."""

    def __init__(self, shape: Any, dtype: Any, default_value: Any = None):
        self.shape = list(TensorShape(shape).as_list()) if shape is not None else []
        self.dtype = as_dtype(dtype)
        self.default_value = default_value
        _check_dtype(self.dtype, "FixedLenFeature")

    def __repr__(self) -> str:
        return f"FixedLenFeature(shape={self.shape}, dtype={self.dtype!r})"


class VarLenFeature:
    """tf.io.VarLenFeature(dtype): a feature of any length, parsed into a SparseTensor
    (indices [i] per value for one example; [example, i] for a batch, whose dense
    shape is [batch, longest])."""

    def __init__(self, dtype: Any):
        self.dtype = as_dtype(dtype)
        _check_dtype(self.dtype, "VarLenFeature")

    def __repr__(self) -> str:
        return f"VarLenFeature(dtype={self.dtype!r})"


class FixedLenSequenceFeature:
    """tf.io.FixedLenSequenceFeature(shape, dtype, allow_missing, default_value): a
    feature of any number of items of `shape`, parsed dense: [items, *shape] for one
    example; [batch, most items, *shape] for a batch, shorter examples padded with
    `default_value` (0 or b""). A missing key is no items (TensorFlow asks for
    allow_missing=True for that)."""

    def __init__(
        self, shape: Any, dtype: Any, allow_missing: bool = False, default_value: Any = None
    ):
        self.shape = list(TensorShape(shape).as_list()) if shape is not None else []
        self.dtype = as_dtype(dtype)
        self.allow_missing = bool(allow_missing)
        self.default_value = default_value
        _check_dtype(self.dtype, "FixedLenSequenceFeature")

    def __repr__(self) -> str:
        return f"FixedLenSequenceFeature(shape={self.shape}, dtype={self.dtype!r})"


def _check_dtype(dtype: Any, what: str) -> None:
    if dtype not in (float32, int64, string):
        raise InvalidArgumentError(
            f"{what}: dtype must be float32, int64 or string (as TensorFlow's Example parser), "
            f"got {dtype.name}"
        )


_TF_TYPE = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}


def _kind_of(dtype: Any) -> str:
    return {float32: "float_list", int64: "int64_list", string: "bytes_list"}[dtype]


def _values(feature: Feature, key: str, dtype: Any, index: int) -> np.ndarray:
    want = _kind_of(dtype)
    kind = feature.WhichOneof("kind")
    if kind is not None and kind != want:
        raise InvalidArgumentError(
            f"Key: {key}.  Data types don't match. "
            f"Data type: {_TF_TYPE[kind]} but expected type: {_TF_TYPE[want]}"
        )
    values = getattr(feature, want).value
    if dtype == string:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return np.asarray(values, dtype.ir.numpy)


def _dense(example: Example, key: str, spec: FixedLenFeature, index: int) -> np.ndarray:
    shape = tuple(spec.shape)
    feature = example.features.feature.get(key)
    if feature is None or feature.WhichOneof("kind") is None:
        if spec.default_value is None:
            raise InvalidArgumentError(
                f"Feature: {key} (data type: {_TF_TYPE[_kind_of(spec.dtype)]}) "
                "is required but could not be found."
            )
        dt = object if spec.dtype == string else spec.dtype.ir.numpy
        default = np.asarray(spec.default_value, dtype=dt)
        return np.broadcast_to(default, shape).copy()
    values = _values(feature, key, spec.dtype, index)
    want = int(np.prod(shape, dtype=np.int64))
    if values.size != want:  # TensorFlow's text, then what kiln found
        raise InvalidArgumentError(
            f"Key: {key}.  Can't parse serialized Example: {values.size} values, "
            f"the shape {list(shape)} holds {want}"
        )
    return values.reshape(shape)


def _examples(serialized: np.ndarray) -> list[Example]:
    out = []
    for s in np.asarray(serialized, dtype=object).ravel():
        try:
            out.append(Example.FromString(s.encode() if isinstance(s, str) else bytes(s)))
        except (DataLossError, UnicodeDecodeError, IndexError):
            raise InvalidArgumentError("Could not parse example input") from None
    return out


def _check_features(features: Any) -> list[tuple[str, Any]]:
    if not isinstance(features, dict) or not features:
        raise InvalidArgumentError("parse_example: features must be a non-empty dict of specs")
    for key, spec in features.items():
        if not isinstance(spec, (FixedLenFeature, VarLenFeature, FixedLenSequenceFeature)):
            raise InvalidArgumentError(
                f"parse_example: feature {key!r} is {type(spec).__name__}; "
                "kiln parses FixedLenFeature, VarLenFeature and FixedLenSequenceFeature"
            )
    return sorted(features.items())


def _var_len(examples: list[Example], key: str, spec: VarLenFeature, batched: bool) -> list:
    """A VarLenFeature's (indices, values, dense_shape); a missing key has no values."""
    dt = object if spec.dtype == string else spec.dtype.ir.numpy
    rows = []
    for i, ex in enumerate(examples):
        feature = ex.features.feature.get(key)
        missing = feature is None or feature.WhichOneof("kind") is None
        rows.append(np.zeros(0, dt) if missing else _values(feature, key, spec.dtype, i))
    values = np.concatenate(rows).astype(dt) if rows else np.zeros(0, dt)
    longest = max((len(r) for r in rows), default=0)
    if not batched:
        indices = np.arange(len(values), dtype=np.int64)[:, None]
        return [indices, values, np.array([longest], np.int64)]
    indices = np.array([(b, j) for b, r in enumerate(rows) for j in range(len(r))], np.int64)
    return [indices.reshape(-1, 2), values, np.array([len(rows), longest], np.int64)]


def _sequence(
    examples: list[Example], key: str, spec: FixedLenSequenceFeature, batched: bool
) -> np.ndarray:
    """A FixedLenSequenceFeature's dense array, padded to the longest example."""
    item = int(np.prod(spec.shape, dtype=np.int64))
    dt = object if spec.dtype == string else spec.dtype.ir.numpy
    rows = []
    for i, ex in enumerate(examples):
        feature = ex.features.feature.get(key)
        missing = feature is None or feature.WhichOneof("kind") is None
        if missing and not spec.allow_missing:
            raise InvalidArgumentError(
                f"Feature: {key} (data type: {_TF_TYPE[_kind_of(spec.dtype)]}) is required "
                "but could not be found (FixedLenSequenceFeature without allow_missing=True)"
            )
        values = np.zeros(0, dt) if missing else _values(feature, key, spec.dtype, i)
        if item == 0 or values.size % item:
            raise InvalidArgumentError(
                f"Key: {key}.  Number of values ({values.size}) is not a multiple of the "
                f"items' size ({item}, shape {spec.shape})"
            )
        rows.append(values.reshape(-1, *spec.shape))
    if not batched:
        return rows[0]
    longest = max((len(r) for r in rows), default=0)
    default = spec.default_value
    default = (b"" if spec.dtype == string else 0) if default is None else default
    out = np.full((len(rows), longest, *spec.shape), default, dtype=dt)
    for b, r in enumerate(rows):
        out[b, : len(r)] = r
    return out


def _parse(serialized: np.ndarray, specs: list, batched: bool) -> list[np.ndarray]:
    """The arrays of each spec, in specs' order: one for a FixedLenFeature, three
    (indices, values, dense_shape) for a VarLenFeature."""
    examples = _examples(serialized)
    out: list[np.ndarray] = []
    for key, spec in specs:
        if isinstance(spec, VarLenFeature):
            out.extend(_var_len(examples, key, spec, batched))
            continue
        if isinstance(spec, FixedLenSequenceFeature):
            out.append(_sequence(examples, key, spec, batched))
            continue
        rows = [_dense(ex, key, spec, i) for i, ex in enumerate(examples)]
        if not batched:
            out.append(rows[0])
        elif rows:
            out.append(np.stack(rows))
        else:
            out.append(
                np.zeros((0, *spec.shape), object if spec.dtype == string else spec.dtype.ir.numpy)
            )
    return out


def _output_types(spec: Any, batched: bool) -> list[tuple[Any, TensorShape]]:
    if isinstance(spec, VarLenFeature):
        rank = 2 if batched else 1
        return [
            (int64, TensorShape([None, rank])),
            (spec.dtype, TensorShape([None])),
            (int64, TensorShape([rank])),
        ]
    items = [None] if isinstance(spec, FixedLenSequenceFeature) else []
    return [(spec.dtype, TensorShape(([None] if batched else []) + items + spec.shape))]


def _results(specs: list, tensors: list, batched: bool) -> dict:
    """{key: tensor}, a VarLenFeature's three tensors as one SparseTensor."""
    out, rest = {}, list(tensors)
    for key, spec in specs:
        if isinstance(spec, VarLenFeature):
            out[key] = SparseTensor(rest.pop(0), rest.pop(0), rest.pop(0))
        else:
            out[key] = rest.pop(0)
    return out


def _parse_op(serialized: Any, features: Any, batched: bool, name: str | None) -> dict:
    specs = _check_features(features)
    if isinstance(serialized, EagerTensor):
        serialized = serialized.numpy()
    outputs = [t for _, spec in specs for t in _output_types(spec, batched)]
    if executing_eagerly() or not isinstance(serialized, Tensor):
        values = _parse(np.asarray(serialized, dtype=object), specs, batched)
        tensors = [constant(v, dtype=dt) for v, (dt, _) in zip(values, outputs, strict=True)]
        return _results(specs, tensors, batched)
    from .strings import host_op

    def run(array: np.ndarray) -> list[np.ndarray]:
        return _parse(array, specs, batched)

    kind = "ParseExample" if batched else "ParseSingleExample"
    return _results(specs, host_op(kind, [serialized], run, outputs, name), batched)


def parse_single_example(
    serialized: Any, features: Any, name: str | None = None, example_names: Any = None
) -> dict[str, Any]:
    """tf.io.parse_single_example: a scalar serialized Example -> {key: tensor} per spec."""
    return _parse_op(serialized, features, False, name)


def parse_example(
    serialized: Any, features: Any, name: str | None = None, example_names: Any = None
) -> dict[str, Any]:
    """tf.io.parse_example: a vector of serialized Examples -> {key: batched tensor}."""
    return _parse_op(serialized, features, True, name)


__all__ = [
    "BytesList",
    "Example",
    "Feature",
    "Features",
    "FixedLenFeature",
    "FixedLenSequenceFeature",
    "FloatList",
    "Int64List",
    "TFRecordCompressionType",
    "TFRecordOptions",
    "TFRecordWriter",
    "VarLenFeature",
    "parse_example",
    "parse_single_example",
    "tf_record_iterator",
]
