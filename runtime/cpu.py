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
shapes is planned once (concrete shapes, each kernel's run-time dims, buffer
sizes: integers only) and kept in an LRU; from the second set on, those integers
are the symbolic layout's polynomials evaluated (runtime/shapes.py), not
computed. Memory is not per shape: a call borrows a workspace (pointer array,
scratch grown to the largest call so far, recycled result arrays) that no other
running call uses. A kernel fault (integer division by zero, ...) is an
ExecutionError naming the op.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
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
from ..codegen.llvm.gemm import gemm_variant, uses_blas
from ..codegen.llvm.gemm_kernel import PARALLEL_FLOPS
from ..codegen.llvm.native import NativeKernel, native_kernel
from ..ir import (
    CompileError,
    ExecutionError,
    Function,
    KilnError,
    Module,
    Operation,
    Value,
    debug,
)
from . import listing, objects, parallel
from .cache import cache_key
from .control import Emitter, Walker, extra_values
from .shapes import concrete_shapes
from .symbolic import SymbolicLayout, fit, flatten, params_of

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


RECYCLED_PER_RESULT = 2  # `y = f(x)` in a loop holds one result while the next is made
# The plans an executable keeps, least recently used first out: at most this many
# sets of argument shapes and this many bytes of their integers (the most recent
# is always kept). Plans hold no memory for tensors: that is in the workspaces
# (docs/reliability.md), so a server seeing every batch size stays bounded.
PLANS_KEPT = 256
PLAN_BYTES = 1 << 20
# of the shapes planned from the symbolic layout (`SymbolicLayout`), every this
# many is checked against its computed layout; a difference retires the symbolic one
SYMBOLIC_CHECK_EVERY = 64
SYMBOLIC_MAX_DIMS = 4  # the fit computes 2^k layouts once; beyond this, plans per shape


@dataclass
class ShapePlan:
    """The integers one set of argument shapes fixes, ready for the entry: each
    kernel's run-time dims, extents and threads, the bytes of each buffer and the
    results' shapes. No tensor memory: a call borrows a `Workspace` for that."""

    dims: np.ndarray  # every kernel's run-time ints, one after another
    dims_table: ctypes.Array  # kernel i's ints start at dims_table[i]
    outer: np.ndarray
    threads: np.ndarray  # per kernel: 0 = run directly, else split over this many threads
    scratch: dict[int, int]  # intermediate buffer -> bytes
    # result buffer -> shape, dtype, bytes to allocate, bytes the result uses
    fresh: dict[int, tuple[tuple[int, ...], np.dtype, int, int]]
    result_shapes: list[tuple[int, ...]]

    def __post_init__(self):
        # the addresses a call passes, read once: `ndarray.ctypes` costs ~1 us a use
        self.outer_address = self.outer.ctypes.data
        self.threads_address = self.threads.ctypes.data

    @functools.cached_property
    def nbytes(self) -> int:
        """About what this plan itself holds (its arrays and tables)."""
        tables = self.dims.nbytes + self.outer.nbytes + self.threads.nbytes
        return 512 + tables + 8 * len(self.dims_table) + 96 * (len(self.scratch) + len(self.fresh))


def _capacity(n: int) -> int:
    """`n` bytes rounded up to the next of 1, 1.25, 1.5, 1.75 times a power of two
    (at most 25% over): neighbouring sizes share an allocation."""
    if n <= 64:
        return 64
    quarter = 1 << max(0, n.bit_length() - 3)
    return -(-n // quarter) * quarter


MAPPED_BYTES = 256 << 10  # buffers from this size up are mapped pages of their own


def _allocate(n: int) -> np.ndarray:
    """`_capacity(n)` bytes. Large ones are mapped from the OS directly and go back
    to it when dropped: through malloc, a buffer that grows step by step would leave
    each old size behind as a hole the next, larger one does not fit (RSS grows)."""
    n = _capacity(n)
    if n < MAPPED_BYTES:
        return np.empty(n, np.uint8)
    return np.frombuffer(mmap.mmap(-1, n), np.uint8)


class Workspace:
    """The memory of one running call, whatever its shapes: the pointer array the
    entry reads, a scratch buffer per intermediate (grown when a larger call comes,
    never per shape) and the result arrays handed out lately. A call has it alone
    while the native code runs without the GIL."""

    def __init__(self, n_buffers: int, constants: dict[int, np.ndarray]):
        self.pointers = (ctypes.c_void_p * max(1, n_buffers))()
        for b, a in constants.items():
            self.pointers[b] = a.ctypes.data
        self.scratch: dict[int, np.ndarray] = {}
        # per result buffer: (byte array, its address) whose views were handed out lately
        self.recycled: dict[int, list[tuple[np.ndarray, int]]] = {}

    @property
    def nbytes(self) -> int:
        held = [*self.scratch.values(), *(a for k in self.recycled.values() for a, _ in k)]
        return sum(a.nbytes for a in held)

    def bind(self, plan: ShapePlan) -> dict[int, np.ndarray]:
        """Point every intermediate at a buffer big enough for `plan`; returns an
        array for each result buffer (pointed at too)."""
        for b, n in plan.scratch.items():
            a = self.scratch.get(b)
            if a is None or a.nbytes < n:
                a = self.scratch[b] = _allocate(n)
                self.pointers[b] = a.ctypes.data
        out = {}
        for b, (shape, dtype, n, used) in plan.fresh.items():
            base, address = self._result_base(b, n)
            out[b] = base[:used].view(dtype).reshape(shape)
            self.pointers[b] = address
        return out

    def _result_base(self, b: int, n: int) -> tuple[np.ndarray, int]:
        """Bytes for result buffer `b`, and their address: ones handed out earlier
        that nothing refers to any more and that are not much larger (reusing them
        spares the page faults of fresh memory: FACTS.md), else new ones."""
        kept = self.recycled.setdefault(b, [])
        dropped = False
        for k, (a, address) in enumerate(kept):
            # references to `a`: its tuple in `kept`, the loop's variable, getrefcount's argument
            if sys.getrefcount(a) == 3:
                if n <= a.nbytes <= 2 * n + 64:
                    return a, address
                kept[k] = None  # free, of another size: dropped, not kept beside the new one
                dropped = True
        if dropped:
            kept[:] = [k for k in kept if k is not None]
        a = _allocate(n)
        kept.append((a, a.ctypes.data))
        if len(kept) > RECYCLED_PER_RESULT:
            kept.pop(0)
        return kept[-1]


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
        """The entry; `probe`, if given, emits timing code: its `setup` first, its
        `before(i)`/`after(i)` around every call of kernel i (each iteration of
        a loop) and its `finish` after the last (runtime/profile.py)."""
        module = ir.Module(name=f"{self.name}_entry")
        fn = ir.Function(module, ir.FunctionType(I64, [PTR, PTR, PTR, PTR]), ENTRY)
        emitter = Emitter(self, module, fn, probe)
        if probe:
            probe.setup(emitter.b, module)  # in the first block, outside any loop
        emitter.emit(self.tree.nodes)
        if probe:
            probe.finish(emitter.b, module)
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
            str(self.module) + variant,
            [s.kernel.text for s in self.steps] + [f"openmp={openmp}", gemm_variant()],
        )

    @staticmethod
    def runs_blas(step: Step) -> bool:
        """Whether the step's kernel runs a GEMM, which splits its work over threads
        itself (codegen/llvm/gemm_kernel.py; or BLAS's, with KILN_GEMM=blas): the
        runtime then calls it on the whole range, with no threads of its own."""
        return step.op.name == "kiln.fused" and step.op.kind in ("matmul", "conv")

    @staticmethod
    def splits_gemms(step: Step) -> bool:
        """Whether the runtime splits a GEMM step's rows over its pool when each of
        its GEMM calls is too small to thread itself (`serial_gemms`): a batched
        matmul (attention's [S, S] products per head) whose M x N x K per batch
        element is below the GEMM's PARALLEL_FLOPS would else run on one core
        (kiln's GEMM only: a BLAS keeps its own threads)."""
        return step.op.name == "kiln.fused" and step.op.kind == "matmul" and not uses_blas()

    @staticmethod
    def serial_gemms(dims, extent: int) -> bool:
        """Whether a matmul step of run-time ints `dims` (M, N, K first) and
        `extent` rows makes several GEMM calls that each run on one thread."""
        m, n, k = dims[:3]
        return extent > m and m * n * k < PARALLEL_FLOPS

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
        self._split_blas = self._cap_blas()
        # Layouts computed (concrete shapes, each kernel's bind): the per-shape cost.
        # From the second set of shapes on, the layout comes from one symbolic layout
        # fitted then (None: not fitted yet, False: none holds; docs/reliability.md).
        self.layouts = 0
        self.symbolic: SymbolicLayout | None | bool = None
        self.from_symbolic = 0  # plans made from it
        self.entry = ENTRY_SIGNATURE(self._engine.get_function_address(ENTRY))
        # the plan of each set of shapes called lately, least recent first (PLANS_KEPT,
        # PLAN_BYTES bound them); `_lock` guards this bookkeeping only
        self.plans: OrderedDict[tuple, ShapePlan] = OrderedDict()
        self._plan_bytes = 0  # the plans' nbytes, summed
        self._lock = threading.Lock()
        # Workspaces no call is using (list.pop and append are atomic under the
        # GIL): a call takes one for itself, so calls from several threads never
        # share pointers or scratch; there are as many as calls ever overlapped.
        self._idle: list[Workspace] = []
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
        `key`. The kernels are rendered only now, each compiling while the next renders
        and the entry is built. Hold `jit.llvm_lock`."""
        compilation = objects.Compilation()
        symbols = {}
        for step in self.steps:
            start = time.perf_counter()
            kernel = objects.KernelObject(step.kernel.module, step.kernel.name)
            step.seconds += time.perf_counter() - start
            compilation.add(kernel)
            symbols[kernel.name] = kernel.symbol
        entry = objects.rename_calls(jit.to_llvm(self.entry_module()), symbols)
        entry_object = jit.glue_machine().emit_object(entry)  # calls only: not optimised
        code = compilation.objects()
        objects.store_program(key, entry_object, list(code))
        return [entry_object, *code.values()]

    # ------------------------------------------------------------ calling
    def __call__(self, *args) -> list[np.ndarray]:
        arrays, _ = self.signature.check(args)
        plan = self.plan([a.shape for a in arrays])
        try:
            ws = self._idle.pop()
        except IndexError:  # every workspace is in a call
            ws = Workspace(self.n_buffers, self.constants)
        try:
            fresh = ws.bind(plan)
            pointers = ws.pointers
            for j, a in enumerate(arrays):
                pointers[j] = a.__array_interface__["data"][0]  # half of `a.ctypes.data`'s cost
            code = self.entry(pointers, plan.dims_table, plan.outer_address, plan.threads_address)
        finally:
            self._idle.append(ws)
        if code:
            step = self.steps[(code >> 32) - 1]
            raise step.op.error(Fault(code & 0xFFFFFFFF).describe(), ExecutionError)
        return self._results(arrays, fresh, plan)

    def all_plans(self):
        """(shapes, plan) of every plan kept."""
        with self._lock:
            return list(self.plans.items())

    def plan(self, arg_shapes) -> ShapePlan:
        """The plan of a call with arguments of these (checked) shapes, made once
        while it stays among the most recent."""
        key = tuple(tuple(s) for s in arg_shapes)
        with self._lock:
            plan = self.plans.get(key)
            if plan is not None:
                self.plans.move_to_end(key)
                return plan
        plan = self._plan(self._layout_for(key))
        with self._lock:
            if key in self.plans:  # another thread made one meanwhile
                self.plans.move_to_end(key)
                return self.plans[key]
            self.plans[key] = plan
            self._plan_bytes += plan.nbytes
            self._evict()
        return plan

    def _evict(self) -> None:
        """Drop the least recently used shapes' plans beyond the bounds (the most
        recent is always kept); a call holding one finishes with it. Hold `_lock`."""
        while len(self.plans) > 1 and (
            len(self.plans) > PLANS_KEPT or self._plan_bytes > PLAN_BYTES
        ):
            _, old = self.plans.popitem(last=False)
            self._plan_bytes -= old.nbytes

    def layout(self, arg_shapes) -> Layout:
        self.layouts += 1
        return super().layout(arg_shapes)

    def _layout_for(self, key) -> Layout:
        """The layout of a new set of shapes: evaluated from the symbolic layout
        where it holds, else computed (and counted in `layouts`)."""
        symbolic = self._symbolic_layout()
        values = symbolic.values(key) if symbolic else None
        if values is None:
            return self.layout(key)
        self.from_symbolic += 1
        layout = self._layout_of(values)
        if self.from_symbolic % SYMBOLIC_CHECK_EVERY == 0:
            computed = flatten(self, key)  # the layout's integers, computed
            if any(computed[k] != v for k, v in values.items()):
                self.symbolic = False  # piecewise after all: every shape computes its own
                return self.layout(key)
        return layout

    def _symbolic_layout(self) -> SymbolicLayout | None:
        """The symbolic layout, fitted on the second set of shapes planned (a
        function called with one set only never pays for the fit)."""
        if self.symbolic is None and self.layouts >= 1:
            with self._lock:
                if self.symbolic is not None:
                    return self.symbolic or None
                self.symbolic = False  # meanwhile, and if no fit holds
            try:
                if len(params_of(self)) <= SYMBOLIC_MAX_DIMS:  # 2^k corner layouts
                    self.symbolic = SymbolicLayout(fit(self))
            except (KilnError, ArithmeticError, ValueError):
                pass  # no fit: every new set of shapes computes its layout
        return self.symbolic or None

    def _layout_of(self, values: dict[tuple, int]) -> Layout:
        """A `Layout` from the symbolic layout's integers (keyed as
        runtime/symbolic.py's `flatten`)."""
        ret = self.func.body.terminator.operands
        result_shapes = [
            tuple(values[("result", i, a)] for a in range(v.type.rank)) for i, v in enumerate(ret)
        ]
        kinds = {}
        for k, v in enumerate(ret):
            b = self.buffer_of[v]
            if b >= self.n_args and b not in self.constants:
                kinds[b] = (result_shapes[k], v.type.dtype.numpy)
        per_step = self.symbolic.dims_count
        steps = range(len(self.steps))
        return Layout(
            [[values[("dims", i, j)] for j in range(per_step[i])] for i in steps],
            [values[("outer", i)] for i in steps],
            [values[("elements", i)] for i in steps],
            {k[1]: n for k, n in values.items() if k[0] == "size"},
            kinds,
            result_shapes,
            [values[("extra", k)] for k in range(self.symbolic.n_extras)],
        )

    def _plan(self, layout: Layout) -> ShapePlan:
        dims: list[int] = []
        offsets: list[int] = []
        threads: list[int] = []
        for step, d, n, elements in zip(self.steps, layout.dims, layout.outer, layout.elements):
            offsets.append(len(dims))
            dims += d
            threads.append(self._threads(step, n, elements, d))
        ret = self.func.body.terminator
        returned = (
            {self.buffer_of[v] for v in ret.operands}
            - set(range(self.n_args))
            - set(self.constants)
        )
        fresh = {}
        for b in returned:
            shape, dtype = layout.kinds[b]
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            fresh[b] = (shape, np.dtype(dtype), max(nbytes, layout.sizes.get(b, 0)), nbytes)
        scratch = {b: max(n, 1) for b, n in layout.sizes.items() if b not in fresh}
        flat = np.array(dims or [0], np.int64)
        table = (ctypes.c_void_p * max(1, len(offsets)))(
            *(flat.ctypes.data + 8 * o for o in offsets)
        )
        return ShapePlan(
            flat,
            table,
            np.array(layout.outer + layout.extras or [0], np.int64),
            np.array(threads or [0], np.int32),
            scratch,
            fresh,
            layout.result_shapes,
        )

    def _threads(self, step: Step, extent: int, elements: int, dims) -> int:
        """Kiln's threads for a step: a BLAS step's rows are split over kiln's pool
        only while that BLAS is capped at one thread (`parallel.blas_steps_split`),
        so BLAS's threads and kiln's never run side by side, or when its GEMM
        calls are each too small to thread themselves (`serial_gemms`)."""
        if self.runs_blas(step) and not self._split_blas:
            if not (self.splits_gemms(step) and self.serial_gemms(dims, extent)):
                return 0
        return parallel.threads_for(extent, elements, step.kernel.grain)

    def _cap_blas(self) -> bool:
        """Cap the BLAS this program calls at `parallel.blas_threads()` (once per
        process); True when its steps may be split over kiln's pool."""
        from ..codegen.llvm.gemm import blas_symbol, uses_blas

        if not uses_blas():  # kiln's own GEMM: no BLAS loaded, the kernel threads itself
            return False
        dtypes = {
            op.result.type.dtype
            for step in self.steps
            if self.runs_blas(step)
            for op in step.op.body.ops
            if op.name in ("kiln.matmul", "kiln.conv2d") and op.result.type.dtype.is_float
        }
        caps = [parallel.cap_blas(llvm.address_of_symbol(blas_symbol(d))) for d in dtypes]
        return parallel.blas_steps_split() and all(c == 1 for c in caps)

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
