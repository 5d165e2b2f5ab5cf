"""Stand-ins for tf.keras.datasets.{mnist, fashion_mnist, boston_housing}.load_data()."""

from __future__ import annotations

import types

import numpy as np

from ._digits import split


def _mnist_load_data(path="mnist.npz"):
    return split()


def _boston_load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    x = d.data.astype(np.float64)
    y = d.target.astype(np.float64)
    order = np.random.RandomState(seed).permutation(len(y))
    x, y = x[order], y[order]
    n = int(len(y) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])


mnist = types.SimpleNamespace(load_data=_mnist_load_data)
fashion_mnist = types.SimpleNamespace(load_data=_mnist_load_data)
boston_housing = types.SimpleNamespace(load_data=_boston_load_data)
