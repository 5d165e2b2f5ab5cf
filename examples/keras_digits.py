"""A Keras-style CNN on scikit-learn's 8x8 digits with `kl.keras` and `fit`.

    python -m kiln.examples.keras_digits            # full run: >= 97% test accuracy
    python -m kiln.examples.keras_digits --quick    # two epochs (the test suite's)

Sequential([Conv2D, MaxPooling2D, Conv2D, Flatten, Dropout, Dense]) compiled
with Adam and sparse categorical cross-entropy; fit feeds a kl.data pipeline
(shuffle, batch, prefetch) and shows Keras's progress bar on stderr; its
train step is one kl.function, compiled once.
"""

from __future__ import annotations

import argparse
import time

import kiln as kl
from kiln.examples.cnn_digits import load_digits


def build_model() -> kl.keras.Model:
    layers = kl.keras.layers
    return kl.keras.Sequential(
        [
            kl.keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ],
        name="digits_cnn",
    )


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two epochs")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 30)
    kl.keras.utils.set_random_seed(0)
    x_train, y_train, x_test, y_test = load_digits()
    train = (
        kl.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=0)
        .batch(32)
        .prefetch(2)
    )
    model = build_model()
    model.summary()
    model.compile(
        kl.keras.optimizers.Adam(1e-3),
        kl.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(train, epochs=epochs, validation_data=(x_test, y_test), verbose=args.verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"test loss {loss:.4f}, test accuracy {accuracy:.2%} "
        f"({epochs} epochs in {time.perf_counter() - start:.1f} s)"
    )
    return accuracy


if __name__ == "__main__":
    main()
