"""Dataset shim for the TF tutorial corpus: the dataset APIs tutorials call, served from
scikit-learn's bundled digits (8x8 images upsampled to 28x28) or generated data, so that no
program downloads anything. Same for kiln and for TensorFlow runs, seeded, numpy only.
"""

from __future__ import annotations

import numpy as np

from . import input_data  # noqa: F401
from .datasets import boston_housing, fashion_mnist, mnist  # noqa: F401


def text8_words(zf):
    """The words of the (generated) text8.zip as str: the corpus programs read the zip's bytes
    and then look words up by str, which only worked under Python 2."""
    return zf.read(zf.namelist()[0]).decode("ascii").lower().split()


def image_folder(classes=(3, 8), per_class=60, noise=64.0, root=None):
    """A folder of JPEGs, one sub-folder per class (the layout image-dataset tutorials
    read): digits of the given classes as 28x28 RGB images with seeded Gaussian pixel
    noise (two clean digit classes are told apart within ten steps, so a loss printed
    every ten steps is 0 from the first), written once (needs Pillow)."""
    import os
    import tempfile

    from PIL import Image

    from ._digits import digits28

    tag = "_".join(map(str, classes)) + f"_n{noise:g}"
    root = root or os.path.join(tempfile.gettempdir(), f"tf_corpus_images_{tag}")
    x, y = digits28()
    rng = np.random.RandomState(0)
    for c in classes:
        folder = os.path.join(root, f"class_{c}")
        os.makedirs(folder, exist_ok=True)
        for i, img in enumerate(x[y == c][:per_class]):
            noisy = np.clip(img + rng.normal(0.0, noise, img.shape), 0, 255).astype(np.uint8)
            path = os.path.join(folder, f"{i:04d}.jpg")
            if not os.path.exists(path):
                Image.fromarray(np.stack([noisy] * 3, axis=-1)).save(path, quality=95)
    return root + os.sep


def framework():
    """The TensorFlow the program imported: kiln's TF 2 API under kiln, else tensorflow."""
    import importlib
    import sys

    return importlib.import_module("kiln.compat.v2" if "kiln" in sys.modules else "tensorflow")


def housing_table(path):
    """UCI's housing.data (whitespace-separated, 13 features then MEDV) from the
    boston_housing stand-in, both splits."""
    (x, y), (xt, yt) = boston_housing.load_data()
    rows = np.concatenate([np.column_stack([x, y]), np.column_stack([xt, yt])])
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(f"{v:.6g}" for v in r) + "\n")
    return path


def get_file(fname=None, origin=None, untar=False, cache_subdir="datasets", **_):
    """keras.utils.get_file without the download: UCI's housing.data and the flower photos
    (a folder of class folders of JPEGs: all ten digits, ~180 each) are generated."""
    import os
    import tempfile

    key = f"{fname or ''} {origin or ''}"
    if "housing" in key:
        return housing_table(os.path.join(tempfile.gettempdir(), "tf_corpus_housing.data"))
    if "flower_photos" in key:
        return image_folder(classes=tuple(range(10)), per_class=200).rstrip(os.sep)
    raise ValueError(f"tf_corpus_shim.get_file: no stand-in for {key.strip()}")
