"""Kernels that move data without arithmetic: transpose, slice, broadcast_to,
broadcast_like, stop_gradient, pad, concat.

Most are one *strided copy*: the result, in C order, reads its operand at
``base + sum(i_k * stride_k)``, where `bind` works out the base and the
strides from the concrete shapes (a slice's start and step, a broadcast's
stride 0, a transpose's permuted strides), so one kernel serves every shape
of a symbolic type. Elements move as integers of their width: bit-exact,
NaN payloads included. A transpose first merges the axes that stay adjacent
(NCHW -> NHWC is a batch of 2-D transposes); a 2-D transpose, or a batch of
them, runs in square tiles (64 x 64 floats) so both sides stay in cache.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ...ir import Operation
from ...ir.ops.reduce import normalize_axis
from .frame import Frame, assemble, bits_type, c_strides, const, fill_bits
from .native import NativeKernel, native

TILE_BYTES = 256  # a transpose tile is this many bytes wide and as many elements tall


# ------------------------------------------------------------------ strided copy


def strided_copy(op: Operation, name: str, rank: int, bind, way: str) -> NativeKernel:
    """A kernel writing the result (the last buffer) from operand 0 read at
    base + sum(i_k * stride_k) over `rank` result axes. `bind(operands, results)`
    gives (sizes, strides, base) of rank `rank`; the outer loop is axis 0."""
    t = bits_type(op, op.results[0].type.dtype)
    names = [f"x{i}" for i in range(len(op.operands))] + ["out"]
    dims = [f"n{k}" for k in range(rank)] + [f"s{k}" for k in range(rank)] + ["base"]
    f = Frame(name, names, dims)
    sizes, strides, base = f.dims[:rank], f.dims[rank : 2 * rank], f.dims[-1]
    with f.nest(sizes) as index:
        source = f.add(base, *[f.mul(i, s) for i, s in zip(index, strides)])
        f.store(f.load(0, source, t), len(names) - 1, f.linear(index, sizes))

    def binder(operands, results):
        sizes, strides, base = bind(operands, results)
        return [*sizes, *strides, base], sizes[0]

    return assemble(op, f, binder, way)


def _at_least_one_axis(sizes: list[int], strides: list[int]) -> tuple[list[int], list[int]]:
    """A rank-0 copy as a copy of one element along one axis."""
    return (sizes, strides) if sizes else ([1], [0])


@native("kiln.stop_gradient")
def stop_gradient(op: Operation, name: str) -> NativeKernel:
    """A flat copy (fuse puts stop_gradient into pointwise kernels; this is
    for one left on its own)."""
    return strided_copy(op, name, 1, lambda ins, outs: ([math.prod(ins[0])], [1], 0), "flat copy")


@native("kiln.slice")
def slice_(op: Operation, name: str) -> NativeKernel:
    """x[start:stop:step] per axis: the base is the first element read, the
    strides are the operand's times the steps (negative steps read backwards)."""
    rank = op.operands[0].type.rank
    slices = op.slices(rank)

    def bind(operands, results):
        shape = operands[0]
        strides, base = [], 0
        for s, n, stride in zip(slices, shape, c_strides(shape)):
            start, _, step = s.indices(n)
            strides.append(stride * step)
            base += start * stride if n else 0
        sizes, strides = _at_least_one_axis(list(results[0]), strides)
        return sizes, strides, base

    return strided_copy(op, name, max(rank, 1), bind, "strided copy")


@native("kiln.broadcast_to")
@native("kiln.broadcast_like")
def broadcast(op: Operation, name: str) -> NativeKernel:
    """numpy.broadcast_to as a copy whose broadcast axes have stride 0 (fuse
    puts broadcast_to into pointwise kernels; broadcast_like stays alone)."""
    rank = op.results[0].type.rank

    def bind(operands, results):
        shape, out = operands[0], results[0]
        lead = len(out) - len(shape)
        strides = [0] * lead + [0 if n == 1 else s for n, s in zip(shape, c_strides(shape))]
        sizes, strides = _at_least_one_axis(list(out), strides)
        return sizes, strides, 0

    return strided_copy(op, name, max(rank, 1), bind, "copy with stride-0 broadcast axes")


# ------------------------------------------------------------------ transpose


def transpose_groups(op: Operation) -> list[tuple[int, ...]]:
    """The operand axes in result order, merged where they stay adjacent and in
    order (static size-1 axes dropped: they move nothing)."""
    shape = op.operands[0].type.shape
    kept = [a for a in op.perm if shape[a] != 1]
    place = {a: i for i, a in enumerate(sorted(kept))}
    groups: list[list[int]] = []
    for a in kept:
        if groups and place[a] == place[groups[-1][-1]] + 1:
            groups[-1].append(a)
        else:
            groups.append([a])
    return [tuple(g) for g in groups]


@native("kiln.transpose")
def transpose(op: Operation, name: str) -> NativeKernel:
    """Permuted strides over the merged axes; 2-D transposes (and batches of
    them) in tiles."""
    groups = transpose_groups(op)
    by_position = sorted(groups)
    perm = [by_position.index(g) for g in groups]  # the merged permutation

    def merged(shape):
        """The operand's shape over the merged axes (in operand order)."""
        return [math.prod(shape[a] for a in g) for g in by_position]

    if perm in ([1, 0], [0, 2, 1]):
        return _tiled_transpose(op, name, lambda shape: ([1] + merged(shape))[-3:])

    def bind(operands, results):
        shape = merged(operands[0])
        strides = c_strides(shape)
        sizes, strides = _at_least_one_axis([shape[p] for p in perm], [strides[p] for p in perm])
        return sizes, strides, 0

    way = f"strided copy over merged axes {groups} (permutation {perm})"
    return strided_copy(op, name, max(len(perm), 1), bind, way)


def _tiled_transpose(op: Operation, name: str, batch_of) -> NativeKernel:
    """out[b, i, j] = x[b, j, i] in square tiles of TILE_BYTES // itemsize
    elements; `batch_of(shape)` gives the operand as (batches, columns, rows).
    The outer loop runs over (batch, tile row) pairs."""
    t = bits_type(op, op.results[0].type.dtype)
    side = TILE_BYTES // (t.width // 8)
    f = Frame(name, ["x", "out"], ["batches", "rows", "columns"])
    b, (_, rows, columns) = f.b, f.dims
    tile_rows = b.sdiv(b.add(rows, const(side - 1)), const(side))
    with f.split_rows(tile_rows, "tile") as (batch, tile_row):
        first = f.mul(tile_row, const(side))
        last = f.scalars.intrinsic("llvm.smin", [b.add(first, const(side)), rows])
        with f.loop(const(0), columns, "j0", step=side) as j0:
            j1 = f.scalars.intrinsic("llvm.smin", [b.add(j0, const(side)), columns])
            with f.loop(first, last, "i") as i, f.loop(j0, j1, "j") as j:
                source = f.linear([batch, j, i], [None, columns, rows])
                f.store(f.load(0, source, t), 1, f.linear([batch, i, j], [None, rows, columns]))

    def bind(operands, results):
        batches, columns, rows = batch_of(operands[0])
        return [batches, rows, columns], batches * -(-rows // side)

    way = f"tiled transpose ({side} x {side}), axes {transpose_groups(op)}"
    return assemble(op, f, bind, way)


# ------------------------------------------------------------------ pad


@native("kiln.pad")
def pad(op: Operation, name: str) -> NativeKernel:
    """Row by row over the result's last axis: a row outside the operand is
    all fill; a row inside is fill, the operand's row, fill."""
    dtype = op.operands[0].type.dtype
    t = bits_type(op, dtype)
    extra = max(0, 2 - len(op.low))  # at least two axes: the rows and the last
    lows = [0] * extra + list(op.low)
    rank = len(lows)
    f = Frame(name, ["x", "out"], [f"o{k}" for k in range(rank)] + [f"n{k}" for k in range(rank)])
    b, out_sizes, in_sizes = f.b, f.dims[:rank], f.dims[rank:]
    fill = ir.Constant(t, fill_bits(op.value, dtype))
    with f.nest(out_sizes[:-1]) as index:
        source = [b.sub(i, const(low)) for i, low in zip(index, lows)]
        inside = b.not_(_any_outside(f, source, in_sizes))
        width, low = out_sizes[-1], const(lows[-1])
        row = f.mul(f.linear(index, out_sizes), width)
        with b.if_else(inside) as (copy, blank):
            with copy:
                count = in_sizes[-1]
                read = f.mul(f.linear(source, in_sizes), count)
                _fill(f, fill, row, const(0), low)
                with f.loop(const(0), count, "k") as k:
                    f.store(f.load(0, f.add(read, k), t), 1, f.add(row, low, k))
                _fill(f, fill, row, b.add(low, count), width)
            with blank:
                _fill(f, fill, row, const(0), width)

    def bind(operands, results):
        ones = (1,) * extra
        return [*ones, *results[0], *ones, *operands[0]], ([1] * extra + list(results[0]))[0]

    return assemble(op, f, bind, "rows of fill, operand row, fill")


def _any_outside(f: Frame, index, sizes) -> ir.Value:
    outside = ir.Constant(ir.IntType(1), 0)
    for i, n in zip(index, sizes):
        outside = f.b.or_(outside, f.outside(i, n))
    return outside


def _fill(f: Frame, value: ir.Constant, row: ir.Value, start: ir.Value, stop: ir.Value) -> None:
    with f.loop(start, stop, "fill") as k:
        f.store(value, 1, f.add(row, k))


# ------------------------------------------------------------------ concat


@native("kiln.concat")
def concat(op: Operation, name: str) -> NativeKernel:
    """Seen as (P, L_j) arrays, P the product of the dims before the axis,
    each operand's row p goes to its place in the result's row p."""
    t = bits_type(op, op.results[0].type.dtype)
    count = len(op.operands)
    f = Frame(
        name,
        [f"x{j}" for j in range(count)] + ["out"],
        ["rows"] + [f"width{j}" for j in range(count)],
    )
    widths = f.dims[1:]
    total = f.add(*widths)
    with f.loop(f.begin, f.end, "p") as p:
        start = f.mul(p, total)
        for j, width in enumerate(widths):
            read = f.mul(p, width)
            with f.loop(const(0), width, f"k{j}") as k:
                f.store(f.load(j, f.add(read, k), t), count, f.add(start, k))
            start = f.add(start, width)

    def bind(operands, results):
        out = results[0]
        axis = normalize_axis(op.axis, len(out))
        rows, inner = math.prod(out[:axis]), math.prod(out[axis + 1 :])
        return [rows] + [s[axis] * inner for s in operands], rows

    return assemble(op, f, bind, "row by row, each operand's part in turn")
