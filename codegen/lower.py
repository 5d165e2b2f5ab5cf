"""lower: a `kiln.fused` op of kind pointwise or reduction -> a `Kernel`.

The group's full shape S (a pointwise group's shape; a reduction group's
reduced operand shape) is the domain, with the reduction's axes A marked
reduced. Every value of the group sits in S in one of three ways (as
`passes/fuse.py` groups them): *full* (shape S), *row* (S with A set to 1,
leading 1s optional) or *compact* (S without A). In a reduction kernel the
full values other than reductions are *element* values, computed inside
sweeps; everything else is computed once per row.

Planning is one walk in program order that gives every value the first
sweep it can be computed in (`ready`): a reduction of a value ready in sweep
j runs in sweep j and is ready for everything after it (j + 1); other ops are
ready when their operands are. Element values are then emitted into each
sweep that needs them, recomputed rather than stored, with one exception
(`stashes`): an element value with transcendental math (softmax's exp) that
an earlier sweep computes anyway and a later sweep's output needs is stored
into that output by the earlier sweep and read back by the later one
(softmax: exp once per element, not twice). Finally the domain is
normalised (`collapse`): size-1 axes go, and neighbouring axes on which every
map agrees merge, so the usual kernels get one flat loop (pointwise) or a
rows x reduced-extent loop nest (softmax).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from itertools import count

from ..ir import DType, Operation, Value
from ..ir.ops.reduce import ArgReduce, normalize_axis
from ..ir.scalar import Instruction, ScalarEmitter
from ..ir.types import Dim
from .kernel import (
    Axis,
    CompileError,
    Compute,
    Const,
    DimParam,
    Extent,
    Index,
    Instr,
    Kernel,
    Load,
    Map,
    Param,
    Reduction,
    Size,
    Store,
    Sweep,
)

# Each op says what it is in the kernel form itself: an elementwise op's
# `scalar` (its scalar instructions), a reduction's `fold`, and its cost,
# whose transcendentals decide what is worth stashing (see `stashes`).


def fold_of(op: Operation) -> str:
    """How a kernel folds `op`'s operand ("sum", "max", "argmax", ...); "" when
    `op` is no reduction."""
    return op.fold


SUPPORTED_DTYPES = (
    DType.f32,
    DType.f64,
    DType.i8,
    DType.i16,
    DType.i32,
    DType.i64,
    DType.u8,
    DType.u16,
    DType.u32,
    DType.u64,
    DType.bool,
)


def lower(fused: Operation, name: str = "kernel") -> Kernel:
    """The kernel form of a `kiln.fused` op of kind pointwise or reduction.

    Raises CompileError naming the op for what the form cannot hold yet
    (matmul/conv templates, f16/bf16, ops without a lowering)."""
    if fused.name != "kiln.fused":
        raise CompileError(f"{fused.describe()}: expected a kiln.fused op")
    if fused.kind not in ("pointwise", "reduction"):
        raise fused.error(f"{fused.kind} kernels are not supported by codegen yet", CompileError)
    if not fused.results:
        raise fused.error("a kernel without results computes nothing", CompileError)
    return collapse(_Lowering(fused, name).kernel())


def _axes_of(op: Operation) -> tuple[int, ...]:
    rank = op.operands[0].type.rank
    if isinstance(op, ArgReduce):
        return (normalize_axis(op.axis, rank),)
    return op.reduced_axes(rank)


class _Scope:
    """Where instructions go: the row body, or one sweep (which sees the row's values)."""

    def __init__(self, parent: _Scope | None = None):
        self.parent = parent
        self.instrs: list[Instr | Sweep] = []
        self.ids: dict[Value, int] = {}  # values computed here
        self.memo: dict[tuple, int] = {}  # loads, constants, positions made here

    def find(self, table: str, key) -> int | None:
        scope: _Scope | None = self
        while scope is not None:
            found = getattr(scope, table).get(key)
            if found is not None:
                return found
            scope = scope.parent
        return None


class _Lowering:
    """Lowers one fused op; `kernel()` returns its kernel over the full shape S."""

    def __init__(self, fused: Operation, name: str):
        self.fused, self.name = fused, name
        block = fused.body
        self.ops = [op for op in block.ops if op is not block.terminator]
        self.outputs = list(block.terminator.operands)
        self.position = {op: i for i, op in enumerate(self.ops)}
        for v in list(block.args) + [r for op in self.ops for r in op.results]:
            if v.type.dtype not in SUPPORTED_DTYPES:
                where = v.op if hasattr(v, "op") else fused
                raise where.error(f"{v.type.dtype} is not supported by codegen yet", CompileError)
        reductions = [op for op in self.ops if fold_of(op)]
        if fused.kind == "reduction" and reductions:
            self.shape = tuple(reductions[0].operands[0].type.shape)
            self.reduced = _axes_of(reductions[0])
        else:
            self.shape, self.reduced = tuple(self.outputs[0].type.shape), ()
        for op in reductions:
            if tuple(op.operands[0].type.shape) != self.shape or _axes_of(op) != self.reduced:
                raise op.error("reduces another shape or other axes than its kernel", CompileError)
        self.arg_index = {a: i for i, a in enumerate(block.args)}
        self.param_axes: list[list[set[int]]] = [[set() for _ in a.type.shape] for a in block.args]
        self.ids = count()

    # ------------------------------------------------------------ shapes
    def view(self, shape: Sequence[Dim], what: Operation) -> list[int]:
        """The axis of S that each dim of a value of `shape` lies on."""
        S, A, shape = self.shape, self.reduced, tuple(shape)
        n = len(S)
        if shape == S:
            return list(range(n))
        if len(shape) <= n:
            lead = n - len(shape)
            padded = (1,) * lead + shape
            if all(padded[i] == 1 if i in A else padded[i] == S[i] for i in range(n)):
                return [lead + i for i in range(len(shape))]
        kept = [i for i in range(n) if i not in A]
        if shape == tuple(S[i] for i in kept):
            return kept
        raise what.error(
            f"a value of shape {shape} does not fit the kernel's domain {S} reduced over {list(A)}",
            CompileError,
        )

    def is_element(self, v: Value) -> bool:
        """Whether `v` varies along the reduced axes (is computed inside sweeps)."""
        op = getattr(v, "op", None)
        if not self.reduced or op is None or fold_of(op):
            return False
        return tuple(v.type.shape) == self.shape and op.name != "kiln.constant"

    def full_map(self, shape: Sequence[Dim], axes: Sequence[int]) -> Map:
        """The map of a value of `shape` whose dims lie on `axes` of S."""
        on = {a for d, a in zip(shape, axes) if d != 1}
        return tuple(a in on for a in range(len(self.shape)))

    def input_map(self, arg: Value, consumer: Operation) -> Map:
        """The map of input `arg` read by `consumer`: broadcast into the shape
        the consumer computes in, then placed in S."""
        target = (
            consumer.operands[0].type.shape if fold_of(consumer) else consumer.results[0].type.shape
        )
        axes = self.view(target, consumer)
        shape = arg.type.shape
        mine = axes[len(axes) - len(shape) :]
        for i, (d, a) in enumerate(zip(shape, mine)):
            if d != 1:
                self.param_axes[self.arg_index[arg]][i].add(a)
        return self.full_map(shape, mine)

    # ------------------------------------------------------------ planning
    def plan(self):
        """`ready` of every value, the row ops per segment, reductions per sweep."""
        ready: dict[Value, int] = {}
        segments: dict[int, list[Operation]] = defaultdict(list)
        sweeps: dict[int, list[Operation]] = defaultdict(list)
        for op in self.ops:
            if op.name == "kiln.constant":
                continue
            at = max((ready.get(v, 0) for v in op.operands), default=0)
            if fold_of(op):
                sweeps[at].append(op)
                ready[op.result] = at + 1
            else:
                ready[op.result] = at
                if not self.is_element(op.result):
                    segments[at].append(op)
        stores: dict[int, list[int]] = defaultdict(list)  # sweep -> element outputs
        for i, v in enumerate(self.outputs):
            if self.is_element(v):
                stores[ready[v]].append(i)
        n = max([j + 1 for j in sweeps] + [j + 1 for j in stores], default=0)
        return segments, sweeps, stores, n

    # ------------------------------------------------------------ emission
    def kernel(self) -> Kernel:
        segments, sweeps, stores, n = self.plan()
        self.stashed = self.stashes(sweeps, stores, n)
        row = _Scope()
        for j in range(n + 1):
            for op in segments[j]:
                self.emit_op(op, row)
            if j < n:
                self.emit_sweep(sweeps[j], stores[j], row)
        for i, v in enumerate(self.outputs):
            if not self.is_element(v):
                self.emit_store(i, v, row)
        S = self.shape
        dims = tuple(DimParam(str(d), a) for a, d in enumerate(S) if not isinstance(d, int))
        dim_of = {d.axis: j for j, d in enumerate(dims)}
        params = [self.input_param(i, a) for i, a in enumerate(self.fused.body.args)]
        spanned = {a for p in params for axes in p.axes for a in axes}
        for d in dims:
            if d.axis not in spanned:
                raise self.fused.error(
                    f"no input gives the extent of axis {d.axis} ({d.name})", CompileError
                )
        params += [self.output_param(i, v) for i, v in enumerate(self.outputs)]
        domain = tuple(
            Axis(Size(d) if isinstance(d, int) else Size(1, (dim_of[a],)), a in self.reduced, (a,))
            for a, d in enumerate(S)
        )
        return Kernel(self.name, self.fused.kind, S, tuple(params), dims, domain, tuple(row.instrs))

    def input_param(self, i: int, arg: Value) -> Param:
        axes = tuple(tuple(sorted(s)) for s in self.param_axes[i])
        return Param(f"in{i}", arg.type.dtype, tuple(arg.type.shape), axes, output=False)

    def output_param(self, i: int, v: Value) -> Param:
        axes = self.view(v.type.shape, v.op)
        return Param(
            f"out{i}",
            v.type.dtype,
            tuple(v.type.shape),
            tuple((a,) if d != 1 else () for d, a in zip(v.type.shape, axes)),
            output=True,
        )

    def new_id(self) -> int:
        return next(self.ids)

    def add(self, scope: _Scope, instr: Instr) -> int:
        scope.instrs.append(instr)
        return getattr(instr, "id", -1)

    def memo(self, scope: _Scope, key: tuple, make) -> int:
        found = scope.find("memo", key)
        if found is None:
            found = scope.memo[key] = self.add(scope, make(self.new_id()))
        return found

    def const(self, scope: _Scope, value, dtype: DType) -> int:
        return self.memo(scope, ("const", repr(value), dtype), lambda i: Const(i, value, dtype))

    def compute(self, scope: _Scope, op: str, args: Sequence[int], dtype: DType) -> int:
        return self.add(scope, Compute(self.new_id(), op, tuple(args), dtype))

    def operand(self, v: Value, consumer: Operation, scope: _Scope) -> int:
        """The id of `v` as `consumer` reads it in `scope`."""
        found = scope.find("ids", v)
        if found is not None:
            return found
        if v in self.arg_index:
            m = self.input_map(v, consumer)
            p = self.arg_index[v]
            return self.memo(scope, ("load", p, m), lambda i: Load(i, p, m, v.type.dtype))
        owner = getattr(v, "op", None)
        if owner is not None and owner.name == "kiln.constant":
            array = owner.value.array
            value = array.flat[0].item() if array.size else 0
            return self.const(scope, value, v.type.dtype)
        raise consumer.error(f"reads a value the kernel has not computed yet ({v!r})", CompileError)

    def stashes(self, sweeps, stores, n: int) -> dict[Value, tuple[int, int]]:
        """Element value -> (output i that holds it, the sweep that stores it).

        A value qualifies when its ops include transcendental math, sweep j
        needs it, and it feeds output i (its dtype, stored by a later sweep)
        only through ops other than its own: storing it in sweep j and loading
        it back then replaces recomputing it. One value per output."""
        if not self.reduced:
            return {}
        needed = [
            set(
                self.element_ops(
                    [op.operands[0] for op in sweeps[j]] + [self.outputs[i] for i in stores[j]]
                )
            )
            for j in range(n)
        ]
        stashed: dict[Value, tuple[int, int]] = {}
        for j_out in range(n):
            for i in stores[j_out]:
                out = self.outputs[i]
                for op in reversed(self.element_ops([out])):
                    v = op.result
                    earlier = [j for j in range(j_out) if op in needed[j]]
                    if (
                        v is not out
                        and v not in stashed
                        and earlier
                        and v.type.dtype == out.type.dtype
                        and self.expensive(v)
                    ):
                        stashed[v] = (i, earlier[0])
                        break
        return stashed

    def expensive(self, v: Value) -> bool:
        """Whether computing `v` takes transcendental math (by its ops' declared cost)."""
        return any(
            op.cost([()] * len(op.operands), [()] * len(op.results)).transcendentals
            for op in self.element_ops([v])
        )

    def emit_sweep(self, reductions: list[Operation], stores: list[int], row: _Scope) -> None:
        """A sweep computing `reductions` and the element outputs `stores`."""
        sweep = _Scope(row)
        number = sum(isinstance(x, Sweep) for x in row.instrs)
        roots = [op.operands[0] for op in reductions] + [self.outputs[i] for i in stores]
        for v, (i, j) in self.stashed.items():  # values stored by an earlier sweep
            if j < number:
                m = self.full_map(v.type.shape, self.view(v.type.shape, v.op))
                sweep.ids[v] = self.add(
                    sweep, Load(self.new_id(), len(self.fused.body.args) + i, m, v.type.dtype)
                )
        for op in self.element_ops(roots, stop=set(sweep.ids)):
            self.emit_op(op, sweep)
        for v, (i, j) in self.stashed.items():
            if j == number:
                self.emit_store(i, v, sweep)
        folds = []
        for op in reductions:
            x = self.operand(op.operands[0], op, sweep)
            kind = fold_of(op)
            dtype = op.result.type.dtype
            if op.name == "kiln.reduce_mean" and not dtype.is_float:
                x = self.compute(sweep, "cast", [x], DType.f64)  # numpy's int mean is f64
                dtype = DType.f64
            index = None
            if kind in ("argmax", "argmin"):
                axis = self.reduced[0]
                m = tuple(a == axis and self.shape[a] != 1 for a in range(len(self.shape)))
                index = self.add(sweep, Index(self.new_id(), m, DType.i64))
            folds.append(Reduction(self.new_id(), kind, x, dtype, index))
        for i in stores:
            self.emit_store(i, self.outputs[i], sweep)
        row.instrs.append(Sweep(tuple(sweep.instrs), tuple(folds)))
        for op, fold in zip(reductions, folds):
            row.ids[op.result] = self.finish(op, fold, row)

    def finish(self, op: Operation, fold: Reduction, row: _Scope) -> int:
        """The row value of reduction `op` from its fold: the mean divides."""
        if op.name != "kiln.reduce_mean":
            return fold.id
        count_ = self.add(row, Extent(self.new_id(), fold.dtype))
        mean = self.compute(row, "div", [fold.id, count_], fold.dtype)
        want = op.result.type.dtype
        return mean if want == fold.dtype else self.compute(row, "cast", [mean], want)

    def element_ops(self, roots: list[Value], stop: set[Value] = frozenset()) -> list[Operation]:
        """The element ops that `roots` need, in program order (an iterative walk),
        not looking past the values in `stop`."""
        seen: set[Operation] = set()
        stack = [v for v in roots if self.is_element(v) and v not in stop]
        while stack:
            op = stack.pop().op
            if op in seen:
                continue
            seen.add(op)
            stack.extend(v for v in op.operands if self.is_element(v) and v not in stop)
        return sorted(seen, key=self.position.__getitem__)

    def emit_store(self, i: int, v: Value, scope: _Scope) -> None:
        m = self.full_map(v.type.shape, self.view(v.type.shape, v.op))
        value = self.operand(v, v.op, scope)
        self.add(scope, Store(len(self.fused.body.args) + i, m, value))

    def emit_op(self, op: Operation, scope: _Scope) -> None:
        """Emit a non-reduction op's instructions (its declared `scalar`) and bind its result."""
        if fold_of(op):
            raise op.error("a reduction outside a sweep", CompileError)
        k = _KernelEmitter(self, op, scope)
        out = k.resolve(op.scalar(k, *k.operands))
        for v, handle in zip(op.operands, k.operands):
            if handle.id is None and v in self.arg_index:
                self.input_map(v, op)  # never read (broadcast_like's `like`): it gives extents
        scope.ids[op.result] = out


class _Scalar:
    """A value of the scalar form being emitted: an instruction's id, or (an
    operand or a constant) not emitted until an instruction first reads it, so
    the instructions come in the order they are used."""

    __slots__ = ("dtype", "id", "make")

    def __init__(self, dtype: DType, id: int | None = None, make=None):
        self.dtype, self.id, self.make = dtype, id, make


class _KernelEmitter(ScalarEmitter):
    """The `ScalarEmitter` an op's `scalar` builds Compute instructions with."""

    def __init__(self, lowering: _Lowering, op: Operation, scope: _Scope):
        super().__init__(op.result.type.dtype)
        self.lowering, self.op, self.scope = lowering, op, scope
        self.operands = [
            _Scalar(v.type.dtype, make=lambda v=v: lowering.operand(v, op, scope))
            for v in op.operands
        ]

    def resolve(self, handle: _Scalar) -> int:
        if handle.id is None:
            handle.id = handle.make()
        return handle.id

    def dtype_of(self, handle: _Scalar) -> DType:
        return handle.dtype

    def _emit(self, instruction: Instruction, args: list[_Scalar], dtype: DType) -> _Scalar:
        ids = [self.resolve(a) for a in args]
        return _Scalar(dtype, self.lowering.compute(self.scope, instruction.name, ids, dtype))

    def _const(self, value, dtype: DType) -> _Scalar:
        return _Scalar(dtype, make=lambda: self.lowering.const(self.scope, value, dtype))

    def _position(self, dim: int, dtype: DType) -> _Scalar:
        lowering, shape = self.lowering, self.lowering.shape
        axis = lowering.view(self.op.result.type.shape, self.op)[dim]
        m = tuple(a == axis and shape[a] != 1 for a in range(len(shape)))
        return _Scalar(
            dtype, lowering.memo(self.scope, ("index", m, dtype), lambda i: Index(i, m, dtype))
        )


def collapse(kernel: Kernel) -> Kernel:
    """The same kernel over a smaller domain: size-1 axes dropped, neighbouring
    axes merged where every map agrees (and both are kept or both reduced)."""
    maps = kernel.maps()
    groups: list[list[int]] = []
    for a, axis in enumerate(kernel.domain):
        if axis.size == Size(1):
            continue
        if groups:
            b = groups[-1][-1]
            if kernel.domain[b].reduced == axis.reduced and all(m[a] == m[b] for m in maps):
                groups[-1].append(a)
                continue
        groups.append([a])

    def merged(g: list[int]) -> Axis:
        sizes = [kernel.domain[a].size for a in g]
        static = 1
        for s in sizes:
            static *= s.static
        dims = tuple(j for s in sizes for j in s.dims)
        origin = tuple(o for a in g for o in kernel.domain[a].origin)
        return Axis(Size(static, dims), kernel.domain[g[0]].reduced, origin)

    def remap(x):
        if isinstance(x, Sweep):
            return Sweep(tuple(map(remap, x.body)), x.reductions)
        if hasattr(x, "map"):
            return dataclasses.replace(x, map=tuple(x.map[g[0]] for g in groups))
        return x

    return dataclasses.replace(
        kernel, domain=tuple(merged(g) for g in groups), body=tuple(map(remap, kernel.body))
    )
