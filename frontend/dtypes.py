"""TensorFlow's dtype names (kl.float32, kl.int32, ...) over kiln's DType.

Names are TensorFlow's, not numpy's: "float" is float32 (numpy's "float"
is float64), "double" float64, "half" float16, and the Python types map as
TensorFlow maps them (float -> float32, bool -> bool, object -> string).

`string` is a host dtype: its `.ir` is None, because strings never enter
the IR or a native kernel; string tensors live on the Python side of a
Session (frontend/strings.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import DType as IRType
from ..ir import KilnError


class DType:
    """A dtype as TensorFlow names it; `.ir` is kiln's IR dtype."""

    def __init__(self, name: str, ir: IRType | None):
        self.name, self.ir = name, ir

    @property
    def as_numpy_dtype(self) -> type:
        return object if self.ir is None else self.ir.numpy.type

    @property
    def is_string(self) -> bool:
        return self.ir is None

    @property
    def is_floating(self) -> bool:
        return self.ir is not None and self.ir.is_float

    @property
    def is_integer(self) -> bool:
        return self.ir is not None and self.ir.is_int

    @property
    def is_unsigned(self) -> bool:
        return self.ir is not None and self.ir.is_unsigned

    @property
    def is_bool(self) -> bool:
        return self.ir is not None and self.ir.is_bool

    @property
    def is_numpy_compatible(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """Bytes per element (TensorFlow's DType.size; 1 for string, as TF)."""
        return 1 if self.ir is None else self.ir.itemsize

    @property
    def max(self):
        """The largest value of this dtype (TensorFlow's DType.max)."""
        return self._limits()[1]

    @property
    def min(self):
        """The smallest value of this dtype (TensorFlow's DType.min)."""
        return self._limits()[0]

    def _limits(self):
        if self.ir is None:
            raise KilnError(f"dtype {self.name} has no min or max")
        if self.is_bool:
            return False, True
        np_dtype = np.float32 if self is bfloat16 else self.ir.numpy
        info = np.finfo(np_dtype) if self.is_floating else np.iinfo(np_dtype)
        if self is bfloat16:  # bf16 keeps float32's exponent, with 8 bits of mantissa
            return -3.3895314e38, 3.3895314e38
        return info.min, info.max

    @property
    def real_dtype(self) -> DType:
        return self

    @property
    def base_dtype(self) -> DType:
        return self

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:
        return f"<dtype: '{self.name}'>"

    def __eq__(self, other: object) -> bool:
        try:
            return as_dtype(other) is self  # type: ignore[arg-type]
        except KilnError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)


float16 = DType("float16", IRType.f16)
bfloat16 = DType("bfloat16", IRType.bf16)
float32 = DType("float32", IRType.f32)
float64 = DType("float64", IRType.f64)
int8 = DType("int8", IRType.i8)
int16 = DType("int16", IRType.i16)
int32 = DType("int32", IRType.i32)
int64 = DType("int64", IRType.i64)
uint8 = DType("uint8", IRType.u8)
uint16 = DType("uint16", IRType.u16)
uint32 = DType("uint32", IRType.u32)
uint64 = DType("uint64", IRType.u64)
bool_ = DType("bool", IRType.bool)
string = DType("string", None)
half, double = float16, float64

NUMERIC = [float16, bfloat16, float32, float64, int8, int16, int32, int64]
NUMERIC += [uint8, uint16, uint32, uint64, bool_]
ALL = [*NUMERIC, string]
# TensorFlow's names beside the canonical ones ("float" is float32, as in TF)
_BY_NAME = {d.name: d for d in ALL} | {"half": float16, "float": float32, "double": float64}
_BY_IR = {d.ir: d for d in NUMERIC}
_BY_PYTHON = {float: float32, int: int32, bool: bool_, object: string, str: string, bytes: string}


def as_dtype(value: Any) -> DType:
    """A DType from a DType, its name, a numpy dtype or an IR dtype."""
    if isinstance(value, DType):
        return value
    if isinstance(value, IRType):
        return _BY_IR[value]
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise KilnError(
            f"not a dtype name: {value!r} (expected one of {', '.join(sorted(_BY_NAME))})"
        )
    if isinstance(value, type) and value in _BY_PYTHON:
        return _BY_PYTHON[value]
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise KilnError(f"not a dtype: {value!r}") from None
    if np_dtype.kind in "OSU":
        return string
    for d in NUMERIC:
        if d is not bfloat16 and d.ir.numpy == np_dtype:
            return d
    raise KilnError(f"kiln has no dtype for numpy {np_dtype}")
