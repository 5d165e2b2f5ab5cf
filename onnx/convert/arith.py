"""The converters of ONNX BitShift and the bitwise ops, written with kiln's
integer division, multiplication and power (kiln has no shift or bitwise
instruction): a shift is x * 2^y or the floor of x / 2^y, in x's own signed or
unsigned type; BitwiseAnd sums the products of the operands' bits (floor
halvings), Or and Xor follow from it (x + y - (x & y), x + y - 2 (x & y): exact
in wrapping arithmetic), Not is -x - 1 (2^w - 1 - x unsigned). (Mod's converter
is in elementwise.py.)"""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter


def _scalar(ctx: Context, value, like: Value) -> Value:
    return ctx.constant(np.asarray(value, like.type.dtype.numpy), like.type.dtype)


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
    unsigned = x.type.dtype.is_unsigned
    width = 8 * x.type.dtype.numpy.itemsize
    zero = _scalar(ctx, 0, x)
    last = width - (direction == "RIGHT" and not unsigned)
    inside = b.logical_and(b.greater_equal(y, zero), b.less(y, _scalar(ctx, last, y)))
    power = b.pow(_scalar(ctx, 2, x), b.select(inside, y, zero))
    if direction == "LEFT":
        return [b.select(inside, b.mul(x, power), zero)]
    quotient = b.div(x, power)
    if unsigned:  # no sign: the quotient is the floor, and shifting everything out gives 0
        return [b.select(inside, quotient, zero)]
    floor = b.sub(
        quotient,
        b.cast(
            b.logical_and(b.less(x, zero), b.not_equal(b.mul(quotient, power), x)),
            dtype=x.type.dtype,
        ),
    )
    sign = b.select(b.less(x, zero), _scalar(ctx, -1, x), zero)
    return [b.select(inside, floor, sign)]


def _bit_and(ctx: Context, x: Value, y: Value) -> Value:
    """x & y bit by bit in i64 (two's complement: a bit is floor(v / 2^k) mod 2,
    the top bit of a w-bit signed type weighs -2^(w-1)), in x's type."""
    b = ctx.b
    dtype = x.type.dtype
    width = 8 * dtype.numpy.itemsize
    signed = not dtype.is_unsigned or width == 64  # u64 wraps through i64
    two = ctx.constant(np.int64(2))
    zero = ctx.constant(np.int64(0))
    a, c = (v if v.type.dtype == DType.i64 else b.cast(v, dtype="i64") for v in (x, y))
    total = None
    for k in range(width):
        bits = []
        for i, v in enumerate((a, c)):
            q = b.div(v, two)
            q = b.sub(q, b.cast(b.logical_and(b.less(v, zero), b.not_equal(b.mul(q, two), v)),
                                dtype="i64"))  # fmt: skip
            bits.append(b.sub(v, b.mul(q, two)))
            if i == 0:
                a = q
            else:
                c = q
        weight = -(2 ** (width - 1)) if signed and k == width - 1 else 2**k
        term = b.mul(b.mul(bits[0], bits[1]), ctx.constant(np.int64(weight)))
        total = term if total is None else b.add(total, term)
    return total if dtype == DType.i64 else b.cast(total, dtype=dtype)


def _bitwise(onnx_name: str, combine) -> None:
    @converter(onnx_name, 18)
    def convert(ctx: Context, node: Node) -> list[Value]:
        xs = node.inputs
        if not all(v.type.dtype.is_int for v in xs):
            raise ctx.error(node, f"expected integer tensors, got {[str(v.type) for v in xs]}")
        return [combine(ctx, *xs)]


def _or(ctx: Context, x: Value, y: Value) -> Value:
    return ctx.b.sub(ctx.b.add(x, y), _bit_and(ctx, x, y))  # exact in wrapping arithmetic


def _xor(ctx: Context, x: Value, y: Value) -> Value:
    both = _bit_and(ctx, x, y)
    return ctx.b.sub(ctx.b.add(x, y), ctx.b.add(both, both))


def _not(ctx: Context, x: Value) -> Value:
    if x.type.dtype.is_unsigned:  # 2^w - 1 - x
        return ctx.b.sub(_scalar(ctx, np.iinfo(x.type.dtype.numpy).max, x), x)
    return ctx.b.sub(ctx.b.neg(x), _scalar(ctx, 1, x))


_bitwise("BitwiseAnd", _bit_and)
_bitwise("BitwiseOr", _or)
_bitwise("BitwiseXor", _xor)
_bitwise("BitwiseNot", _not)
