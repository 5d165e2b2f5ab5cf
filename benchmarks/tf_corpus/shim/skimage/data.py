"""skimage.data.astronaut() as a generated 512x512 RGB uint8 image (smooth gradients, seeded)."""

import numpy as np


def astronaut():
    y, x = np.mgrid[0:512, 0:512] / 511.0
    rng = np.random.RandomState(0)
    img = np.stack([x, y, (x + y) / 2], axis=-1) * 200 + rng.uniform(0, 55, (512, 512, 3))
    return img.astype(np.uint8)
