"""gemm_schedule: the blocking of kiln's generated GEMM, as data, chosen from the host.

A schedule is the Goto/BLIS decomposition of C[m, n] = A[m, k] B[k, n]
(codegen/llvm/gemm_kernel.py renders it): an MR x NR register tile of C held
in vector accumulators; B's KC x NC panel packed into NR-wide strips (it stays
in L3 / L2 while every block of A passes it), A's MC x KC block packed into
MR-tall strips (it stays in L2 while every strip of B passes it), one KC x NR
strip of B in L1 while the microkernel runs down the A block.

`default_schedule` sizes these with a small analytic model, the one BLIS's
papers use: the vector width and register count come from the host CPU's
features (llvmlite), the cache sizes from sysfs (defaults where absent), and

- NR is two vectors, MR as many rows as the registers left after the B
  vectors and one broadcast allow (AVX2 f32: 6 x 16, AVX-512 f32: 12 x 32);
- KC fills L1 with one strip of B, at most 256 steps (A's strip streams in
  from L2 past it; the microkernel prefetches its tile of C, whose write at
  the end of each KC block is what a smaller KC pays for more often: on a
  Zen 4 core, 12 x 32 with KC 256 beat KC 128 by ~5% at 1024^3 and 2048^3);
- MC fills half of L2 with the packed A block;
- NC fills half of an L3 share with the packed B panel.

The schedule is frozen and hashable: the kernel generator emits one function
per (dtype, schedule) per module, named by `tag`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import llvmlite.binding as llvm

from ...ir.dtypes import DType

# (L1d, L2, L3) bytes when sysfs does not say (a common x86 core's sizes)
DEFAULT_CACHES = (32 << 10, 1 << 20, 8 << 20)
MAX_MR = 12  # more rows than this spill the accumulators on every x86 target measured


@dataclass(frozen=True)
class GemmSchedule:
    """The blocking of one GEMM (see the module doc). `width` is the vector width
    in elements; `unroll` how many k steps one microkernel iteration does;
    `threads` the most threads a large product splits over (1: serial)."""

    mr: int
    nr: int
    kc: int
    mc: int
    nc: int
    width: int
    unroll: int = 4
    threads: int = 1

    def __post_init__(self):
        if self.nr % self.width or min(self.mr, self.nr, self.kc, self.width, self.unroll) < 1:
            raise ValueError(f"bad GEMM schedule {self}: NR must be a multiple of the width")
        if self.mc % self.mr or self.nc % self.nr:
            raise ValueError(f"bad GEMM schedule {self}: MC, NC must be multiples of MR, NR")

    @property
    def tag(self) -> str:
        """A name part that tells schedules apart (in function names and listings)."""
        return (
            f"mr{self.mr}nr{self.nr}kc{self.kc}mc{self.mc}nc{self.nc}"
            f"w{self.width}u{self.unroll}t{self.threads}"
        )


def vector_bits() -> tuple[int, int]:
    """The host's (vector register bits, number of vector registers)."""
    features = llvm.get_host_cpu_features()
    if features.get("avx512f"):
        return 512, 32
    if features.get("avx2") or features.get("avx"):
        return 256, 16
    if features.get("neon") or llvm.get_process_triple().startswith(("aarch64", "arm64")):
        return 128, 32
    return 128, 16  # SSE2, every x86-64


def cache_sizes(root: str = "/sys/devices/system/cpu/cpu0/cache") -> tuple[int, int, int]:
    """(L1 data, L2, L3) bytes of cpu0 from sysfs, each defaulted when absent."""
    found = {}
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        entries = []
    for entry in entries:
        path = os.path.join(root, entry)
        try:
            level = int(_read(path, "level"))
            kind = _read(path, "type")
            size = _parse_size(_read(path, "size"))
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified"):
            found.setdefault(level, size)
    return tuple(found.get(i + 1, d) for i, d in enumerate(DEFAULT_CACHES))  # type: ignore[return-value]


def _read(path: str, name: str) -> str:
    with open(os.path.join(path, name)) as f:
        return f.read().strip()


def _parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def schedule_for(
    itemsize: int, bits: int, registers: int, caches: tuple[int, int, int], threads: int
) -> GemmSchedule:
    """The analytic model of the module doc, for elements of `itemsize` bytes."""
    width = bits // (8 * itemsize)
    vectors = 2
    nr = vectors * width
    mr = max(1, min(MAX_MR, (registers - vectors - 1) // vectors))
    l1, l2, l3 = caches
    kc = _clamp(l1 // (nr * itemsize), 64, 256, 8)
    mc = _clamp(l2 // 2 // (kc * itemsize), mr, 1024, mr)
    nc = _clamp(l3 // 4 // (kc * itemsize), nr, 4096, nr)
    return GemmSchedule(mr, nr, kc, mc, nc, width, unroll=4, threads=threads)


def _clamp(value: int, low: int, high: int, multiple: int) -> int:
    value = max(low, min(high, value))
    return max(multiple, value // multiple * multiple)


# libgomp's busy-wait before an idle worker sleeps (its default: 300,000); see
# docs/reliability.md for the measurements that chose it
SPIN_COUNT = "1000"


def bounded_spin() -> None:
    """Put a bounded spin for libgomp's idle workers in the environment, unless the
    user chose one (`GOMP_SPINCOUNT`, `OMP_WAIT_POLICY`). Only effective before
    libgomp is loaded (it reads them once): every loader calls it first. Without
    it, bert4 at batch 16 on a loaded 2-vCPU machine took 3.5 s instead of 0.9 s
    (the spinning workers' CPU time 0.59 s instead of 0.22 s)."""
    if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT


@functools.cache
def _libgomp() -> bool:
    """Whether libgomp loads (and is then loaded): the threaded GEMM calls it.
    runtime/parallel.py's `openmp_available` loads the same library for the
    entries; codegen cannot import the runtime, and loading twice is a no-op.
    The GEMM's schedule is rendered before any entry, so this is usually the
    first load: the spin bound goes into the environment here."""
    bounded_spin()
    try:
        llvm.load_library_permanently("libgomp.so.1")
    except RuntimeError:
        return False
    return bool(llvm.address_of_symbol("GOMP_parallel"))


def gemm_threads() -> int:
    """The most threads a product may split over: kiln's thread count
    (KILN_NUM_THREADS, else the CPUs, as runtime/parallel.py reads it) when
    libgomp loads, else 1. Read at each kernel's rendering, not cached:
    benchmarks change it between plans."""
    if not _libgomp():
        return 1
    return max(1, int(os.environ.get("KILN_NUM_THREADS", os.cpu_count() or 1)))


def default_schedule(dtype: DType, threads: int | None = None) -> GemmSchedule:
    """The host's schedule for float `dtype` (`threads`: else `gemm_threads()`)."""
    return _host_schedule(dtype.itemsize, gemm_threads() if threads is None else threads)


@functools.cache
def _host_schedule(itemsize: int, threads: int) -> GemmSchedule:
    bits, registers = vector_bits()
    return schedule_for(itemsize, bits, registers, cache_sizes(), threads)
