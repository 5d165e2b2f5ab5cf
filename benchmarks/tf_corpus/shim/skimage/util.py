"""skimage.util.img_as_float: integer images scaled to [0, 1] as float64, floats kept."""

import numpy as np


def img_as_float(image, force_copy=False):
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return image.astype(np.float64, copy=force_copy)
