"""Kernels that move data without arithmetic: transpose, slice, broadcast_to,
broadcast_like, stop_gradient, pad, concat.

Most are one *strided copy*: the result, in C order, reads its operand at
``base + sum(i_k * stride_k)``, where `bind` works out the base and the
strides from the concrete shapes (a slice's start and step, a broadcast's
stride 0, a transpose's permuted strides), so one kernel serves every shape
of a symbolic type. Elements move as integers of their width: bit-exact,
NaN payloads included. A transpose first merges the axes that stay adjacent
(NCHW -> NHWC is a batch of 2-D transposes); one that moves the last axis runs
in tiles (`_tiled_permutation`) that read whole runs of the operand and write
whole runs of the result.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ...ir import Operation
from ...ir.ops.reduce import normalize_axis
from .frame import Frame, assemble, bits_type, c_strides, const, fill_bits
from .gemm_schedule import vector_bits
from .native import NativeKernel, native
from .scalar import I32

# A transpose tile is square, of at most TILE_BYTES (a power of two per side:
# 64 x 64 f32, 32 x 32 f64, 128 x 128 bytes): half a 32 KiB L1 data cache, the
# other half for the lines that stream past it; its rows are runs of 128 bytes
# or more (whole cache lines).
TILE_BYTES = 16 << 10
# x86 L1 data caches (32 KiB 8-way, 48 KiB 12-way) have 64 sets of 64-byte
# lines, so addresses 4 KiB apart share a set. Rows a multiple of 2 KiB apart
# fall into at most two sets per line: 16-24 of a tile's 64 rows fit, and the
# tile's column-wise writes evict each other's lines before they are whole.
# Such tiles go through a buffer on the stack, then out a whole row at a time.
CONFLICT_BYTES = 2048
MAX_BLOCK = 16  # at most 16 x 16 elements through registers (bytes: 16-byte vectors)


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
    """Permuted strides over the merged axes; a permutation that moves the
    last axis in tiles."""
    groups = transpose_groups(op)
    by_position = sorted(groups)
    perm = [by_position.index(g) for g in groups]  # the merged permutation

    def merged(shape):
        """The operand's shape over the merged axes (in operand order)."""
        return [math.prod(shape[a] for a in g) for g in by_position]

    way = f"over merged axes {groups} (permutation {perm})"
    if len(perm) > 1 and perm[-1] != len(perm) - 1:
        return _tiled_permutation(op, name, perm, merged, way)

    def bind(operands, results):
        shape = merged(operands[0])
        strides = c_strides(shape)
        sizes, strides = _at_least_one_axis([shape[p] for p in perm], [strides[p] for p in perm])
        return sizes, strides, 0

    return strided_copy(op, name, max(len(perm), 1), bind, f"strided copy {way}")


def _tiled_permutation(op: Operation, name: str, perm: list[int], merged, way: str) -> NativeKernel:
    """The merged operand (`merged(shape)`) seen as rows (the axis that becomes
    the result's last, perm[-1]) of columns (its last axis): tiles of
    `_tile_side` rows x as many columns, each read row by row and written
    column by column (a result row), in register blocks (`_transpose_block`);
    through a tile buffer when result rows are a multiple of CONFLICT_BYTES
    apart. The outer loop runs over (other axes, tile row) pairs; the other
    axes (in result order) come as (size, operand stride, result stride)."""
    t = bits_type(op, op.results[0].type.dtype)
    side, width = _tile_side(t), _block_width(t)
    rows_axis, columns_axis = perm[-1], len(perm) - 1
    others = [p for p in perm if p not in (rows_axis, columns_axis)]
    others_dims = [f"{what}{k}" for k in range(len(others)) for what in ("n", "s", "d")]
    f = Frame(
        name, ["x", "out"], ["rows", "columns", "pitch", "out_pitch", "buffered", *others_dims]
    )
    b, (rows, columns, pitch, out_pitch, buffered) = f.b, f.dims[:5]
    tile = b.bitcast(f.slot(ir.ArrayType(t, side * side), "tile"), t.as_pointer())
    tile_rows = b.sdiv(b.add(rows, const(side - 1)), const(side))
    with f.split_rows(tile_rows, "tile") as (position, tile_row):
        read, write = _outer_offsets(f, position, f.dims[5:])
        first = f.mul(tile_row, const(side))
        height = _up_to(f, b.sub(rows, first), side)
        read, write = f.add(read, f.mul(first, pitch)), f.add(write, first)
        with f.loop(const(0), columns, "j0", step=side) as j0:
            length = _up_to(f, b.sub(columns, j0), side)
            source = f.address(0, f.add(read, j0), t)
            target = f.address(1, f.add(write, f.mul(j0, out_pitch)), t)
            with b.if_else(b.icmp_signed("!=", buffered, const(0))) as (through, direct):
                with through:
                    _transpose_block(
                        f, t, width, (source, pitch), (tile, const(side)), height, length
                    )
                    _copy_rows(f, t, (tile, const(side)), (target, out_pitch), length, height)
                with direct:
                    _transpose_block(
                        f, t, width, (source, pitch), (target, out_pitch), height, length
                    )

    def bind(operands, results):
        shape = merged(operands[0])
        strides = c_strides(shape)
        out_strides = dict(zip(perm, c_strides([shape[p] for p in perm])))
        conflicts = out_strides[columns_axis] * (t.width // 8) % CONFLICT_BYTES == 0
        dims = [shape[rows_axis], shape[columns_axis], strides[rows_axis]]
        dims += [out_strides[columns_axis], int(conflicts)]
        for p in others:
            dims += [shape[p], strides[p], out_strides[p]]
        outer = math.prod(shape[p] for p in others) * -(-shape[rows_axis] // side)
        return dims, outer

    way = f"tiled permutation ({side} x {side} tiles, {width} x {width} blocks) {way}"
    return assemble(op, f, bind, way)


def _tile_side(t: ir.IntType) -> int:
    """The largest power of two whose square tile of `t` fits in TILE_BYTES."""
    elements = TILE_BYTES // (t.width // 8)
    return 1 << (elements.bit_length() - 1) // 2


def _block_width(t: ir.IntType) -> int:
    """Elements of `t` per vector register of the target (at most MAX_BLOCK)."""
    bits, _ = vector_bits()
    return max(1, min(MAX_BLOCK, bits // t.width))


def _up_to(f: Frame, left: ir.Value, side: int) -> ir.Value:
    """min(left, side): the extent of a tile that may be the last."""
    return f.scalars.intrinsic("llvm.smin", [left, const(side)])


def _outer_offsets(f: Frame, position: ir.Value, dims) -> tuple[ir.Value, ir.Value]:
    """The operand and result offsets of the C-order `position` over the other
    axes, `dims` being their (size, operand stride, result stride) triples."""
    b, read, write = f.b, const(0), const(0)
    for k in reversed(range(0, len(dims), 3)):
        n, stride, out_stride = dims[k : k + 3]
        index = b.srem(position, n)
        position = b.sdiv(position, n)
        read, write = f.add(read, f.mul(index, stride)), f.add(write, f.mul(index, out_stride))
    return read, write


def _at(f: Frame, t: ir.Type, where, row: ir.Value, column: ir.Value) -> ir.Value:
    """The address of element (row, column) of `where`, a (pointer, row pitch)."""
    pointer, pitch = where
    return f.b.gep(pointer, [f.add(f.mul(row, pitch), column)], inbounds=True, source_etype=t)


def _transpose_block(f: Frame, t: ir.IntType, width: int, source, target, height, length) -> None:
    """target[c, r] = source[r, c] for r < height, c < length (each a (pointer,
    row pitch)): width x width squares through registers, the edges by scalars."""
    b = f.b
    whole_rows, whole_columns = b.and_(height, const(-width)), b.and_(length, const(-width))
    with f.loop(const(0), whole_rows, "r", step=width) as r:
        with f.loop(const(0), whole_columns, "c", step=width) as c:
            _transpose_square(f, t, width, source, target, r, c)
        _transpose_scalars(
            f, t, source, target, (r, b.add(r, const(width))), (whole_columns, length)
        )
    _transpose_scalars(f, t, source, target, (whole_rows, height), (const(0), length))


def _transpose_square(f: Frame, t: ir.IntType, width: int, source, target, r, c) -> None:
    """One width x width square: a vector load per row, log2(width) rounds of
    two-vector shuffles (each swaps the off-diagonal halves of every 2h x 2h
    block), a vector store per column."""
    b, vector, align = f.b, ir.VectorType(t, width), t.width // 8
    square = [
        b.load(_at(f, t, source, f.add(r, const(k)), c), typ=vector, align=align)
        for k in range(width)
    ]
    h = width // 2
    while h:
        low = ir.Constant(
            ir.VectorType(I32, width), [k if k & h == 0 else width + k - h for k in range(width)]
        )
        high = ir.Constant(
            ir.VectorType(I32, width), [k + h if k & h == 0 else width + k for k in range(width)]
        )
        for k in (k for k in range(width) if k & h == 0):
            upper, lower = square[k], square[k + h]
            square[k] = b.shuffle_vector(upper, lower, low)
            square[k + h] = b.shuffle_vector(upper, lower, high)
        h //= 2
    for k, column in enumerate(square):
        at = _at(f, t, target, f.add(c, const(k)), r)
        if not at.type.is_opaque:  # the tile buffer's pointers are typed: to <w x T>*
            at = b.bitcast(at, vector.as_pointer())
        b.store(column, at, align=align)


def _transpose_scalars(f: Frame, t: ir.IntType, source, target, rows, columns) -> None:
    """target[c, r] = source[r, c] over the ranges `rows` x `columns`, one by one."""
    with f.loop(*rows, "rs") as r, f.loop(*columns, "cs") as c:
        value = f.b.load(_at(f, t, source, r, c), typ=t, align=t.width // 8)
        f.b.store(value, _at(f, t, target, c, r), align=t.width // 8)


def _copy_rows(f: Frame, t: ir.IntType, source, target, count, length) -> None:
    """Rows [0, count) of `source` to `target` (each a (pointer, row pitch)), `length` long."""
    with f.loop(const(0), count, "row") as r, f.loop(const(0), length, "e") as e:
        value = f.b.load(_at(f, t, source, r, e), typ=t, align=t.width // 8)
        f.b.store(value, _at(f, t, target, r, e), align=t.width // 8)


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
