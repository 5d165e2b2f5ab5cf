"""The native kernel of kiln.cumsum where it stays an op (integers, or a
symbolic axis: floats on a static axis decompose to a matmul, ir/ops/array.py).

The data is seen as (P, A, I) around the axis; each p is one piece of the
outer loop (split across threads), and within it the running sums move
along A one row of I at a time, so the inner loop over I vectorises:

    out[p, a, :] = out[p, a -+ 1, :] + x[p, a (-+ 1 when exclusive), :]

with a walking up, or down when `reverse`.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ...ir import Operation
from ...ir.ops.reduce import normalize_axis
from .frame import Frame, assemble, const, element_type
from .native import NativeKernel, native


@native("kiln.cumsum")
def cumsum(op: Operation, name: str) -> NativeKernel:
    dtype = op.results[0].type.dtype
    t = element_type(op, dtype)
    f = Frame(name, ["x", "out"], ["A", "I"])
    b, (a_size, i_size) = f.b, f.dims
    step = -1 if op.reverse else 1
    with f.loop(f.begin, f.end, "p") as p:
        block = f.mul(f.mul(p, a_size), i_size)
        with f.loop(const(0), a_size, "k") as k:
            a = b.sub(b.sub(a_size, const(1)), k) if op.reverse else k
            first = b.icmp_signed("==", k, const(0))
            prev = b.sub(a, const(step))  # the row summed before this one
            with f.loop(const(0), i_size, "i") as i:
                here = f.add(block, f.mul(a, i_size), i)
                before = f.add(block, f.mul(b.select(first, a, prev), i_size), i)
                zero = ir.Constant(t, 0.0 if dtype.is_float else 0)
                carried = b.select(first, zero, f.load(1, before, t))
                own = f.load(0, b.select(first, here, before) if op.exclusive else here, t)
                if op.exclusive:
                    own = b.select(first, zero, own)
                total = f.scalars.compute("add", [carried, own], [dtype, dtype], dtype)
                f.store(total, 1, here)

    def bind(operands, results):
        shape = operands[0]
        axis = normalize_axis(op.axis, len(shape))
        return [shape[axis], math.prod(shape[axis + 1 :])], math.prod(shape[:axis])

    return assemble(op, f, bind, "running sums along the axis, a row at a time")
