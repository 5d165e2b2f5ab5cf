"""tf.layers.conv2d_transpose and the layer objects (tf.layers.Dense, ...).
TF's numbers: tensorflow-cpu 2.21's tf.nn.conv2d_transpose with the same
kernel and output shapes TF 1.15's tf.layers.conv2d_transpose computes
((in - 1) * stride + k for "valid", in * stride for "same"), plus the bias."""

import numpy as np

import kiln as tf


def test_conv2d_transpose_matches_tensorflow():
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    k = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)
    outs = [
        tf.layers.conv2d_transpose(
            x,
            4,
            3,
            strides=2,
            padding=pad,
            kernel_initializer=tf.constant_initializer(k),
            bias_initializer=tf.constant_initializer(0.5),
        )
        for pad in ("same", "valid")
    ]
    assert [o.shape.as_list() for o in outs] == [[2, 6, 6, 4], [2, 7, 7, 4]]
    assert tf.trainable_variables()[0].name == "conv2d_transpose/kernel:0"
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        same, valid = s.run(outs)
    assert abs(same.sum() - 105.1523) < 1e-3
    assert abs(valid.sum() - 176.6591) < 1e-3
    np.testing.assert_allclose(same[0, :2, :2, 0], [[0.4349, 0.5747], [0.5997, 0.8707]], atol=1e-4)


def test_dense_object_shares_its_variables_between_calls():
    tf.reset_default_graph()
    d = tf.layers.Dense(3, kernel_initializer=tf.constant_initializer(np.arange(6.0).reshape(2, 3)))
    a = d(tf.constant([[1.0, 2.0]]))
    b = d(tf.constant([[3.0, 4.0]]))
    assert [v.name for v in tf.trainable_variables()] == ["dense/kernel:0", "dense/bias:0"]
    assert d.kernel.name == "dense/kernel:0" and len(d.trainable_weights) == 2
    other = tf.layers.Dense(2)
    other(a)
    assert other.name == "dense_1"
    flat = tf.layers.Flatten()(tf.zeros([2, 3, 4]))
    assert flat.shape.as_list() == [2, 12]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(a).tolist() == [[6.0, 9.0, 12.0]]
        assert s.run(b).tolist() == [[12.0, 19.0, 26.0]]
