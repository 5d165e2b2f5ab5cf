"""skimage.transform.resize: linear interpolation to the output shape (trailing channel axes
kept), float64 output as skimage gives; anti_aliasing is accepted and not applied."""

import numpy as np


def resize(image, output_shape, order=1, anti_aliasing=None, **_):
    from scipy.ndimage import zoom

    image = np.asarray(image, dtype=np.float64)
    shape = tuple(output_shape) + image.shape[len(output_shape) :]
    factors = [o / i for o, i in zip(shape, image.shape)]
    return zoom(image, factors, order=order, output=np.float64, grid_mode=False)[
        tuple(slice(0, s) for s in shape)
    ]
