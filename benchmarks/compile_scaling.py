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
squares: 1 is linear, 2 quadratic.

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
start = time.perf_counter()
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
print(json.dumps({{"seconds": time.perf_counter() - start, "loss": float(value)}}))
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
start = time.perf_counter()
value, grads = jax.jit(jax.value_and_grad(f))(params, x)
jax.block_until_ready(grads)
print(json.dumps({{"seconds": time.perf_counter() - start, "loss": float(value)}}))
"""


def run_child(source: str, n: int) -> dict:
    """Run one measurement in a fresh Python process with a fresh kiln disk cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, KILN_CACHE_DIR=cache, JAX_PLATFORMS="cpu")
        env.pop("KILN_NO_CACHE", None)
        env.pop("KILN_DEBUG", None)
        done = subprocess.run([sys.executable, "-c", source.format(n=n, width=WIDTH)],
                              env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the N={n} measurement failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated chain lengths N")
    parser.add_argument("--peers", default="jax", choices=("jax", "none"),
                        help="measure jax.jit too (when installed)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with_jax = args.peers == "jax" and jax_available()
    rows = []
    print(f"{'N':>6} {'kiln s':>9} {'jax s':>9} {'kiln/jax':>9}", flush=True)
    for n in sizes:
        kiln_run = run_child(_KILN_CHILD, n)
        jax_run = run_child(_JAX_CHILD, n) if with_jax else None
        row = {"n": n, "kiln_s": kiln_run["seconds"], "kiln_loss": kiln_run["loss"],
               "jax_s": jax_run["seconds"] if jax_run else None,
               "jax_loss": jax_run["loss"] if jax_run else None}
        if jax_run and not math.isclose(row["kiln_loss"], row["jax_loss"], rel_tol=1e-3):
            raise RuntimeError(f"N={n}: kiln's loss {row['kiln_loss']} differs from "
                               f"jax's {row['jax_loss']}")
        rows.append(row)
        jax_s = f"{row['jax_s']:9.2f}" if jax_run else f"{'-':>9}"
        ratio = f"{row['kiln_s'] / row['jax_s']:9.2f}" if jax_run else f"{'-':>9}"
        print(f"{n:>6} {row['kiln_s']:9.2f} {jax_s} {ratio}", flush=True)
    result = {"rows": rows,
              "kiln_exponent": fitted_exponent(sizes, [r["kiln_s"] for r in rows])}
    line = f"fitted exponent: kiln {result['kiln_exponent']:.2f}"
    if with_jax:
        result["jax_exponent"] = fitted_exponent(sizes, [r["jax_s"] for r in rows])
        line += f", jax {result['jax_exponent']:.2f}"
    print(line)
    return result


if __name__ == "__main__":
    main()
