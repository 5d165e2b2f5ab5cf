"""Tensor types: a dtype and a shape whose dimensions are ints or symbols.

A symbolic dimension is either anonymous (``?``: some size, not known to equal
any other) or named (``N``, ``BATCH``: every ``N`` in a function is the same
size). Names are upper-case letters, digits and ``_`` so that the text form
``tensor<Nx784xf32>`` splits on ``x`` without ambiguity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from .dtypes import DType, dtype_of
from .errors import KilnError, ShapeError

_SYMBOL_NAME = re.compile(r"\?|[A-Z][A-Z0-9_]*\Z")


@dataclass(frozen=True)
class Symbol:
    """A dimension whose size is known only at run time."""

    name: str = "?"

    def __post_init__(self):
        if not _SYMBOL_NAME.fullmatch(self.name):
            raise KilnError(
                f"bad symbolic dimension name {self.name!r}: expected '?' or an "
                "upper-case name such as N or BATCH_SIZE"
            )

    @property
    def anonymous(self) -> bool:
        return self.name == "?"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Symbol({self.name!r})"


Dim = Union[int, Symbol]  # noqa: UP007  (a runtime alias, py3.10)
ANY = Symbol("?")


def as_dim(d: object) -> Dim:
    """An int, None (anonymous), '?' or a symbol name, as a dimension."""
    if d is None:
        return ANY
    if isinstance(d, Symbol):
        return d
    if isinstance(d, str):
        return Symbol(d)
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
        return int(d)
    raise KilnError(f"bad dimension {d!r}: expected a non-negative int, None or a symbol name")


def is_static(d: Dim) -> bool:
    return isinstance(d, int)


def known_equal(a: Dim, b: Dim) -> bool:
    """True when two dims are certainly the same size."""
    if isinstance(a, int) or isinstance(b, int):
        return a == b
    return a == b and not a.anonymous


def may_equal(a: Dim, b: Dim) -> bool:
    """False only when two dims are certainly different sizes."""
    return not (isinstance(a, int) and isinstance(b, int) and a != b)


@dataclass(frozen=True)
class TensorType:
    """A tensor's dtype and shape. Rank 0 is a scalar."""

    dtype: DType
    shape: tuple[Dim, ...] = ()

    def __init__(self, dtype: DType | str, shape: Iterable[object] = ()):
        object.__setattr__(self, "dtype", dtype_of(dtype))
        object.__setattr__(self, "shape", tuple(as_dim(d) for d in shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def num_elements(self) -> int | None:
        """The element count, or None if a dimension is symbolic."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.is_static else None

    def with_shape(self, shape: Iterable[object]) -> TensorType:
        return TensorType(self.dtype, shape)

    def with_dtype(self, dtype: DType | str) -> TensorType:
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        return "tensor<" + "".join(f"{d}x" for d in self.shape) + self.dtype.value + ">"

    def __repr__(self) -> str:
        return f"TensorType({self})"


def parse_type_body(body: str) -> TensorType:
    """The type written ``tensor<BODY>``, e.g. ``?x784xf32``; KilnError if malformed."""
    *dims, dt = body.split("x")
    try:
        dtype = DType(dt)
    except ValueError:
        raise KilnError(
            f"unknown element type {dt!r} in tensor<{body}> (expected one of "
            f"{', '.join(d.value for d in DType)})"
        ) from None
    shape = []
    for d in dims:
        if d.isascii() and d.isdigit():  # '²' is a digit to str.isdigit
            shape.append(int(d))
        elif _SYMBOL_NAME.fullmatch(d):
            shape.append(Symbol(d))
        else:
            raise KilnError(
                f"bad dimension {d!r} in tensor<{body}>: expected an int, '?' or "
                "an upper-case symbol name"
            )
    return TensorType(dtype, shape)


def broadcast_dim(a: Dim, b: Dim) -> Dim:
    """The numpy broadcast of two dims; ShapeError when they certainly clash."""
    if a == 1:
        return b
    if b == 1:
        return a
    if isinstance(a, int) and isinstance(b, int):
        if a != b:
            raise ShapeError(f"dimensions {a} and {b} do not broadcast")
        return a
    if isinstance(a, int):
        return a  # b is symbolic: it must be a or 1 at run time
    if isinstance(b, int):
        return b
    return a if known_equal(a, b) else ANY


def broadcast_shapes(*shapes: Sequence[Dim]) -> tuple[Dim, ...]:
    """numpy broadcasting of several shapes, with symbolic dims."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for i in range(rank):
        dim: Dim = 1
        for s in shapes:
            j = i - (rank - len(s))
            if j >= 0:
                try:
                    dim = broadcast_dim(dim, s[j])
                except ShapeError:
                    raise ShapeError(
                        "shapes " + ", ".join(_fmt_shape(s) for s in shapes) + " do not broadcast"
                    ) from None
        out.append(dim)
    return tuple(out)


def _fmt_shape(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def format_shape(shape: Sequence[Dim]) -> str:
    """A shape as a Python tuple would print, with symbols by name."""
    return _fmt_shape(shape)
