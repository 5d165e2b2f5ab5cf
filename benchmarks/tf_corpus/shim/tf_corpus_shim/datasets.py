"""Stand-ins for tf.keras.datasets.{mnist, fashion_mnist, boston_housing}.load_data()."""

from __future__ import annotations

import types

import numpy as np

from ._digits import split


def _mnist_load_data(path="mnist.npz"):
    return split()


def _boston_load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Boston-shaped data from sklearn's diabetes set: Keras's Boston housing has 13
    features and prices in $1000s (5 to 50), and programs hard-code both (shape=(13,),
    `price >= 23.0`), so the 10 diabetes features get 3 products of them beside, and the
    target is mapped linearly onto [5, 50]."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    base = d.data.astype(np.float64)
    x = np.concatenate([base, base[:, [2, 3, 8]] * base[:, [3, 8, 2]]], axis=1)
    y = d.target.astype(np.float64)
    y = 5.0 + 45.0 * (y - y.min()) / (y.max() - y.min())
    order = np.random.RandomState(seed).permutation(len(y))
    x, y = x[order], y[order]
    n = int(len(y) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])


mnist = types.SimpleNamespace(load_data=_mnist_load_data)
fashion_mnist = types.SimpleNamespace(load_data=_mnist_load_data)
boston_housing = types.SimpleNamespace(load_data=_boston_load_data)
