"""The converter of ONNX BitShift, written with kiln's integer division,
multiplication and power (kiln has no shift instruction): x * 2^y or the
floor of x / 2^y, in x's own signed or unsigned integer type. (Mod's
converter is in elementwise.py.)
"""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
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
