"""kiln's main job: a classifier written the TensorFlow 1.x way, trained, and
its training step shown as the compiler sees it.

1. The model is built with `import kiln as kl` (placeholders, dense layers,
   softmax cross-entropy, Adam) on embedded data: two Gaussian clouds.
2. `Session.run` lowers the training step (forward, gradients from the IR
   autodiff, Adam's updates) into one IR function and runs it.
3. The same step goes through the whole pass pipeline: the demo prints the
   op counts, the kernels `fuse` forms and the memory plan, and checks that
   the text form round-trips.
"""

from __future__ import annotations

import time

import numpy as np

import kiln as kl
from kiln.frontend.lowering import lower
from kiln.ir import parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline

BATCH, FEATURES, HIDDEN, CLASSES = 200, 2, 16, 2


def two_clouds(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds around (-1.5, -1.5) and (1.5, 1.5), one-hot labels."""
    rng = np.random.RandomState(seed)
    half = BATCH // 2
    x = np.concatenate([rng.randn(half, 2) - 1.5, rng.randn(half, 2) + 1.5]).astype(np.float32)
    labels = np.repeat([0, 1], half)
    return x, np.eye(CLASSES, dtype=np.float32)[labels]


def main(steps: int = 200) -> int:
    data_x, data_y = two_clouds()
    with kl.Graph().as_default() as graph:
        x = kl.placeholder(kl.float32, (None, FEATURES), name="x")
        y = kl.placeholder(kl.float32, (None, CLASSES), name="y")
        hidden = kl.layers.dense(x, HIDDEN, activation=kl.nn.relu, name="dense1")
        logits = kl.layers.dense(hidden, CLASSES, name="dense2")
        with kl.name_scope("loss"):
            loss = kl.reduce_mean(
                kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits)
            )
        accuracy = kl.reduce_mean(
            kl.cast(kl.equal(kl.argmax(logits, 1), kl.argmax(y, 1)), kl.float32)
        )
        train = kl.train.AdamOptimizer(0.05).minimize(loss)

        print("== training with kl.Session (TensorFlow 1.x's API) ==")
        feed = {x: data_x, y: data_y}
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            first = float(sess.run(loss, feed))
            start = None
            for step in range(steps + 1):
                _, value = sess.run([train, loss], feed)
                if step % 50 == 0:
                    print(f"step {step:4d}  loss {float(value):.4f}")
                if step == 0:  # the first call compiled the step; time the rest
                    start = time.perf_counter()
            per_step = (time.perf_counter() - start) / max(steps, 1) * 1e3
            final, acc = sess.run([loss, accuracy], feed)
            backends = ", ".join(f"{n} on {b}" for b, n in sorted(sess.backends.items()))
        print(f"accuracy {acc:.1%}; {per_step:.2f} ms per step (executables: {backends})\n")

        print("== the training step as the compiler sees it ==")
        step_ir = lower(graph, [train, loss], {x: data_x, y: data_y}, name="train_step")
        module = step_ir.module
        before = sum(1 for f in module for _ in f.walk())
        text = str(module)
        assert str(parse(text)) == text, "the text form must round-trip"
        print(f"round trip: parse(print(m)) prints identically ({len(text.splitlines())} lines)")
        report = run_pipeline(module, DEFAULT_PIPELINE)
        func = module["train_step"]
        kernels = [op for op in func.ops if op.name == "kiln.fused"]
        print(
            f"{before} ops lowered; after {DEFAULT_PIPELINE}: "
            f"{len(func.ops)} top-level ops, {report.stat('kernels')} kernels "
            f"({', '.join(sorted({k.kind for k in kernels}))})"
        )
        print(report)
    return 0 if float(final) < first and acc > 0.9 else 1


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    raise SystemExit(main(parser.parse_args().steps))
