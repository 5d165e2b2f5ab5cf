"""tf.image's random colour adjustments (a factor drawn anew each run, within its range) and
resize_image_with_crop_or_pad (TensorFlow 2.21's numbers, computed once and stored here)."""

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.graph import GraphError


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_resize_with_crop_or_pad_matches_tensorflow():
    a = np.arange(2 * 5 * 3 * 3).reshape(2, 5, 3, 3).astype(np.float32)
    out = tf.image.resize_image_with_crop_or_pad(a, 3, 6)
    assert out.shape.as_list() == [2, 3, 6, 3]
    got = tf.Session().run(out)
    want = [[0.0, 9.0, 12.0, 15.0, 0.0, 0.0], [0.0, 18.0, 21.0, 24.0, 0.0, 0.0],
            [0.0, 27.0, 30.0, 33.0, 0.0, 0.0]]  # fmt: skip
    assert got[0, :, :, 0].tolist() == want
    assert tf.Session().run(tf.image.resize_with_crop_or_pad(a[0], 5, 3)).tolist() == a[0].tolist()


def test_random_brightness_and_contrast_draw_within_their_ranges():
    rng = np.random.default_rng(0)
    image = rng.random((4, 5, 3)).astype(np.float32)
    x = tf.constant(image)
    bright = tf.image.random_brightness(x, 0.2, seed=1)
    contrast = tf.image.random_contrast(x, 0.5, 1.5, seed=2)
    with tf.Session() as sess:
        deltas, factors = [], []
        for _ in range(6):
            b, c = sess.run([bright, contrast])
            d = b - image
            assert np.allclose(d, d.flat[0], atol=1e-6) and -0.2 <= d.flat[0] < 0.2
            deltas.append(float(d.flat[0]))
            mean = image.mean(axis=(0, 1), keepdims=True)
            f = (c - mean) / (image - mean)
            assert np.allclose(f, f.flat[0], atol=1e-4) and 0.5 <= f.flat[0] < 1.5
            factors.append(float(f.flat[0]))
    assert len(set(np.round(deltas, 6))) > 1 and len(set(np.round(factors, 4))) > 1


def test_random_saturation_and_hue_keep_uint8_images_in_range():
    image = np.random.default_rng(1).integers(0, 256, (6, 6, 3)).astype(np.uint8)
    out = tf.Session().run(
        [tf.image.random_saturation(image, 0.5, 2.0, seed=3), tf.image.random_hue(image, 0.1)]
    )
    for o in out:
        assert o.dtype == np.uint8 and o.shape == image.shape
    gray = np.repeat(image[..., :1], 3, axis=-1)  # no saturation: hue and saturation keep it
    same = tf.Session().run(tf.image.random_hue(gray, 0.4, seed=4))
    assert np.abs(same.astype(int) - gray).max() <= 1


def test_bad_ranges_are_errors():
    x = tf.zeros([2, 2, 3])
    with pytest.raises(GraphError, match="0 <= lower < upper"):
        tf.image.random_contrast(x, 1.5, 0.5)
    with pytest.raises(GraphError, match=r"max_delta must be in \[0, 0.5\]"):
        tf.image.random_hue(x, 0.7)
    with pytest.raises(GraphError, match="max_delta must be >= 0"):
        tf.image.random_brightness(x, -1.0)
