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


def image_folder(classes=(0, 1), per_class=60, root=None):
    """A folder of JPEGs, one sub-folder per class (the layout image-dataset tutorials
    read): digits of the given classes as 28x28 RGB images, written once (needs Pillow)."""
    import os
    import tempfile

    from PIL import Image

    from ._digits import digits28

    root = root or os.path.join(tempfile.gettempdir(), "tf_corpus_images")
    x, y = digits28()
    for c in classes:
        folder = os.path.join(root, f"class_{c}")
        os.makedirs(folder, exist_ok=True)
        for i, img in enumerate(x[y == c][:per_class]):
            path = os.path.join(folder, f"{i:04d}.jpg")
            if not os.path.exists(path):
                Image.fromarray(np.stack([img] * 3, axis=-1)).save(path, quality=95)
    return root + os.sep
