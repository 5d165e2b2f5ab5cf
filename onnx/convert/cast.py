"""The converters of ONNX Cast and CastLike, with the narrow types kiln has no
dtype for (float8 e4m3fn/e4m3fnuz/e5m2/e5m2fnuz, the power-of-two float8e8m0,
float4 e2m1, 4- and 2-bit integers), carried in f32 or i8/u8 (convert.CARRIED).

A cast into a narrow float rounds the value to the nearest one of the format
(ties to even), with the format's subnormals; out of range it saturates to the
largest finite value (`saturate=1`, the default) or becomes the format's
overflow value (inf for e5m2, NaN for the others; float4 has neither and
saturates). A cast of a float into a narrow integer truncates toward zero and
gives 0 out of the type's range, of an integer wraps, as onnx's reference
(ml_dtypes) computes it. Everything is written with kiln's elementwise ops: a
fused kernel of compares and selects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.core import Value
from ...ir.dtypes import DType
from . import CARRIED, Context, Node, converter, dtype_of_elem
from .elementwise import like
from .rounding import floor, round_half_even
from .shape import same_dims


@dataclass(frozen=True)
class FloatFormat:
    """A narrow float: `mantissa` stored bits, exponents `emin` (the smallest
    normal one) to `emax`, the largest finite value `max`, and what overflow gives
    without saturation (None: it saturates)."""

    mantissa: int
    emin: int
    emax: int
    max: float
    overflow: float | None


FLOATS = {
    17: FloatFormat(3, -6, 8, 448.0, np.nan),  # float8e4m3fn
    18: FloatFormat(3, -7, 7, 240.0, np.nan),  # float8e4m3fnuz
    19: FloatFormat(2, -14, 15, 57344.0, np.inf),  # float8e5m2
    20: FloatFormat(2, -15, 15, 57344.0, np.nan),  # float8e5m2fnuz
    23: FloatFormat(1, 0, 2, 6.0, None),  # float4e2m1
}
INTS = {21: (0, 15), 22: (-8, 7), 25: (0, 3), 26: (-2, 1)}  # uint4 int4 uint2 int2


def to_float_format(ctx: Context, x: Value, fmt: FloatFormat, saturate: bool) -> Value:
    """x (a float) rounded to the values of `fmt`, carried in f32."""
    b = ctx.b
    if x.type.dtype != DType.f32:
        x = b.cast(x, dtype="f32")
    a = b.abs(x)
    if fmt.overflow is None:  # no NaN in the format: NaN gives 0
        a = b.select(b.not_equal(x, x), like(ctx, a, 0), a)
    if saturate or fmt.overflow is None:
        a = b.select(b.greater(a, like(ctx, a, fmt.max)), like(ctx, a, fmt.max), a)
    # finite and not NaN from here: far beyond max is 2 * max (which still overflows)
    a = b.select(b.less_equal(a, like(ctx, a, 2 * fmt.max)), a, like(ctx, a, 2 * fmt.max))
    # the spacing of the format's values around a: 2^(exponent - mantissa bits)
    quantum = like(ctx, a, 2.0 ** (fmt.emin - fmt.mantissa))
    for e in range(fmt.emin + 1, fmt.emax + 1):
        quantum = b.select(
            b.greater_equal(a, like(ctx, a, 2.0**e)),
            like(ctx, a, 2.0 ** (e - fmt.mantissa)),
            quantum,
        )
    y = b.mul(round_half_even(ctx, b.div(a, quantum)), quantum)
    if fmt.overflow is not None and not saturate:
        y = b.select(b.greater(y, like(ctx, y, fmt.max)), like(ctx, y, fmt.overflow), y)
    y = b.select(b.less(x, like(ctx, x, 0)), b.neg(y), y)
    if fmt.overflow is not None:  # NaN stays NaN (float4 has none: it gives 0)
        y = b.select(b.not_equal(x, x), like(ctx, y, np.nan), y)
    return y


def to_e8m0(ctx: Context, x: Value, mode: str, saturate: bool) -> Value:
    """|x| as a power of two 2^-127 .. 2^127 (float8e8m0: no sign, no zero),
    rounding the exponent as onnx's to_float8e8m0: up when x is not a power of
    two, down, or to nearest (up from 1.5 * 2^e); f32's subnormals count as
    exponent -127; inf and NaN give NaN, beyond 2^127 saturates or gives NaN."""
    b = ctx.b
    a = b.abs(b.cast(x, dtype="f64"))
    tiny = 2.0**-126  # below it f32 is subnormal: its exponent field is 0
    safe = b.select(b.logical_and(b.greater_equal(a, like(ctx, a, tiny)),
                                  b.less(a, like(ctx, a, np.inf))), a, like(ctx, a, 1))  # fmt: skip
    e = floor(ctx, b.div(b.log(safe), like(ctx, a, np.log(2.0))))
    two = like(ctx, a, 2)
    e = b.sub(e, b.cast(b.greater(b.pow(two, e), safe), dtype="f64"))  # log's rounding
    e = b.add(e, b.cast(b.less_equal(b.pow(two, b.add(e, like(ctx, e, 1))), safe), dtype="f64"))
    power = b.pow(two, e)
    if mode == "up":
        e = b.add(e, b.cast(b.greater(safe, power), dtype="f64"))
        sub = b.select(b.greater(a, like(ctx, a, 0)), like(ctx, a, -126), like(ctx, a, -127))
    elif mode == "nearest":
        e = b.add(e, b.cast(b.greater_equal(safe, b.mul(power, like(ctx, a, 1.5))), dtype="f64"))
        sub = b.select(b.greater(a, like(ctx, a, 2.0**-127)), like(ctx, a, -126),
                       like(ctx, a, -127))  # fmt: skip
    else:
        sub = like(ctx, a, -127)
    e = b.select(b.less(a, like(ctx, a, tiny)), sub, e)
    over = b.greater(e, like(ctx, e, 127))
    y = b.pow(two, b.select(over, like(ctx, e, 127), e))
    if not saturate:
        y = b.select(over, like(ctx, y, np.nan), y)
    y = b.select(b.logical_or(b.not_equal(a, a), b.equal(a, like(ctx, a, np.inf))),
                 like(ctx, y, np.nan), y)  # fmt: skip
    return b.cast(y, dtype="f32")


def to_int_range(ctx: Context, x: Value, lo: int, hi: int, carrier: DType) -> Value:
    """x as an integer of [lo, hi]: a float truncated (0 out of range or NaN),
    an integer wrapped modulo the range's size."""
    b = ctx.b
    if x.type.dtype.is_float:
        wide = x if x.type.dtype.itemsize >= 4 else b.cast(x, dtype="f32")
        inside = b.logical_and(
            b.greater(wide, like(ctx, wide, lo - 1)), b.less(wide, like(ctx, wide, hi + 1))
        )
        safe = b.select(inside, wide, like(ctx, wide, 0))
        return b.cast(b.cast(safe, dtype="i32"), dtype=carrier)
    wide = b.cast(x, dtype="i64") if x.type.dtype != DType.i64 else x
    size = like(ctx, wide, hi - lo + 1)
    r = b.sub(wide, b.mul(b.div(wide, size), size))  # truncated remainder, then into [0, size)
    r = b.select(b.less(r, like(ctx, r, 0)), b.add(r, size), r)
    r = b.select(b.greater(r, like(ctx, r, hi)), b.sub(r, size), r)
    return b.cast(r, dtype=carrier)


def cast_to(ctx: Context, node: Node, x: Value, to: int) -> Value:
    """x cast to the ONNX element type `to` (an ONNX value of x's recorded type)."""
    saturate = bool(node.attr("saturate", 1))
    if to == ctx.elem_of(x):
        return x
    if to not in CARRIED and x in ctx.elems and x.type.dtype == dtype_of_elem(to, ""):
        return ctx.b.add(x, like(ctx, x, 0))  # a value of its own (x's is recorded narrow)
    if to == 24:
        mode = node.attr("round_mode", "up")
        if mode not in ("up", "down", "nearest"):
            raise ctx.error(node, f"round_mode={mode!r} is not supported (up, down, nearest)")
        out = to_e8m0(ctx, x, mode, saturate)
        ctx.elems[out] = to
        return out
    if to in FLOATS:
        if not x.type.dtype.is_float:
            x = ctx.b.cast(x, dtype="f32")
        out = to_float_format(ctx, x, FLOATS[to], saturate)
    elif to in INTS:
        if x.type.dtype.is_bool:
            x = ctx.b.cast(x, dtype="i32")
        out = to_int_range(ctx, x, *INTS[to], DType(CARRIED[to]))
    else:
        dtype = dtype_of_elem(to, f"node '{node.name}' ({node.op_type}, opset {ctx.opset})")
        if x.type.dtype == dtype:
            return x
        out = ctx.b.cast(x, dtype=dtype)
        if dtype.is_int:
            same_dims(ctx, x, out, lambda d: d)
        return out
    ctx.elems[out] = to
    return out


@converter("Cast", 6)
def cast(ctx: Context, node: Node) -> list[Value]:
    return [cast_to(ctx, node, node.inputs[0], int(node.attr("to")))]


@converter("CastLike", 15)
def cast_like(ctx: Context, node: Node) -> list[Value]:
    x, target = node.inputs
    return [cast_to(ctx, node, x, ctx.elem_of(target))]
