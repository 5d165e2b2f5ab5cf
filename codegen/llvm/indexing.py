"""Kernels that read or write at computed positions: gather and scatter_add.

Both see their data as (P, A, I): P the product of the dims before `axis`, A
the axis, I the product of the dims after it; the J indices (flattened) pick
positions along A. An index outside [0, A) sets the INDEX_OUT_OF_RANGE fault
bit instead of touching memory (gather writes zeros in its place; scatter_add
skips it), so a bad index is an ExecutionError, never a crash.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ...ir import Operation
from ...ir.ops.reduce import normalize_axis
from .frame import INDEX_OUT_OF_RANGE, Frame, assemble, bits_type, const, element_type
from .native import NativeKernel, native
from .scalar import I64

DIMS = ["P", "A", "I", "J"]


def _grid(op: Operation, shape) -> tuple[int, int, int]:
    """(P, A, I) of `shape` around the op's axis."""
    axis = normalize_axis(op.axis, len(shape))
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def _index(f: Frame, buffer: int, j: ir.Value, op: Operation) -> ir.Value:
    """Index j of the indices buffer, as i64."""
    t = element_type(op, op.operands[1].type.dtype)
    index = f.load(buffer, j, t)
    if t.width == 64:
        return index
    unsigned = op.operands[1].type.dtype.is_unsigned
    return f.b.zext(index, I64) if unsigned else f.b.sext(index, I64)


@native("kiln.gather")
def gather(op: Operation, name: str) -> NativeKernel:
    """out[p, j, :] = params[p, indices[j], :]; the outer loop runs over the
    (p, j) rows, so an embedding lookup (P = 1) still splits across threads."""
    t = bits_type(op, op.results[0].type.dtype)
    f = Frame(name, ["params", "indices", "out"], DIMS)
    b, (_, A, I, J) = f.b, f.dims
    with f.split_rows(J, "row") as (p, j):
        index = _index(f, 1, j, op)
        write = f.mul(f.linear([p, j], [None, J]), I)
        bad = f.outside(index, A)
        with b.if_else(bad) as (fault, copy):
            with fault:
                f.scalars.raise_if(bad, INDEX_OUT_OF_RANGE)
                with f.loop(const(0), I, "i") as i:
                    f.store(ir.Constant(t, 0), 2, f.add(write, i))
            with copy:
                read = f.mul(f.linear([p, index], [None, A]), I)
                with f.loop(const(0), I, "i") as i:
                    f.store(f.load(0, f.add(read, i), t), 2, f.add(write, i))

    def bind(operands, results):
        P, A, I = _grid(op, operands[0])
        J = math.prod(operands[1])
        return [P, A, I, J], P * J

    return assemble(op, f, bind, "rows (p, j) copied from params[p, indices[j]]")


@native("kiln.scatter_add")
def scatter_add(op: Operation, name: str) -> NativeKernel:
    """out = x (unless out is x), then out[p, indices[j], :] += updates[p, j, :] for j in order
    (as numpy.add.at, so float sums round the same). The outer loop runs over
    p only: repeated indices of one p add into one row, so no two threads
    ever write the same element."""
    dtype = op.results[0].type.dtype
    t = element_type(op, dtype)
    f = Frame(name, ["x", "indices", "updates", "out"], DIMS)
    b, (_, A, I, J) = f.b, f.dims
    # planned in place (passes/plan.py: a loop body's slot store) out is x: no copy
    copy = b.icmp_unsigned("!=", f.buffers[0], f.buffers[3])
    with f.loop(f.begin, f.end, "p") as p:
        block = f.mul(f.mul(p, A), I)
        with b.if_then(copy):
            with f.loop(const(0), f.mul(A, I), "k") as k:
                f.store(f.load(0, f.add(block, k), t), 3, f.add(block, k))
        with f.loop(const(0), J, "j") as j:
            index = _index(f, 1, j, op)
            bad = f.outside(index, A)
            f.scalars.raise_if(bad, INDEX_OUT_OF_RANGE)
            with b.if_then(b.not_(bad)):
                write = f.mul(f.linear([p, index], [None, A]), I)
                read = f.mul(f.linear([p, j], [None, J]), I)
                with f.loop(const(0), I, "i") as i:
                    total = _add(
                        f, f.load(3, f.add(write, i), t), f.load(2, f.add(read, i), t), dtype
                    )
                    f.store(total, 3, f.add(write, i))

    def bind(operands, results):
        P, A, I = _grid(op, operands[0])
        return [P, A, I, math.prod(operands[1])], P

    return assemble(op, f, bind, "per p: copy x, then add the updates row by row")


def _add(f: Frame, x: ir.Value, y: ir.Value, dtype) -> ir.Value:
    """x + y in `dtype` (bools, stored as bytes 0/1, add as logical or)."""
    if dtype.is_bool:
        return f.b.or_(x, y)
    return f.scalars.compute("add", [x, y], [dtype, dtype], dtype)
