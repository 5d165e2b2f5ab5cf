"""Train a small classifier with the Session and save a checkpoint: the model the
ahead-of-time walk-through (docs/aot.md) compiles and runs from C (main.c).

    python -m kiln.examples.aot.train CKPT_DIR [STEPS]

The task: points (x1, x2) in the unit square, class 1 when x1 + x2 < 1. The model
is a two-layer network (3 hidden relus, a sigmoid output named `y`) trained with
Adam on sigmoid cross-entropy; it reaches ~99% training accuracy in 2000 steps.
Then `kiln compile CKPT_DIR/classifier --fetch y --name classifier -o build`
makes the library; the output tensor is `y:0`, the probability of class 1.
"""

from __future__ import annotations

import sys

import numpy as np

import kiln as kl


def train(
    directory: str, steps: int = 2000, inputs: np.ndarray | None = None
) -> tuple[str, np.ndarray, np.ndarray]:
    """Train in a fresh graph; returns (checkpoint prefix, the inputs (`inputs`, else
    the training data), the Session's outputs on them)."""
    with kl.Graph().as_default():
        w1 = kl.Variable(kl.random_normal([2, 3], stddev=1, seed=1), name="w1")
        b1 = kl.Variable(kl.zeros([3]), name="b1")
        w2 = kl.Variable(kl.random_normal([3, 1], stddev=1, seed=1), name="w2")
        b2 = kl.Variable(kl.zeros([1]), name="b2")
        x = kl.placeholder(kl.float32, shape=(None, 2), name="x-input")
        y_ = kl.placeholder(kl.float32, shape=(None, 1), name="y-input")
        a = kl.nn.relu(kl.matmul(x, w1) + b1)
        logits = kl.matmul(a, w2) + b2
        y = kl.sigmoid(logits, name="y")
        loss = kl.reduce_mean(kl.nn.sigmoid_cross_entropy_with_logits(labels=y_, logits=logits))
        train_step = kl.train.AdamOptimizer(0.05).minimize(loss)
        rdm = np.random.RandomState(1)
        X = rdm.rand(516, 2).astype(np.float32)
        Y = np.array([[float(x1 + x2 < 1)] for (x1, x2) in X], np.float32)
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            for i in range(steps):
                start = (i * 32) % 516
                end = min(start + 32, 516)
                sess.run(train_step, feed_dict={x: X[start:end], y_: Y[start:end]})
            prefix = kl.train.Saver().save(sess, f"{directory}/classifier")
            assert y.name == "y:0", y.name
            accuracy = float(np.mean((sess.run(y, {x: X}) > 0.5) == (Y > 0.5)))
            print(f"training accuracy {accuracy:.1%} after {steps} steps")
            data = X if inputs is None else inputs
            return prefix, data, sess.run(y, feed_dict={x: data})


if __name__ == "__main__":
    path, _, out = train(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
    print(f"saved {path}")
