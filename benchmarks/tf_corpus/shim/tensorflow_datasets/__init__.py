"""A tensorflow_datasets stand-in: tfds.load serves generated data for the datasets corpus
programs load, as a tf.data.Dataset of the framework the program imported (kiln's or
TensorFlow's) with tfds's element structure; show_examples draws nothing."""

from __future__ import annotations

import numpy as np
from tf_corpus_shim import framework


def _colorectal_histology(n=64, size=150, seed=0):
    """colorectal_histology's structure: 150x150 RGB uint8 tissue tiles, 8 classes (here
    seeded blotchy textures, a tint per class)."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 8, size=n).astype(np.int64)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((n, size, size, 3), np.uint8)
    for i, c in enumerate(labels):
        f = rng.uniform(2, 12, size=3)
        base = 0.5 + 0.25 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy) + f[2])
        tint = np.array([0.8, 0.4 + 0.05 * c, 0.6 - 0.05 * c])
        img = base[..., None] * tint + rng.normal(0, 0.05, (size, size, 3))
        images[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return {"image": images, "label": labels}, 8


DATASETS = {"colorectal_histology": _colorectal_histology}


class DatasetInfo:
    def __init__(self, name, num_examples, num_classes, shape):
        self.name = name
        self.num_examples = num_examples
        self.num_classes = num_classes
        self.shape = shape

    def __repr__(self):
        return (
            f"tfds.core.DatasetInfo(\n    name='{self.name}',\n    features=FeaturesDict({{\n"
            f"        'image': Image(shape={self.shape}, dtype=uint8),\n"
            f"        'label': ClassLabel(shape=(), dtype=int64, num_classes={self.num_classes}),"
            f"\n    }}),\n    total_num_examples={self.num_examples},\n"
            "    (a generated stand-in)\n)"
        )


def load(name, split=None, shuffle_files=False, with_info=False, as_supervised=False, **_):
    if name not in DATASETS:
        raise ValueError(f"tensorflow_datasets stand-in: no dataset {name!r}")
    tf = framework()
    data, num_classes = DATASETS[name]()
    if as_supervised:
        ds = tf.data.Dataset.from_tensor_slices((data["image"], data["label"]))
    else:
        ds = tf.data.Dataset.from_tensor_slices(data)
    if not with_info:
        return ds
    images = data["image"]
    return ds, DatasetInfo(name, len(images), num_classes, images.shape[1:])


def as_numpy(ds):
    return ds.as_numpy_iterator()


def show_examples(ds, ds_info, **_):
    from matplotlib import _Anything

    return _Anything()
