"""Stand-in for tensorflow.examples.tutorials.mnist.input_data (TF 1.x tutorials)."""

from __future__ import annotations

import collections

import numpy as np

from ._digits import split

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


class DataSet:
    """The TF 1.x tutorial DataSet: images (n, 784) float32 in [0,1], labels, next_batch."""

    def __init__(self, images, labels, one_hot, seed):
        self._images = images.reshape(len(images), 784).astype(np.float32) / 255.0
        labels = labels.astype(np.int64)
        self._labels = np.eye(10, dtype=np.float32)[labels] if one_hot else labels
        self._rng = np.random.RandomState(seed)
        self._order = self._rng.permutation(len(labels))
        self._pos = 0
        self.epochs_completed = 0

    @property
    def images(self):
        return self._images

    @property
    def labels(self):
        return self._labels

    @property
    def num_examples(self):
        return len(self._images)

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        idx = []
        while len(idx) < batch_size:
            take = min(batch_size - len(idx), len(self._order) - self._pos)
            idx.extend(self._order[self._pos : self._pos + take])
            self._pos += take
            if self._pos == len(self._order):
                self.epochs_completed += 1
                self._order = self._rng.permutation(len(self._order))
                self._pos = 0
        idx = np.asarray(idx)
        return self._images[idx], self._labels[idx]


def read_data_sets(train_dir=None, one_hot=False, validation_size=200, **kwargs):
    (xtr, ytr), (xte, yte) = split()
    v = min(validation_size, 200)
    return Datasets(
        train=DataSet(xtr[v:], ytr[v:], one_hot, 1),
        validation=DataSet(xtr[:v], ytr[:v], one_hot, 2),
        test=DataSet(xte, yte, one_hot, 3),
    )
