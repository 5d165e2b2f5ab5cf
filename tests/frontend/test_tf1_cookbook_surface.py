"""TF 1.x names nfmcclure/tensorflow_cookbook's programs use (benchmarks/tf_corpus,
cb_ programs): tf.linalg's diagonals, cross product and factorizations with their
TF 1.x top-level names, tf.tan, tf.nn.softsign, tf.nn.weighted_cross_entropy_with_logits,
tf.unsorted_segment_sum, squeeze of a partly unknown shape, an int placeholder shape.
The expected values are TensorFlow 2.21's (tf.compat.v1) for the same inputs."""

import numpy as np
import pytest

import kiln as tf


@pytest.fixture
def sess():
    tf.reset_default_graph()
    with tf.Session() as s:
        yield s


def test_elementwise_composites_match_tensorflow(sess):
    assert np.allclose(sess.run(tf.nn.softsign([-2.0, 0.0, 3.0])), [-0.6666667, 0.0, 0.75])
    assert tf.math.softsign is tf.nn.softsign
    assert np.allclose(sess.run(tf.tan([0.5, -1.2])), [0.5463025, -2.572152], rtol=1e-6)
    assert tf.math.tan is tf.tan
    got = sess.run(tf.cross([[1.0, 2, 3]], [[4.0, 5, 6]]))
    assert np.array_equal(got, [[-3.0, 6.0, -3.0]]) and tf.linalg.cross is tf.cross


def test_weighted_cross_entropy_values_and_gradient(sess):
    loss = tf.nn.weighted_cross_entropy_with_logits(
        labels=[1.0, 0.0, 1.0, 0.3], logits=[0.5, -1.0, 2.0, -30.0], pos_weight=2.0
    )
    assert np.allclose(sess.run(loss), [0.948154, 0.31326175, 0.253856, 18.0], rtol=1e-6)
    x = tf.constant([0.5, -1.0])
    total = tf.reduce_sum(
        tf.nn.weighted_cross_entropy_with_logits(labels=[1.0, 0.0], logits=x, pos_weight=3.0)
    )
    assert np.allclose(sess.run(tf.gradients(total, x))[0], [-1.132622, 0.2689414], rtol=1e-6)


def test_diagonals(sess):
    assert np.array_equal(sess.run(tf.diag([1.0, 2.0])), [[1.0, 0.0], [0.0, 2.0]])
    assert np.array_equal(sess.run(tf.matrix_diag_part([[1.0, 2], [3, 4]])), [1.0, 4.0])
    assert np.array_equal(sess.run(tf.linalg.diag_part([[1.0, 2], [3, 4]])), [1.0, 4.0])
    batch = sess.run(tf.linalg.diag([[1.0, 2.0], [3.0, 4.0]]))
    assert batch.shape == (2, 2, 2) and np.array_equal(batch[1], [[3.0, 0.0], [0.0, 4.0]])


def test_factorizations_on_the_host(sess):
    assert np.allclose(sess.run(tf.matrix_inverse([[2.0, 0], [1, 1]])), [[0.5, 0.0], [-0.5, 1.0]])
    chol = sess.run(tf.cholesky([[4.0, 2], [2, 3]]))
    assert np.allclose(chol, [[2.0, 0.0], [1.0, 1.4142135]])
    assert np.isclose(sess.run(tf.matrix_determinant([[2.0, 1], [1, 3]])), 5.0)
    values, vectors = sess.run(tf.self_adjoint_eig([[2.0, 1], [1, 2]]))
    assert np.allclose(values, [0.99999994, 2.9999998])
    assert np.allclose(np.abs(vectors), 0.70710677)
    got = sess.run(tf.matrix_solve([[2.0, 1], [0, 4]], [[2.0], [4.0]]))
    assert np.allclose(got, [[0.5], [1.0]]) and tf.linalg.solve is tf.matrix_solve
    x = tf.placeholder(tf.float32, [None, 3])
    normal = tf.matmul(tf.matrix_inverse(tf.matmul(x, x, transpose_a=True)), x, transpose_b=True)
    a = np.random.RandomState(0).rand(5, 3).astype(np.float32)
    assert np.allclose(sess.run(normal, {x: a}), np.linalg.pinv(a), atol=1e-4)


def test_unsorted_segment_sum(sess):
    got = sess.run(tf.unsorted_segment_sum([[1.0, 2], [3, 4], [5, 6]], [0, 2, 0], 3))
    assert np.array_equal(got, [[6.0, 8.0], [0.0, 0.0], [3.0, 4.0]])
    assert tf.math.unsorted_segment_sum is tf.unsorted_segment_sum


def test_squeeze_keeps_unknown_dims_and_int_placeholder_shape(sess):
    p = tf.placeholder(tf.float32, [None, 1])
    squeezed = tf.squeeze(p)
    assert squeezed.shape.as_list() == [None]
    assert np.array_equal(sess.run(squeezed, {p: [[1.0], [2.0]]}), [1.0, 2.0])  # TF: [1. 2.]
    assert tf.placeholder(tf.int32, shape=(5)).shape.as_list() == [5]
