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


def test_matrix_diag_part_of_a_run_time_size(sess):
    x = tf.placeholder(tf.float32, [None, None, None])
    d = tf.matrix_diag_part(x)
    assert d.shape.as_list() == [None, None]
    value = np.arange(12.0).reshape(2, 2, 3)  # TF: the diagonal of each non-square matrix too
    assert np.array_equal(sess.run(d, {x: value}), [[0.0, 4.0], [6.0, 10.0]])


def test_dropout_with_a_keep_prob_placeholder_keeps_the_shape(sess):
    x = tf.placeholder(tf.float32, [None, 3])
    keep = tf.placeholder(tf.float32)  # no shape, as the cookbook writes it
    assert tf.nn.dropout(x, keep).shape.as_list() == [None, 3]
    cell = tf.contrib.rnn.DropoutWrapper(tf.contrib.rnn.BasicLSTMCell(4), output_keep_prob=keep)
    outputs, _ = tf.nn.static_rnn(cell, [x, x], dtype=tf.float32)
    assert outputs[0].shape.as_list() == [None, 4]
    dropped = tf.nn.dropout(x, keep)
    sess.run(tf.global_variables_initializer())
    ones = np.ones((2, 3), np.float32)
    assert np.array_equal(sess.run(dropped, {x: ones, keep: 1.0}), ones)


def test_tf_test_case_evaluates_in_a_default_session():
    class Probe(tf.test.TestCase):  # defined here: pytest collects TestCase subclasses
        def runTest(self):  # noqa: N802  (unittest's name)
            with self.test_session():
                self.assertEqual(tf.constant(3.0).eval(), 3.0)
            self.assertAllClose(tf.constant([1.0, 2.0]), [1.0, 2.0])
            self.assertShapeEqual(np.ones([2, 5]), tf.zeros([2, 5]))

    result = Probe().run()
    assert result.wasSuccessful(), result.errors + result.failures
    assert tf.test.is_built_with_cuda() is False and tf.test.is_gpu_available() is False


def test_vocabulary_processor_follows_tf_1_15():
    # TF 1.15's VocabularyProcessor (contrib.learn, absent from TF 2): ids by first
    # appearance; min_frequency=1 keeps words seen twice or more, renumbered by falling
    # count with ties alphabetical (a:3 cat:3, then and dog sat the: 2)
    vp_cls = tf.contrib.learn.preprocessing.VocabularyProcessor
    docs = ["the cat sat on the mat", "The dog sat", "a cat and a dog and a cat", "USA won"]
    vp = vp_cls(5, min_frequency=1)
    ids = np.array(list(vp.fit_transform(docs)))
    assert ids.tolist() == [[6, 2, 5, 0, 6], [0, 4, 5, 0, 0], [1, 2, 3, 1, 4], [0, 0, 0, 0, 0]]
    assert len(vp.vocabulary_) == 7
    plain = vp_cls(4)
    assert np.array(list(plain.fit_transform(docs)))[1].tolist() == [6, 7, 3, 0]
    assert next(plain.transform(["zebra cat"])).tolist() == [0, 2, 0, 0]


def test_legacy_rnn_decoder_shares_variables_and_loops(sess):
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    inputs = [tf.constant(np.full((2, 3), v, np.float32)) for v in (1.0, 2.0, 3.0)]
    seen = []

    def loop(prev, i):
        seen.append(i)
        return prev

    outputs, state = tf.contrib.legacy_seq2seq.rnn_decoder(
        inputs, tf.zeros([2, 3]), cell, loop_function=loop
    )
    assert len(outputs) == 3 and seen == [1, 2] and len(tf.trainable_variables()) == 2
    sess.run(tf.global_variables_initializer())
    out, last = sess.run([outputs, state])
    assert np.allclose(out[-1], last)


def test_edit_distance_matches_tensorflow(sess):
    # the cookbook's own tensors: a repeated index, indices past the dense shape
    h1 = tf.SparseTensor([[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3]], list("bear"), [1, 1, 1])
    t1 = tf.SparseTensor(
        [[0, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 3], [0, 0, 4]], list("beers"), [1, 1, 1]
    )
    assert sess.run(tf.edit_distance(h1, t1, normalize=False)).tolist() == [[2.0]]
    h = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], [1, 2, 3], [3, 2])
    t = tf.SparseTensor([[0, 0], [2, 0]], [1, 5], [3, 2])
    assert sess.run(tf.edit_distance(h, t)).tolist() == [1.0, np.inf, 1.0]  # TF's values
    assert sess.run(tf.edit_distance(h, t, normalize=False)).tolist() == [1.0, 1.0, 1.0]


def test_sparse_placeholder_feeds_a_sparse_tensor_value(sess):
    hyp, ref = tf.sparse_placeholder(tf.string), tf.sparse_placeholder(tf.string)
    dist = tf.edit_distance(hyp, ref, normalize=True)
    a = tf.SparseTensorValue([[0, 0, 0], [0, 0, 1], [1, 0, 0]], [b"a", b"b", b"c"], [2, 1, 2])
    b = tf.SparseTensorValue([[0, 0, 0], [1, 0, 0], [1, 0, 1]], [b"a", b"c", b"d"], [2, 1, 2])
    assert sess.run(dist, {hyp: a, ref: b}).tolist() == [[1.0], [0.5]]  # TF: [[1.], [0.5]]
    assert sess.run(tf.sparse.to_dense(hyp, default_value=b""), {hyp: a})[1, 0, 0] == b"c"
