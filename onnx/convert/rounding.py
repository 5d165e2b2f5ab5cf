"""The converters of ONNX Floor, Ceil and Round, and the roundings other
converters use, written with kiln's elementwise ops (a cast to i64 truncates;
a float beyond the mantissa's reach is an integer already)."""

from __future__ import annotations

from ...ir.core import Value
from . import Context, Node, converter
from .elementwise import like

_MANTISSA = {"f16": 10, "bf16": 7, "f32": 23, "f64": 52}


def _truncated(ctx: Context, x: Value) -> tuple[Value, Value, Value]:
    """(small, i, t): whether |x| is below 2^mantissa (else x is integral, or inf or
    NaN), x truncated toward zero as an i64 and as x's dtype (0 where not small)."""
    b = ctx.b
    big = like(ctx, x, 2.0 ** _MANTISSA.get(x.type.dtype.value, 52))
    small = b.less(b.abs(x), big)
    i = b.cast(b.select(small, x, like(ctx, x, 0)), dtype="i64")
    return small, i, b.cast(i, dtype=x.type.dtype)


def floor(ctx: Context, x: Value) -> Value:
    b = ctx.b
    small, _, t = _truncated(ctx, x)
    down = b.sub(t, b.cast(b.greater(t, x), dtype=x.type.dtype))
    return b.select(small, down, x)


def ceil(ctx: Context, x: Value) -> Value:
    b = ctx.b
    small, _, t = _truncated(ctx, x)
    up = b.add(t, b.cast(b.less(t, x), dtype=x.type.dtype))
    return b.select(small, up, x)


def round_half_even(ctx: Context, x: Value) -> Value:
    """x rounded to the nearest integer, halves to the even one (numpy's rint)."""
    b = ctx.b
    small, i, t = _truncated(ctx, x)
    frac = b.sub(x, t)  # in (-1, 1), with x's sign
    two = ctx.constant(2, "i64")
    odd = b.not_equal(b.sub(i, b.mul(b.div(i, two), two)), ctx.constant(0, "i64"))
    half = like(ctx, x, 0.5)
    away = b.logical_or(
        b.greater(b.abs(frac), half), b.logical_and(b.equal(b.abs(frac), half), odd)
    )
    step = b.select(b.less(x, like(ctx, x, 0)), like(ctx, x, -1), like(ctx, x, 1))
    rounded = b.select(away, b.add(t, step), t)
    return b.select(small, rounded, x)


def float_unary(onnx_name: str, fn, since: int, in_f64: bool = False) -> None:
    """Register fn(ctx, x) as the converter of a unary op on floats (computed in
    f64 and cast back with `in_f64`)."""

    @converter(onnx_name, since)
    def convert(ctx: Context, node: Node) -> list[Value]:
        x = node.inputs[0]
        if not x.type.dtype.is_float:
            raise ctx.error(node, f"expected a float tensor, got {x.type}")
        if not in_f64 or x.type.dtype.value == "f64":
            return [fn(ctx, x)]
        y = fn(ctx, ctx.b.cast(x, dtype="f64"))
        return [ctx.b.cast(y, dtype=x.type.dtype)]


float_unary("Floor", floor, 1)
float_unary("Ceil", ceil, 1)
float_unary("Round", round_half_even, 11)
