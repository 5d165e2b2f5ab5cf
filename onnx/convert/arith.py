"""Converters of ONNX Mod and BitShift, written with kiln's integer division,
multiplication and power (kiln has no remainder or shift instruction).

Mod: fmod=1 is C's remainder (the sign of the dividend), fmod=0 Python's (the
sign of the divisor, integers only). For floats the quotient is truncated
exactly (a cast through i64 where it is below 2^mantissa, itself where it is
already integral), so x - trunc(x / y) * y is off from C's fmod only by the
rounding of x / y. BitShift on the unsigned types (carried in a wider kiln
integer; the backend casts the result back, which wraps as the shift would)
is x * 2^y or x / 2^y.
"""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def _scalar(ctx: Context, value, like: Value) -> Value:
    return ctx.constant(np.asarray(value, like.type.dtype.numpy), like.type.dtype)


def _truncate(ctx: Context, q: Value) -> Value:
    """q rounded toward zero, exactly."""
    b = ctx.b
    integral = 2.0 ** np.finfo(q.type.dtype.numpy).nmant
    small = b.less(b.abs(q), _scalar(ctx, integral, q))
    safe = b.select(small, q, _scalar(ctx, 0, q))  # NaN and inf are not cast
    through_int = b.cast(b.cast(safe, dtype="i64"), dtype=q.type.dtype)
    return b.select(small, through_int, q)


def _toward_divisor(ctx: Context, remainder: Value, y: Value) -> Value:
    """A C remainder turned into Python's: plus y where the signs differ."""
    b = ctx.b
    zero = _scalar(ctx, 0, remainder)
    differ = b.not_equal(b.less(remainder, zero), b.less(y, zero))
    fix = b.logical_and(b.not_equal(remainder, zero), differ)
    return b.select(fix, b.add(remainder, y), remainder)


@converter("Mod", 10)
def mod(ctx: Context, node: Node) -> list[Value]:
    x, y = node.inputs[:2]
    fmod = bool(node.attr("fmod", 0))
    b = ctx.b
    if x.type.dtype.is_float:
        remainder = b.sub(x, b.mul(_truncate(ctx, b.div(x, y)), y))
        # x mod +-inf is x (the product above would be 0 * inf = NaN)
        infinite = b.equal(b.abs(y), _scalar(ctx, np.inf, y))
        finite = b.less(b.abs(x), _scalar(ctx, np.inf, x))
        remainder = b.select(b.logical_and(infinite, finite), x, remainder)
    else:
        remainder = b.sub(x, b.mul(b.div(x, y), y))
    return [remainder if fmod else _toward_divisor(ctx, remainder, y)]


@converter("BitShift", 11)
def bit_shift(ctx: Context, node: Node) -> list[Value]:
    """Shifts by y outside [0, width) give 0 (left) or the sign (right), as
    ONNX's reference; a right shift of a negative number rounds down."""
    x, y = node.inputs[:2]
    if not x.type.dtype.is_int:
        raise ctx.error(node, f"expected integer tensors, got {x.type}")
    direction = node.attr("direction")
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.error(node, f"direction={direction!r} must be LEFT or RIGHT")
    b = ctx.b
    width = 8 * x.type.dtype.numpy.itemsize
    zero = _scalar(ctx, 0, x)
    inside = b.logical_and(
        b.greater_equal(y, zero), b.less(y, _scalar(ctx, width - (direction == "RIGHT"), y))
    )
    power = b.pow(_scalar(ctx, 2, x), b.select(inside, y, zero))
    if direction == "LEFT":
        return [b.select(inside, b.mul(x, power), zero)]
    quotient = b.div(x, power)
    floor = b.sub(
        quotient,
        b.cast(
            b.logical_and(b.less(x, zero), b.not_equal(b.mul(quotient, power), x)),
            dtype=x.type.dtype,
        ),
    )
    sign = b.select(b.less(x, zero), _scalar(ctx, -1, x), zero)
    return [b.select(inside, floor, sign)]
