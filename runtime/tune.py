"""tune: `kiln tune`, a search for each GEMM's schedule, measured on this host.

    from kiln.runtime.tune import tune_module
    results = tune_module(module, "main", budget=60)   # after the CPU pipeline

The analytic default schedule (codegen/llvm/gemm_schedule.py) is a model of
the caches, not a measurement; a model's few large GEMMs (an MLP has three
shapes, forward and backward) are worth timing. For each distinct GEMM
signature of a compiled function (codegen/llvm/gemm_tuning.py: dtype, static
M/N/K, transposes, threads) the search:

1. times the default, then every neighbour of it that changes one field
   (one thread instead of many, MR by 1, 2 or 4 rows, NR by a vector, KC/MC/NC
   halved or doubled, the unroll);
2. then, while its share of the budget lasts, an evolutionary step: a random
   member of the best few (the beam) with one or two fields changed again;
3. times the default and the best candidate once more, one call of each in
   turn, so both see the same load (a shared machine's drifts within seconds);
   the default stays unless the winner's median is lower there too.

A time is the median of a candidate's calls (`best_time` says why not the
least), so a schedule is tuned for the load the machine has while it tunes.

Every candidate is the real generated GEMM (compiled once per process and
schedule, as kernels use it), called directly on random operands and checked
against numpy before its time counts: a schedule whose result differs is
dropped, never stored. The winner (or the default, if nothing beat it) goes
into the database with both times, so a later compile of the same kernel
renders it and `kiln tune --report` can show what tuning gained.
"""

from __future__ import annotations

import ctypes
import random
import statistics
import time
from dataclasses import dataclass, replace

import numpy as np

from ..codegen.llvm.gemm import gemm_address
from ..codegen.llvm.gemm_schedule import GemmSchedule, default_schedule, gemm_threads, vector_bits
from ..codegen.llvm.gemm_tuning import GemmSignature, cpu_model, read_database, store
from ..codegen.llvm.matmul import gemm_extents, gemm_signature
from ..ir import KilnError
from ..ir.dtypes import DType
from .cpu import CpuProgram
from .shapes import concrete_shapes

GEMM_CALL = ctypes.CFUNCTYPE(
    ctypes.c_int32,
    *[ctypes.c_void_p, ctypes.c_int64, ctypes.c_bool] * 2,
    ctypes.c_void_p,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
)
BEAM = 3  # the best candidates the evolutionary step mutates
TIME_S = 0.03  # about how long one candidate's timing runs
FINAL_ROUNDS = 5  # the final comparison runs as long as this many timings


@dataclass
class TuneResult:
    """One signature's outcome: the schedules and their times (`best_time`, seconds)."""

    signature: GemmSignature
    default: GemmSchedule
    best: GemmSchedule
    default_s: float
    tuned_s: float
    tried: int
    rejected: int
    seconds: float

    @property
    def speedup(self) -> float:
        return self.default_s / self.tuned_s


def matmuls(program: CpuProgram):
    """The kiln.matmul of each float matmul kernel of a planned function."""
    for step in program.steps:
        if step.op.name == "kiln.fused" and step.op.kind == "matmul":
            mm = next(op for op in step.op.body.ops if op.name == "kiln.matmul")
            if mm.results[0].type.dtype.is_float:
                yield mm


def gemm_signatures(program: CpuProgram, arg_shapes=None) -> dict[GemmSignature, tuple]:
    """The distinct float GEMM signatures of a planned function's matmul kernels,
    each with its (M, N, K): the static ones, or with `arg_shapes` (the
    function's argument shapes) those of a call on such arguments, so that a
    signature with symbolic dims is tuned at a representative size."""
    shapes = None if arg_shapes is None else concrete_shapes(program.func, arg_shapes)
    found: dict[GemmSignature, tuple] = {}
    for mm in matmuls(program):
        sig = gemm_signature(mm)
        if shapes is not None:
            found.setdefault(sig, gemm_extents(mm, *(shapes[v] for v in mm.operands)))
        elif sig.static:
            found.setdefault(sig, (sig.m, sig.n, sig.k))
    return found


class Problem:
    """Random operands of one signature, numpy's product, and a candidate's run."""

    def __init__(self, sig: GemmSignature, extents: tuple | None = None, seed: int = 0):
        extents = extents or (sig.m, sig.n, sig.k)
        if not all(isinstance(d, int) for d in extents):
            raise KilnError(f"GEMM {sig.key}: give the sizes of its symbolic dims to tune it")
        if sig.threads > gemm_threads():  # (which also loads libgomp, that threads call)
            raise KilnError(f"GEMM {sig.key}: this process runs at most {gemm_threads()} threads")
        self.sig, self.dtype = sig, DType[sig.dtype]
        rng = np.random.default_rng(seed)
        self.extents = m, n, k = extents
        t = self.dtype.numpy
        self.a = rng.standard_normal((k, m) if sig.ta else (m, k)).astype(t)
        self.b = rng.standard_normal((n, k) if sig.tb else (k, n)).astype(t)
        a, b = (self.a.T if sig.ta else self.a), (self.b.T if sig.tb else self.b)
        self.expected = a.astype(np.float64) @ b.astype(np.float64)
        self.c = np.empty((m, n), t)
        eps = np.finfo(t).eps
        self.tolerance = 8 * eps * max(1, k) ** 0.5 * (np.abs(a) @ np.abs(b)).max(initial=0)

    def function(self, schedule: GemmSchedule):
        """The compiled GEMM of `schedule` as a ctypes function of no arguments."""
        fn = GEMM_CALL(gemm_address(self.dtype, schedule))
        sig, a, b, c = self.sig, self.a, self.b, self.c
        lda, ldb = a.shape[1], b.shape[1]
        args = (a.ctypes.data, lda, sig.ta, b.ctypes.data, ldb, sig.tb, c.ctypes.data)
        extents = self.extents
        return lambda: fn(*args, *extents)

    def check(self, call) -> bool:
        """Whether the candidate computes the product (numpy's, to rounding)."""
        self.c.fill(np.nan)
        if call() != 0:
            return False
        return bool(np.all(np.abs(self.c - self.expected) <= self.tolerance))


def evaluate(problem: Problem, schedule: GemmSchedule, seconds: float = TIME_S):
    """(median seconds of one call, whether its result is right) of a schedule."""
    call = problem.function(schedule)
    if not problem.check(call):
        return float("inf"), False
    return best_time(call, seconds), True


def best_time(call, seconds: float) -> float:
    """The median wall time of one call, over calls adding up to about `seconds`.
    The median, not the least: on a shared machine a threaded GEMM's fork waits
    for a descheduled thread on most calls (2 threads, load 6 on 2 cores: least
    0.5 ms, median 9 ms, one thread 1.0 ms), and the median is what a model's
    step pays; the least would pick threads that lose."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    walls = []
    for _ in range(max(5, min(1000, int(seconds / once)))):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def interleaved(first, second, seconds: float) -> tuple[float, float]:
    """The median times of two calls run alternately, one call each in turn, for
    about `seconds` in all: the load changes within seconds on a shared
    machine, and each of a pair of calls sees the same."""
    walls: tuple[list[float], list[float]] = ([], [])
    stop = time.perf_counter() + seconds
    while len(walls[0]) < 5 or time.perf_counter() < stop and len(walls[0]) < 2000:
        for call, out in zip((first, second), walls):
            start = time.perf_counter()
            call()
            out.append(time.perf_counter() - start)
    return statistics.median(walls[0]), statistics.median(walls[1])


def neighbours(s: GemmSchedule) -> list[GemmSchedule]:
    """The valid schedules that differ from `s` in one field (see the module doc)."""
    w = s.width  # one thread first: on a shared machine it is the choice that matters most
    out = [fix(s, threads=1)] if s.threads > 1 else []
    out += [fix(s, mr=s.mr + d) for d in (-4, -2, -1, 1, 2)]
    out += [fix(s, nr=s.nr + d * w) for d in (-1, 1)]
    out += [fix(s, **{f: int(getattr(s, f) * x)}) for f in ("kc", "mc", "nc") for x in (0.5, 2)]
    out += [fix(s, unroll=u) for u in (1, 2, 8) if u != s.unroll]
    return unique([c for c in out if c is not None and c != s])


def mutate(s: GemmSchedule, rng: random.Random) -> GemmSchedule | None:
    """`s` with one or two fields changed at random (None when that is invalid)."""
    for _ in range(rng.choice((1, 2))):
        options = neighbours(s)
        if not options:
            return None
        s = rng.choice(options)
    return s


def fix(s: GemmSchedule, **changes: int) -> GemmSchedule | None:
    """`s` with `changes`, MC and NC rounded to whole MR/NR tiles; None if invalid
    (too many rows for the registers, a field below one)."""
    fields = {**s.__dict__, **changes}
    _, registers = vector_bits()
    vectors = fields["nr"] // s.width  # the accumulators and B's vectors must fit
    if fields["mr"] < 1 or vectors < 1 or fields["mr"] > (registers - vectors - 1) // vectors:
        return None
    if min(fields["kc"], fields["unroll"]) < 1 or fields["kc"] > 4096:
        return None
    fields["mc"] = max(fields["mr"], fields["mc"] // fields["mr"] * fields["mr"])
    fields["nc"] = max(fields["nr"], fields["nc"] // fields["nr"] * fields["nr"])
    try:
        return replace(s, **{k: int(v) for k, v in fields.items()})
    except ValueError:
        return None


def unique(schedules: list[GemmSchedule]) -> list[GemmSchedule]:
    return list(dict.fromkeys(schedules))


def tune_signature(
    sig: GemmSignature, budget: float, extents: tuple | None = None, seed: int = 0
) -> TuneResult:
    """Search `sig`'s schedules for about `budget` seconds (see the module doc),
    timed at `extents` (M, N, K; default: the signature's static ones)."""
    start = time.perf_counter()
    problem = Problem(sig, extents, seed)
    default = default_schedule(problem.dtype, sig.threads)
    times: dict[GemmSchedule, float] = {}
    rejected = 0

    def trial(s: GemmSchedule) -> None:
        nonlocal rejected
        if s in times:
            return
        seconds, right = evaluate(problem, s)
        times[s] = seconds
        rejected += not right

    trial(default)
    if times[default] == float("inf"):
        raise KilnError(f"GEMM {sig.key}: the default schedule's result differs from numpy's")
    over = lambda: time.perf_counter() - start > budget  # noqa: E731
    for s in neighbours(default):
        if over():
            break
        trial(s)
    rng = random.Random(seed)
    stale = 0
    while not over() and stale < 50:
        beam = sorted((s for s in times if times[s] < float("inf")), key=times.get)[:BEAM]
        candidate = mutate(rng.choice(beam), rng)
        if candidate is None or candidate in times:
            stale += 1
            continue
        stale = 0
        trial(candidate)
    best = min(times, key=times.get)
    default_s, best_s = times[default], times[best]
    if best != default:  # again, alternately: the same load for both
        default_s, best_s = interleaved(
            problem.function(default), problem.function(best), FINAL_ROUNDS * TIME_S
        )
        if best_s >= default_s:
            best, best_s = default, default_s
    return TuneResult(
        sig, default, best, default_s, best_s, len(times), rejected, time.perf_counter() - start
    )


def tune_program(
    program: CpuProgram, budget: float, arg_shapes=None, save: bool = True
) -> list[TuneResult]:
    """Tune every float GEMM of a planned function (see `gemm_signatures` for
    `arg_shapes`), the budget split evenly (what one signature leaves unused
    goes to the next); the winners are stored in the database (`save`)."""
    found = gemm_signatures(program, arg_shapes)
    results = []
    start = time.perf_counter()
    for i, (sig, extents) in enumerate(found.items()):
        left = budget - (time.perf_counter() - start)
        result = tune_signature(sig, max(0.0, left / (len(found) - i)), extents)
        if save:
            m, n, k = extents
            store(
                sig,
                result.best,
                default_s=result.default_s,
                tuned_s=result.tuned_s,
                flops=2 * m * n * k,
                extents=list(extents),
                tried=result.tried,
                tuning_s=round(result.seconds, 3),
            )
        results.append(result)
    return results


def stored_results(program: CpuProgram | None = None) -> list[dict]:
    """The database's entries for this CPU (only those of `program`'s GEMMs, if
    given), as dicts: key, default_s, tuned_s, flops, schedule."""
    keys = None if program is None else {gemm_signature(mm).key for mm in matmuls(program)}
    rows = []
    for key, body in sorted(read_database().items()):
        cpu, _, sig_key = key.rpartition("|")
        if cpu == cpu_model() and (keys is None or sig_key in keys):
            fields = ("default_s", "tuned_s", "flops", "schedule", "extents", "signature")
            rows.append({"key": sig_key, **{f: body.get(f) for f in fields}})
    return rows


def report(rows: list[dict], peak_gflops: float | None = None) -> str:
    """A table of stored entries: default vs tuned ms and GFLOP/s (and their share
    of `peak_gflops`, one thread's measured FMA peak, times the signature's
    threads), and the total speed-up."""
    lines = [
        f"{'GEMM':<34} {'default ms':>10} {'tuned ms':>9} {'speed-up':>8} "
        f"{'GFLOP/s':>15}" + ("  of peak" if peak_gflops else "") + "  schedule"
    ]
    total_d = total_t = 0.0
    for row in rows:
        d, t, flops = row["default_s"], row["tuned_s"], row["flops"] or 0
        if not isinstance(d, float) or not isinstance(t, float) or t <= 0:
            continue
        total_d, total_t = total_d + d, total_t + t
        gd, gt = flops / d / 1e9, flops / t / 1e9
        sig = row.get("signature") if isinstance(row.get("signature"), dict) else {}
        threads = sig.get("threads") if isinstance(sig.get("threads"), int) else 1
        top = (peak_gflops or 0) * max(1, threads)  # the peak of the threads it may use
        share = f"  {gd / top:4.0%}->{gt / top:4.0%}" if peak_gflops else ""
        tag = GemmSchedule(**row["schedule"]).tag
        name = row["key"]
        if "?" in name and isinstance(row.get("extents"), list):  # the size it was timed at
            name += "@" + "x".join(str(e) for e in row["extents"])
        lines.append(
            f"{name:<34} {d * 1e3:>10.4f} {t * 1e3:>9.4f} {d / t:>7.2f}x "
            f"{gd:>7.1f}->{gt:<7.1f}{share}  {tag}"
        )
    if total_t:
        lines.append(
            f"{'total':<34} {total_d * 1e3:>10.4f} {total_t * 1e3:>9.4f} {total_d / total_t:>7.2f}x"
        )
    if peak_gflops:
        lines.append(
            f"peak: {peak_gflops:.1f} GFLOP/s per thread (independent vector FMAs; "
            "a share is of it times the GEMM's threads)"
        )
    return "\n".join(lines)
