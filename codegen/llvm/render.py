"""render: a `Kernel` -> an LLVM module, with llvmlite's IR builder.

The module defines two functions:

- ``i32 @NAME(ptr buffers, ptr dims, i64 begin, i64 end)``: the ABI of
  `codegen/kernel.py`. It loads the buffer pointers and dims and calls
- ``i32 @NAME.body(ptr noalias p0, ..., i64 d0, ..., i64 begin, i64 end)``
  (internal, always inlined), which does the work. Its pointers are
  `noalias`, so LLVM vectorises without run-time overlap checks; once
  inlined that becomes alias scopes. An output may share its buffer with an
  input of the same type only in a pointwise kernel (the memory plan's in
  place rule): every element is then read before it is written, once.

Loops: one per row axis (the first runs over [begin, end)), then in the
innermost row body the kernel's body in order; each `Sweep` is a loop nest
over the reduced axes whose accumulators live in stack slots that LLVM
promotes to registers. Offsets are sums of index * stride with the strides
of every map computed once on entry: no division or remainder in any loop.

Column blocks: when the innermost axis of a reduction kernel is a row axis
(a sum over the leading axis of a matrix, say), one row at a time would make
every sweep a strided walk down a column. That axis then runs in blocks of
up to `COLUMN_BLOCK` columns instead: each run of row instructions is a loop
over the block's columns, each sweep's loop nest has that column loop
innermost (it reads memory contiguously and vectorises), accumulators are
arrays of one element per column, and a row value used by a later loop is
kept in such an array too (stack slots, so they stay in L1).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from llvmlite import ir

from ...ir.dtypes import DType
from ..kernel import (
    Compute,
    Const,
    Extent,
    Index,
    Instr,
    Kernel,
    Load,
    Map,
    Reduction,
    Store,
    Sweep,
)
from .scalar import I1, I32, I64, Scalars, storage_type, value_type

PTR = ir.PointerType()
F64 = ir.DoubleType()
SUM_CHUNK = 4096  # elements per partial float sum (see _BodyRenderer.sweep)
COLUMN_BLOCK = 256  # columns per block when the innermost row axis is blocked
COLUMN_SUM_CHUNK = 64  # reduced elements per partial float sum in a column block


def render(kernel: Kernel) -> ir.Module:
    """An LLVM module defining `kernel.name` with the kernel ABI."""
    module = ir.Module(name=kernel.name)
    body = _BodyRenderer(kernel, module).function
    _define_entry(kernel, module, body)
    return module


def _define_entry(kernel: Kernel, module: ir.Module, body: ir.Function) -> None:
    fn = ir.Function(module, ir.FunctionType(I32, [PTR, PTR, I64, I64]), kernel.name)
    buffers, dims, begin, end = fn.args
    buffers.name, dims.name, begin.name, end.name = "buffers", "dims", "begin", "end"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = [
        b.load(
            b.gep(buffers, [ir.Constant(I64, i)], inbounds=True, source_etype=PTR),
            name=p.name,
            typ=PTR,
        )
        for i, p in enumerate(kernel.params)
    ]
    args += [
        b.load(
            b.gep(dims, [ir.Constant(I64, j)], inbounds=True, source_etype=I64),
            name=f"d{j}",
            typ=I64,
        )
        for j in range(len(kernel.dims))
    ]
    b.ret(b.call(body, args + [begin, end]))


@contextmanager
def counted_loop(b: ir.IRBuilder, start: ir.Value, stop: ir.Value, name: str, step: int = 1):
    """`for (i = start; i < stop; i += step)`; yields i with the builder in the body."""
    i, _, head, done = _loop_head(b, start, stop, name, [])
    yield i
    _loop_latch(b, i, step, head, done, [], [])


def carried_loop(b: ir.IRBuilder, start, stop, values, body, name: str, step: int = 1):
    """`for (i = start; i < stop; i += step) values = body(i, values)`, the values
    carried as phis (accumulators in registers); returns them as the loop leaves
    them, with the builder after the loop."""
    i, phis, head, done = _loop_head(b, start, stop, name, values)
    _loop_latch(b, i, step, head, done, phis, body(i, phis))
    return phis


def _loop_head(b: ir.IRBuilder, start, stop, name: str, values):
    before = b.block
    head = b.append_basic_block(f"{name}.head")
    body = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name)
    i.add_incoming(start, before)
    phis = []
    for value in values:
        phi = b.phi(value.type)
        phi.add_incoming(value, before)
        phis.append(phi)
    b.cbranch(b.icmp_signed("<", i, stop), body, done)
    b.position_at_end(body)
    return i, phis, head, done


def _loop_latch(b: ir.IRBuilder, i, step: int, head, done, phis, values) -> None:
    i.add_incoming(b.add(i, ir.Constant(I64, step), flags=["nsw"]), b.block)
    for phi, value in zip(phis, values):
        phi.add_incoming(value, b.block)
    b.branch(head)
    b.position_at_end(done)


@dataclass
class _Accumulator:
    """The stack slots of one reduction."""

    value: ir.Value  # the running value (of the current chunk, for float sums)
    identity: ir.Constant
    position: ir.Value | None = None  # argmax/argmin: the position of `value`
    total: ir.Value | None = None  # float sums: the f64 sum of the chunks so far


class _BodyRenderer:
    """Renders the body function of one kernel."""

    def __init__(self, kernel: Kernel, module: ir.Module):
        self.k = kernel
        types = [PTR] * len(kernel.params) + [I64] * (len(kernel.dims) + 2)
        fn = ir.Function(module, ir.FunctionType(I32, types), f"{kernel.name}.body")
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        fn.attributes.add("nounwind")
        for arg, p in zip(fn.args, kernel.params):
            arg.name = p.name
            arg.add_attribute("noalias")
        *dims, begin, end = fn.args[len(kernel.params) :]
        for j, d in enumerate(dims):
            d.name = f"d{j}"
        begin.name, end.name = "begin", "end"
        self.function = fn
        self.pointers = fn.args[: len(kernel.params)]
        entry, start = fn.append_basic_block("entry"), fn.append_basic_block("start")
        self.slots = ir.IRBuilder(entry)  # stack slots go in the entry block
        self.b = b = ir.IRBuilder(start)
        self.fault = self.slot(I32, "fault", ir.Constant(I32, 0))
        self.scalars = Scalars(b, self.fault)
        self.values: dict[int, ir.Value] = {}
        self.dtypes: dict[int, DType] = {}
        self.sizes = [self.size(ax.size, dims) for ax in kernel.domain]
        self.strides = {m: self.map_strides(m) for m in kernel.maps()}
        self.index: dict[int, ir.Value] = {}
        rows = kernel.row_axes
        self.column = rows[-1] if column_blocked(kernel) else None
        self.spilled: dict[int, tuple[ir.Value, ir.Type]] = {}  # id -> (array, type)
        with ExitStack() as loops:
            for n, a in enumerate(rows or (None,)):
                low, high = (begin, end) if n == 0 else (ir.Constant(I64, 0), self.sizes[a])
                if a is not None and a == self.column:
                    block = loops.enter_context(
                        counted_loop(b, low, high, "block", step=COLUMN_BLOCK)
                    )
                    self.block = block
                    self.width = b.sub(
                        self.scalars.intrinsic(
                            "llvm.smin", [b.add(block, ir.Constant(I64, COLUMN_BLOCK)), high]
                        ),
                        block,
                    )
                    continue
                index = loops.enter_context(
                    counted_loop(b, low, high, "row" if n == 0 else f"i{a}")
                )
                if a is not None:
                    self.index[a] = index
            if self.column is None:
                for statement in kernel.body:
                    if isinstance(statement, Sweep):
                        self.sweep(statement)
                    else:
                        self.instr(statement)
            else:
                self.blocked_body(kernel.body)
        b.ret(b.load(self.fault, typ=I32))
        self.slots.branch(start)

    # ------------------------------------------------------------ setup
    def slot(self, t: ir.Type, name: str, initial: ir.Value | None = None) -> ir.Value:
        """A stack slot in the entry block (promoted to a register by LLVM)."""
        where = self.slots.alloca(t, name=name)
        if initial is not None:
            self.b.store(initial, where)
        return where

    def mul(self, x: ir.Value, y: ir.Value) -> ir.Value:
        """x * y on i64, skipping a multiplication by a constant 1 (readable IR)."""
        if _is_one(x):
            return y
        if _is_one(y):
            return x
        return self.b.mul(x, y, flags=["nsw"])

    def size(self, size, dims) -> ir.Value:
        value: ir.Value = ir.Constant(I64, size.static)
        for j in size.dims:
            value = self.mul(value, dims[j])
        return value

    def map_strides(self, m: Map) -> list[ir.Value | None]:
        """Per domain axis: the element stride of a C-contiguous buffer with map m."""
        strides: list[ir.Value | None] = [None] * len(m)
        stride: ir.Value = ir.Constant(I64, 1)
        for a in reversed(range(len(m))):
            if m[a]:
                strides[a] = stride
                stride = self.mul(stride, self.sizes[a])
        return strides

    def offset(self, m: Map) -> ir.Value:
        total: ir.Value | None = None
        for a, stride in enumerate(self.strides[m]):
            if stride is None:
                continue
            term = self.mul(self.index[a], stride)
            total = term if total is None else self.b.add(total, term, flags=["nsw"])
        return ir.Constant(I64, 0) if total is None else total

    def address(self, param: int, m: Map) -> tuple[ir.Value, ir.Type, int]:
        dtype = self.k.params[param].dtype
        t = storage_type(dtype)
        gep = self.b.gep(self.pointers[param], [self.offset(m)], inbounds=True, source_etype=t)
        return gep, t, dtype.itemsize

    def from_index(self, value: ir.Value, dtype: DType) -> ir.Value:
        return self.scalars.cast(value, DType.i64, dtype)

    # ------------------------------------------------------------ statements
    def define(self, id_: int, value: ir.Value, dtype: DType) -> None:
        self.values[id_] = value
        self.dtypes[id_] = dtype

    def instr(self, x: Instr) -> None:
        b = self.b
        if isinstance(x, Load):
            where, t, align = self.address(x.param, x.map)
            value = b.load(where, typ=t, align=align)
            if x.dtype.is_bool:
                value = b.icmp_unsigned("!=", value, ir.Constant(t, 0))
            self.define(x.id, value, x.dtype)
        elif isinstance(x, Store):
            where, t, align = self.address(x.param, x.map)
            value = self.values[x.value]
            if value.type == I1:
                value = b.zext(value, t)
            b.store(value, where, align=align)
        elif isinstance(x, Index):
            self.define(x.id, self.from_index(self.offset(x.map), x.dtype), x.dtype)
        elif isinstance(x, Extent):
            extent: ir.Value = ir.Constant(I64, 1)
            for a in self.k.reduced_axes:
                extent = self.mul(extent, self.sizes[a])
            self.define(x.id, self.from_index(extent, x.dtype), x.dtype)
        elif isinstance(x, Const):
            self.define(x.id, self.scalars.const(x.value, x.dtype), x.dtype)
        elif isinstance(x, Compute):
            args = [self.values[a] for a in x.args]
            value = self.scalars.compute(x.op, args, [self.dtypes[a] for a in x.args], x.dtype)
            self.define(x.id, value, x.dtype)
        else:
            raise TypeError(f"not an instruction: {x!r}")

    def sweep(self, sweep: Sweep) -> None:
        """Accumulators, a loop nest over the reduced axes, then the row values.

        Float sums add up chunks of `SUM_CHUNK` elements of the innermost axis
        (vectorised, so each lane adds a few dozen values) into an f64 total:
        about as accurate as numpy's pairwise sums, at the same speed."""
        reduced = self.k.reduced_axes
        dtypes = self.sweep_dtypes(sweep)
        accumulators = [
            self.accumulator(r, dtypes[r.value], bool(reduced)) for r in sweep.reductions
        ]
        chunked = [acc for acc in accumulators if acc.total is not None]

        def start_chunk():
            for acc in chunked:
                self.b.store(acc.identity, acc.value)

        with ExitStack() as loops:
            self.reduced_loops(
                loops, SUM_CHUNK if chunked else 0, start_chunk, lambda: self.add_chunks(chunked)
            )
            for x in sweep.body:
                self.instr(x)
            for r, acc in zip(sweep.reductions, accumulators):
                self.fold(r, acc)
        for r, acc in zip(sweep.reductions, accumulators):
            self.define(r.id, self.reduced_value(r, acc), r.dtype)

    def sweep_dtypes(self, sweep: Sweep) -> dict[int, DType]:
        dtypes = {x.id: x.dtype for x in sweep.body if not isinstance(x, Store)}
        dtypes.update(self.dtypes)
        return dtypes

    def reduced_loops(self, loops: ExitStack, chunk: int, start_chunk, end_chunk) -> None:
        """Enter the loop nest over the reduced axes (setting their indices). With
        a `chunk`, the innermost axis runs in chunks of that many elements:
        `start_chunk()` before each, `end_chunk()` after each."""
        reduced = self.k.reduced_axes
        for a in reduced:
            start, stop = ir.Constant(I64, 0), self.sizes[a]
            if a == reduced[-1] and chunk:
                start = loops.enter_context(
                    counted_loop(self.b, start, stop, f"k{a}.chunk", step=chunk)
                )
                start_chunk()
                loops.callback(end_chunk)  # after the inner loop
                chunk_end = self.b.add(start, ir.Constant(I64, chunk))
                stop = self.scalars.intrinsic("llvm.smin", [chunk_end, stop])
            self.index[a] = loops.enter_context(counted_loop(self.b, start, stop, f"k{a}"))

    def reduced_value(self, r: Reduction, acc: _Accumulator) -> ir.Value:
        """The row value of reduction `r` from its accumulator's slots."""
        if acc.position is not None:
            return self.from_index(self.b.load(acc.position, typ=I64), r.dtype)
        if acc.total is not None:
            return self.scalars.cast(self.b.load(acc.total, typ=F64), DType.f64, r.dtype)
        return self.b.load(acc.value, typ=value_type(r.dtype))

    # ------------------------------------------------------------ column blocks
    def blocked_body(self, body: tuple[Instr | Sweep, ...]) -> None:
        """The row body over one block of columns: runs of instructions as column
        loops, sweeps with the column loop innermost."""
        groups: list[list[Instr] | Sweep] = []
        for statement in body:
            if isinstance(statement, Sweep):
                groups.append(statement)
            elif groups and isinstance(groups[-1], list):
                groups[-1].append(statement)
            else:
                groups.append([statement])
        for n, group in enumerate(groups):
            later = _uses(groups[n + 1 :])
            if isinstance(group, Sweep):
                self.blocked_sweep(group, later)
                continue
            with self.columns("col") as j:
                for x in group:
                    self.instr(x)
                    if not isinstance(x, Store) and x.id in later:
                        self.spill(x.id, j)

    @contextmanager
    def columns(self, name: str):
        """A loop over the block's columns, with the column index set and the
        spilled row values loaded for this column."""
        with counted_loop(self.b, ir.Constant(I64, 0), self.width, name) as j:
            self.index[self.column] = self.b.add(self.block, j, flags=["nsw"])
            for id_, (array, t) in self.spilled.items():
                self.values[id_] = self.b.load(self.lane(array, t, j), typ=t)
            yield j

    def lane(self, array: ir.Value, t: ir.Type, j: ir.Value) -> ir.Value:
        return self.b.gep(array, [j], inbounds=True, source_etype=t)

    def column_array(self, t: ir.Type, name: str) -> ir.Value:
        return self.slots.alloca(t, size=COLUMN_BLOCK, name=name)

    def spill(self, id_: int, j: ir.Value) -> None:
        """Keep row value `id_` for the block's later loops (constants need no slot)."""
        value = self.values[id_]
        if isinstance(value, ir.Constant):
            return
        if id_ not in self.spilled:
            self.spilled[id_] = (self.column_array(value.type, f"v{id_}"), value.type)
        array, t = self.spilled[id_]
        self.b.store(value, self.lane(array, t, j))

    def blocked_sweep(self, sweep: Sweep, later: set[int]) -> None:
        """`sweep` for a block of columns: per-column accumulator arrays, the
        reduced loop nest outside, the column loop inside."""
        dtypes = self.sweep_dtypes(sweep)
        arrays = [self.column_accumulator(r, dtypes[r.value]) for r in sweep.reductions]
        with self.columns("init") as j:
            for acc in arrays:
                self.reset(acc, j, totals=True)
        chunked = [acc for acc in arrays if acc.total is not None]

        def start_chunk():
            with self.columns("reset") as j:
                for acc in chunked:
                    self.reset(acc, j, totals=False)

        with ExitStack() as loops:
            self.reduced_loops(
                loops,
                COLUMN_SUM_CHUNK if chunked else 0,
                start_chunk,
                lambda: self.add_column_chunks(chunked),
            )
            j = loops.enter_context(self.columns("lane"))
            for x in sweep.body:
                self.instr(x)
            for r, acc in zip(sweep.reductions, arrays):
                self.fold(r, self.at(acc, j))
        with self.columns("result") as j:
            for r, acc in zip(sweep.reductions, arrays):
                self.define(r.id, self.reduced_value(r, self.at(acc, j)), r.dtype)
                if r.id in later:
                    self.spill(r.id, j)

    def column_accumulator(self, r: Reduction, dtype: DType) -> _Accumulator:
        """Arrays of one accumulator per column of a block (not yet initialised)."""
        t = value_type(dtype)
        acc = _Accumulator(self.column_array(t, f"r{r.id}"), _identity(r.kind, dtype, t))
        if r.kind in ("argmax", "argmin"):
            acc.position = self.column_array(I64, f"r{r.id}.at")
        if r.kind == "sum" and dtype.is_float:
            acc.total = self.column_array(F64, f"r{r.id}.total")
        return acc

    def at(self, acc: _Accumulator, j: ir.Value) -> _Accumulator:
        """Column j's slots of the accumulator arrays `acc`."""
        t = acc.identity.type
        return _Accumulator(
            self.lane(acc.value, t, j),
            acc.identity,
            None if acc.position is None else self.lane(acc.position, I64, j),
            None if acc.total is None else self.lane(acc.total, F64, j),
        )

    def reset(self, acc: _Accumulator, j: ir.Value, totals: bool) -> None:
        at = self.at(acc, j)
        self.b.store(acc.identity, at.value)
        if at.position is not None:
            self.b.store(ir.Constant(I64, 0), at.position)
        if totals and at.total is not None:
            self.b.store(ir.Constant(F64, -0.0), at.total)

    def add_column_chunks(self, accumulators: list[_Accumulator]) -> None:
        with self.columns("chunk") as j:
            self.add_chunks([self.at(acc, j) for acc in accumulators])

    def accumulator(self, r: Reduction, dtype: DType, loops: bool) -> _Accumulator:
        """The initialised slots of `r`, which folds values of `dtype`."""
        t = value_type(dtype)
        identity = _identity(r.kind, dtype, t)
        acc = _Accumulator(self.slot(t, f"r{r.id}", identity), identity)
        if r.kind in ("argmax", "argmin"):
            acc.position = self.slot(I64, f"r{r.id}.at", ir.Constant(I64, 0))
        if r.kind == "sum" and dtype.is_float and loops:
            acc.total = self.slot(F64, f"r{r.id}.total", ir.Constant(F64, -0.0))
        return acc

    def add_chunks(self, accumulators: list[_Accumulator]) -> None:
        for acc in accumulators:
            part = self.b.load(acc.value, typ=acc.identity.type)
            if part.type != F64:
                part = self.b.fpext(part, F64)
            total = self.b.load(acc.total, typ=F64)
            self.b.store(self.b.fadd(total, part), acc.total)

    def fold(self, r: Reduction, slots: _Accumulator) -> None:
        b, s = self.b, self.scalars
        x = self.values[r.value]
        best, position = slots.value, slots.position
        acc = b.load(best, typ=x.type)
        dtype = self.dtypes[r.value]
        if r.kind == "sum":
            new = b.fadd(acc, x, flags=["reassoc"]) if dtype.is_float else b.add(acc, x)
        elif r.kind == "prod":
            # in order, not reassociated: [3.4e38, 0, 2] is 0 as in the interpreter,
            # where a vectorised order overflows to inf first and gives inf * 0 = NaN
            new = b.fmul(acc, x) if dtype.is_float else b.mul(acc, x)
        elif r.kind in ("max", "min"):
            new = s.compute(r.kind, [acc, x], [dtype, dtype], dtype)
        else:  # argmax / argmin: the first extreme value; the first NaN beats everything
            better = s.compare("greater" if r.kind == "argmax" else "less", [x, acc], dtype)
            if dtype.is_float:
                nan_first = b.and_(b.fcmp_unordered("uno", x, x), b.fcmp_ordered("ord", acc, acc))
                better = b.or_(better, nan_first)
            new = b.select(better, x, acc)
            here = self.values[r.index]
            b.store(b.select(better, here, b.load(position, typ=I64)), position)
        b.store(new, best)


def split_grain(kernel: Kernel) -> int:
    """The rows of [begin, end) a thread's share must be a whole multiple of:
    a column block when the split axis is the blocked column axis (a sum over
    the leading axes of [R, C]): a share of a few columns would make each call
    walk all R rows for them, every call again, at a fraction of the bandwidth."""
    if column_blocked(kernel) and len(kernel.row_axes) == 1:
        return COLUMN_BLOCK
    return 1


def column_blocked(kernel: Kernel) -> bool:
    """Does `kernel` run its innermost (row) axis in blocks of columns?"""
    return (
        kernel.kind == "reduction"
        and bool(kernel.reduced_axes)
        and bool(kernel.domain)
        and not kernel.domain[-1].reduced
    )


def _uses(groups: list) -> set[int]:
    """The ids that the instructions and sweeps in `groups` read."""
    used: set[int] = set()

    def add(x) -> None:
        if isinstance(x, Compute):
            used.update(x.args)
        elif isinstance(x, Store):
            used.add(x.value)
        elif isinstance(x, Sweep):
            for y in x.body:
                add(y)
            for r in x.reductions:
                used.add(r.value)

    for group in groups:
        for x in [group] if isinstance(group, Sweep) else group:
            add(x)
    return used


def _is_one(x: ir.Value) -> bool:
    return isinstance(x, ir.Constant) and x.constant == 1


def _identity(kind: str, dtype: DType, t: ir.Type) -> ir.Constant:
    """The value a reduction starts from."""
    if dtype.is_float:
        start = {
            "sum": -0.0,
            "prod": 1.0,
            "max": float("-inf"),
            "min": float("inf"),
            "argmax": float("-inf"),
            "argmin": float("inf"),
        }[kind]
        return ir.Constant(t, start)
    bits = t.width
    lowest, highest = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if dtype.is_unsigned:
        lowest, highest = 0, (1 << bits) - 1
    start = {
        "sum": 0,
        "prod": 1,
        "max": lowest,
        "min": highest,
        "argmax": lowest,
        "argmin": highest,
    }[kind]
    return ir.Constant(t, start)
