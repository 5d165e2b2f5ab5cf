"""Element types of kiln tensors and their numpy counterparts.

bf16 is storage-only on the CPU: the reference interpreter carries bf16
values in float32 arrays, rounded to bf16 precision (round to nearest even)
after every op, so results are exactly what bf16 storage would hold.
"""

from __future__ import annotations

import enum

import numpy as np

from .errors import KilnError


class DType(enum.Enum):
    """An element type. The value is the name used in the text form."""

    f16 = "f16"
    bf16 = "bf16"
    f32 = "f32"
    f64 = "f64"
    i8 = "i8"
    i16 = "i16"
    i32 = "i32"
    i64 = "i64"
    u8 = "u8"
    u16 = "u16"
    u32 = "u32"
    u64 = "u64"
    bool = "bool"

    def __repr__(self) -> str:
        return f"kiln.{self.value}"

    def __str__(self) -> str:
        return self.value

    @property
    def is_float(self) -> bool:
        return self in _FLOATS

    @property
    def is_int(self) -> bool:
        return self in _SIGNED or self in _UNSIGNED

    @property
    def is_unsigned(self) -> bool:
        """u8, u16, u32, u64: integers without a sign (wrapping modulo 2**bits)."""
        return self in _UNSIGNED

    @property
    def is_bool(self) -> bool:
        return self is DType.bool

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype of arrays holding this type (float32 for bf16)."""
        return _TO_NUMPY[self]

    @property
    def itemsize(self) -> int:
        """Bytes per element in kiln's storage (2 for bf16)."""
        return 2 if self is DType.bf16 else self.numpy.itemsize


_FLOATS = frozenset({DType.f16, DType.bf16, DType.f32, DType.f64})
_SIGNED = frozenset({DType.i8, DType.i16, DType.i32, DType.i64})
_UNSIGNED = frozenset({DType.u8, DType.u16, DType.u32, DType.u64})

_TO_NUMPY = {
    DType.f16: np.dtype(np.float16),
    DType.bf16: np.dtype(np.float32),
    DType.f32: np.dtype(np.float32),
    DType.f64: np.dtype(np.float64),
    DType.i8: np.dtype(np.int8),
    DType.i16: np.dtype(np.int16),
    DType.i32: np.dtype(np.int32),
    DType.i64: np.dtype(np.int64),
    DType.u8: np.dtype(np.uint8),
    DType.u16: np.dtype(np.uint16),
    DType.u32: np.dtype(np.uint32),
    DType.u64: np.dtype(np.uint64),
    DType.bool: np.dtype(np.bool_),
}

_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items() if k is not DType.bf16}

f16, bf16, f32, f64 = DType.f16, DType.bf16, DType.f32, DType.f64
i8, i16, i32, i64 = DType.i8, DType.i16, DType.i32, DType.i64
u8, u16, u32, u64 = DType.u8, DType.u16, DType.u32, DType.u64
bool_ = DType.bool


def dtype_of(x: object) -> DType:
    """The kiln dtype of a numpy dtype, a numpy array, a DType or its name."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        try:
            return DType(x)
        except ValueError:
            pass
    try:
        npd = np.dtype(getattr(x, "dtype", x))
    except TypeError as e:
        raise KilnError(f"not a dtype: {x!r}") from e
    if npd in _FROM_NUMPY:
        return _FROM_NUMPY[npd]
    raise KilnError(
        f"numpy dtype {npd} has no kiln counterpart (expected one of "
        f"{', '.join(d.value for d in DType)})"
    )


def round_to_bf16(a: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bf16 (ties to even), kept as float32."""
    a = np.array(a, dtype=np.float32, order="C")  # ascontiguousarray would make 0-d 1-d
    bits = a.view(np.uint32)
    nan = np.isnan(a)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    out = ((bits + rounding) & np.uint32(0xFFFF0000)).view(np.float32)
    return np.where(nan, np.float32(np.nan), out)


def as_storage(a: np.ndarray, dtype: DType) -> np.ndarray:
    """`a` converted to the array kiln stores for `dtype`."""
    out = np.asarray(a).astype(dtype.numpy, copy=False)
    return round_to_bf16(out) if dtype is DType.bf16 else out
