"""TensorFlow's dtype names (kl.float32, kl.int32, ...) over kiln's DType."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import DType as IRType
from ..ir import KilnError


class DType:
    """A dtype as TensorFlow names it; `.ir` is kiln's IR dtype."""

    def __init__(self, name: str, ir: IRType):
        self.name, self.ir = name, ir

    @property
    def as_numpy_dtype(self) -> type:
        return self.ir.numpy.type

    @property
    def is_floating(self) -> bool:
        return self.ir.is_float

    @property
    def is_integer(self) -> bool:
        return self.ir.is_int

    @property
    def is_bool(self) -> bool:
        return self.ir.is_bool

    @property
    def base_dtype(self) -> DType:
        return self

    def __repr__(self) -> str:
        return f"kl.{self.name}"

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
int32 = DType("int32", IRType.i32)
int64 = DType("int64", IRType.i64)
bool_ = DType("bool", IRType.bool)
half, double = float16, float64

ALL = [float16, bfloat16, float32, float64, int8, int32, int64, bool_]
_BY_NAME = {d.name: d for d in ALL} | {"half": float16, "double": float64}
_BY_IR = {d.ir: d for d in ALL}


def as_dtype(value: Any) -> DType:
    """A DType from a DType, its name, a numpy dtype or an IR dtype."""
    if isinstance(value, DType):
        return value
    if isinstance(value, IRType):
        return _BY_IR[value]
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise KilnError(f"not a dtype: {value!r}") from None
    for d in ALL:
        if d is not bfloat16 and d.ir.numpy == np_dtype:
            return d
    raise KilnError(f"kiln has no dtype for numpy {np_dtype}")
