"""The converter of ONNX BitCast: a tensor's bits read as another type of the
same width, written with kiln's arithmetic (kiln has no bit reinterpretation op).

Between integers (and bool) of one width it is a cast: kiln's integer casts wrap
modulo 2^bits, as the bits do. A float's bits are its sign, biased exponent and
mantissa, computed exactly in f64 (the exponent from a logarithm, corrected
against exact powers of two; the mantissa a scaled, exactly representable
integer) and assembled in i64; an integer's bits are taken apart the same way
and the float rebuilt. Every finite value, signed zero, infinity and subnormal
round-trips; a NaN reads as the quiet NaN (payloads are not kept)."""

from __future__ import annotations

import math

import numpy as np

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter, dtype_of_elem
from .rounding import floor

# float dtype -> (mantissa bits, exponent bits, bias)
_FORMATS = {DType.f16: (10, 5, 15), DType.bf16: (7, 8, 127), DType.f32: (23, 8, 127),
            DType.f64: (52, 11, 1023)}  # fmt: skip


def _bits(dtype: DType) -> int:
    return 8 if dtype == DType.bool else dtype.numpy.itemsize * 8


def _i64(ctx: Context, value: int) -> Value:
    return ctx.constant(np.int64(value), "i64")


def _f64(ctx: Context, value: float) -> Value:
    return ctx.constant(np.float64(value), "f64")


@converter("BitCast", 26)
def bitcast(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    src, dst = x.type.dtype, dtype_of_elem(int(node.attr("to")), node.name)
    if _bits(src) != _bits(dst):
        raise ctx.error(node, f"{src} and {dst} differ in width")
    if src == dst:
        return [x]
    if src.is_float and dst.is_float:
        return [_to_float(ctx, _to_bits(ctx, x, DType.i64), dst)]
    if src.is_float:
        return [_to_bits(ctx, x, dst)]
    if dst.is_float:
        return [_to_float(ctx, x, dst)]
    return [ctx.b.cast(x, dtype=dst)]


def _to_bits(ctx: Context, x: Value, dst: DType) -> Value:
    """The bits of float x as the integer dtype dst of its width (i64 for a
    float-to-float bitcast, holding the unsigned bits)."""
    b = ctx.b
    p, q, bias = _FORMATS[x.type.dtype]
    width = _bits(x.type.dtype)
    xf = b.cast(x, dtype="f64")
    a = b.abs(xf)
    below = b.less(xf, _f64(ctx, 0.0))
    negative = b.logical_or(below, b.less(b.div(_f64(ctx, 1.0), xf), _f64(ctx, 0.0)))  # -0.0
    finite = b.logical_and(b.greater(a, _f64(ctx, 0.0)), b.less(a, _f64(ctx, math.inf)))
    safe = b.select(finite, a, _f64(ctx, 1.0))
    two = _f64(ctx, 2.0)
    e = floor(ctx, b.div(b.log(safe), _f64(ctx, math.log(2.0))))
    e = b.sub(e, b.cast(b.greater(b.pow(two, e), safe), dtype="f64"))
    e = b.add(e, b.cast(b.less_equal(b.mul(two, b.pow(two, e)), safe), dtype="f64"))
    biased = b.add(e, _f64(ctx, bias))
    normal = b.greater_equal(biased, _f64(ctx, 1.0))
    m_normal = b.mul(b.sub(b.div(safe, b.pow(two, e)), _f64(ctx, 1.0)), _f64(ctx, 2.0**p))
    half = (bias - 1 + p) / 2  # 2^(bias-1+p) in two factors: f64's overflows alone
    m_sub = b.mul(
        b.mul(safe, _f64(ctx, 2.0 ** math.floor(half))), _f64(ctx, 2.0 ** math.ceil(half))
    )
    top = float(2**q - 1)
    nan = b.not_equal(xf, xf)
    zero = _f64(ctx, 0.0)
    exponent = b.select(finite, b.select(normal, biased, zero),
                        b.select(b.equal(a, zero), zero, _f64(ctx, top)))  # fmt: skip
    mantissa = b.select(finite, b.select(normal, m_normal, m_sub),
                        b.select(nan, _f64(ctx, 2.0 ** (p - 1)), _f64(ctx, 0.0)))  # fmt: skip
    v = b.add(b.mul(b.cast(exponent, dtype="i64"), _i64(ctx, 2**p)), b.cast(mantissa, dtype="i64"))
    if dst == DType.i64 and width < 64:  # unsigned bits, for a float to float bitcast
        return b.select(negative, b.add(v, _i64(ctx, 2 ** (width - 1))), v)
    bits = b.select(negative, b.add(v, _i64(ctx, -(2 ** (width - 1)))), v)  # signed
    if dst.is_unsigned and width < 64:
        bits = b.select(b.less(bits, _i64(ctx, 0)), b.add(bits, _i64(ctx, 2**width)), bits)
    return b.cast(bits, dtype=dst)


def _to_float(ctx: Context, x: Value, dst: DType) -> Value:
    """The float of dtype dst whose bits are the integer x (any integer dtype whose
    values are the bits, signed or not, or i64 holding them unsigned)."""
    b = ctx.b
    p, q, bias = _FORMATS[dst]
    width = _bits(dst)
    if width < 64:
        u = b.cast(x, dtype="i64")
        u = b.select(b.less(u, _i64(ctx, 0)), b.add(u, _i64(ctx, 2**width)), u)
        negative = b.greater_equal(u, _i64(ctx, 2 ** (width - 1)))
        r = b.select(negative, b.sub(u, _i64(ctx, 2 ** (width - 1))), u)
    else:
        s = b.cast(x, dtype="i64")  # u64 wraps to the same bits
        negative = b.less(s, _i64(ctx, 0))
        lifted = b.add(b.add(b.min(s, _i64(ctx, -1)), _i64(ctx, 2**62)), _i64(ctx, 2**62))
        r = b.select(negative, lifted, s)
    exponent = b.div(r, _i64(ctx, 2**p))
    mantissa = b.cast(b.sub(r, b.mul(exponent, _i64(ctx, 2**p))), dtype="f64")
    ef = b.cast(exponent, dtype="f64")
    normal = b.mul(
        b.add(_f64(ctx, 1.0), b.div(mantissa, _f64(ctx, 2.0**p))),
        b.pow(_f64(ctx, 2.0), b.sub(ef, _f64(ctx, bias))),
    )
    sub = b.mul(mantissa, _f64(ctx, math.ldexp(1.0, 1 - bias - p)))
    zero_m = b.equal(mantissa, _f64(ctx, 0.0))
    special = b.select(zero_m, _f64(ctx, math.inf), _f64(ctx, math.nan))
    value = b.select(b.equal(ef, _f64(ctx, 0.0)), sub, normal)
    value = b.select(b.equal(ef, _f64(ctx, float(2**q - 1))), special, value)
    value = b.select(negative, b.neg(value), value)
    return b.cast(value, dtype=dst)
