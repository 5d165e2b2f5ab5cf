"""Strings, files and CSV as host ops (tf.strings, tf.as_string, tf.decode_csv,
tf.read_file, tf.io.gfile).

kiln's string tensors never enter the IR or a native kernel: `kl.string` is
a host dtype. A host op is a graph node whose `_host_fn` attribute computes
its outputs from numpy arrays on the Python side (Operation.host_fn); the
Session runs the needed host ops before the compiled call and feeds their
outputs to it (session.py), and in eager mode they run at once (eager.py).
String values are numpy object arrays of bytes, as TensorFlow returns them.
A string tensor given to a numeric op is a GraphError that says so.
"""

from __future__ import annotations

import builtins
import glob as _glob
import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .dtypes import DType, as_dtype, float32, int32, string
from .graph import GraphError, Operation, Tensor, TensorShape, get_default_graph
from .ops import convert_to_tensor, to_bytes


def host_op(
    op_type: str,
    inputs: Sequence[Any],
    fn: Callable[..., Sequence[Any]],
    outputs: Sequence[tuple[DType, TensorShape]],
    name: str | None = None,
    attrs: dict[str, Any] | None = None,
) -> list[Tensor]:
    """Add a host op: `fn(*input_arrays)` returns one array per output."""
    tensors = [x if isinstance(x, Tensor) else _as_tensor(x) for x in inputs]
    op = get_default_graph().create_op(
        op_type,
        tensors,
        name=name or op_type,
        attrs={**(attrs or {}), "_host_fn": fn},
        output_types=list(outputs),
    )
    return list(op.outputs)


def host_effect(
    op_type: str,
    inputs: Sequence[Any],
    fn: Callable[..., Any],
    name: str | None = None,
) -> Operation:
    """Add a host op run for its effect (updating state that lives in Python):
    `fn(*input_arrays)`, no outputs. Fetch it, or group it into an op, to run it."""
    tensors = [x if isinstance(x, Tensor) else _as_tensor(x) for x in inputs]

    def run(*arrays: np.ndarray) -> list:
        fn(*arrays)
        return []

    return get_default_graph().create_op(
        op_type,
        tensors,
        name=name or op_type,
        attrs={"_host_fn": run},
        output_types=[],
    )


def _as_tensor(x: Any) -> Tensor:
    return convert_to_tensor(x)


def _strings(x: Any, what: str) -> Tensor:
    t = convert_to_tensor(x)
    if not t.dtype.is_string:
        raise GraphError(f"{what}: expected a string tensor, got {t.name} ({t.dtype.name})")
    return t


def _map(fn: Callable[[bytes], Any], a: np.ndarray, dtype: Any = object) -> np.ndarray:
    """`fn` on every element of an object array."""
    out = np.empty(a.shape, dtype=dtype)
    for i, v in np.ndenumerate(a):
        out[i] = fn(v)
    return out


def _elementwise(
    op_type: str, x: Any, fn: Callable[[bytes], Any], dtype: DType, name: str | None
) -> Tensor:
    t = _strings(x, f"kl.strings.{op_type}")
    np_dtype = object if dtype.is_string else dtype.ir.numpy
    return host_op(op_type, [t], lambda a: [_map(fn, a, np_dtype)], [(dtype, t.shape)], name)[0]


# ------------------------------------------------------------------ tf.strings


def join(inputs: Sequence[Any], separator: str = "", name: str | None = None) -> Tensor:
    """Elementwise concatenation with broadcasting (tf.strings.join / tf.string_join)."""
    tensors = [_strings(x, "kl.strings.join") for x in inputs]
    sep = to_bytes(separator).item()
    shape = TensorShape(_broadcast_dims([t.shape for t in tensors]))

    def run(*arrays):
        parts = np.broadcast_arrays(*arrays)
        out = np.empty(parts[0].shape, dtype=object)
        for i in np.ndindex(out.shape):
            out[i] = sep.join(p[i] for p in parts)
        return [out]

    return host_op("StringJoin", tensors, run, [(string, shape)], name)[0]


def _broadcast_dims(shapes: Sequence[TensorShape]) -> list[int | None] | None:
    if any(s.dims is None for s in shapes):
        return None
    try:
        sizes = [[-1 if d is None else d for d in s.dims] for s in shapes]
        out = np.broadcast_shapes(*[tuple(1 if d == -1 else d for d in s) for s in sizes])
    except ValueError:
        raise GraphError(
            f"kl.strings.join: shapes {[str(s) for s in shapes]} do not broadcast"
        ) from None
    rank = len(out)
    dims: list[int | None] = list(out)
    for s in sizes:
        for k, d in enumerate(s):
            if d == -1:
                dims[rank - len(s) + k] = None
    return dims


def length(input: Any, name: str | None = None, unit: str = "BYTE") -> Tensor:
    """Length of every string in bytes, or in characters with unit="UTF8_CHAR"."""
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise GraphError(f"kl.strings.length: unit must be BYTE or UTF8_CHAR, not {unit!r}")
    if unit == "BYTE":
        return _elementwise("StringLength", input, len, int32, name)
    return _elementwise("StringLength", input, lambda v: len(v.decode()), int32, name)


def to_number(string_tensor: Any, out_type: Any = float32, name: str | None = None) -> Tensor:
    """Parse every string as a number of `out_type` (tf.strings.to_number)."""
    dtype = as_dtype(out_type)

    def parse(v: bytes):
        text = v.decode().strip()
        try:
            return int(text) if dtype.is_integer else float(text)
        except ValueError:
            raise GraphError(
                f"StringToNumber: cannot parse {v!r} as {dtype.name} "
                "(TensorFlow: StringToNumberOp could not correctly convert string)"
            ) from None

    return _elementwise("StringToNumber", string_tensor, parse, dtype, name)


def as_string(
    input: Any,
    precision: int = -1,
    scientific: bool = False,
    shortest: bool = False,
    width: int = -1,
    fill: str = "",
    name: str | None = None,
) -> Tensor:
    """Numbers as strings (tf.strings.as_string): floats with 6 decimals by default."""
    t = convert_to_tensor(input)
    if t.dtype.is_string:
        raise GraphError(f"kl.as_string: {t.name} is already a string tensor")
    if t.dtype.is_floating:
        spec = "e" if scientific else ("g" if shortest else "f")
        digits = "" if precision < 0 and shortest else f".{6 if precision < 0 else precision}"
        fmt = f"{{:{fill}>{width}{digits}{spec}}}" if width > 0 else f"{{:{digits}{spec}}}"
    elif t.dtype.is_bool:
        fmt = "{}"
    else:
        fmt = f"{{:{fill}>{width}d}}" if width > 0 else "{:d}"

    def run(a):
        if t.dtype.is_bool:
            return [_map(lambda v: b"true" if v else b"false", a)]
        values = a.astype(np.float64) if t.dtype.is_floating else a
        return [_map(lambda v: fmt.format(v).encode(), values)]

    return host_op("AsString", [t], run, [(string, t.shape)], name)[0]


def _case(op_type: str, method: str):
    def fn(input: Any, name: str | None = None, encoding: str = "") -> Tensor:
        return _elementwise(op_type, input, lambda v: getattr(v, method)(), string, name)

    fn.__name__ = method
    fn.__doc__ = f"Every string in {method} case, ASCII letters only (tf.strings.{method})."
    return fn


upper = _case("StringUpper", "upper")
lower = _case("StringLower", "lower")


def strip(input: Any, name: str | None = None) -> Tensor:
    """Leading and trailing whitespace removed (tf.strings.strip)."""
    return _elementwise("StringStrip", input, bytes.strip, string, name)


def substr(input: Any, pos: int, len: int, name: str | None = None, unit: str = "BYTE") -> Tensor:  # noqa: A002  (TensorFlow's argument name)
    """Bytes [pos, pos + len) of every string (tf.strings.substr, scalar pos/len)."""
    size = len

    def cut(v: bytes) -> bytes:
        start = pos if pos >= 0 else builtins.len(v) + pos
        if start < 0 or start > builtins.len(v):
            raise GraphError(f"Substr: pos {pos} is out of range for {v!r}")
        return v[start : start + size]

    return _elementwise("Substr", input, cut, string, name)


def regex_replace(
    input: Any, pattern: str, rewrite: str, replace_global: bool = True, name: str | None = None
) -> Tensor:
    """Replace matches of `pattern` (tf.strings.regex_replace; Python's re syntax, \\1 groups)."""
    import re

    compiled = re.compile(to_bytes(pattern).item())
    repl = to_bytes(rewrite).item()
    count = 0 if replace_global else 1
    return _elementwise(
        "RegexReplace", input, lambda v: compiled.sub(repl, v, count=count), string, name
    )


def format(template: str, inputs: Any, placeholder: str = "{}", name: str | None = None) -> Tensor:  # noqa: A001
    """A scalar string with each `{}` replaced by an input's value (tf.strings.format)."""
    items = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    tensors = [convert_to_tensor(x) for x in items]
    pieces = template.split(placeholder)
    if builtins.len(pieces) != builtins.len(tensors) + 1:
        raise GraphError(
            f"kl.strings.format: the template has {builtins.len(pieces) - 1} placeholders "
            f"for {builtins.len(tensors)} inputs"
        )

    def show(a: np.ndarray) -> str:
        if a.ndim:
            return "[" + " ".join(show(row) for row in a) + "]"
        v = a.item()
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, float):
            return np.format_float_positional(v, trim="-")
        return str(v).lower() if isinstance(v, bool) else str(v)

    def run(*arrays):
        text = pieces[0]
        for a, piece in zip(arrays, pieces[1:]):
            text += str(show(a)) + piece
        return [np.array(text.encode(), dtype=object)]

    return host_op("StringFormat", tensors, run, [(string, TensorShape([]))], name)[0]


def split(input: Any, sep: str | None = None, maxsplit: int = -1, name: str | None = None):
    """Split a scalar string or a vector of them (tf.strings.split). A scalar
    gives a vector of its parts; a vector gives a list of rows as a dense
    2-D string tensor padded with b"" (kiln has no RaggedTensor)."""
    t = _strings(input, "kl.strings.split")
    delim = None if sep is None else to_bytes(sep).item()

    def parts(v: bytes) -> list[bytes]:
        return v.split(delim, maxsplit) if delim is not None else v.split(None, maxsplit)

    if t.shape.dims is not None and builtins.len(t.shape.dims) == 0:

        def run(a):
            return [np.array(parts(a.item()) or [], dtype=object)]

        return host_op("StringSplit", [t], run, [(string, TensorShape([None]))], name)[0]

    def run_rows(a):
        rows = [parts(v) for v in a.reshape(-1)]
        width = max((builtins.len(r) for r in rows), default=0)
        out = np.full((builtins.len(rows), width), b"", dtype=object)
        for i, r in enumerate(rows):
            out[i, : builtins.len(r)] = r
        return [out]

    return host_op("StringSplit", [t], run_rows, [(string, TensorShape([None, None]))], name)[0]


# ------------------------------------------------------------------ CSV


def decode_csv(
    records: Any,
    record_defaults: Sequence[Any],
    field_delim: str = ",",
    use_quote_delim: bool = True,
    name: str | None = None,
    na_value: str = "",
    select_cols: Sequence[int] | None = None,
) -> list[Tensor]:
    """Parse CSV records into one tensor per column (tf.io.decode_csv): each
    column's dtype is its default's; an empty field takes the default, and a
    column whose default is empty (`[]`) is required."""
    t = _strings(records, "kl.decode_csv")
    defaults: list[tuple[DType, Any]] = []
    for k, d in enumerate(record_defaults):
        value = np.asarray(d.op.get_attr("value") if isinstance(d, Tensor) else d)
        if isinstance(d, Tensor):
            dtype = d.dtype
        elif value.dtype.kind in "USO":
            dtype = string
        elif value.dtype.kind == "f":
            dtype = float32
        elif value.dtype.kind in "iu":
            dtype = int32
        else:
            raise GraphError(f"kl.decode_csv: record_defaults[{k}] {d!r} has no usable dtype")
        defaults.append((dtype, value.reshape(-1)[0] if value.size else None))
    columns = list(select_cols) if select_cols is not None else list(range(len(defaults)))
    import csv

    def parse_field(text: str, k: int):
        dtype, default = defaults[k]
        if text == "" or text == na_value:
            if default is None:
                raise GraphError(f"DecodeCSV: field {k} is required but missing")
            text = default.decode() if isinstance(default, bytes) else str(default)
        if dtype.is_string:
            return text.encode()
        try:
            return int(text) if dtype.is_integer else float(text)
        except ValueError:
            raise GraphError(f"DecodeCSV: field {k} ({text!r}) is not a {dtype.name}") from None

    def run(a):
        flat = [v.decode() for v in a.reshape(-1)]
        quoting = csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE
        outs = [np.empty(len(flat), dtype=object) for _ in defaults]
        for i, line in enumerate(flat):
            fields = next(csv.reader([line], delimiter=field_delim, quoting=quoting), [""])
            picked = [fields[c] if c < len(fields) else None for c in columns]
            if len(fields) != (max(columns) + 1 if select_cols is not None else len(defaults)):
                if select_cols is None or any(p is None for p in picked):
                    raise GraphError(
                        f"DecodeCSV: expect {len(defaults)} fields but have {len(fields)} "
                        f"in record {i}"
                    )
            for k, text in enumerate(picked):
                outs[k][i] = parse_field(text, k)
        return [
            o.reshape(a.shape).astype(object if d.is_string else d.ir.numpy)
            for o, (d, _) in zip(outs, defaults)
        ]

    return host_op("DecodeCSV", [t], run, [(d, t.shape) for d, _ in defaults], name)


# ------------------------------------------------------------------ files


def read_file(filename: Any, name: str | None = None) -> Tensor:
    """A file's bytes as a scalar string (tf.io.read_file / tf.read_file)."""
    t = _strings(filename, "kl.read_file")

    def run(a):
        with open(a.item().decode(), "rb") as f:
            return [np.array(f.read(), dtype=object)]

    return host_op("ReadFile", [t], run, [(string, TensorShape([]))], name)[0]


def write_file(filename: Any, contents: Any, name: str | None = None):
    """Write a scalar string to a file (tf.io.write_file); returns the op."""
    f, c = _strings(filename, "kl.write_file"), _strings(contents, "kl.write_file")

    def run(a, b):
        with open(a.item().decode(), "wb") as out:
            out.write(b.item())
        return []

    op = get_default_graph().create_op(
        "WriteFile", [f, c], name=name or "WriteFile", attrs={"_host_fn": run}, output_types=[]
    )
    return op


def matching_files(pattern: Any, name: str | None = None) -> Tensor:
    """The sorted file names matching a glob pattern (tf.io.matching_files)."""
    t = _strings(pattern, "kl.matching_files")

    def run(a):
        names = sorted(n for p in a.reshape(-1) for n in _glob.glob(p.decode()))
        return [np.array([n.encode() for n in names], dtype=object).reshape(-1)]

    return host_op("MatchingFiles", [t], run, [(string, TensorShape([None]))], name)[0]


class GFile:
    """A file object (tf.io.gfile.GFile, tf.gfile.GFile / Open): local files."""

    def __init__(self, name: str, mode: str = "r"):
        self.name, self.mode = os.fspath(name), mode
        self._file = open(self.name, mode)

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self):
        return iter(self._file)

    def read(self, n: int = -1):
        return self._file.read(n)

    def readline(self):
        return self._file.readline()

    def readlines(self):
        return self._file.readlines()

    def write(self, data):
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def seek(self, offset: int, whence: int = 0):
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def size(self) -> int:
        return os.path.getsize(self.name)


def exists(path: str) -> bool:
    return os.path.exists(path)


def glob(pattern: str) -> list[str]:
    return sorted(_glob.glob(pattern))


def isdir(path: str) -> bool:
    return os.path.isdir(path)


def listdir(path: str) -> list[str]:
    if not os.path.isdir(path):
        raise GraphError(f"kl.io.gfile.listdir: {path} is not a directory")
    return sorted(os.listdir(path))


def makedirs(path: str) -> None:
    os.makedirs(path, exist_ok=True)


def mkdir(path: str) -> None:
    os.mkdir(path)


def remove(path: str) -> None:
    os.remove(path)


def rmtree(path: str) -> None:
    shutil.rmtree(path)


def copy(src: str, dst: str, overwrite: bool = False) -> None:
    if os.path.exists(dst) and not overwrite:
        raise GraphError(f"kl.io.gfile.copy: {dst} exists (pass overwrite=True)")
    shutil.copyfile(src, dst)


def rename(src: str, dst: str, overwrite: bool = False) -> None:
    if os.path.exists(dst) and not overwrite:
        raise GraphError(f"kl.io.gfile.rename: {dst} exists (pass overwrite=True)")
    os.replace(src, dst)


def walk(top: str, topdown: bool = True):
    yield from os.walk(top, topdown=topdown)


def decode_raw(
    input_bytes: Any,
    out_type: Any,
    little_endian: bool = True,
    fixed_length: int | None = None,
    name: str | None = None,
) -> Tensor:
    """The bytes of every string as numbers of `out_type` (tf.io.decode_raw): the
    result has one more axis, the element count of each string (all equal)."""
    t = _strings(input_bytes, "kl.decode_raw")
    dtype = as_dtype(out_type)
    if dtype.is_string:
        raise GraphError("kl.decode_raw: out_type must be a numeric dtype")
    np_dtype = dtype.ir.numpy.newbyteorder("<" if little_endian else ">")

    def run(a):
        rows = [np.frombuffer(v[:fixed_length] if fixed_length else v, np_dtype) for v in a.flat]
        sizes = {r.size for r in rows}
        if len(sizes) > 1:
            raise GraphError(f"DecodeRaw: the strings decode to different lengths {sorted(sizes)}")
        width = sizes.pop() if sizes else 0
        out = np.array(rows, dtype=dtype.ir.numpy).reshape(*a.shape, width)
        return [out]

    dims = t.shape.dims
    shape = TensorShape(None if dims is None else [*dims, None])
    return host_op("DecodeRaw", [t], run, [(dtype, shape)], name)[0]


def reduce_join(
    inputs: Any, axis: Any = None, keepdims: bool = False, separator: str = "", name=None
) -> Tensor:
    """Join the strings along `axis` (all axes by default) (tf.strings.reduce_join)."""
    t = _strings(inputs, "kl.strings.reduce_join")
    sep = to_bytes(separator).item()

    def run(a):
        axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(a.ndim, 1))
        moved = np.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
        lead = moved.shape[: a.ndim - len(axes)]
        flat = moved.reshape(*lead, -1)
        out = np.empty(lead, dtype=object)
        for i in np.ndindex(lead):
            out[i] = sep.join(flat[i])
        if keepdims:
            out = out.reshape([1 if k in axes else d for k, d in enumerate(a.shape)])
        return [out]

    dims = t.shape.dims
    if dims is None:
        shape = TensorShape(None)
    else:
        axes = (
            set(range(len(dims)))
            if axis is None
            else {int(k) % len(dims) for k in np.atleast_1d(axis)}
        )
        shape = TensorShape(
            [1 if k in axes else d for k, d in enumerate(dims)]
            if keepdims
            else [d for k, d in enumerate(dims) if k not in axes]
        )
    return host_op("ReduceJoin", [t], run, [(string, shape)], name)[0]
