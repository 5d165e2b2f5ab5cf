"""The converters of ONNX QuantizeLinear and DequantizeLinear: per-tensor,
per-axis and blocked scales and zero points, into and out of 8- and 16-bit
integers and the narrow types kiln carries (int4, int2, float8, float4), as
onnx's reference computes them (round half to even, then saturate)."""

from __future__ import annotations

from ...ir.core import Value
from ...ir.dtypes import DType
from . import CARRIED, Context, Node, converter, dtype_of_elem
from .cast import FLOATS, to_float_format
from .elementwise import like
from .rounding import round_half_even

_RANGES = {2: (0, 255), 3: (-128, 127), 4: (0, 65535), 5: (-32768, 32767),
           21: (0, 15), 22: (-8, 7), 25: (0, 3), 26: (-2, 1)}  # fmt: skip


def _spread(ctx: Context, node: Node, v: Value, x: Value) -> Value:
    """A scale or zero point shaped to broadcast against x: a scalar, a vector
    along `axis`, or blocks of `block_size` along it."""
    b = ctx.b
    if v.type.rank == 0:
        return v
    if v.type.rank == 1 and v.type.shape[0] == 1:
        return b.reshape(v, shape=[])
    rank = x.type.rank
    axis = int(node.attr("axis", 1))
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    axis %= rank
    block = int(node.attr("block_size", 0))
    if not block:
        if v.type.rank != 1:
            raise ctx.error(node, f"a per-axis scale must be 1-D, got {v.type}")
        return b.reshape(v, shape=[v.type.shape[0] if i == axis else 1 for i in range(rank)])
    shape, vshape = list(x.type.shape), list(v.type.shape)
    if not all(isinstance(d, int) for d in shape + vshape) or len(vshape) != rank:
        raise ctx.error(node, f"blocked scales {v.type} need static shapes matching {x.type}")
    wide = b.broadcast_to(
        b.expand_dims(v, axis=axis + 1), shape=vshape[: axis + 1] + [block] + vshape[axis + 1 :]
    )
    merged = vshape[:axis] + [vshape[axis] * block] + vshape[axis + 1 :]
    wide = b.reshape(wide, shape=merged)
    if merged[axis] != shape[axis]:
        wide = b.slice(wide, axes=[axis], starts=[0], stops=[shape[axis]])
    return wide


def _f32(ctx: Context, v: Value) -> Value:
    return v if v.type.dtype == DType.f32 else ctx.b.cast(v, dtype="f32")


@converter("QuantizeLinear", 10)
def quantize_linear(ctx: Context, node: Node) -> list[Value]:
    x, scale = node.inputs[0], node.inputs[1]
    zero = node.input(2)
    b = ctx.b
    to = ctx.elem_of(zero) if zero is not None else int(node.attr("output_dtype", 0) or 2)
    if to not in _RANGES and to not in FLOATS:
        raise ctx.error(node, f"output element type {to} is not a quantized type")
    precision = int(node.attr("precision", 0) or 0)
    wide = dtype_of_elem(precision, node.name) if precision else x.type.dtype
    xs = b.div(b.cast(x, dtype=wide) if x.type.dtype != wide else x,
               b.cast(_spread(ctx, node, scale, x), dtype=wide))  # fmt: skip
    xs = _f32(ctx, xs) if xs.type.dtype != DType.f64 else xs
    if to in _RANGES:
        lo, hi = _RANGES[to]
        y = round_half_even(ctx, xs)
        if zero is not None:
            y = b.add(y, b.cast(_spread(ctx, node, zero, x), dtype=y.type.dtype))
        y = b.min(b.max(y, like(ctx, y, lo)), like(ctx, y, hi))
        out = b.cast(y, dtype=dtype_of_elem(to, node.name))
    else:
        if to == 23 and zero is not None:  # float4 adds its zero point (float8 have none)
            xs = b.add(xs, _f32(ctx, _spread(ctx, node, zero, x)))
        out = to_float_format(ctx, xs, FLOATS[to], bool(node.attr("saturate", 1)))
    if to in CARRIED:
        ctx.elems[out] = to
    return [out]


@converter("DequantizeLinear", 10)
def dequantize_linear(ctx: Context, node: Node) -> list[Value]:
    x, scale = node.inputs[0], node.inputs[1]
    zero = node.input(2)
    b = ctx.b
    dx = _f32(ctx, x)
    if zero is not None and ctx.elem_of(x) not in FLOATS:
        dx = b.sub(dx, _f32(ctx, _spread(ctx, node, zero, x)))
    y = b.mul(dx, _f32(ctx, _spread(ctx, node, scale, x)))
    out_elem = int(node.attr("output_dtype", 0) or 0)
    dtype = dtype_of_elem(out_elem, node.name) if out_elem else scale.type.dtype
    return [y if y.type.dtype == dtype else b.cast(y, dtype=dtype)]
