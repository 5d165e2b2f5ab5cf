"""Compile time against graph size: the first Session.run of an N-op chain
with its gradient, against jax.jit(jax.value_and_grad(f))'s first call.

The chain applies tanh, multiply (by a variable), add (a variable) and
sigmoid in turn, N ops in all, to a placeholder; the loss is its
reduce_sum and the training step is GradientDescentOptimizer.minimize, as a
TensorFlow 1.x program writes it. kiln's time is building the graph, its
gradient, and the first Session.run of the step (every pass, codegen and
LLVM), on a cold disk cache; jax's is tracing, differentiating and
compiling the same chain on its first call. Each N runs in a fresh process
(imports done before the clock starts), so nothing is cached in memory.

The fitted exponent is the slope of log(time) against log(N) by least
squares: 1 is linear, 2 quadratic. Wall-clock seconds are what a user waits;
CPU seconds (the process's, all threads) are printed beside them because on
a shared, loaded machine they vary far less.

    python -m kiln.benchmarks.compile_scaling                   # N = 100 ... 10000
    python -m kiln.benchmarks.compile_scaling --sizes 100,300 --peers none
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

SIZES = (100, 300, 1000, 3000, 10000)
WIDTH = 64  # elements of the placeholder and the variables

_KILN_CHILD = """
import json, time
import numpy as np
import kiln as kl
n, width = {n}, {width}
start, cpu = time.perf_counter(), time.process_time()
with kl.Graph().as_default():
    x = kl.placeholder(kl.float32, [width], name="x")
    w = kl.Variable(np.full(width, 0.9, np.float32), name="w")
    c = kl.Variable(np.full(width, 0.1, np.float32), name="c")
    h = x
    for i in range(n):
        h = (kl.tanh, lambda h: h * w, lambda h: h + c, kl.sigmoid)[i % 4](h)
    loss = kl.reduce_sum(h)
    step = kl.train.GradientDescentOptimizer(0.01).minimize(loss)
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        value, _ = s.run([loss, step], {{x: np.linspace(-1, 1, width, dtype=np.float32)}})
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu, "loss": float(value)}}))
"""

_JAX_CHILD = """
import json, time
import numpy as np
import jax, jax.numpy as jnp
n, width = {n}, {width}
def f(params, x):
    w, c = params
    h = x
    for i in range(n):
        h = (jnp.tanh, lambda h: h * w, lambda h: h + c, jax.nn.sigmoid)[i % 4](h)
    return jnp.sum(h)
params = (jnp.full(width, 0.9, jnp.float32), jnp.full(width, 0.1, jnp.float32))
x = jnp.linspace(-1, 1, width, dtype=jnp.float32)
start, cpu = time.perf_counter(), time.process_time()
value, grads = jax.jit(jax.value_and_grad(f))(params, x)
jax.block_until_ready(grads)
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu, "loss": float(value)}}))
"""


def run_child(source: str, n: int) -> dict:
    """Run one measurement in a fresh Python process with a fresh kiln disk cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, KILN_CACHE_DIR=cache, JAX_PLATFORMS="cpu")
        env.pop("KILN_NO_CACHE", None)
        env.pop("KILN_DEBUG", None)
        done = subprocess.run(
            [sys.executable, "-c", source.format(n=n, width=WIDTH)],
            env=env,
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the N={n} measurement failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def numpy_loss(n: int) -> float:
    """The chain's loss computed by numpy in float32: the oracle for both."""
    w, c = np.full(WIDTH, 0.9, np.float32), np.full(WIDTH, 0.1, np.float32)
    h = np.linspace(-1, 1, WIDTH, dtype=np.float32)
    steps = (
        np.tanh,
        lambda h: h * w,
        lambda h: h + c,
        lambda h: (1 / (1 + np.exp(-h))).astype(np.float32),
    )
    for i in range(n):
        h = steps[i % 4](h)
    return float(h.sum())


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float:
    """The slope of log(seconds) against log(N), by least squares."""
    if len(sizes) < 2:
        return math.nan
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def jax_available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="comma-separated chain lengths N"
    )
    parser.add_argument(
        "--peers",
        default="jax",
        choices=("jax", "none"),
        help="measure jax.jit too (when installed)",
    )
    parser.add_argument(
        "--jax-up-to",
        type=int,
        default=max(SIZES),
        help="measure jax only for N up to this (its first call takes many "
        "minutes at N = 3000 on a loaded 2-core machine)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with_jax = args.peers == "jax" and jax_available()
    rows = []
    print(
        f"{'N':>6} {'kiln s':>9} {'jax s':>9} {'kiln/jax':>9} {'kiln cpu s':>11} {'jax cpu s':>10}",
        flush=True,
    )
    for n in sizes:
        kiln_run = run_child(_KILN_CHILD, n)
        jax_run = run_child(_JAX_CHILD, n) if with_jax and n <= args.jax_up_to else None
        row = {
            "n": n,
            "kiln_s": kiln_run["seconds"],
            "kiln_cpu_s": kiln_run["cpu_seconds"],
            "kiln_loss": kiln_run["loss"],
            "jax_s": jax_run["seconds"] if jax_run else None,
            "jax_cpu_s": jax_run["cpu_seconds"] if jax_run else None,
            "jax_loss": jax_run["loss"] if jax_run else None,
        }
        expected = numpy_loss(n)
        for who in ("kiln", "jax") if jax_run else ("kiln",):
            if not math.isclose(row[f"{who}_loss"], expected, rel_tol=1e-3):
                raise RuntimeError(
                    f"N={n}: {who}'s loss {row[f'{who}_loss']} differs from numpy's {expected}"
                )
        rows.append(row)
        jax_s, ratio, jax_cpu = (
            (
                f"{row['jax_s']:9.2f}",
                f"{row['kiln_s'] / row['jax_s']:9.2f}",
                f"{row['jax_cpu_s']:10.2f}",
            )
            if jax_run
            else (f"{'-':>9}", f"{'-':>9}", f"{'-':>10}")
        )
        print(
            f"{n:>6} {row['kiln_s']:9.2f} {jax_s} {ratio} {row['kiln_cpu_s']:11.2f} {jax_cpu}",
            flush=True,
        )
    result = {"rows": rows}
    parts = []
    for who in ("kiln", "jax") if with_jax else ("kiln",):
        measured = [r for r in rows if r[f"{who}_s"] is not None]
        for clock in ("s", "cpu_s"):
            key = f"{who}_exponent" + ("" if clock == "s" else "_cpu")
            result[key] = fitted_exponent(
                [r["n"] for r in measured], [r[f"{who}_{clock}"] for r in measured]
            )
        wall, cpu = result[f"{who}_exponent"], result[f"{who}_exponent_cpu"]
        parts.append(f"{who} {wall:.2f} (cpu {cpu:.2f})")
    print("fitted exponent: " + ", ".join(parts))
    return result


if __name__ == "__main__":
    main()
