"""Produces the TensorFlow losses stored in test_tf_trajectories.py.

Not a test and not run by the suite (pytest collects test_*.py only), and
TensorFlow is no dependency of kiln: run it by hand in a throwaway
environment outside the repository,

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu numpy
    /tmp/tfenv/bin/python tests/frontend/tf_reference.py

and paste what it prints over TF_LOSSES in test_tf_trajectories.py.

The problem: a 4 -> 5 -> 3 MLP (tanh, then softmax cross-entropy averaged
over the batch) on a fixed batch of 8, float32 throughout, every initial
value a numpy array (no random initializers). Each optimizer trains for
STEPS steps from the same start; the loss is read by its own Session.run
before each step, and once more after the last (STEPS + 1 values).
`problem()` is repeated verbatim in test_tf_trajectories.py.
"""

import numpy as np

STEPS = 20


def problem():
    """The batch (x, one-hot labels) and the initial weights, float32."""
    rng = np.random.RandomState(0)
    x = rng.randn(8, 4).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[rng.randint(0, 3, size=8)]
    w1 = (0.5 * rng.randn(4, 5)).astype(np.float32)
    b1 = (0.1 * rng.randn(5)).astype(np.float32)
    w2 = (0.5 * rng.randn(5, 3)).astype(np.float32)
    b2 = (0.1 * rng.randn(3)).astype(np.float32)
    return x, labels, (w1, b1, w2, b2)


def main():
    import tensorflow as tf

    tf1 = tf.compat.v1
    tf1.disable_eager_execution()

    optimizers = {
        "sgd": lambda: tf1.train.GradientDescentOptimizer(0.1),
        "momentum": lambda: tf1.train.MomentumOptimizer(0.1, 0.9),
        "nesterov": lambda: tf1.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        "adam": lambda: tf1.train.AdamOptimizer(0.01),
        "rmsprop": lambda: tf1.train.RMSPropOptimizer(0.01),
        "adagrad": lambda: tf1.train.AdagradOptimizer(0.1),
        "sgd_decay": None,
    }
    x_np, labels_np, init = problem()
    results = {}
    for key, make in optimizers.items():
        with tf1.Graph().as_default():
            x = tf1.placeholder(tf.float32, (None, 4))
            y = tf1.placeholder(tf.float32, (None, 3))
            w1, b1, w2, b2 = (tf1.Variable(v) for v in init)
            h = tf.tanh(tf.matmul(x, w1) + b1)
            logits = tf.matmul(h, w2) + b2
            loss = tf.reduce_mean(
                tf1.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits)
            )
            if make is None:
                global_step = tf1.train.get_or_create_global_step()
                lr = tf1.train.exponential_decay(0.1, global_step, 5, 0.5, staircase=True)
                train = tf1.train.GradientDescentOptimizer(lr).minimize(
                    loss, global_step=global_step
                )
            else:
                train = make().minimize(loss)
            feed = {x: x_np, y: labels_np}
            losses = []
            with tf1.Session() as sess:
                sess.run(tf1.global_variables_initializer())
                for _ in range(STEPS):
                    losses.append(float(sess.run(loss, feed)))
                    sess.run(train, feed)
                losses.append(float(sess.run(loss, feed)))
                if make is None:
                    assert sess.run(global_step) == STEPS
            results[key] = losses

    print(f"# TensorFlow {tf.__version__}, numpy {np.__version__}")
    print("TF_LOSSES = {")
    for key, losses in results.items():
        print(f"    {key!r}: [")
        for i in range(0, len(losses), 3):
            print("        " + " ".join(f"{v!r}," for v in losses[i : i + 3]))
        print("    ],")
    print("}")


if __name__ == "__main__":
    main()
