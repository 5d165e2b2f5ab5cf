"""Per-iteration overhead of a kiln.while: N iterations of a scalar update
(x <- x * 0.999 + 0.5, counter i <- i + 1, while i < N), through
kiln.compile with backend="auto".

The loop is counted by N and timed per call; the overhead per iteration is
(time of N iterations - time of 0 iterations) / N, so the call's own cost
is taken out. A jax.jit of lax.while_loop on the same update is the peer
when jax is installed. The result says which backend ran the loop: the CPU
backend emits kiln.while as a loop inside its native entry (runtime/control.py:
the cond's and body's kernels, the predicate, the carried copies or swaps), so no
Python runs per iteration (the target: under 1 µs per iteration).

    python -m kiln.benchmarks.while_loop               # N = 10000
    python -m kiln.benchmarks.while_loop --iterations 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np


def build():
    from kiln.ir import Builder, Module, TensorType, build_while

    m = Module()
    f = m.add_function("loop", [TensorType("i32", []), TensorType("f32", [])], ["n", "x"])
    b = Builder.at_end(f.body)

    def cond(b, i, n, x):
        return [b.less(i, n)]

    def body(b, i, n, x):
        return [
            b.add(i, b.constant(1, "i32")),
            n,
            b.add(b.mul(x, b.constant(0.999)), b.constant(0.5)),
        ]

    out = build_while(b, [b.constant(0, "i32"), f.args[0], f.args[1]], cond, body)
    b.ret(out[2])
    return m.verify()


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def reference(n: int, x: float) -> np.float32:
    x = np.float32(x)
    for _ in range(n):
        x = np.float32(x * np.float32(0.999) + np.float32(0.5))
    return x


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import kiln

    n = args.iterations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exe = kiln.compile(build(), "loop")
    x0 = np.float32(1.0)
    (got,) = exe(np.int32(n), x0)
    np.testing.assert_allclose(got, reference(n, 1.0), rtol=1e-4)
    full = _best(lambda: exe(np.int32(n), x0), args.repeat)
    empty = _best(lambda: exe(np.int32(0), x0), args.repeat)
    result = {
        "iterations": n,
        "backend": exe.backend,
        "call_s": full,
        "per_iteration_us": max(full - empty, 0.0) / n * 1e6,
    }
    try:
        import jax
        from jax import lax
    except ImportError:
        jax = None
    if jax is not None:

        @jax.jit
        def loop(n, x):
            def step(c):
                return c[0] + 1, c[1] * np.float32(0.999) + np.float32(0.5)

            return lax.while_loop(lambda c: c[0] < n, step, (np.int32(0), x))[1]

        loop(np.int32(n), x0).block_until_ready()
        jfull = _best(lambda: loop(np.int32(n), x0).block_until_ready(), args.repeat)
        jempty = _best(lambda: loop(np.int32(0), x0).block_until_ready(), args.repeat)
        result["jax_per_iteration_us"] = max(jfull - jempty, 0.0) / n * 1e6
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
