"""tf.image.adjust_jpeg_quality / random_jpeg_quality and tf.io.encode_jpeg / encode_png
(Pillow's codec: its pixels are not libjpeg-turbo's, so TensorFlow 2.21's mean errors,
computed once on this smooth image and stored here, are matched within a margin)."""

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.graph import GraphError

# TensorFlow 2.21: mean |adjust_jpeg_quality(img, q) - img| of the float image below
TF_MEAN_ERROR = {20: 0.021191, 60: 0.013982, 95: 0.010020}
TF_UINT8_Q50_ERROR = 4.0825  # the same image as uint8 (levels)


def _image() -> np.ndarray:
    y, x = np.mgrid[0:32, 0:48].astype(np.float32)
    channels = [np.sin(x / 5) * 0.5 + 0.5, np.cos(y / 7) * 0.5 + 0.5, (x + y) / 80]
    return np.stack(channels, -1).astype(np.float32)


def test_adjust_jpeg_quality_loses_what_tensorflow_loses():
    img = _image()
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, [None, None, 3])
        outs = {q: tf.image.adjust_jpeg_quality(p, q) for q in TF_MEAN_ERROR}
        got = tf.Session().run(outs, {p: img})
    errors = {q: float(np.abs(got[q] - img).mean()) for q in got}
    for q in (20, 60):
        assert errors[q] == pytest.approx(TF_MEAN_ERROR[q], rel=0.15), (q, errors[q])
    assert errors[95] <= TF_MEAN_ERROR[95] and errors[95] < errors[60] < errors[20]
    assert all(v.dtype == np.float32 and v.shape == img.shape for v in got.values())
    with tf.eager_mode():
        u8 = (img * 255).astype(np.uint8)
        out = tf.image.adjust_jpeg_quality(u8, 50).numpy()
        assert out.dtype == np.uint8 and out.shape == u8.shape
        error = np.abs(out.astype(int) - u8).mean()
        assert error == pytest.approx(TF_UINT8_Q50_ERROR, rel=0.15)


def test_random_jpeg_quality_draws_a_quality_in_its_range():
    img = _image()
    with tf.eager_mode():
        error = np.abs(tf.image.random_jpeg_quality(img, 20, 21, seed=3).numpy() - img).mean()
        want = np.abs(tf.image.adjust_jpeg_quality(img, 20).numpy() - img).mean()
        assert error == pytest.approx(want)
        with pytest.raises(GraphError, match="min_jpeg_quality < max_jpeg_quality"):
            tf.image.random_jpeg_quality(img, 50, 40)
        with pytest.raises(GraphError, match=r"\[0, 100\]"):
            tf.image.adjust_jpeg_quality(img, 101)


def test_encoded_images_decode_again():
    u8 = (_image() * 255).astype(np.uint8)
    with tf.eager_mode():
        png = tf.io.encode_png(u8)
        assert png.dtype == tf.string and png.numpy()[:4] == b"\x89PNG"
        np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), u8)  # lossless
        jpeg = tf.image.encode_jpeg(u8, quality=90)
        assert jpeg.numpy()[:2] == b"\xff\xd8"
        back = tf.io.decode_jpeg(jpeg).numpy()
        assert back.shape == u8.shape and np.abs(back.astype(int) - u8).mean() < 3
        with pytest.raises(GraphError, match="must be uint8, not float32"):
            tf.image.encode_jpeg(_image())


# TensorFlow 2.21: (shape, fraction) -> (cropped shape, its first element of arange)
TF_CENTRAL_CROPS = [
    ((32, 48, 3), 0.5, (16, 24, 3), 1188.0),
    ((33, 47, 1), 0.7, (25, 33, 1), 195.0),
    ((2, 10, 9, 3), 0.33, (2, 4, 3, 3), 90.0),
    ((5, 5, 2), 1.0, (5, 5, 2), 0.0),
]


@pytest.mark.parametrize("shape, fraction, want, first", TF_CENTRAL_CROPS)
def test_central_crop_takes_tensorflows_box(shape, fraction, want, first):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    with tf.eager_mode():
        y = tf.image.central_crop(x, fraction).numpy()
    assert y.shape == want and y.reshape(-1)[0] == first
    with tf.Graph().as_default():  # H and W known at run time only: the same box
        p = tf.placeholder(tf.float32, [None] * (len(shape) - 1) + [shape[-1]])
        np.testing.assert_array_equal(
            tf.Session().run(tf.image.central_crop(p, fraction), {p: x}), y
        )
        with pytest.raises(GraphError, match=r"central_fraction must be in \(0, 1\]"):
            tf.image.central_crop(p, 0.0)
