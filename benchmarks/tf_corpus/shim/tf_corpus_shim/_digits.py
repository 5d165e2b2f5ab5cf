"""sklearn digits as MNIST-shaped arrays (uint8 28x28, labels 0..9)."""

from __future__ import annotations

import functools

import numpy as np

N_TRAIN = 1500  # of sklearn's 1797 digits; the rest is the test split


@functools.lru_cache(maxsize=1)
def digits28():
    from sklearn.datasets import load_digits

    d = load_digits()
    img = d.images.astype(np.float64) / 16.0  # (n, 8, 8) in [0, 1]
    big = np.kron(img, np.ones((3, 3)))  # (n, 24, 24)
    big = np.pad(big, ((0, 0), (2, 2), (2, 2)))
    u8 = np.clip(np.round(big * 255.0), 0, 255).astype(np.uint8)
    labels = d.target.astype(np.uint8)
    order = np.random.RandomState(0).permutation(len(labels))
    return u8[order], labels[order]


def split():
    x, y = digits28()
    return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])
