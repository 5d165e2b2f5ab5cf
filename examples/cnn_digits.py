"""A small CNN (conv-pool-conv-pool-dense) on scikit-learn's bundled 8x8
digits, written the TensorFlow 1.x way with `import kiln as kl`.

    python -m kiln.examples.cnn_digits            # full run: >= 97% test accuracy
    python -m kiln.examples.cnn_digits --quick    # a few epochs (the test suite's)

The data ship with scikit-learn (no download): 1797 images, 8x8, 16 grey
levels; a stratified 75/25 split. Training is Adam on mini-batches of
sparse softmax cross-entropy; the graph uses kl.layers.conv2d,
max_pooling2d, flatten, dropout and dense.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kiln as kl


def load_digits(seed: int = 0) -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels): NHWC float32
    images scaled to [0, 1], int32 labels, a stratified 75/25 split."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.25, random_state=seed, stratify=labels
    )
    return x_train, y_train, x_test, y_test


def build(learning_rate: float = 0.003, seed: int = 0) -> dict:
    """The graph: placeholders, logits, loss, accuracy, train op."""
    kl.set_random_seed(seed)
    x = kl.placeholder(kl.float32, (None, 8, 8, 1), name="images")
    y = kl.placeholder(kl.int32, (None,), name="labels")
    training = kl.placeholder(kl.bool, (), name="training")
    net = kl.layers.conv2d(x, 32, 3, padding="same", activation=kl.nn.relu, name="conv1")
    net = kl.layers.max_pooling2d(net, 2, 2, name="pool1")  # 4x4x32
    net = kl.layers.conv2d(net, 64, 3, padding="same", activation=kl.nn.relu, name="conv2")
    net = kl.layers.max_pooling2d(net, 2, 2, name="pool2")  # 2x2x64
    net = kl.layers.flatten(net)
    net = kl.layers.dense(net, 128, activation=kl.nn.relu, name="hidden")
    net = kl.layers.dropout(net, rate=0.3, training=training, seed=seed)
    logits = kl.layers.dense(net, 10, name="logits")
    loss = kl.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    correct = kl.nn.in_top_k(logits, y, 1)
    accuracy = kl.reduce_mean(kl.cast(correct, kl.float32))
    train = kl.train.AdamOptimizer(learning_rate).minimize(loss)
    return dict(x=x, y=y, training=training, loss=loss, accuracy=accuracy, train=train)


def main(epochs: int = 30, batch: int = 64, seed: int = 0, verbose: bool = True) -> dict:
    """Train; return the first and last training loss, the test accuracy and
    the seconds taken."""
    x_train, y_train, x_test, y_test = load_digits(seed)
    rng = np.random.RandomState(seed)
    start = time.perf_counter()
    with kl.Graph().as_default():
        g = build(seed=seed)
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            everything = {g["x"]: x_train, g["y"]: y_train, g["training"]: False}
            first_loss = float(sess.run(g["loss"], everything))
            if verbose:  # the first steps compile the graph: say so instead of going quiet
                print(
                    f"training {epochs} epochs of {len(x_train)} images (the first step "
                    "compiles the training step; epoch lines follow every 5 epochs)",
                    flush=True,
                )
            for epoch in range(epochs):
                order = rng.permutation(len(x_train))
                for i in range(0, len(order), batch):
                    take = order[i : i + batch]
                    sess.run(
                        g["train"],
                        {g["x"]: x_train[take], g["y"]: y_train[take], g["training"]: True},
                    )
                if verbose and epoch == 0:
                    print(f"epoch   1 done after {time.perf_counter() - start:.1f} s", flush=True)
                if verbose and (epoch % 5 == 4 or epoch == epochs - 1):
                    loss = float(sess.run(g["loss"], everything))
                    acc = float(
                        sess.run(
                            g["accuracy"], {g["x"]: x_test, g["y"]: y_test, g["training"]: False}
                        )
                    )
                    print(f"epoch {epoch + 1:3d}  train loss {loss:.4f}  test accuracy {acc:.4f}")
            last_loss = float(sess.run(g["loss"], everything))
            accuracy = float(
                sess.run(g["accuracy"], {g["x"]: x_test, g["y"]: y_test, g["training"]: False})
            )
            backends = sess.backends
    seconds = time.perf_counter() - start
    if verbose:
        print(
            f"test accuracy {accuracy:.4f} after {epochs} epochs in {seconds:.1f} s "
            f"(backends: {backends})"
        )
    return dict(
        first_loss=first_loss,
        last_loss=last_loss,
        accuracy=accuracy,
        seconds=seconds,
        backends=backends,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs (the test suite's)")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    main(epochs=3 if args.quick else args.epochs)
