"""tf.keras.datasets, offline: the loaders read the files Keras keeps in its
cache (~/.keras/datasets, or $KERAS_HOME/datasets), in Keras's formats and
with Keras's splits, and never download (kiln's rule: no downloads). A file
that is not there is a KilnError naming it and where Keras would fetch it.

    (x_train, y_train), (x_test, y_test) = kl.keras.datasets.mnist.load_data()
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np

from ..ir import KilnError

__all__ = ["boston_housing", "mnist"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def _file(path: str, name: str) -> Path:
    """`path` itself if it exists, else that name in Keras's cache directory."""
    given = Path(os.path.expanduser(path))
    if given.is_absolute() or given.exists():
        found = given
    else:
        home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
        found = Path(home) / "datasets" / given
    if not found.exists():
        raise KilnError(
            f"keras.datasets.{name}: {found} is not there, and kiln does not download; "
            f"put Keras's file there (Keras fetches it from {ORIGIN}{given.name})"
        )
    return found


def _mnist_load_data(path: str = "mnist.npz"):
    """((x_train, y_train), (x_test, y_test)): uint8 images 28x28 and labels."""
    with np.load(_file(path, "mnist"), allow_pickle=True) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _boston_load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Keras's split: shuffled by RandomState(seed), the last test_split for testing."""
    if not 0 <= test_split < 1:
        raise KilnError(f"boston_housing: test_split must be in [0, 1), got {test_split}")
    with np.load(_file(path, "boston_housing"), allow_pickle=True) as f:
        x, y = f["x"], f["y"]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


mnist = types.ModuleType("kiln.keras.datasets.mnist", "tf.keras.datasets.mnist (offline)")
mnist.load_data = _mnist_load_data
boston_housing = types.ModuleType(
    "kiln.keras.datasets.boston_housing", "tf.keras.datasets.boston_housing (offline)"
)
boston_housing.load_data = _boston_load_data
