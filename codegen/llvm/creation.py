"""Kernels that make tensors from nothing: iota and random.

kiln.random draws with Philox 4x32-10 exactly as ir/philox.py: element i (in
C order) uses the counter (lo32(i), hi32(i), 0, 0) and the key (lo32(seed),
hi32(seed)). Uniform floats are the same bits as the reference. Normal floats
use the host's libm logf and cosf, while numpy's float32 log and cos are its
own SIMD approximations (which differ between AVX2 and AVX-512 machines), so
they agree with the reference to about one unit in the last place.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ...ir import Operation
from ...ir.dtypes import DType
from ...ir.ops.reduce import normalize_axis
from .frame import Frame, assemble, const, element_type
from .native import NativeKernel, native
from .scalar import I32, I64

F32 = ir.FloatType()
KEY_STEP = (0x9E3779B9, 0xBB67AE85)  # Weyl constants added to the key each round
ROUND_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
UNIFORM_SCALE = 4.6566127342e-10  # float32: keeps 2**31 - 1 below 1.0
ROUNDS = 10


@native("kiln.iota")
def iota(op: Operation, name: str) -> NativeKernel:
    """out[i_0, ..., i_r] = i_dimension; the shape is static (an attribute)."""
    dtype = op.dtype
    element_type(op, dtype)
    shape = list(op.shape)
    axis = normalize_axis(op.dimension, len(shape))
    f = Frame(name, ["out"], [])
    sizes = [const(n) for n in shape]
    with f.nest(sizes) as index:
        f.store(f.scalars.cast(index[axis], DType.i64, dtype), 0, f.linear(index, sizes))
    return assemble(op, f, lambda operands, results: ((), shape[0]), "a count along one axis")


@native("kiln.random")
def random(op: Operation, name: str) -> NativeKernel:
    """Philox 4x32-10 per element, then uniform or Box-Muller normal floats."""
    dtype = op.dtype
    element_type(op, dtype)
    f = Frame(name, [f"like{i}" for i in range(len(op.operands))] + ["out"], ["count"])
    with f.loop(f.begin, f.end, "i") as i:
        streams = philox(f.b, i, op.seed)
        value = (
            uniform(f, streams[0])
            if op.distribution == "uniform"
            else normal(f, streams[0], streams[1])
        )
        f.store(f.scalars.cast(value, DType.f32, dtype), len(op.operands), i)

    def bind(operands, results):
        count = math.prod(results[0])
        return [count], count

    return assemble(op, f, bind, f"Philox 4x32-10, {op.distribution}, seed {op.seed}")


def philox(b: ir.IRBuilder, offset: ir.Value, seed: int) -> list[ir.Value]:
    """The four i32 outputs of Philox 4x32-10 for the counter `offset` (i64)."""
    seed &= (1 << 64) - 1
    c = [
        b.trunc(offset, I32),
        b.trunc(b.lshr(offset, const(32)), I32),
        ir.Constant(I32, 0),
        ir.Constant(I32, 0),
    ]
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(ROUNDS):
        high0, low0 = _wide_product(b, ROUND_MULTIPLIERS[1], c[2])
        high1, low1 = _wide_product(b, ROUND_MULTIPLIERS[0], c[0])
        c = [
            b.xor(b.xor(high0, c[1]), ir.Constant(I32, k0)),
            low0,
            b.xor(b.xor(high1, c[3]), ir.Constant(I32, k1)),
            low1,
        ]
        k0 = (k0 + KEY_STEP[0]) & 0xFFFFFFFF
        k1 = (k1 + KEY_STEP[1]) & 0xFFFFFFFF
    return c


def _wide_product(b: ir.IRBuilder, multiplier: int, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(high, low) 32-bit halves of the 64-bit product multiplier * x."""
    product = b.mul(ir.Constant(I64, multiplier), b.zext(x, I64))
    return b.trunc(b.lshr(product, const(32)), I32), b.trunc(product, I32)


def uniform(f: Frame, bits: ir.Value) -> ir.Value:
    """i32 bits -> float32 in [0, 1), as philox.to_uniform."""
    b = f.b
    flipped = b.select(b.icmp_signed("<", bits, ir.Constant(I32, 0)), b.not_(bits), bits)
    return b.fmul(b.sitofp(flipped, F32), ir.Constant(F32, UNIFORM_SCALE))


def normal(f: Frame, first: ir.Value, second: ir.Value) -> ir.Value:
    """Box-Muller on two uniform streams, in float32, as philox.normal."""
    b, s = f.b, f.scalars
    u1 = s.compute("max", [ir.Constant(F32, 1.0e-7), uniform(f, first)], [DType.f32] * 2, DType.f32)
    theta = b.fmul(ir.Constant(F32, 6.283185307179586), uniform(f, second))
    radius = s.intrinsic(
        "llvm.sqrt", [b.fmul(ir.Constant(F32, -2.0), s.intrinsic("llvm.log", [u1]))]
    )
    return b.fmul(radius, s.intrinsic("llvm.cos", [theta]))
