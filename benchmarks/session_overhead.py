"""SPEC program 6: line fitting by SGD, one point fed per Session.run.

The time per step is the session-call overhead (feed conversion, cache
lookup, argument checks, running the executable, writing variables back).
TensorFlow 1.x's session on our machines: 7,560 steps/s (shared/FACTS.md).

    python -m kiln.benchmarks.session_overhead [--steps N] [--points N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kiln as kl

TF1_STEPS_PER_SECOND = 7560  # FACTS.md, measured on the same kind of machine


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=8_000_000)
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    xs = rng.uniform(-1, 1, args.points).astype(np.float32)
    ys = (2.5 * xs - 0.7 + rng.normal(0, 0.01, args.points)).astype(np.float32)
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, name="x")
        y = kl.placeholder(kl.float32, name="y")
        m = kl.Variable(0.0, name="m")
        b = kl.Variable(0.0, name="b")
        step = kl.train.GradientDescentOptimizer(0.01).minimize(kl.square(m * x + b - y))
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            s.run(step, {x: xs[0], y: ys[0]})  # compile
            start = time.perf_counter()
            for i in range(args.steps):
                s.run(step, {x: xs[i % args.points], y: ys[i % args.points]})
            seconds = time.perf_counter() - start
            mv, bv = s.run([m, b])
    rate = args.steps / seconds
    print(
        f"program 6: {args.steps} steps in {seconds:.2f} s: {rate:,.0f} steps/s "
        f"({1e6 / rate:.1f} us/step); TF1 session {TF1_STEPS_PER_SECOND:,} steps/s: "
        f"ratio {rate / TF1_STEPS_PER_SECOND:.2f}"
    )
    print(f"m = {mv:.4f} (truth 2.5), b = {bv:.4f} (truth -0.7)")
    return {"steps_per_second": rate, "m": float(mv), "b": float(bv)}


if __name__ == "__main__":
    main()
