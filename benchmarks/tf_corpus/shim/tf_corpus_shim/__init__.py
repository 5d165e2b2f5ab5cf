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
