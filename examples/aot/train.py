"""Train SPEC program 4's classifier with the Session and save a checkpoint.

    python -m kiln.examples.aot.train CKPT_DIR [STEPS]

then compile it (`kiln compile CKPT_DIR/classifier --fetch Relu_1 --name classifier -o
build`) and run it from C (main.c). The output tensor is `Relu_1:0` (the second relu).
"""

from __future__ import annotations

import sys

import numpy as np

import kiln as kl


def train(directory: str, steps: int = 2000,
          inputs: np.ndarray | None = None) -> tuple[str, np.ndarray, np.ndarray]:
    """Train in a fresh graph; returns (checkpoint prefix, the inputs (`inputs`, else
    the training data), the Session's outputs on them)."""
    with kl.Graph().as_default():
        w1 = kl.Variable(kl.random_normal([2, 3], stddev=1, seed=1))
        w2 = kl.Variable(kl.random_normal([3, 1], stddev=1, seed=1))
        x = kl.placeholder(kl.float32, shape=(None, 2), name="x-input")
        y_ = kl.placeholder(kl.float32, shape=(None, 1), name="y-input")
        a = kl.nn.relu(kl.matmul(x, w1))
        y = kl.nn.relu(kl.matmul(a, w2))
        cross_entropy = -kl.reduce_mean(y_ * kl.log(kl.clip_by_value(y, 1e-10, 1.0)))
        train_step = kl.train.AdamOptimizer(0.001).minimize(cross_entropy)
        rdm = np.random.RandomState(1)
        X = rdm.rand(516, 2).astype(np.float32)
        Y = [[int(x1 + x2 < 1)] for (x1, x2) in X]
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            for i in range(steps):
                start = (i * 10) % 516
                end = min(start + 10, 516)
                sess.run(train_step, feed_dict={x: X[start:end], y_: Y[start:end]})
            prefix = kl.train.Saver().save(sess, f"{directory}/classifier")
            assert y.name == "Relu_1:0", y.name
            data = X if inputs is None else inputs
            return prefix, data, sess.run(y, feed_dict={x: data})


if __name__ == "__main__":
    path, _, out = train(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
    print(f"saved {path}; mean output on the training data {float(out.mean()):.4f}")
