"""Helpers for the gradient rules (`vjp` methods) of the ops in ir/ops/.

A rule builds its cotangents with an `ir.Builder`; these are the pieces
several rules share: constants shaped like a value, reversal, zeros between
elements (the transpose of a stride), padding one axis, a reshape target.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from .builder import Builder
from .core import Operation, Value
from .errors import KilnError
from .types import Dim, format_shape

# A slice stop meaning "to the end of the axis" (Python's rules clamp it); on
# a symbolic dim, a stop from FAR on is taken to mean the same.
END = sys.maxsize
FAR = 2**31


def scalar_like(b: Builder, value: float, like: Value) -> Value:
    """A scalar constant of `like`'s dtype (it broadcasts in elementwise ops)."""
    dtype = like.type.dtype
    return b.constant(np.asarray(value, dtype.numpy), dtype)


def zeros_like(b: Builder, x: Value) -> Value:
    """Zeros of `x`'s type, symbolic dims included."""
    return b.broadcast_like(scalar_like(b, 0, x), x)


def declared_attrs(op: Operation) -> dict:
    """The op's own attributes (not annotations), to build a related op."""
    return {k: op.attrs[k] for k in op.attr_specs}


def reshape_target(shape: Sequence[Dim], op: Operation) -> list[int]:
    """`shape` as a kiln.reshape target: its one symbolic dim, if any, as -1."""
    if sum(not isinstance(d, int) for d in shape) > 1:
        raise op.error(
            f"its gradient reshapes to {format_shape(shape)}, which has more than one symbolic dim",
            KilnError,
        )
    return [d if isinstance(d, int) else -1 for d in shape]


def reverse(b: Builder, x: Value, axis: int) -> Value:
    """`x` reversed along a static `axis` (a slice with step -1)."""
    n = x.type.shape[axis]
    return b.slice(x, axes=[axis], starts=[-1], stops=[-n - 1], steps=[-1])


def interleave_zeros(b: Builder, x: Value, axis: int, step: int, op: Operation) -> Value:
    """`step - 1` zeros between neighbours of `x` along `axis` (the transpose of a
    strided slice): n elements become (n - 1) * step + 1."""
    n = x.type.shape[axis]
    if not isinstance(n, int):
        raise op.error(f"its gradient with step {step} needs a static dim, got {x.type}", KilnError)
    high = [0] * (x.type.rank + 1)
    high[axis + 1] = step - 1
    spread = b.pad(b.expand_dims(x, axis=axis + 1), low=[0] * len(high), high=high)
    merged = list(x.type.shape)
    merged[axis] = n * step
    flat = b.reshape(spread, shape=reshape_target(merged, op))
    return b.slice(flat, axes=[axis], starts=[0], stops=[(n - 1) * step + 1])


def pad_axis(b: Builder, x: Value, axis: int, low: int, high: int) -> Value:
    """`x` with `low` zeros before and `high` after it along `axis`."""
    lows, highs = [0] * x.type.rank, [0] * x.type.rank
    lows[axis], highs[axis] = low, high
    return b.pad(x, low=lows, high=highs)


# The region ops (kiln.if, kiln.scan, kiln.while) differentiate their regions
# with autodiff's own reverse walk, which lives in passes/autodiff.py (ir/
# imports nothing else of kiln): importing that module registers it here.
_REGION_ADJOINT: list = []


def set_region_adjoint(fn) -> None:
    """Called by passes.autodiff: `fn(b, block, args, seeds)` copies `block`'s
    ops (its terminator excepted) with `b`, its arguments bound to `args`, and
    returns the cotangent of each of `args` (None where none flows) given
    `seeds`: yield position -> cotangent of that yielded value."""
    _REGION_ADJOINT[:] = [fn]


def region_adjoint(b: Builder, block, args: Sequence[Value], seeds: dict) -> list:
    """The cotangents of a region's arguments (see `set_region_adjoint`)."""
    if not _REGION_ADJOINT:
        raise KilnError("differentiating a region needs kiln.passes.autodiff (import it)")
    return _REGION_ADJOINT[0](b, block, list(args), seeds)
