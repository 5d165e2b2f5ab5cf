"""The CPU executable: one native entry that runs every kernel of a function.

    exe = CpuExecutable(module, "step")    # module: after the pass pipeline (fuse, plan)
    outputs = exe(x, w)

Compiling: each top-level op that computes becomes a `NativeKernel`
(codegen/llvm/native.py); an LLVM entry `i32 run(ptr buffers, ptr dims, ptr outer)`
calls them in order, each with its buffers picked by the memory plan, so a
call crosses from Python to native code once (and releases the GIL). The
linked module is optimised and JIT-compiled, or loaded from the disk cache.

Calling: the arguments are checked (`Signature.check`: dtype, rank, static
dims, named symbols, contiguity) before any native code runs. A new set of argument
shapes is planned once (concrete shapes, each kernel's run-time dims,
buffer sizes) and reused: scratch buffers are pooled per shape set, results
get fresh arrays. A kernel fault (integer division by zero, ...) is an
ExecutionError naming the op.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir

from ..codegen.arguments import Signature
from ..codegen.kernel import Fault
from ..codegen.llvm import jit
from ..codegen.llvm.native import NativeKernel, native_kernel
from ..ir import CompileError, ExecutionError, Function, Module, Operation, Value, debug
from ..passes.fuse import VIEW_OPS
from . import listing, objects, parallel
from .cache import cache_key
from .control import Emitter, Walker, extra_values
from .shapes import concrete_shapes

ENTRY = "kiln_run"
I32, I64, PTR = ir.IntType(32), ir.IntType(64), ir.PointerType()
ENTRY_SIGNATURE = ctypes.CFUNCTYPE(
    ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)


@dataclass
class Step:
    """One kernel call: the op, its kernel, the buffers of its operands and results."""

    op: Operation
    kernel: NativeKernel
    buffers: list[int]
    seconds: float = 0.0  # spent building the kernel (lowering, rendering): KILN_DEBUG=1


def kernel_ops(
    func: Function, buffer_of: dict[Value, int], constants: dict[int, np.ndarray]
) -> tuple[list[tuple[str, Operation, list[int]]], int]:
    """Walk a planned function (after `fuse,plan`): record every value's buffer
    in `buffer_of` and each constant's array in `constants` (constants get
    buffers after the plan's). Returns the ops that need a kernel, in order, as
    (kernel name, op, buffer ids of its operands then results), and the
    number of buffers. Shared by the CPU and GPU runtimes."""
    next_id = int(func.attrs["plan.buffers"])
    ops = []
    for i, op in enumerate(func.ops):
        if op is func.body.terminator:
            continue
        if op.name == "kiln.constant":
            buffer_of[op.result] = next_id
            constants[next_id] = np.ascontiguousarray(op.value.array)
            next_id += 1
            continue
        buffers = op.attrs.get("plan.buffers")
        if buffers is None:
            raise CompileError(f"{op.describe()} has no plan.buffers annotation")
        for r, b in zip(op.results, buffers):
            buffer_of[r] = b
        if op.name not in VIEW_OPS:
            ops.append(
                (
                    f"k{i}_{op.name.split('.')[-1]}",
                    op,
                    [buffer_of[v] for v in op.operands] + list(buffers),
                )
            )
    return ops, next_id


RECYCLED_PER_RESULT = 2  # `y = f(x)` in a loop holds one result while the next is made
# The plans an executable keeps, least recently used first out: at most this many
# sets of argument shapes, and beyond the most recent one no more than this many
# bytes of scratch and recycled results (a server seeing every batch size stays
# bounded: docs/reliability.md)
PLANS_KEPT = 32
PLAN_BYTES = 16 << 20


@dataclass
class ShapePlan:
    """What one set of argument shapes needs: dims, extents, buffers, result shapes."""

    dims: np.ndarray  # every kernel's run-time ints, one after another
    dims_table: ctypes.Array  # kernel i's ints start at dims_table[i]
    outer: np.ndarray
    threads: np.ndarray  # per kernel: 0 = run directly, else split over this many threads
    pooled: dict[int, np.ndarray]
    fresh: dict[int, tuple[tuple[int, ...], np.dtype]]
    result_shapes: list[tuple[int, ...]]
    pointers: ctypes.Array = field(repr=False, default=None)
    # per result buffer: the arrays handed out lately, reused once nobody holds them
    recycled: dict[int, list[np.ndarray]] = field(repr=False, default_factory=dict)

    @property
    def nbytes(self) -> int:
        """The memory this plan holds at most: scratch and recycled results."""
        scratch = sum(a.nbytes for a in self.pooled.values())
        results = sum(
            int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            for shape, dtype in self.fresh.values()
        )
        return scratch + RECYCLED_PER_RESULT * results

    def result_arrays(self) -> dict[int, np.ndarray]:
        """An array for each result buffer: one handed out by an earlier call
        that nothing refers to any more (reusing it spares the page faults of
        fresh memory: FACTS.md), else a new one."""
        out = {}
        for b, (shape, dtype) in self.fresh.items():
            kept = self.recycled.setdefault(b, [])
            for a in kept:
                # references: the list, the loop variable, getrefcount's argument
                if sys.getrefcount(a) == 3:
                    break
            else:
                a = np.empty(shape, dtype)
                kept.append(a)
                if len(kept) > RECYCLED_PER_RESULT:
                    kept.pop(0)
            out[b] = a
        return out


@dataclass
class Layout:
    """The integers one set of argument shapes fixes (no memory, no ctypes): what
    the JIT runtime turns into a `ShapePlan` and AOT emits as code (runtime/aot.py)."""

    dims: list[list[int]]  # per step: its kernel's run-time ints
    outer: list[int]  # per step: the extent of its [begin, end) range
    elements: list[int]  # per step: the elements it reads and writes (the thread choice)
    sizes: dict[int, int]  # buffer id -> bytes (intermediates and results)
    kinds: dict[int, tuple]  # buffer id -> (shape, numpy dtype) of its first value
    result_shapes: list[tuple[int, ...]]
    # the control flow's sizes (runtime/control.py): bytes copied, scan lengths;
    # the entry reads them from `outer` after the steps' extents
    extras: list[int] = field(default_factory=list)


class CpuProgram:
    """A planned function split into kernels and the entry that calls them, before
    any native code exists (CpuExecutable JIT-compiles it, runtime/aot.py ships it)."""

    def __init__(self, module: Module, name: str):
        self.module, self.name = module, name
        self.func: Function = module[name]
        if "plan.buffers" not in self.func.attrs:
            raise CompileError(
                f"@{name} has no memory plan: run the pipeline through "
                "'fuse,plan' before compiling for the CPU"
            )
        self.n_args = len(self.func.args)
        self.aliases = tuple(self.func.attrs.get("aliases") or ())
        self.donated = {j for j in self.aliases if j >= 0}
        self.buffer_of: dict[Value, int] = {a: j for j, a in enumerate(self.func.args)}
        self.constants: dict[int, np.ndarray] = {}
        self.steps: list[Step] = []
        self._collect()
        self.signature = Signature.of_function(self.func, self.donated)
        self._returned = [self.buffer_of[v] for v in self.func.body.terminator.operands]

    # ------------------------------------------------------------ compiling
    def _collect(self) -> None:
        self.tree = Walker(self.func, self.buffer_of, self.constants).tree
        self.n_buffers = self.tree.count
        for name, op, ids in self.tree.kernels:
            start = time.perf_counter()
            kernel = native_kernel(op, name)
            self.steps.append(Step(op, kernel, ids, time.perf_counter() - start))

    def entry_module(self, probe=None) -> ir.Module:
        """The entry; `probe(builder, module, i)`, if given, emits code before step i
        and (i = len(steps)) after the last (runtime/profile.py: timestamps)."""
        module = ir.Module(name=f"{self.name}_entry")
        fn = ir.Function(module, ir.FunctionType(I64, [PTR, PTR, PTR, PTR]), ENTRY)
        emitter = Emitter(self, module, fn, probe)
        if probe and self.steps:
            probe(emitter.b, module, 0)  # its setup in the first block, outside any loop
        emitter.emit(self.tree.nodes)
        if probe:
            probe(emitter.b, module, len(self.steps))
        emitter.b.ret(ir.Constant(I64, 0))
        emitter.finish()
        return module

    def linked_module(self, probe=None) -> llvm.ModuleRef:
        """The entry (with `probe`, as `entry_module`) and every kernel in one LLVM
        module, not yet optimised. Hold `jit.llvm_lock` while building and using it."""
        main = jit.to_llvm(self.entry_module(probe))
        for step in self.steps:
            start = time.perf_counter()
            kernel = step.kernel.module  # rendered now, on first use
            step.seconds += time.perf_counter() - start
            main.link_in(jit.to_llvm(kernel))
        return main

    def cache_key(self, variant: str = "") -> str:
        """The disk cache's key of this program's object code (`variant` tells
        apart other builds of it, such as the profiler's timed entry)."""
        openmp = parallel.openmp_available()  # loads libgomp before linking against it
        return cache_key(
            str(self.module) + variant, [s.kernel.text for s in self.steps] + [f"openmp={openmp}"]
        )

    @staticmethod
    def runs_blas(step: Step) -> bool:
        """Whether the step's kernel calls BLAS (which runs its own threads)."""
        return step.op.name == "kiln.fused" and step.op.kind in ("matmul", "conv")

    def layout(self, arg_shapes) -> Layout:
        """The integers of a call with arguments of these shapes (checks each kernel's fit)."""
        shapes = concrete_shapes(self.func, arg_shapes)
        dims, outer, elements = [], [], []
        for step in self.steps:
            ins = [shapes[v] for v in step.op.operands]
            outs = [shapes[r] for r in step.op.results]
            d, n = step.kernel.bind(ins, outs)
            dims.append(list(d))
            outer.append(n)
            # the work: what it reads and writes (a reduction writes little)
            elements.append(sum(int(np.prod(s)) for s in [*ins, *outs]))
        sizes: dict[int, int] = {}
        kinds: dict[int, tuple] = {}
        skip = self.tree.pointers
        scratch = [(v, b) for b, v in self.tree.scratch.items()]
        for v, b in [*self.buffer_of.items(), *scratch]:
            if b < self.n_args or b in self.constants or b in skip or v not in shapes:
                continue
            nbytes = int(np.prod(shapes[v], dtype=np.int64)) * v.type.dtype.numpy.itemsize
            sizes[b] = max(sizes.get(b, 0), nbytes)
            kinds.setdefault(b, (shapes[v], v.type.dtype.numpy))
        for v in self.func.body.terminator.operands:  # a result's array has its shape
            b = self.buffer_of[v]  # (a buffer reused across `?` dims holds other sizes too)
            if b in kinds:
                kinds[b] = (shapes[v], v.type.dtype.numpy)
        return Layout(
            dims,
            outer,
            elements,
            sizes,
            kinds,
            [shapes[v] for v in self.func.body.terminator.operands],
            extra_values(self.tree.extras, shapes),
        )


class CpuExecutable(CpuProgram):
    """A function compiled for the host CPU; call it with numpy arrays.

    `entry` is the native entry (a ctypes function; the profiler swaps in one
    that times each kernel) and `plans` the plan of each set of argument shapes
    called so far."""

    def __init__(self, module: Module, name: str):
        super().__init__(module, name)
        self._engine = self._compile()
        self.entry = ENTRY_SIGNATURE(self._engine.get_function_address(ENTRY))
        # the first plan of each set of shapes called lately, least recent first
        # (PLANS_KEPT, PLAN_BYTES bound them); `_lock` guards this bookkeeping only
        self.plans: OrderedDict[tuple, ShapePlan] = OrderedDict()
        self._lock = threading.Lock()
        # Plans no call is using, per shapes. A call takes one for itself: while
        # the native code runs (without the GIL) its pointer array and scratch
        # buffers are that call's alone, so calls from several threads never share
        # them. A second plan for the same shapes exists only while calls overlap.
        self._idle: dict[tuple, list[ShapePlan]] = {}
        self._spares: list[tuple[tuple, ShapePlan]] = []
        if os.environ.get("KILN_PROFILE", "0") not in ("", "0"):
            from .profile import instrument

            instrument(self)  # time every kernel of every call; the table prints at exit

    def _compile(self) -> llvm.ExecutionEngine:
        start = time.perf_counter()
        key = self.cache_key()
        with jit.llvm_lock:
            found = objects.load_program(key)
            self.from_cache = cached = found is not None  # nothing compiled
            engine = jit.link(found or self._compile_objects(key))
        if debug.level() >= debug.KERNELS:
            listing.show_cpu_program(self, time.perf_counter() - start, cached)
        return engine

    def _compile_objects(self, key: str) -> list[bytes]:
        """The object files of the entry and of each distinct kernel (runtime/objects.py:
        a kernel compiled before, by any program, is not compiled again), stored under
        `key`. The kernels are rendered only now. Hold `jit.llvm_lock`."""
        kernels = []
        for step in self.steps:
            start = time.perf_counter()
            kernels.append(objects.KernelObject(step.kernel.module, step.kernel.name))
            step.seconds += time.perf_counter() - start
        distinct = {k.key: k for k in kernels}
        code = objects.compile_all(list(distinct.values()))
        entry = jit.to_llvm(self.entry_module())
        entry = objects.rename_calls(entry, {k.name: k.symbol for k in kernels})
        entry_object = jit.glue_machine().emit_object(entry)  # calls only: not optimised
        objects.store_program(key, entry_object, list(distinct))
        return [entry_object, *code]

    # ------------------------------------------------------------ calling
    def __call__(self, *args) -> list[np.ndarray]:
        arrays, _ = self.signature.check(args)
        shapes = tuple([a.shape for a in arrays])
        plan = self._checkout(shapes)
        try:
            pointers = plan.pointers
            for j, a in enumerate(arrays):
                pointers[j] = a.ctypes.data
            fresh = plan.result_arrays()
            for b, a in fresh.items():
                pointers[b] = a.ctypes.data
            code = self.entry(
                pointers, plan.dims_table, plan.outer.ctypes.data, plan.threads.ctypes.data
            )
        finally:
            idle = self._idle.get(shapes)
            if idle is not None:  # else its shapes were evicted meanwhile: dropped
                idle.append(plan)
        if code:
            step = self.steps[(code >> 32) - 1]
            raise step.op.error(Fault(code & 0xFFFFFFFF).describe(), ExecutionError)
        return self._results(arrays, fresh, plan)

    def _checkout(self, shapes: tuple) -> ShapePlan:
        """A plan for these shapes that no running call uses (list.pop and append
        are atomic under the GIL): the first one, or a spare while calls overlap."""
        self.plan(shapes)  # the first plan for these shapes (idle), now the most recent
        with self._lock:
            idle = self._idle.setdefault(shapes, [])
            if idle:
                return idle.pop()
        spare = self._plan(shapes)  # every plan for these shapes is in a call
        with self._lock:
            self._spares.append((shapes, spare))
        return spare

    def all_plans(self):
        """(shapes, plan) of every plan made, spares for overlapping calls included."""
        yield from self.plans.items()
        yield from self._spares

    def plan(self, arg_shapes) -> ShapePlan:
        """The plan of a call with arguments of these (checked) shapes, made once."""
        key = tuple(tuple(s) for s in arg_shapes)
        with self._lock:
            plan = self.plans.get(key)
            if plan is not None:
                self.plans.move_to_end(key)
                return plan
        plan = self._plan(key)
        with self._lock:
            if key in self.plans:  # another thread made one meanwhile
                self.plans.move_to_end(key)
                return self.plans[key]
            self.plans[key] = plan
            self._idle.setdefault(key, []).append(plan)
            self._evict()
        return plan

    def _evict(self) -> None:
        """Drop the least recently used shapes' plans beyond the bounds (the most
        recent is always kept); a call holding one finishes with it, then drops it."""
        held = sum(p.nbytes for p in self.plans.values())
        while len(self.plans) > 1 and (len(self.plans) > PLANS_KEPT or held > PLAN_BYTES):
            key, old = self.plans.popitem(last=False)
            held -= old.nbytes
            self._idle.pop(key, None)
            self._spares = [(k, p) for k, p in self._spares if k != key]

    def _plan(self, arg_shapes) -> ShapePlan:
        layout = self.layout(arg_shapes)
        dims: list[int] = []
        offsets: list[int] = []
        threads: list[int] = []
        for step, d, n, elements in zip(self.steps, layout.dims, layout.outer, layout.elements):
            offsets.append(len(dims))
            dims += d
            threads.append(0 if self.runs_blas(step) else parallel.threads_for(n, elements))
        ret = self.func.body.terminator
        returned = (
            {self.buffer_of[v] for v in ret.operands}
            - set(range(self.n_args))
            - set(self.constants)
        )
        fresh = {b: layout.kinds[b] for b in returned}
        pooled = {
            b: np.empty(max(n, 1), np.uint8) for b, n in layout.sizes.items() if b not in fresh
        }
        pointers = (ctypes.c_void_p * max(1, self.n_buffers))()
        for b, a in [*pooled.items(), *self.constants.items()]:
            pointers[b] = a.ctypes.data
        flat = np.array(dims or [0], np.int64)
        table = (ctypes.c_void_p * max(1, len(offsets)))(
            *(flat.ctypes.data + 8 * o for o in offsets)
        )
        return ShapePlan(
            flat,
            table,
            np.array(layout.outer + layout.extras or [0], np.int64),
            np.array(threads or [0], np.int32),
            pooled,
            fresh,
            layout.result_shapes,
            pointers,
        )

    def _results(self, arrays, fresh, plan: ShapePlan) -> list[np.ndarray]:
        out = []
        for b, shape in zip(self._returned, plan.result_shapes):
            if b in fresh:
                a = fresh[b]
                out.append(a if a.shape == shape else a.reshape(shape))
            elif b < self.n_args:
                a = arrays[b]
                if b not in self.donated:
                    a = np.array(a)  # an argument returned as it is: a copy, not an alias
                out.append(a if a.shape == shape else a.reshape(shape))
            else:
                out.append(np.array(self.constants[b]).reshape(shape))
        return out
