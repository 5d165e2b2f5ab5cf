"""Attribute kinds: what an op's attribute may hold, and its text form.

An attribute value is a plain Python value (int, float, bool, str, tuple of
ints, DType, TensorType, SymbolRef, Dense). Each op declares its attributes
with an `Attr` naming the kind and a default; the printer writes a value by
its Python type, so the parser needs no per-op code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dtypes import DType, as_storage, dtype_of
from .errors import KilnError
from .types import TensorType

# Constants with more elements than this print as raw hex bytes.
DENSE_LITERAL_LIMIT = 16


@dataclass(frozen=True)
class SymbolRef:
    """A reference to a function by name, printed ``@name``."""

    name: str

    def __str__(self) -> str:
        return "@" + self.name


class Dense:
    """A constant tensor value: a numpy array and its kiln type."""

    __slots__ = ("array", "type")

    def __init__(self, value: object, type: TensorType | None = None):
        if type is None:
            arr = np.asarray(value)
            type = TensorType(dtype_of(arr.dtype), arr.shape)
        if not type.is_static:
            raise KilnError(f"a constant needs a static shape, got {type}")
        arr = np.asarray(value)
        try:
            arr = np.broadcast_to(as_storage(arr, type.dtype), type.shape)
        except ValueError:
            raise KilnError(f"constant of shape {arr.shape} does not fit {type}") from None
        if arr.size > 1 and not any(arr.strides):
            # a splat given as a broadcast (ConstantOfShape's weights): kept as one
            # element broadcast, read-only, not as a dense copy of 100 MB
            arr = np.broadcast_to(np.array(arr[(0,) * arr.ndim]), arr.shape)
        else:
            arr = np.array(arr, copy=True, order="C")  # ascontiguousarray would make 0-d 1-d
            arr.flags.writeable = False
        self.array, self.type = arr, type

    @property
    def is_broadcast(self) -> bool:
        """Whether the array is one element broadcast (all its strides 0)."""
        return self.array.size > 1 and not any(self.array.strides)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dense) or self.type != other.type:
            return False
        if self.is_broadcast and other.is_broadcast:
            return self.array.flat[0].tobytes() == other.array.flat[0].tobytes()
        return self.array.tobytes() == other.array.tobytes()

    def __hash__(self) -> int:
        # the type and a few elements: O(1) for large constants (CSE hashes every one);
        # equal constants have equal bytes, so equal first and last elements
        a = self.array
        ends = (a.flat[0].tobytes(), a.flat[-1].tobytes()) if a.size else ()
        return hash((self.type, ends))

    def __repr__(self) -> str:
        return f"Dense({format_value(self)})"


# ---------------------------------------------------------------- text form


def format_float(v: float, dtype: DType = DType.f64) -> str:
    """The shortest text that reads back as exactly `v` in `dtype`."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    np_t = np.float64 if dtype is DType.f64 else np.float16 if dtype is DType.f16 else np.float32
    x = np_t(v)
    pos = np.format_float_positional(x, unique=True, trim="0")
    sci = np.format_float_scientific(x, unique=True, trim="0")
    text = pos if len(pos) <= len(sci) else sci
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _format_scalar(v: Any, dtype: DType) -> str:
    if dtype.is_bool:
        return "true" if v else "false"
    if dtype.is_float:
        return format_float(float(v), dtype)
    return str(int(v))


def _format_nested(a: np.ndarray, dtype: DType) -> str:
    if a.ndim == 0:
        return _format_scalar(a.item(), dtype)
    return "[" + ", ".join(_format_nested(x, dtype) for x in a) + "]"


def dense_bytes(d: Dense) -> bytes:
    """The little-endian storage bytes of a constant (bf16 as 2 bytes)."""
    if d.type.dtype is DType.bf16:
        return (d.array.view(np.uint32) >> 16).astype("<u2").tobytes()
    return d.array.astype(d.array.dtype.newbyteorder("<")).tobytes()


def dense_from_bytes(data: bytes, type: TensorType) -> Dense:
    if len(data) != type.num_elements * type.dtype.itemsize:
        raise KilnError(
            f"hex constant has {len(data)} bytes, {type} needs "
            f"{type.num_elements * type.dtype.itemsize}"
        )
    if type.dtype is DType.bf16:
        bits = np.frombuffer(data, "<u2").astype(np.uint32) << 16
        arr = bits.view(np.float32)
    else:
        arr = np.frombuffer(data, type.dtype.numpy.newbyteorder("<"))
    return Dense(arr.reshape(type.shape).astype(type.dtype.numpy), type)


def is_splat(a: np.ndarray) -> bool:
    """True when every element has the same bits (so -0.0 and 0.0 differ)."""
    if not any(a.strides):
        return True
    raw = a.reshape(-1).view(np.uint8).reshape(a.size, -1)
    head = raw[:64]  # most arrays that are not splats differ early: no full scan
    return bool((head == raw[0]).all()) and bool((raw == raw[0]).all())


def format_dense(d: Dense) -> str:
    a = d.array
    if a.ndim == 0 or (a.size > 1 and is_splat(a)):
        body = _format_scalar(a.flat[0], d.type.dtype)
    elif a.size > DENSE_LITERAL_LIMIT:
        body = '"0x' + dense_bytes(d).hex().upper() + '"'
    else:
        body = _format_nested(a, d.type.dtype)
    return f"dense<{body}> : {d.type}"


def format_value(v: Any) -> str:
    """The text form of an attribute value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (DType, TensorType, SymbolRef)):
        return str(v)
    if isinstance(v, Dense):
        return format_dense(v)
    if isinstance(v, tuple):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    raise KilnError(f"cannot print attribute value {v!r}")


# ---------------------------------------------------------------- kinds

REQUIRED = object()


@dataclass(frozen=True)
class Attr:
    """An attribute declaration: a kind (a checking function) and a default.

    `check(value)` returns the value in canonical form or raises KilnError
    naming what was expected. An attribute equal to its default is not
    printed.
    """

    check: Callable[[Any], Any]
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_(v: Any) -> int:
    if not _is_int(v):
        raise KilnError(f"expected an integer, got {v!r}")
    return int(v)


def float_(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise KilnError(f"expected a number, got {v!r}")
    return float(v)


def bool_(v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise KilnError(f"expected true or false, got {v!r}")
    return bool(v)


def str_(v: Any) -> str:
    if not isinstance(v, str):
        raise KilnError(f"expected a string, got {v!r}")
    return v


def ints(v: Any) -> tuple[int, ...]:
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise KilnError(f"expected a list of integers, got {v!r}")
    return tuple(int_(x) for x in v)


def dtype_(v: Any) -> DType:
    return dtype_of(v)


def symbol(v: Any) -> SymbolRef:
    if isinstance(v, str):
        return SymbolRef(v)
    if not isinstance(v, SymbolRef):
        raise KilnError(f"expected a function name like @f, got {v!r}")
    return v


def dense(v: Any) -> Dense:
    return v if isinstance(v, Dense) else Dense(v)


def one_of(*choices: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in choices:
            raise KilnError(f"expected one of {', '.join(map(repr, choices))}, got {v!r}")
        return v

    return check


def optional(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A kind that also accepts None (meaning: not given)."""
    return lambda v: None if v is None else kind(v)
