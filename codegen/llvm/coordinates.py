"""Kernels that read or write at per-element coordinates: gather_elements,
scatter_elements, gather_nd and scatter_nd (ir/ops/indexing.py).

Sizes and strides come at run time through `dims` (bind computes them), the
rank and the axis are baked in. An index is wrapped once (a negative one
counts from the end, as ONNX allows) and then checked with one unsigned
compare: outside its axis it sets the INDEX_OUT_OF_RANGE fault bit instead of
touching memory (a gather writes zeros in its place, a scatter skips it), so
a bad index is an ExecutionError naming the op, never a crash.

The gathers split their outer loop (the result's elements or rows) across
threads; the scatters run in one piece, in the indices' row-major order, so
repeated indices combine in the order the reference combines them.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ...ir import Operation
from ...ir.ops.reduce import normalize_axis
from .frame import INDEX_OUT_OF_RANGE, Frame, assemble, c_strides, const, element_type
from .native import NativeKernel, native
from .scalar import I64


def _wrapped_index(f: Frame, buffer: int, at: ir.Value, size: ir.Value, op: Operation):
    """(index, bad): element `at` of the indices buffer as i64, a negative one
    plus `size`, and whether it still lies outside [0, size) (a fault)."""
    t = element_type(op, op.indices.type.dtype)
    index = f.load(buffer, at, t)
    index = f.b.sext(index, I64) if t.width < 64 else index
    negative = f.b.icmp_signed("<", index, const(0))
    index = f.b.select(negative, f.b.add(index, size), index)
    bad = f.outside(index, size)
    f.scalars.raise_if(bad, INDEX_OUT_OF_RANGE)
    return index, bad


def _combine(f: Frame, reduction: str, old: ir.Value, new: ir.Value, dtype) -> ir.Value:
    """`new` combined into `old` by a scatter's reduction (bools: add and max
    are or, mul and min are and)."""
    if reduction == "none":
        return new
    if dtype.is_bool:
        return (f.b.or_ if reduction in ("add", "max") else f.b.and_)(old, new)
    return f.scalars.compute(reduction, [old, new], [dtype, dtype], dtype)


def _coordinates(f: Frame, k: ir.Value, sizes) -> list[ir.Value]:
    """The C-order coordinates of position k in an array of `sizes`."""
    coords = []
    for n in reversed(sizes[1:]):
        safe = f.scalars.intrinsic("llvm.smax", [n, const(1)])
        coords.append(f.b.urem(k, safe))
        k = f.b.udiv(k, safe)
    return [k, *reversed(coords)]


def _element_offset(f: Frame, op: Operation, k: ir.Value, sizes, strides, axis_size):
    """(offset into x, bad) of index k of an elements gather or scatter: k's
    coordinates in the indices, the axis one replaced by the index there."""
    axis = normalize_axis(op.axis, op.x.type.rank)
    coords = _coordinates(f, k, sizes)
    coords[axis], bad = _wrapped_index(f, 1, k, axis_size, op)
    return f.add(*[f.mul(c, s) for c, s in zip(coords, strides)]), bad


def _elements_dims(op: Operation, operands) -> list[int]:
    """indices' sizes, x's strides, x's size along the axis, x's element count."""
    x, indices = operands[0], operands[1]
    axis = normalize_axis(op.axis, len(x))
    return [*indices, *c_strides(x), x[axis], math.prod(x)]


@native("kiln.gather_elements")
def gather_elements(op: Operation, name: str) -> NativeKernel:
    """out[k] = x[coordinates of k with the axis one read from indices[k]]."""
    rank = op.x.type.rank
    t = element_type(op, op.results[0].type.dtype)
    dims = [f"n{d}" for d in range(rank)] + [f"s{d}" for d in range(rank)] + ["A", "X"]
    f = Frame(name, ["x", "indices", "out"], dims)
    sizes, strides, axis_size = f.dims[:rank], f.dims[rank : 2 * rank], f.dims[2 * rank]
    with f.loop(f.begin, f.end, "k") as k:
        offset, bad = _element_offset(f, op, k, sizes, strides, axis_size)
        with f.b.if_else(bad) as (fault, copy):
            with fault:
                f.store(ir.Constant(t, 0), 2, k)
            with copy:
                f.store(f.load(0, offset, t), 2, k)

    def bind(operands, results):
        return _elements_dims(op, operands), math.prod(operands[1])

    return assemble(op, f, bind, "each element read from x at its index along the axis")


@native("kiln.scatter_elements")
def scatter_elements(op: Operation, name: str) -> NativeKernel:
    """out = x, then out[coordinates of k, axis one from indices[k]] (combined
    with) updates[k], for k in order."""
    rank, dtype = op.x.type.rank, op.results[0].type.dtype
    t = element_type(op, dtype)
    dims = [f"n{d}" for d in range(rank)] + [f"s{d}" for d in range(rank)] + ["A", "X"]
    f = Frame(name, ["x", "indices", "updates", "out"], dims)
    sizes, strides = f.dims[:rank], f.dims[rank : 2 * rank]
    axis_size, total = f.dims[2 * rank], f.dims[2 * rank + 1]
    count = sizes[0]
    for n in sizes[1:]:
        count = f.mul(count, n)
    with f.loop(f.begin, f.end, "part"):
        with f.loop(const(0), total, "c") as c:
            f.store(f.load(0, c, t), 3, c)
        with f.loop(const(0), count, "k") as k:
            offset, bad = _element_offset(f, op, k, sizes, strides, axis_size)
            with f.b.if_then(f.b.not_(bad)):
                new = _combine(f, op.reduction, f.load(3, offset, t), f.load(2, k, t), dtype)
                f.store(new, 3, offset)

    def bind(operands, results):
        return _elements_dims(op, operands), 1

    return assemble(op, f, bind, f"copy x, then scatter each update ({op.reduction}) in order")


def _slice_base(f: Frame, op: Operation, row: ir.Value, q: int, sizes, strides):
    """(first element of the slice, bad) that row `row` of the indices addresses."""
    base, any_bad = const(0), ir.Constant(ir.IntType(1), 0)
    for j in range(q):
        index, bad = _wrapped_index(f, 1, f.add(f.mul(row, const(q)), const(j)), sizes[j], op)
        base = f.add(base, f.mul(index, strides[j]))
        any_bad = f.b.or_(any_bad, bad)
    return base, any_bad


def _nd_dims(op: Operation, operands) -> tuple[list[int], int]:
    """([rows per batch, slice size, batch stride, q sizes, q strides], rows)."""
    x, indices = operands[0], operands[1]
    b, q = getattr(op, "batch_dims", 0), indices[-1]
    rows = math.prod(indices[:-1])
    batch = math.prod(x[:b])
    strides = c_strides(x)
    per_batch = rows // batch if batch else 0
    return [per_batch, math.prod(x[b + q :]), math.prod(x[b:]), *x[b : b + q]] + list(
        strides[b : b + q]
    ), rows


@native("kiln.gather_nd")
def gather_nd(op: Operation, name: str) -> NativeKernel:
    """Row m of the result is the slice of x at the coordinates in row m of
    the indices (within batch m / rows-per-batch)."""
    q = op.indices.type.shape[-1]
    t = element_type(op, op.results[0].type.dtype)
    dims = ["G", "S", "B"] + [f"n{j}" for j in range(q)] + [f"s{j}" for j in range(q)]
    f = Frame(name, ["x", "indices", "out"], dims)
    per_batch, size, batch_stride = f.dims[:3]
    sizes, strides = f.dims[3 : 3 + q], f.dims[3 + q :]
    with f.loop(f.begin, f.end, "m") as m:
        batch = f.b.udiv(m, f.scalars.intrinsic("llvm.smax", [per_batch, const(1)]))
        base, bad = _slice_base(f, op, m, q, sizes, strides)
        base = f.add(base, f.mul(batch, batch_stride))
        write = f.mul(m, size)
        with f.b.if_else(bad) as (fault, copy):
            with fault:
                with f.loop(const(0), size, "i") as i:
                    f.store(ir.Constant(t, 0), 2, f.add(write, i))
            with copy:
                with f.loop(const(0), size, "i") as i:
                    f.store(f.load(0, f.add(base, i), t), 2, f.add(write, i))

    def bind(operands, results):
        return _nd_dims(op, operands)

    return assemble(op, f, bind, "rows copied from the slices of x the indices address")


@native("kiln.scatter_nd")
def scatter_nd(op: Operation, name: str) -> NativeKernel:
    """out = x, then the slice at row m's coordinates (combined with) row m of
    the updates, for m in order."""
    q, dtype = op.indices.type.shape[-1], op.results[0].type.dtype
    t = element_type(op, dtype)
    dims = ["G", "S", "B"] + [f"n{j}" for j in range(q)] + [f"s{j}" for j in range(q)]
    dims += ["X", "M"]
    f = Frame(name, ["x", "indices", "updates", "out"], dims)
    size = f.dims[1]
    sizes, strides = f.dims[3 : 3 + q], f.dims[3 + q : 3 + 2 * q]
    total, rows = f.dims[-2:]
    with f.loop(f.begin, f.end, "part"):
        with f.loop(const(0), total, "c") as c:
            f.store(f.load(0, c, t), 3, c)
        with f.loop(const(0), rows, "m") as m:
            base, bad = _slice_base(f, op, m, q, sizes, strides)
            read = f.mul(m, size)
            with f.b.if_then(f.b.not_(bad)):
                with f.loop(const(0), size, "i") as i:
                    at = f.add(base, i)
                    new = f.load(2, f.add(read, i), t)
                    f.store(_combine(f, op.reduction, f.load(3, at, t), new, dtype), 3, at)

    def bind(operands, results):
        dims, rows = _nd_dims(op, operands)
        return [*dims, math.prod(operands[0]), rows], 1

    return assemble(op, f, bind, f"copy x, then scatter each slice ({op.reduction}) in order")
