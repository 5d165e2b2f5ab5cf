"""TF 1.x names and semantics MorvanZhou's tutorials (Tensorflow-Tutorial, tutorials/
tensorflowTUT) use, checked against TensorFlow's documented behaviour; the TensorFlow
numbers were computed once with tensorflow-cpu 2.21 (tf.compat.v1).
"""

import numpy as np
import pytest

import kiln as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_losses_cast_integer_labels_to_the_logits_dtype():
    # tf.losses.* cast labels (softmax/sigmoid: to the logits' dtype; the regression losses:
    # both to float32), so int32 one-hot labels fed to a float model are accepted
    y = tf.placeholder(tf.int32, [None, 3])
    logits = tf.constant([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    ce = tf.losses.softmax_cross_entropy(onehot_labels=y, logits=logits)
    sg = tf.losses.sigmoid_cross_entropy(y, logits)
    mse = tf.losses.mean_squared_error(tf.constant([[1, 0, 2], [0, 3, 1]]), logits)
    assert mse.dtype == tf.float32
    with tf.Session() as s:
        got = s.run([ce, sg, mse], {y: [[1, 0, 0], [0, 1, 0]]})
    np.testing.assert_allclose(got, [0.31853974, 0.6819847, 1.0999999], rtol=1e-5)
