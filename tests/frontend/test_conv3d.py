"""tf.nn.conv3d / max_pool3d / avg_pool3d and keras Conv3D / MaxPooling3D /
AveragePooling3D (NDHWC), lowered onto 2-D ops per depth tap.

TF_* are TensorFlow 2's (tf-cpu) figures for the same programs: the output
shape, sum(y * cos(arange)) and the sums of squares of that loss's gradients."""

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.eager import eager_mode

CONV = [  # x shape, filter shape, strides, padding, dilations
    ((2, 4, 5, 4, 2), (2, 3, 2, 2, 3), (1, 1, 1), "VALID", (1, 1, 1)),
    ((1, 5, 4, 5, 3), (3, 2, 3, 3, 2), (2, 1, 2), "SAME", (1, 1, 1)),
    ((2, 6, 5, 4, 1), (2, 2, 2, 1, 2), (1, 2, 1), "VALID", (2, 1, 1)),
    ((1, 3, 3, 3, 2), (1, 1, 1, 2, 4), (1, 1, 1), "SAME", (1, 1, 1)),
]
TF_CONV = [  # shape, loss, sum(dx^2), sum(dw^2)
    ([2, 3, 3, 3, 3], 0.49148720502853394, 1518.459716796875, 2.557447910308838),
    ([1, 3, 4, 3, 2], -3.4532341957092285, 2195.32080078125, 1014.1837158203125),
    ([2, 4, 2, 3, 2], 2.1284255981445312, 157.29380798339844, 1.2657402753829956),
    ([1, 3, 3, 3, 4], -0.18013465404510498, 65.38460540771484, 1.8730847835540771),
]
POOL = [  # x shape, ksize, strides, padding
    ((2, 4, 5, 4, 2), (2, 2, 2), (2, 2, 2), "VALID"),
    ((1, 5, 4, 5, 3), (3, 2, 3), (2, 1, 2), "SAME"),
    ((1, 4, 3, 3, 2), (2, 3, 1), (1, 1, 1), "SAME"),
]
TF_POOL = {  # shape, loss, sum(dx^2)
    "max": [
        ([2, 2, 2, 2, 2], 0.20664110779762268, 16.299720764160156),
        ([1, 3, 4, 3, 3], 0.6766114234924316, 18.022974014282227),
        ([1, 4, 3, 3, 2], 1.2048907279968262, 75.88490295410156),
    ],
    "avg": [
        ([2, 2, 2, 2, 2], -0.038993172347545624, 2.0374650955200195),
        ([1, 3, 4, 3, 3], -0.12855708599090576, 0.8497254848480225),
        ([1, 4, 3, 3, 2], 1.1588194370269775, 34.38859558105469),
    ],
}


def data(shape, phase, dtype=np.float32):
    return np.sin(np.arange(np.prod(shape)) * 0.37 + phase).reshape(shape).astype(dtype)


def weighted(y):
    shape = y.shape.as_list()
    return tf.reduce_sum(y * np.cos(np.arange(np.prod(shape), dtype=np.float32)).reshape(shape))


@pytest.mark.parametrize("case,expected", list(zip(CONV, TF_CONV)))
def test_conv3d_matches_tensorflow(case, expected):
    xs, ws, st, pad, dil = case
    with tf.Graph().as_default():
        x, w = tf.constant(data(xs, 0.0)), tf.constant(data(ws, 1.0))
        y = tf.nn.conv3d(x, w, [1, *st, 1], pad, dilations=[1, *dil, 1])
        loss = weighted(y)
        gx, gw = tf.gradients(loss, [x, w])
        with tf.Session() as sess:
            got = sess.run([loss, tf.reduce_sum(gx * gx), tf.reduce_sum(gw * gw)])
    assert y.shape.as_list() == expected[0]
    np.testing.assert_allclose(got, expected[1:], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("index", range(len(POOL)))
def test_pool3d_matches_tensorflow(kind, index):
    xs, k, st, pad = POOL[index]
    expected = TF_POOL[kind][index]
    fn = tf.nn.max_pool3d if kind == "max" else tf.nn.avg_pool3d
    with tf.Graph().as_default():
        x = tf.constant(data(xs, 0.0))
        y = fn(x, [1, *k, 1], [1, *st, 1], pad)
        loss = weighted(y)
        (gx,) = tf.gradients(loss, [x])
        with tf.Session() as sess:
            got = sess.run([loss, tf.reduce_sum(gx * gx)])
    assert y.shape.as_list() == expected[0]
    np.testing.assert_allclose(got, expected[1:], rtol=2e-5, atol=2e-6)


def _finite_differences(sess, loss, feed, x, x0, eps=1e-6):
    fd = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = eps
        hi = sess.run(loss, {**feed, x: x0 + d})
        lo = sess.run(loss, {**feed, x: x0 - d})
        fd[i] = (hi - lo) / (2 * eps)
    return fd


@pytest.mark.parametrize("op", ["conv", "max", "avg"])
def test_gradients_match_finite_differences_with_unknown_batch(op):
    x0 = data((2, 3, 4, 3, 2), 0.3, np.float64)
    w0 = data((2, 2, 2, 2, 2), 1.1, np.float64)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 3, 4, 3, 2])
        w = tf.placeholder(tf.float64, [2, 2, 2, 2, 2])
        if op == "conv":
            y = tf.nn.conv3d(x, w, [1, 2, 1, 1, 1], "SAME")
        elif op == "max":
            y = tf.nn.max_pool3d(x, [1, 2, 2, 2, 1], [1, 1, 2, 1, 1], "SAME") * tf.reduce_sum(w)
        else:
            y = tf.nn.avg_pool3d(x, [1, 2, 3, 2, 1], [1, 2, 1, 1, 1], "SAME") * tf.reduce_sum(w)
        loss = tf.reduce_sum(y * data(y.shape.as_list()[1:], 2.0, np.float64))
        gx, gw = tf.gradients(loss, [x, w])
        with tf.Session() as sess:
            feed = {x: x0, w: w0}
            got_x, got_w = sess.run([gx, gw], feed)
            fd_x = _finite_differences(sess, loss, {w: w0}, x, x0)
            fd_w = _finite_differences(sess, loss, {x: x0}, w, w0)
    np.testing.assert_allclose(got_x, fd_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got_w, fd_w, rtol=1e-6, atol=1e-8)


def test_keras_layers_match_tensorflow():
    with eager_mode():
        layers = tf.keras.layers
        conv = layers.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding="same", activation="tanh")
        model = tf.keras.Sequential(
            [
                tf.keras.Input((5, 6, 4, 2)),
                conv,
                layers.MaxPooling3D(2, padding="same"),
                layers.AveragePooling3D((1, 2, 2), strides=1),
            ]
        )
        conv.set_weights([data((2, 3, 2, 2, 3), 1.0), data((3,), 2.0)])
        x = tf.constant(data((2, 5, 6, 4, 2), 0.0))
        with tf.GradientTape() as tape:
            y = model(x)
            loss = weighted(y)
        gk, gb = tape.gradient(loss, conv.trainable_variables)
        assert y.shape.as_list() == [2, 3, 1, 1, 3]
        np.testing.assert_allclose(float(loss), -0.1839752197265625, rtol=1e-5)
        np.testing.assert_allclose(float(tf.reduce_sum(gk * gk)), 0.15104880928993225, rtol=1e-5)
        np.testing.assert_allclose(
            gb.numpy(), [-0.06455168128013611, -0.0583065003156662, -0.1643412709236145], rtol=1e-5
        )


def test_ncdhw_is_the_transposed_ndhwc():
    x0 = data((2, 5, 4, 6, 3), 0.5)
    w0 = data((2, 2, 3, 3, 2), 1.5)
    to_ncdhw = [0, 4, 1, 2, 3]
    with tf.Graph().as_default():
        x = tf.constant(x0.transpose(to_ncdhw))
        got = [
            tf.nn.conv3d(x, w0, [1, 1, 2, 1, 2], "SAME", data_format="NCDHW"),
            tf.nn.max_pool3d(x, [1, 1, 2, 2, 3], [1, 1, 2, 1, 2], "SAME", data_format="NCDHW"),
            tf.nn.avg_pool3d(x, [1, 1, 3, 1, 2], [1, 1, 1, 2, 1], "VALID", data_format="NCDHW"),
        ]
        want = [
            tf.nn.conv3d(x0, w0, [1, 2, 1, 2, 1], "SAME"),
            tf.nn.max_pool3d(x0, [1, 2, 2, 3, 1], [1, 2, 1, 2, 1], "SAME"),
            tf.nn.avg_pool3d(x0, [1, 3, 1, 2, 1], [1, 1, 2, 1, 1], "VALID"),
        ]
        with tf.Session() as sess:
            for g, w in zip(sess.run(got), sess.run(want)):
                np.testing.assert_array_equal(g, w.transpose(to_ncdhw))


def test_bad_inputs_are_named():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, None, 4, 4, 2])
        with pytest.raises(tf.GraphError, match="conv3d: kiln needs a rank-5 input with static"):
            tf.nn.conv3d(x, np.zeros((1, 1, 1, 2, 2), np.float32), [1] * 5, "VALID")
        x = tf.zeros([1, 2, 4, 4, 2])
        with pytest.raises(tf.GraphError, match="filter takes 3 channels"):
            tf.nn.conv3d(x, np.zeros((1, 1, 1, 3, 2), np.float32), [1] * 5, "VALID")
        with pytest.raises(tf.GraphError, match="depth window of 3 does not fit in depth 2"):
            tf.nn.max_pool3d(x, [1, 3, 1, 1, 1], [1] * 5, "VALID")
        with pytest.raises(tf.GraphError, match="only the spatial dims"):
            tf.nn.avg_pool3d(x, [2, 1, 1, 1, 1], [1] * 5, "VALID")
