"""The converters of ONNX's integer products: MatMulInteger and ConvInteger (8-bit
operands less their zero points, an int32 result) and QLinearMatMul and
QLinearConv (the same product rescaled by x_scale * w_scale / y_scale, plus
y's zero point, rounded half to even and saturated to 8 bits).

The product is kiln's f64 matmul or convolution of the zero-point-shifted
operands: every int8/uint8 difference, their products and any sum of fewer than
2^36 of them are exact in f64, so the result is the int32 accumulation onnx's
reference computes, with no integer GEMM kernel."""

from __future__ import annotations

import copy

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter
from .elementwise import like
from .nn import conv
from .rounding import round_half_even

_EIGHT_BITS = {DType.i8: (-128, 127), DType.u8: (0, 255)}


def _shifted(ctx: Context, node: Node, x: Value, zero: Value | None, axis: int | None) -> Value:
    """x - zero in f64; a 1-D zero point of x's length along `axis` is per row
    (MatMulInteger's a) or per output channel (a convolution's w)."""
    if x.type.dtype not in _EIGHT_BITS and x.type.dtype not in (DType.i32, DType.i16):
        raise ctx.error(node, f"expected an 8-bit integer tensor, got {x.type}")
    b = ctx.b
    xf = b.cast(x, dtype="f64")
    if zero is None:
        return xf
    z = b.cast(zero, dtype="f64")
    if z.type.rank == 1 and z.type.shape[0] != 1 and axis is not None:
        rank = x.type.rank
        axis %= rank
        z = b.reshape(z, shape=[z.type.shape[0] if i == axis else 1 for i in range(rank)])
    elif z.type.rank >= 1 and all(d == 1 for d in z.type.shape):
        z = b.reshape(z, shape=[])
    return b.sub(xf, z)


def _requantized(ctx: Context, node: Node, acc: Value, scale: Value, zero: Value | None,
                 like_x: Value) -> Value:  # fmt: skip
    """round(acc * scale + zero) saturated to zero's type (x's without one)."""
    b = ctx.b
    out = zero.type.dtype if zero is not None else like_x.type.dtype
    if out not in _EIGHT_BITS:
        raise ctx.error(node, f"the output must be int8 or uint8, got {out}")
    y = b.mul(acc, b.cast(scale, dtype="f64"))
    if zero is not None:
        y = b.add(y, b.cast(zero, dtype="f64"))
    lo, hi = _EIGHT_BITS[out]
    y = b.min(b.max(round_half_even(ctx, y), like(ctx, y, lo)), like(ctx, y, hi))
    return b.cast(y, dtype=out)


def _ratio(ctx: Context, x_scale: Value, w_scale: Value, y_scale: Value) -> Value:
    """x_scale * w_scale / y_scale in the scales' own type, as onnx's reference."""
    b = ctx.b
    return b.div(b.mul(x_scale, w_scale), y_scale)


@converter("MatMulInteger", 10)
def matmul_integer(ctx: Context, node: Node) -> list[Value]:
    a = _shifted(ctx, node, node.inputs[0], node.input(2), -2)
    b_ = _shifted(ctx, node, node.inputs[1], node.input(3), -1)
    return [ctx.b.cast(ctx.b.matmul(a, b_), dtype="i32")]


@converter("QLinearMatMul", 10)
def qlinear_matmul(ctx: Context, node: Node) -> list[Value]:
    a, a_scale, a_zero, b_, b_scale, b_zero, y_scale, y_zero = (node.input(i) for i in range(8))
    acc = ctx.b.matmul(_shifted(ctx, node, a, a_zero, None), _shifted(ctx, node, b_, b_zero, None))
    scale = _ratio(ctx, a_scale, b_scale, y_scale)
    return [_requantized(ctx, node, acc, scale, y_zero, a)]


def _conv_f64(ctx: Context, node: Node, x: Value, w: Value, bias: Value | None) -> Value:
    """The node's convolution (its strides, pads, dilations, group) of f64 operands."""
    shadow = copy.copy(node)
    shadow.inputs = [x, w] + ([ctx.b.cast(bias, dtype="f64")] if bias is not None else [])
    return conv(ctx, shadow)[0]


@converter("ConvInteger", 10)
def conv_integer(ctx: Context, node: Node) -> list[Value]:
    x = _shifted(ctx, node, node.inputs[0], node.input(2), None)
    w = _shifted(ctx, node, node.inputs[1], node.input(3), 0)
    return [ctx.b.cast(_conv_f64(ctx, node, x, w, None), dtype="i32")]


@converter("QLinearConv", 10)
def qlinear_conv(ctx: Context, node: Node) -> list[Value]:
    x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero = (node.input(i) for i in range(8))
    acc = _conv_f64(
        ctx,
        node,
        _shifted(ctx, node, x, x_zero, None),
        _shifted(ctx, node, w, w_zero, 0),
        node.input(8),
    )
    if w_scale.type.rank == 1 and w_scale.type.shape[0] != 1:
        w_scale = ctx.b.reshape(w_scale, shape=[w_scale.type.shape[0]] + [1] * (x.type.rank - 2))
    scale = _ratio(ctx, x_scale, w_scale, y_scale)
    return [_requantized(ctx, node, acc, scale, y_zero, x)]
