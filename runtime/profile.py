"""Per-kernel profiles of CPU executables: the table a kernel tuner reads first.

    from kiln.runtime.profile import profile
    result = profile(executable, *args)     # kiln.compile(...) or a CpuExecutable
    print(result)                           # one row per kernel
    result.rows[0].seconds, result.step_seconds

    KILN_PROFILE=1 python train.py          # every CPU executable times every call;
                                            # the tables print to stderr at exit

How kernels are timed: a CpuExecutable's one native entry calls its kernels
in order. Profiling builds a second entry from the same kernels
(`entry_module(probe=...)`) that reads `clock_gettime(CLOCK_MONOTONIC)`
before each kernel and after the last into a table (a global of the
module), so kernel i took `t[i+1] - t[i]` and the kernel times add up to
the native part of the call: what remains of a step is Python (argument
checks, result arrays), microseconds. The ordinary entry is untouched: no
timing code runs unless profiling asked for it.

Each row also has the bytes the kernel must move (every operand read once,
every result written once: the compulsory traffic) and its FLOPs from the
op types of the kernel (see `op_flops`), and the achieved GB/s and GFLOP/s
against the machine's measured ceilings: a numpy copy's bandwidth (read +
write) and a numpy float32 1024^3 matmul's GFLOP/s, measured once and kept
in the cache directory.
"""

from __future__ import annotations

import atexit
import copy
import ctypes
import json
import statistics
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir

from ..codegen.llvm import jit
from ..ir import KilnError, Operation
from .cache import cache_dir, load_object, store_object
from .shapes import concrete_shapes

TABLE = "kiln_profile_ns"
CLOCK_MONOTONIC = 1
I32, I64, PTR = ir.IntType(32), ir.IntType(64), ir.PointerType()
ONE = ir.Constant(I64, 1)

# ------------------------------------------------------------------ costs


def op_flops(op: Operation, shapes: dict) -> int:
    """Floating-point (and integer) operations of one op: what the op declares
    (`Operation.cost`, ir/cost.py), a transcendental counting one; a fused
    group is the sum of its ops."""
    if op.name == "kiln.fused":
        return sum(op_flops(inner, shapes) for inner in op.body.ops)
    if any(v not in shapes for v in [*op.operands, *op.results]):
        return 0
    cost = op.cost([shapes[v] for v in op.operands], [shapes[v] for v in op.results])
    return cost.flops + cost.transcendentals


def op_bytes(op: Operation, shapes: dict) -> int:
    """The compulsory traffic of a top-level op: operands read once, results written once."""
    total = 0
    for v in dict.fromkeys([*op.operands, *op.results]):
        total += int(np.prod(shapes[v], dtype=np.int64)) * v.type.dtype.numpy.itemsize
    return total


def kernel_costs(exe, arg_shapes) -> list[tuple[int, int]]:
    """(bytes, FLOPs) of each kernel of a CpuExecutable for these argument shapes."""
    shapes = concrete_shapes(exe.func, [tuple(s) for s in arg_shapes])
    return [(op_bytes(s.op, shapes), op_flops(s.op, shapes)) for s in exe.steps]


# ------------------------------------------------------------------ ceilings

_ceilings: dict[str, float] | None = None


def machine_ceilings(refresh: bool = False) -> dict[str, float]:
    """The host's measured ceilings: `copy_gbps` (numpy copy of 64 MB, read + write
    counted) and `matmul_gflops` (numpy float32 1024^3 matmul); measured once per
    host CPU and numpy version, kept in the cache directory."""
    global _ceilings
    if _ceilings is not None and not refresh:
        return _ceilings
    key = f"{llvm.get_host_cpu_name()}-numpy{np.__version__}"
    path = cache_dir() / "ceilings.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {}
    if key in stored and not refresh:
        _ceilings = stored[key]
        return _ceilings
    measured = _measure_ceilings()
    before = stored.get(key, {})
    # a busy machine measures low: keep the best seen
    _ceilings = {k: max(v, before.get(k, 0.0)) for k, v in measured.items()}
    stored[key] = _ceilings
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".ceilings.{id(stored)}.tmp")
        tmp.write_text(json.dumps(stored, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache: measure again next time
    return _ceilings


def _best(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _measure_ceilings() -> dict[str, float]:
    src = np.ones(16 << 20, np.float32)  # 64 MB: well past the L3
    dst = np.empty_like(src)
    copy_s = _best(lambda: np.copyto(dst, src), 7)
    a = np.ones((1024, 1024), np.float32)
    b = np.ones((1024, 1024), np.float32)
    out = np.empty((1024, 1024), np.float32)
    matmul_s = _best(lambda: np.matmul(a, b, out=out), 7)
    return {
        "copy_gbps": round(2 * src.nbytes / copy_s / 1e9, 2),
        "matmul_gflops": round(2 * 1024**3 / matmul_s / 1e9, 2),
    }


# ------------------------------------------------------------------ the timed entry


class _Probe:
    """Emits the timing code: `setup` zeroes `table` (a global, int64[2n + 1]) and
    notes the start, `before(i)`/`after(i)` around kernel i add its time to
    table[i] and one to its runs, table[n + i] (every iteration of a loop's
    kernels counts, not only the last), and `finish` stores the whole native
    call's time in table[2n]; times in nanoseconds of
    clock_gettime(CLOCK_MONOTONIC)."""

    def __init__(self, n_steps: int):
        self.n = n_steps
        self.table = self.clock = self.spec = self.mark = self.start = None

    def setup(self, b: ir.IRBuilder, module: ir.Module) -> None:
        kind = ir.ArrayType(I64, 2 * self.n + 1)
        self.table = ir.GlobalVariable(module, kind, TABLE)
        self.table.initializer = ir.Constant(kind, [0] * (2 * self.n + 1))
        self.clock = ir.Function(module, ir.FunctionType(I32, [I32, PTR]), "clock_gettime")
        self.spec = b.alloca(ir.ArrayType(I64, 2), name="timespec")
        self.mark = b.alloca(I64, name="kernel_start")
        self.start = b.alloca(I64, name="call_start")
        b.store(ir.Constant(kind, [0] * (2 * self.n + 1)), self.table)
        b.store(self.now(b), self.start)

    def now(self, b: ir.IRBuilder) -> ir.Value:
        b.call(self.clock, [ir.Constant(I32, CLOCK_MONOTONIC), self.spec])
        zero = ir.Constant(I32, 0)
        sec = b.load(b.gep(self.spec, [zero, zero]), typ=I64)
        nsec = b.load(b.gep(self.spec, [zero, ir.Constant(I32, 1)]), typ=I64)
        return b.add(b.mul(sec, ir.Constant(I64, 1_000_000_000)), nsec)

    def slot(self, b: ir.IRBuilder, i: int) -> ir.Value:
        return b.gep(self.table, [ir.Constant(I32, 0), ir.Constant(I32, i)])

    def before(self, b: ir.IRBuilder, i: int) -> None:
        b.store(self.now(b), self.mark)

    def after(self, b: ir.IRBuilder, i: int) -> None:
        spent = b.sub(self.now(b), b.load(self.mark, typ=I64))
        for slot, more in ((self.slot(b, i), spent), (self.slot(b, self.n + i), ONE)):
            b.store(b.add(b.load(slot, typ=I64), more), slot)

    def finish(self, b: ir.IRBuilder, module: ir.Module) -> None:
        b.store(b.sub(self.now(b), b.load(self.start, typ=I64)), self.slot(b, 2 * self.n))


@dataclass
class _Timed:
    """A CpuExecutable whose entry records timestamps, and its table."""

    executable: object  # a shallow copy of the CpuExecutable, calling the timed entry
    table: np.ndarray  # int64[2 len(steps) + 1]: each kernel's ns (all its runs), runs, call ns
    engine: llvm.ExecutionEngine = field(repr=False)


def _register_clock() -> None:
    """Make libc's clock_gettime known to the JIT linker (it does not search libc)."""
    if llvm.address_of_symbol("clock_gettime") is None:
        libc = ctypes.CDLL(None)
        llvm.add_symbol("clock_gettime", ctypes.cast(libc.clock_gettime, ctypes.c_void_p).value)


_timed_copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # exe -> its _Timed


def timed_executable(exe) -> _Timed:
    """Build (once per executable) the copy of `exe` that times its kernels."""
    cached = _timed_copies.get(exe)
    if cached is not None:
        return cached
    _register_clock()
    from .cpu import ENTRY, ENTRY_SIGNATURE

    n = len(exe.steps)
    key = exe.cache_key("\n// kiln: timed entry, large code model")
    with jit.llvm_lock:
        # the large code model: the entry reaches its table (a global) by a 64-bit
        # address, wherever the JIT maps the data section (the default small model's
        # 32-bit displacements do not always reach it: a crash, depending on ASLR)
        tm = llvm.Target.from_default_triple().create_target_machine(
            cpu=llvm.get_host_cpu_name(),
            features=llvm.get_host_cpu_features().flatten(),
            opt=3,
            codemodel="large",
        )
        obj = load_object(key)
        if obj is None:
            main = exe.linked_module(probe=_Probe(n))
            jit.optimize(main)
            obj = tm.emit_object(main)
            store_object(key, obj)
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
    timed = copy.copy(exe)
    timed.entry = ENTRY_SIGNATURE(engine.get_function_address(ENTRY))
    address = engine.get_global_value_address(TABLE)
    table = np.ctypeslib.as_array((ctypes.c_int64 * (2 * n + 1)).from_address(address))
    result = _Timed(timed, table, engine)
    _timed_copies[exe] = result
    return result


# ------------------------------------------------------------------ profiles


@dataclass
class KernelRow:
    """One kernel of a profile; `seconds` is the median over the profiled calls."""

    index: int
    name: str  # the kernel's symbol (k3_fused)
    kind: str  # fused:matmul, fused:pointwise, transpose, ...
    where: str  # the op's location (the frontend's name)
    seconds: float
    bytes: int
    flops: int
    gbps: float
    gflops: float
    bw_fraction: float  # achieved GB/s over the copy ceiling
    flop_fraction: float  # achieved GFLOP/s over the matmul ceiling
    runs: int = 1  # times the kernel ran in one call (a loop's body kernels: its trips)


@dataclass
class Profile:
    function: str
    arg_shapes: list[tuple[int, ...]]
    rows: list[KernelRow]
    step_seconds: float  # median wall time of the profiled calls, from Python
    calls: int
    ceilings: dict[str, float]
    kernel_total: float = 0.0  # median over calls of the kernels' summed time
    coverage: float = 0.0  # median over calls of (kernels' sum) / (the call's wall time)
    untimed_step_seconds: float | None = None  # median of ordinary calls, for comparison
    step_times: list[float] = field(default_factory=list)  # every profiled call's wall time

    @property
    def kernel_seconds(self) -> float:
        """The sum of the rows' (median) times."""
        return sum(r.seconds for r in self.rows)

    def table(self, averaged: str = "medians") -> str:
        shapes = ", ".join("x".join(map(str, s)) or "scalar" for s in self.arg_shapes)
        lines = [
            f"kiln profile: @{self.function}({shapes}); {averaged} of {self.calls} calls",
            f"ceilings (measured): copy {self.ceilings['copy_gbps']:.1f} GB/s, "
            f"matmul {self.ceilings['matmul_gflops']:.1f} GFLOP/s",
            f"{'#':>3} {'kernel':<20} {'kind':<17} {'where':<26} {'ms':>8} {'%':>5} "
            f"{'MB':>8} {'MFLOP':>9} {'GB/s':>7} {'%bw':>5} {'GFLOP/s':>8} {'%peak':>6}",
        ]
        total = self.kernel_seconds or 1e-12
        for r in self.rows:
            lines.append(
                f"{r.index:>3} {r.name:<20} {r.kind[:17]:<17} {r.where[-26:]:<26} "
                f"{r.seconds * 1e3:>8.3f} {100 * r.seconds / total:>5.1f} "
                f"{r.bytes / 1e6:>8.2f} {r.flops / 1e6:>9.2f} {r.gbps:>7.1f} "
                f"{100 * r.bw_fraction:>5.1f} {r.gflops:>8.1f} {100 * r.flop_fraction:>6.1f}"
            )
        line = (
            f"rows sum to {self.kernel_seconds * 1e3:.3f} ms; per call, kernels "
            f"{self.kernel_total * 1e3:.3f} ms of a {self.step_seconds * 1e3:.3f} ms step "
            f"({100 * self.coverage:.1f}%; the rest is Python)"
        )
        if self.untimed_step_seconds is not None:
            line += f"; untimed step {self.untimed_step_seconds * 1e3:.3f} ms"
        lines.append(line)
        if self.step_times:
            lines.append("step " + spread_text(self.step_times))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _cpu_executable(executable):
    run = getattr(executable, "compiled", executable)  # kiln.compile's Executable wraps it
    if not hasattr(run, "steps") or not hasattr(run, "entry_module"):
        backend = getattr(executable, "backend", type(executable).__name__)
        raise KilnError(f"profiling needs an executable of the CPU backend, got {backend}")
    return run


def _rows(exe, arg_shapes, seconds: list[float], ceilings: dict, runs=None) -> list[KernelRow]:
    """The rows of one call: a kernel that ran `runs` times (in a loop) moved
    that many times its bytes and FLOPs in its `seconds`."""
    rows = []
    runs = runs or [1] * len(exe.steps)
    for i, (step, s, (nbytes, flops), k) in enumerate(
        zip(exe.steps, seconds, kernel_costs(exe, arg_shapes), runs)
    ):
        nbytes, flops, k = nbytes * int(k), flops * int(k), int(k)
        op = step.op
        kind = f"fused:{op.kind}" if op.name == "kiln.fused" else op.name.split(".", 1)[-1]
        gbps = nbytes / s / 1e9 if s > 0 else 0.0
        gflops = flops / s / 1e9 if s > 0 else 0.0
        rows.append(
            KernelRow(
                i,
                step.kernel.name,
                kind,
                op.loc.name or "",
                s,
                nbytes,
                flops,
                gbps,
                gflops,
                gbps / ceilings["copy_gbps"],
                gflops / ceilings["matmul_gflops"],
                k,
            )
        )
    return rows


def profile(executable, *args, repeat: int = 21, warmup: int = 3) -> Profile:
    """Time each kernel of `executable` (a kiln.compile result on the CPU backend, or
    a CpuExecutable) on `args`: medians over `repeat` calls after `warmup`, alternating
    timed calls with ordinary ones (whose median is `step_seconds`). Arguments the
    function updates in place (variables) are updated by every call."""
    exe = _cpu_executable(executable)
    timed = timed_executable(exe)
    n = len(exe.steps)
    runs = np.ones(n, np.int64)
    arrays = [np.asarray(a) for a in args]
    shapes = [a.shape for a in arrays]
    for _ in range(warmup):
        exe(*arrays)
        timed.executable(*arrays)
    plain, walls, kernels = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        exe(*arrays)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        timed.executable(*arrays)
        walls.append(time.perf_counter() - start)
        kernels.append(timed.table[:n] * 1e-9)
        runs = timed.table[n:-1].copy()
    per_call = np.array(kernels).reshape(repeat, len(exe.steps))
    sums = per_call.sum(axis=1)
    ceilings = machine_ceilings()
    rows = _rows(exe, shapes, list(np.median(per_call, axis=0)), ceilings, list(runs))
    if any(r.bw_fraction > 1.05 or r.flop_fraction > 1.05 for r in rows):
        ceilings = machine_ceilings(refresh=True)  # measured under load: measure again
        rows = _rows(exe, shapes, [r.seconds for r in rows], ceilings, list(runs))
    return Profile(
        exe.name,
        shapes,
        rows,
        statistics.median(walls),
        repeat,
        ceilings,
        float(np.median(sums)),
        float(np.median(sums / np.array(walls))),
        statistics.median(plain),
        walls,
    )


# ------------------------------------------------------------------ spread

NOISY = 0.5  # (p90 - p10) / median above this: the machine's load swamps the timings


def spread(seconds) -> tuple[float, float, float]:
    """(median, 10th percentile, 90th percentile) of some timings."""
    p10, median, p90 = np.percentile(np.asarray(seconds, float), [10, 50, 90])
    return float(median), float(p10), float(p90)


def spread_text(seconds) -> str:
    """`median M ms (p10-p90 A-B ms, N calls)`, and a warning when the spread is wide
    (a loaded machine: medians then swing between runs)."""
    median, p10, p90 = spread(seconds)
    text = (
        f"median {median * 1e3:.4f} ms (p10-p90 {p10 * 1e3:.4f}-{p90 * 1e3:.4f} ms, "
        f"{len(seconds)} calls)"
    )
    if median > 0 and (p90 - p10) / median > NOISY:
        text += (
            f"\nwarning: the times vary widely (p90-p10 is {(p90 - p10) / median:.0%} of "
            "the median): the machine is busy or its clock changes; rerun with more "
            "--repeat on a quiet machine before trusting the median"
        )
    return text


# ------------------------------------------------------------------ KILN_PROFILE=1

_profiled: list = []
_lock = threading.Lock()


class _Accumulator:
    """Per argument shapes: calls and total ns per kernel of one executable."""

    def __init__(self, exe, timed: _Timed):
        self.exe, self.timed = exe, timed
        self.totals: dict[tuple, np.ndarray] = {}
        self.calls: dict[tuple, int] = {}
        self.wall: dict[tuple, float] = {}
        self.runs: dict[tuple, np.ndarray] = {}  # the last call's runs of each kernel
        self._shapes_of: dict[int, tuple] = {}

    def shapes(self, dims_table) -> tuple:
        key = self._shapes_of.get(id(dims_table))
        if key is None:
            for shapes, plan in self.exe.all_plans():
                if plan.dims_table is dims_table:
                    key = self._shapes_of[id(dims_table)] = shapes
                    break
        return key or ()

    def __call__(self, *entry_args):
        start = time.perf_counter()
        code = self.timed.executable.entry(*entry_args)
        wall = time.perf_counter() - start
        if not code:
            key = self.shapes(entry_args[1])
            ns = self.timed.table[: len(self.exe.steps)].copy()
            self.runs[key] = self.timed.table[len(self.exe.steps) : -1].copy()
            with _lock:
                if key in self.totals:
                    self.totals[key] += ns
                else:
                    self.totals[key] = ns.copy()
                self.calls[key] = self.calls.get(key, 0) + 1
                self.wall[key] = self.wall.get(key, 0.0) + wall
        return code

    def profiles(self) -> list[Profile]:
        out = []
        ceilings = machine_ceilings()
        for key, totals in self.totals.items():
            n = self.calls[key]
            seconds = list(totals * 1e-9 / n)
            rows = _rows(self.exe, key, seconds, ceilings, list(self.runs[key])) if key else []
            total = float(totals.sum()) * 1e-9 / n
            out.append(
                Profile(
                    self.exe.name,
                    list(key),
                    rows,
                    self.wall[key] / n,
                    n,
                    ceilings,
                    total,
                    total / max(self.wall[key] / n, 1e-12),
                )
            )
        return out


def instrument(exe) -> None:
    """KILN_PROFILE=1: make `exe` (a CpuExecutable) time its kernels on every call;
    the per-kernel means print to stderr when the process exits."""
    accumulator = _Accumulator(exe, timed_executable(exe))
    exe.entry = accumulator
    with _lock:
        if not _profiled:
            atexit.register(report)
        _profiled.append(accumulator)


def report(file=None) -> None:
    """Print the KILN_PROFILE tables (means per call) of every instrumented executable."""
    file = file or sys.stderr
    with _lock:
        accumulators = list(_profiled)
    for accumulator in accumulators:
        for p in accumulator.profiles():
            print(
                p.table("means")
                .replace("ms step", "ms native call")
                .replace("the rest is Python", "timed in native code"),
                file=file,
            )
            print(file=file)
