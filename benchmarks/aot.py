"""The AOT library (`kiln compile` -> `.so`, called through `kiln.load`) against the
same function in process (`kiln.compile`), in one run (issues 20 and 22).

    python -m kiln.benchmarks.aot                          # MLP and ResNet-18 forward, b1, b16
    python -m kiln.benchmarks.aot --threads 1 --cpu-time   # one thread, CPU seconds
    python -m kiln.benchmarks.aot --models mlp,resnet18,mobilenet_v2 --rounds 15

The workloads: the MLP forward (784-512-512-10, ReLU, softmax; the weights
constants of the function, as a frozen checkpoint's) and any model of
benchmarks/onnx.py (default: ResNet-18), each with a symbolic batch. Both
sides run the same module after the same pipeline; the library is built from
it once. The two are timed interleaved (A B, then B A, round after round), so
a machine whose load changes during the run slows both alike; each figure is
the median over the rounds, and the ratio .so/kiln is given for the medians
and for the fastest rounds. `--cpu-time` times process CPU seconds instead of
wall-clock (exact on one thread; with threads it adds the workers' spin), the
figure to trust on a loaded machine. `--threads N` runs both on N threads
(KILN_NUM_THREADS for the in-process plans, `run.num_threads` for the library).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

from .cpu import environment

MLP_SIZES = (784, 512, 512, 10)


def interleaved(
    a: Callable[[], object], b: Callable[[], object], rounds: int, clock=time.perf_counter
) -> tuple[list[float], list[float]]:
    """Seconds of each round of `a` and of `b`, run alternately (a b, b a, ...) after
    one warm-up call each, so that a change of the machine's load hits both alike."""
    a(), b()
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            fn = (a, b)[which]
            start = clock()
            fn()
            times[which].append(clock() - start)
    return times


def mlp_module(seed: int = 0):
    """The MLP forward as a kiln module: @main(x: ?x784) -> softmax logits."""
    from kiln.ir import Builder, Module, TensorType

    rng = np.random.default_rng(seed)
    module = Module()
    func = module.add_function("main", [TensorType("f32", ["?", MLP_SIZES[0]])], ["x"])
    b = Builder.at_end(func.body)
    h = func.args[0]
    layers = list(zip(MLP_SIZES, MLP_SIZES[1:]))
    for i, (n_in, n_out) in enumerate(layers):
        w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        bias = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
        h = b.add(b.matmul(h, b.constant(w)), b.constant(bias))
        h = b.relu(h) if i < len(layers) - 1 else b.softmax(h, axis=1)
    b.ret(h)
    return module


def _workload(name: str, directory: str):
    """(module after the pipeline, a function of the batch giving the input)."""
    from kiln.passes import DEFAULT_PIPELINE, run_pipeline

    if name == "mlp":
        module = mlp_module()

        def example(batch: int) -> np.ndarray:
            rng = np.random.default_rng(batch)
            return rng.standard_normal((batch, MLP_SIZES[0])).astype(np.float32)

    else:
        from kiln.onnx import import_model

        from . import onnx

        module = import_model(onnx.export(name, False, directory))
        _, torch_example = onnx._models(False)[name]

        def example(batch: int) -> np.ndarray:
            return torch_example(batch).numpy()

    run_pipeline(module, DEFAULT_PIPELINE)
    return module, example


def bench(name: str, args, directory: str) -> list[dict]:
    import kiln
    from kiln.runtime import aot

    module, example = _workload(name, directory)
    start = time.perf_counter()
    outdir = os.path.join(directory, f"{name}.aot")
    aot.build(module, "main", outdir, name=name)
    library = kiln.load(outdir)
    build_s = time.perf_counter() - start
    run = kiln.compile(module, "main")
    if args.threads:
        library.num_threads = args.threads
    clock = time.process_time if args.cpu_time else time.perf_counter
    rows = []
    for batch in args.batches:
        x = example(batch)
        ours, theirs = run(x)[0], library(x)[0]
        diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
        t_kiln, t_so = interleaved(lambda x=x: run(x), lambda x=x: library(x), args.rounds, clock)
        kiln_ms, so_ms = np.median(t_kiln) * 1e3, np.median(t_so) * 1e3
        row = dict(
            workload=name,
            batch=batch,
            kiln_ms=float(kiln_ms),
            so_ms=float(so_ms),
            so_ratio=float(so_ms / kiln_ms),
            so_ratio_fastest=float(min(t_so) / min(t_kiln)),
            max_abs_diff=diff,
            build_s=build_s,
            threads=library.num_threads,
        )
        print(
            f"{name:14s} b{batch:<3d} kiln {kiln_ms:9.3f} ms  .so {so_ms:9.3f} ms  "
            f".so/kiln {row['so_ratio']:5.2f} (fastest rounds {row['so_ratio_fastest']:5.2f})  "
            f"max |diff| {diff:.1e}  {row['threads']} thread(s)",
            flush=True,
        )
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,resnet18", help="mlp and benchmarks/onnx.py's")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved timed rounds")
    parser.add_argument("--threads", type=int, default=0, help="both sides' threads (0: default)")
    parser.add_argument("--cpu-time", action="store_true", help="process CPU time, not wall")
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",")]
    from .onnx import ALL_MODELS

    known = ["mlp", *ALL_MODELS.split(",")]
    unknown = sorted(set(args.models.split(",")) - set(known))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(known)}")
    threads = {"KILN_NUM_THREADS": str(args.threads)} if args.threads else {}
    rows = []
    with tempfile.TemporaryDirectory() as directory, environment(**threads):
        os.environ.setdefault("KILN_CACHE_DIR", os.path.join(directory, "cache"))
        for name in args.models.split(","):
            rows += bench(name, args, directory)
    geomean = {}
    for batch in args.batches:
        ratios = [r["so_ratio"] for r in rows if r["batch"] == batch]
        geomean[batch] = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"geometric mean .so/kiln at batch {batch}: {geomean[batch]:.2f}")
    return {"rows": rows, "geomean": geomean}


if __name__ == "__main__":
    main()
