"""kiln's generated GEMM against numpy (OpenBLAS), torch.matmul and kiln's own
BLAS path, all in the same run:

    python -m kiln.benchmarks.gemm                  # full sizes
    python -m kiln.benchmarks.gemm --quick          # small sizes (the tests run this)
    python -m kiln.benchmarks.gemm --peers numpy --sizes 256,1024 --out table.md

Each workload is one `kiln.matmul` (f32) fused and compiled to its native
kernel, checked against numpy, then timed as a bare call of the kernel on
preallocated buffers; numpy and torch write into preallocated outputs too
(`out=`). "kiln blas" is the same kernel rendered with `KILN_GEMM=blas` (the
scipy OpenBLAS call kiln made before it had its own GEMM). Shapes: squares,
and the six GEMMs of the MLP 784-512-512-10 at batch 256 (forward x W,
backward dX = dY W^T and dW = X^T dY).

The machine's peak is measured in the same run: a tight loop of independent
vector FMAs at the host's width on one thread, per CPU second (times the
threads kiln uses gives the ceiling). Figures are GFLOP/s of medians; CPU seconds per wall
second are reported for kiln, since a loaded machine's wall time says little
alone.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable

import numpy as np
from llvmlite import ir

from ..codegen.llvm.gemm_schedule import default_schedule, vector_bits
from ..codegen.llvm.jit import compile_module
from ..codegen.llvm.native import native_kernel
from ..ir import DType, parse
from ..passes import run_pipeline
from ..runtime import parallel
from .cpu import environment

PEERS = ("numpy", "torch", "blas")
SQUARES = (256, 512, 1024, 2048)
# (name, M, K, N, transpose_a, transpose_b) of the MLP step at batch 256
MLP = [
    ("MLP fwd 256x784 @ 784x512", 256, 784, 512, False, False),
    ("MLP fwd 256x512 @ 512x512", 256, 512, 512, False, False),
    ("MLP fwd 256x512 @ 512x10", 256, 512, 10, False, False),
    ("MLP dX 256x10 @ (512x10)^T", 256, 10, 512, False, True),
    ("MLP dW (256x512)^T @ 256x512", 512, 256, 512, True, False),
    ("MLP dW (256x784)^T @ 256x512", 784, 256, 512, True, False),
]
# an RNN step's h @ W_h (few rows of A: B is read in place, not packed)
RNN = [
    ("RNN step 32x256 @ 256x1024", 32, 256, 1024, False, False),
    ("RNN step 8x512 @ 512x2048", 8, 512, 2048, False, False),
    ("RNN step 64x256 @ 256x1024", 64, 256, 1024, False, False),
]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median wall seconds, CPU seconds per wall second) of `fn`."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), sum(cpus) / max(sum(walls), 1e-12)


def matmul_call(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool):
    """(call, output) of the native kernel of one kiln.matmul on a and b."""
    attrs = []
    if ta:
        attrs.append("transpose_a = true")
    if tb:
        attrs.append("transpose_b = true")
    m, n = (a.shape[1] if ta else a.shape[0]), (b.shape[0] if tb else b.shape[1])
    ta_, tb_, tc = (f"tensor<{x[0]}x{x[1]}xf32>" for x in (a.shape, b.shape, (m, n)))
    text = (
        f"func @f(%a: {ta_}, %b: {tb_}) -> {tc} {{\n"
        f"  %c = kiln.matmul %a, %b {{{', '.join(attrs)}}} : ({ta_}, {tb_}) -> {tc}\n"
        f"  kiln.return %c : {tc}\n}}"
    )
    module = parse(text.replace(" {}", ""))
    run_pipeline(module, "fuse")
    [fused] = [op for f in module for op in f.walk() if op.name == "kiln.fused"]
    kernel = native_kernel(fused, "k")
    native = compile_module(kernel.module)
    dims, outer = kernel.bind([a.shape, b.shape], [(m, n)])
    c = np.empty((m, n), np.float32)
    buffers = (ctypes.c_void_p * 3)(a.ctypes.data, b.ctypes.data, c.ctypes.data)
    ints = (ctypes.c_int64 * max(1, len(dims)))(*dims)
    fn = native.function("k")

    def call() -> int:
        assert native and a.size >= 0  # keeps the engine and the inputs alive
        return fn(buffers, ints, 0, outer)

    return call, c


def peak_gflops(seconds: float = 0.2) -> float:
    """One thread's GFLOP/s on independent vector FMAs of the host's width."""
    bits, _ = vector_bits()
    width, chains = bits // 32, 12
    vec = ir.VectorType(ir.FloatType(), width)
    module = ir.Module(name="peak")
    fma = ir.Function(module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.v{width}f32")
    fn = ir.Function(module, ir.FunctionType(ir.FloatType(), [ir.IntType(64)]), "peak")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    entry = b.block
    loop, done = fn.append_basic_block("loop"), fn.append_basic_block("done")
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(ir.IntType(64))
    i.add_incoming(ir.Constant(ir.IntType(64), 0), entry)
    scale = ir.Constant(vec, [0.999999] * width)
    accs = []
    for c in range(chains):
        phi = b.phi(vec)
        phi.add_incoming(ir.Constant(vec, [float(c)] * width), entry)
        accs.append(phi)
    new = [b.call(fma, [acc, scale, scale]) for acc in accs]
    for phi, value in zip(accs, new):
        phi.add_incoming(value, loop)
    step = b.add(i, ir.Constant(ir.IntType(64), 1))
    i.add_incoming(step, loop)
    b.cbranch(b.icmp_signed("<", step, fn.args[0]), loop, done)
    b.position_at_end(done)
    total = new[0]
    for value in new[1:]:
        total = b.fadd(total, value)
    b.ret(b.extract_element(total, ir.Constant(ir.IntType(32), 0)))
    native = compile_module(module)
    call = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64)(
        native.engine.get_function_address("peak")
    )
    n = 1 << 20
    wall, _ = timed(lambda: call(n), 3)
    n = max(1, int(n * seconds / max(wall, 1e-9)))
    best = float("inf")
    for _ in range(5):  # the peak: the best run, in CPU seconds (a loaded machine
        start = time.process_time()  # steals wall time from a single thread)
        call(n)
        best = min(best, time.process_time() - start)
    return 2 * width * chains * n / max(best, 1e-9) / 1e9


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--sizes", default=",".join(map(str, SQUARES)))
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads for kiln, numpy and torch alike (0: each one's default)",
    )
    parser.add_argument("--out", default=None, help="also write the table here (Markdown)")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        count = str(args.threads)  # OPENBLAS_NUM_THREADS: KILN_GEMM=blas loads its own copy
        with (
            threadpool_limits(args.threads),
            environment(KILN_NUM_THREADS=count, OPENBLAS_NUM_THREADS=count),
        ):
            return _run(args, parser)
    return _run(args, parser)


def _run(args, parser) -> dict:
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    for p in peers:
        if p not in PEERS:
            parser.error(f"unknown peer {p!r} (known: {', '.join(PEERS)})")
    torch = None
    if "torch" in peers:
        try:
            import torch

            if args.threads:
                torch.set_num_threads(args.threads)
        except ImportError:
            peers.remove("torch")
    sizes = [int(s) for s in args.sizes.split(",")] if not args.quick else [33, 64]
    repeat = 1 if args.quick else args.repeat
    workloads = [(f"square {n}", n, n, n, False, False) for n in sizes]
    workloads += (
        MLP + RNN if not args.quick else [("MLP-like 16x29 @ (7x29)^T", 16, 29, 7, False, True)]
    )
    parallel.openmp_available()
    rng = np.random.default_rng(0)
    rows = []
    for name, m, k, n, ta, tb in workloads:
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        want = (a.T if ta else a) @ (b.T if tb else b)
        row = {"workload": name, "GFLOP": 2 * m * n * k / 1e9}
        call, c = matmul_call(a, b, ta, tb)
        call()
        np.testing.assert_allclose(c, want, rtol=1e-3, atol=1e-3 * np.sqrt(k))
        wall, cpu = timed(call, repeat)
        row.update(kiln=row["GFLOP"] / wall, kiln_cpu=cpu)
        if "blas" in peers:
            with environment(KILN_GEMM="blas"):
                blas, c_blas = matmul_call(a, b, ta, tb)
            blas()
            np.testing.assert_allclose(c_blas, want, rtol=1e-3, atol=1e-3 * np.sqrt(k))
            row["blas"] = row["GFLOP"] / timed(blas, repeat)[0]
        if "numpy" in peers:
            x, y, out = (a.T if ta else a), (b.T if tb else b), np.empty_like(want)
            row["numpy"] = (
                row["GFLOP"] / timed(lambda x=x, y=y, out=out: np.matmul(x, y, out=out), repeat)[0]
            )
        if torch is not None:
            x = torch.from_numpy(a).T if ta else torch.from_numpy(a)
            y = torch.from_numpy(b).T if tb else torch.from_numpy(b)
            out = torch.empty(want.shape)
            row["torch"] = (
                row["GFLOP"]
                / timed(lambda x=x, y=y, out=out: torch.matmul(x, y, out=out), repeat)[0]
            )
        rows.append(row)
    peak = peak_gflops(0.05 if args.quick else 0.3)
    threads = default_schedule(DType.f32).threads
    result = {
        "rows": rows,
        "peak_GFLOPs_1_thread": peak,
        "threads": threads,
        "schedule": default_schedule(DType.f32).tag,
    }
    text = table(result, peers)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return result


def table(result: dict, peers: list[str]) -> str:
    heads = ["workload", "kiln GFLOP/s", "kiln CPU/wall", *[f"{p} GFLOP/s" for p in peers]]
    heads += [f"kiln/{p}" for p in peers if p != "blas"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in result["rows"]:
        cells = [r["workload"], f"{r['kiln']:.1f}", f"{r['kiln_cpu']:.2f}"]
        cells += [f"{r[p]:.1f}" for p in peers]
        cells += [f"{r['kiln'] / r[p]:.2f}" for p in peers if p != "blas"]
        lines.append("| " + " | ".join(cells) + " |")
    peak, t = result["peak_GFLOPs_1_thread"], result["threads"]
    lines.append("")
    lines.append(
        f"peak (vector FMA loop): {peak:.1f} GFLOP/s on one thread, {peak * t:.1f} on {t}; "
        f"schedule {result['schedule']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
