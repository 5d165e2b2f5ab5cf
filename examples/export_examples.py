"""Write the small `.kiln` files that ship in examples/ (the README's commands use them).

    python -m kiln.examples.export_examples [OUTDIR]     # default: beside this file

- mlp_step.kiln: one training step of a TensorFlow-1.x-style MLP (a Session's
  `[train, loss]`): @mlp_step(x, labels, weights...) -> (loss, new weights...).
- cnn_forward.kiln: a small CNN's forward pass on 8x8 images, the weights frozen
  from a Session (@cnn(images) -> class probabilities).
- softmax.kiln: a `kl.function` (@softmax(x: ?x10)).
"""

from __future__ import annotations

import sys
from pathlib import Path

import kiln as kl


def mlp_step(path: Path) -> None:
    with kl.Graph().as_default():
        kl.set_random_seed(0)
        x = kl.placeholder(kl.float32, (None, 4), name="x")
        labels = kl.placeholder(kl.int32, (None,), name="labels")
        hidden = kl.layers.dense(x, 8, activation=kl.nn.relu, name="hidden")
        logits = kl.layers.dense(hidden, 3, name="logits")
        loss = kl.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
        train = kl.train.GradientDescentOptimizer(0.1).minimize(loss)
        kl.export_ir([train, loss], path=path, name="mlp_step")


def cnn_forward(path: Path) -> None:
    with kl.Graph().as_default():
        kl.set_random_seed(0)
        images = kl.placeholder(kl.float32, (None, 8, 8, 1), name="images")
        net = kl.layers.conv2d(images, 4, 3, padding="same", activation=kl.nn.relu, name="conv")
        net = kl.layers.max_pooling2d(net, 2, 2, name="pool")
        logits = kl.layers.dense(kl.layers.flatten(net), 10, name="logits")
        probs = kl.nn.softmax(logits, name="probs")
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            kl.export_ir(probs, session=sess, path=path, name="cnn")


def softmax(path: Path) -> None:
    fn = kl.function(lambda x: kl.nn.softmax(x), name="softmax")
    kl.export_ir(fn, kl.TensorSpec([None, 10], kl.float32, name="x"), path=path)


def main(outdir: str | None = None) -> list[Path]:
    out = Path(outdir) if outdir else Path(__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "mlp_step.kiln", out / "cnn_forward.kiln", out / "softmax.kiln"]
    for make, path in zip((mlp_step, cnn_forward, softmax), paths):
        make(path)
        print(f"wrote {path}")
    return paths


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
