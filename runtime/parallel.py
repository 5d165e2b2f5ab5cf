"""Both cores inside native code: a kernel's [0, extent) split across threads.

The entry calls `GOMP_parallel` (libgomp, OpenMP's runtime, loaded into the
process; shared/FACTS.md) with `kiln_worker`, which runs the kernel on its
thread's share of the range and ORs any fault into the shared result. The
GIL is released for the whole call (ctypes), so no Python runs between
kernels or threads. Without libgomp, kernels run on one thread.

The runtime asks for threads only for kernels with enough work (see
`threads_for`): on a 2-vCPU machine whose second core is shared, small
kernels lose more to the fork/join than they gain.

The range is not cut in one piece per thread: the workers take chunks of
about extent / (threads * CHUNKS_PER_THREAD) rows (a multiple of 64 rows
when larger, so that neighbouring chunks seldom share a cache line) from a
shared counter until none is left. A thread that starts late or runs slower
(a busy or shared core: the usual case on a loaded 2-vCPU machine) then
costs only its last chunk, where one static half per thread made the whole
kernel wait for the slower thread, and two threads could be slower than one.

One pool, and it yields (docs/reliability.md, "Threads and cores"):

- libgomp's idle workers spin for `GOMP_SPINCOUNT` iterations before they sleep
  on a futex (300,000 by default: milliseconds of a core per kernel, taken from
  BLAS and from other processes). libgomp reads the setting once, when it is
  loaded, so whatever loads it first (`openmp_available`, or the GEMM's
  schedule in codegen/llvm/gemm_schedule.py, which renders earlier) sets a
  bounded spin (`SPIN_COUNT`) in the environment first, unless the user set
  `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY`.
- BLAS runs no threads of its own beside kiln's. kiln's own GEMM (the default)
  is a kernel on kiln's pool; with `KILN_GEMM=blas`, the OpenBLAS that kiln
  calls is capped at `blas_threads()` threads (threadpoolctl), 1 by default, and
  kiln splits each BLAS step's rows over its own pool instead (each thread one
  single-threaded GEMM on its rows). `KILN_BLAS_THREADS=n` (n > 1) gives the
  cores to BLAS instead: BLAS steps then run on one kiln thread, and BLAS uses n.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading

import llvmlite.binding as llvm
from llvmlite import ir

from ..codegen.llvm.gemm_schedule import SPIN_COUNT as SPIN_COUNT  # re-exported
from ..codegen.llvm.gemm_schedule import bounded_spin

I8, I32, I64, PTR = ir.IntType(8), ir.IntType(32), ir.IntType(64), ir.PointerType()
KERNEL_TYPE = ir.FunctionType(I32, [PTR, PTR, I64, I64])
# what the entry passes a worker: i64 words: params, dims (pointers as integers),
# extent, the faults the workers OR in, and the next row not yet taken
PARAMS, DIMS, EXTENT, FAULT, NEXT = range(5)
TASK_WORDS = 5
CHUNKS_PER_THREAD = 16  # a late thread costs at most ~1/16 of its share
MIN_PARALLEL_ELEMENTS = 1 << 18  # elements read + written; below this, one thread


@functools.cache
def openmp_available() -> bool:
    bounded_spin()
    try:
        llvm.load_library_permanently("libgomp.so.1")
    except RuntimeError:
        return False
    return bool(llvm.address_of_symbol("GOMP_parallel"))


def max_threads() -> int:
    return max(1, int(os.environ.get("KILN_NUM_THREADS", os.cpu_count() or 1)))


def threads_for(extent: int, elements: int, grain: int = 1) -> int:
    """How many threads a kernel gets: 0 (run it directly) unless it has rows to
    split (in chunks of whole multiples of `grain` rows) and enough elements to
    pay for the fork/join."""
    pieces = -(-extent // grain)
    if not openmp_available() or pieces < 2 or elements < MIN_PARALLEL_ELEMENTS:
        return 0
    return min(max_threads(), pieces)


def _declare(module: ir.Module, name: str, ftype: ir.FunctionType) -> ir.Function:
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, ftype, name)


def define_worker(module: ir.Module, kernel: ir.Function, minimum: int = 1) -> ir.Function:
    """`void <kernel>_worker(ptr task)`: run `kernel` on chunks of [0, task.extent)
    taken from the task's counter until none is left (one worker per kernel:
    direct calls, no function pointers). Chunks are whole multiples of `minimum`
    rows (a column-blocked reduction's block: `codegen.llvm.render.split_grain`)."""
    num = _declare(module, "omp_get_num_threads", ir.FunctionType(I32, []))
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), f"{kernel.name}_worker")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    task = fn.args[0]

    def word(i):
        return b.load(_word(b, task, i), typ=I64)

    def const(v):
        return ir.Constant(I64, v)

    def smallest(x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    params, dims = b.inttoptr(word(PARAMS), PTR), b.inttoptr(word(DIMS), PTR)
    extent = word(EXTENT)
    pieces = b.mul(b.sext(b.call(num, []), I64), const(CHUNKS_PER_THREAD))
    grain = b.sdiv(b.add(extent, b.sub(pieces, const(1))), pieces)
    aligned = b.and_(b.add(grain, const(63)), const(-64))
    grain = b.select(b.icmp_signed(">", grain, const(64)), aligned, grain)
    grain = b.select(b.icmp_signed("<", grain, const(1)), const(1), grain)
    if minimum > 1:  # round up to whole blocks
        grain = b.mul(b.sdiv(b.add(grain, const(minimum - 1)), const(minimum)), const(minimum))
    take = fn.append_basic_block("take")
    run = fn.append_basic_block("run")
    done = fn.append_basic_block("done")
    b.branch(take)
    b.position_at_end(take)
    begin = b.atomic_rmw("add", _word(b, task, NEXT), grain, "monotonic")
    b.cbranch(b.icmp_signed("<", begin, extent), run, done)
    b.position_at_end(run)
    end = smallest(b.add(begin, grain), extent)
    fault = b.call(kernel, [params, dims, begin, end])
    with b.if_then(b.icmp_unsigned("!=", fault, ir.Constant(I32, 0))):
        b.atomic_rmw("or", _word(b, task, FAULT), b.zext(fault, I64), "monotonic")
    b.branch(take)
    b.position_at_end(done)
    b.ret_void()
    return fn


def call_parallel(
    b: ir.IRBuilder,
    module: ir.Module,
    worker: ir.Function,
    params,
    dims,
    extent,
    threads,
    task=None,
) -> ir.Value:
    """Run `worker`'s kernel over [0, extent) on `threads` threads; returns the
    ORed faults. `task`: TASK_WORDS i64 words to use (an alloca made in the
    entry block, so a call inside a loop does not grow the stack), else one here."""
    gomp = _declare(module, "GOMP_parallel", ir.FunctionType(ir.VoidType(), [PTR, PTR, I32, I32]))
    task = task if task is not None else b.alloca(I64, TASK_WORDS)
    for i, value in [
        (PARAMS, b.ptrtoint(params, I64)),
        (DIMS, b.ptrtoint(dims, I64)),
        (EXTENT, extent),
        (FAULT, ir.Constant(I64, 0)),
        (NEXT, ir.Constant(I64, 0)),
    ]:
        b.store(value, _word(b, task, i))
    b.call(gomp, [worker, task, threads, ir.Constant(I32, 0)])
    return b.trunc(b.load(_word(b, task, FAULT), typ=I64), I32)


def _word(b: ir.IRBuilder, task, i: int):
    return b.gep(task, [ir.Constant(I64, i)], source_etype=I64)


# ------------------------------------------------------------------ BLAS's threads


def blas_threads() -> int:
    """The threads the OpenBLAS kiln calls may use: `KILN_BLAS_THREADS`, else 1
    (kiln's pool splits BLAS steps instead; see the module doc)."""
    try:
        return max(1, int(os.environ.get("KILN_BLAS_THREADS", "1")))
    except ValueError:
        return 1


def blas_steps_split() -> bool:
    """Whether kiln's pool splits BLAS steps' rows (BLAS single-threaded), or
    leaves them whole to BLAS's own threads (asked for, or no libgomp). Only
    with `KILN_GEMM=blas`: kiln's own GEMM splits its work over the pool itself
    (codegen/llvm/gemm_kernel.py), so its steps are never split again."""
    from ..codegen.llvm.gemm import uses_blas

    return uses_blas() and blas_threads() == 1 and openmp_available()


@functools.cache
def _blas_library(address: int) -> str | None:
    """The path of the shared library holding the function at `address` (dladdr)."""

    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("fname", ctypes.c_char_p),
            ("fbase", ctypes.c_void_p),
            ("sname", ctypes.c_char_p),
            ("saddr", ctypes.c_void_p),
        ]

    info = DlInfo()
    libc = ctypes.CDLL(None)
    if not libc.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.fname:
        return None
    return os.path.realpath(info.fname.decode())


_capped: dict[str, int | None] = {}  # library path -> its cap (None: not found)
_cap_lock = threading.Lock()


def cap_blas(address: int) -> int | None:
    """Cap the BLAS library holding `address` (the GEMM kiln calls) at
    `blas_threads()` threads, once per library; returns the cap, or None when
    threadpoolctl does not find that library (then BLAS keeps its threads)."""
    path = _blas_library(address)
    if path is None or not openmp_available():  # no pool of kiln's to give the cores to
        return None
    with _cap_lock:
        if path not in _capped:
            _capped[path] = _set_blas_threads(path, blas_threads())
        return _capped[path]


def _set_blas_threads(path: str, threads: int) -> int | None:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a dependency; without it BLAS keeps its threads
        return None
    found = [
        c for c in ThreadpoolController().lib_controllers if os.path.realpath(c.filepath) == path
    ]
    for c in found:
        c.set_num_threads(threads)
    return threads if found else None
