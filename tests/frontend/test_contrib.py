"""tf.contrib's names on kiln: contrib.layers, contrib.eager, contrib.factorization.

TensorFlow 2 has no tf.contrib; the facts here are TF 1.15's documented
behaviour: fully_connected makes `<scope>/weights` and `<scope>/biases`
(relu by default), conv2d `Conv/weights` [kh, kw, in, out]; l2_regularizer(s)
is s * sum(w^2) / 2, l1_regularizer(s) s * sum(|w|); variance_scaling's
normal is a truncated normal with stddev sqrt(1.3 factor / n) (so its
sample stddev is about sqrt(factor / n)), its uniform has limit
sqrt(3 factor / n)."""

import numpy as np
import pytest

import kiln as tf

layers = tf.contrib.layers


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _value(t):
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        return s.run(t)


def test_fully_connected_names_relu_and_regularizer():
    x = tf.constant(np.full((2, 3), -1.0, np.float32))
    y = layers.fully_connected(x, 4, weights_regularizer=layers.l2_regularizer(0.1))
    z = layers.fully_connected(y, 2, activation_fn=None, scope="out")
    names = [v.name for v in tf.trainable_variables()]
    assert names == [
        "fully_connected/weights:0",
        "fully_connected/biases:0",
        "out/weights:0",
        "out/biases:0",
    ]
    assert y.shape.as_list() == [2, 4] and z.shape.as_list() == [2, 2]
    (reg,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        w, yv, r = s.run([tf.trainable_variables()[0], y, reg])
    assert r == pytest.approx(0.1 * np.sum(w**2) / 2, rel=1e-5)
    np.testing.assert_allclose(yv, np.maximum(-np.ones((2, 3)) @ w, 0), rtol=1e-5)


def test_l1_regularizer_and_apply_regularization():
    w = tf.Variable(np.array([[1.0, -2.0], [3.0, -4.0]], np.float32))
    total = layers.apply_regularization(layers.l1_regularizer(0.5), [w])
    assert _value(total) == pytest.approx(5.0)
    assert layers.l2_regularizer(0.0)(w) is None


@pytest.mark.parametrize(
    "make, shape, want_std",
    [
        (lambda: layers.xavier_initializer(), [200, 300], np.sqrt(2.0 / 500)),
        (lambda: layers.xavier_initializer(uniform=False), [200, 300], np.sqrt(2.0 / 500)),
        (lambda: layers.variance_scaling_initializer(), [400, 100], np.sqrt(2.0 / 400)),
        (lambda: layers.variance_scaling_initializer(uniform=True), [400, 100], np.sqrt(2 / 400)),
        (lambda: layers.xavier_initializer_conv2d(), [3, 3, 16, 32], np.sqrt(2.0 / 432)),
    ],
)
def test_initializer_statistics(make, shape, want_std):
    v = tf.get_variable("w", shape, initializer=make())
    value = _value(v)
    assert abs(value.mean()) < 0.05 * want_std * 10
    assert value.std() == pytest.approx(want_std, rel=0.06)


def test_conv2d_pool_flatten_dropout_batch_norm():
    x = tf.placeholder(tf.float32, [None, 8, 8, 3])
    c = layers.conv2d(x, 4, 3)
    p = layers.max_pool2d(c, 2)
    f = layers.flatten(p)
    d = layers.dropout(f, keep_prob=0.5, is_training=False)
    b = layers.batch_norm(d, is_training=True)
    assert [v.name for v in tf.trainable_variables()][:2] == ["Conv/weights:0", "Conv/biases:0"]
    assert tf.trainable_variables()[0].shape.as_list() == [3, 3, 3, 4]
    assert c.shape.as_list() == [None, 8, 8, 4] and p.shape.as_list() == [None, 4, 4, 4]
    assert f.shape.as_list() == [None, 64]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        xv = np.random.default_rng(0).normal(size=(5, 8, 8, 3)).astype(np.float32)
        fv, dv, bv = s.run([f, d, b], {x: xv})
    np.testing.assert_array_equal(fv, dv)  # no dropout when not training
    np.testing.assert_allclose(bv.mean(axis=0), 0.0, atol=1e-4)


def test_eager_gradients_function_and_implicit_gradients():
    tfe = tf.contrib.eager
    with tf.eager_mode():
        (g,) = tfe.gradients_function(lambda x: x * x * x)(2.0)
        assert float(g) == pytest.approx(12.0)
        v = tf.Variable(3.0)
        ((grad, var),) = tfe.implicit_gradients(lambda: v * v)()
        assert var is v and float(grad) == pytest.approx(6.0)
        value, _ = tfe.implicit_value_and_gradients(lambda: v * 2.0)()
        assert float(value) == 6.0
        ds = tf.data.Dataset.from_tensor_slices(np.arange(3.0))
        assert [float(e) for e in tfe.Iterator(ds)] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("metric,mini", [("squared_euclidean", False), ("cosine", True)])
def test_kmeans_training_graph_finds_the_blobs(metric, mini):
    from kiln.contrib.factorization import KMeans

    rng = np.random.default_rng(1)
    centres = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]], np.float32)
    data = np.concatenate([c + 0.3 * rng.normal(size=(50, 2)) for c in centres]).astype(np.float32)
    X = tf.placeholder(tf.float32, [None, 2])
    km = KMeans(inputs=X, num_clusters=3, distance_metric=metric, use_mini_batch=mini)
    graph = km.training_graph()
    assert len(graph) == 7
    all_scores, cluster_idx, scores, initialized, centres_var, init_op, train_op = graph
    avg = tf.reduce_mean(scores[0])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer(), {X: data})
        assert not s.run(initialized)
        s.run(init_op, {X: data})
        assert s.run(initialized)
        first = s.run(avg, {X: data})
        for _ in range(20):
            _, d, idx = s.run([train_op, avg, cluster_idx[0]], {X: data})
    assert d <= first
    # each blob lands in one cluster (3 blobs, 3 labels)
    labels = [set(idx[i * 50 : (i + 1) * 50].tolist()) for i in range(3)]
    if metric == "squared_euclidean":
        assert all(len(lab) == 1 for lab in labels) and len(set.union(*labels)) == 3
        assert d < 0.5
    else:
        assert d < 0.05


def test_contrib_rnn_names_what_it_lacks():
    if hasattr(tf.nn, "rnn_cell"):
        assert tf.contrib.rnn.BasicLSTMCell is tf.nn.rnn_cell.BasicLSTMCell
    with pytest.raises(AttributeError, match="kiln does not implement tf.contrib.rnn.NoSuchCell"):
        tf.contrib.rnn.NoSuchCell  # noqa: B018


def test_legacy_seq2seq_losses_match_tensorflow():
    # TF 1.15's contrib.legacy_seq2seq over lists of time steps (MorvanZhou tf20_RNN2.2 passes
    # a squared error as softmax_loss_function); TF's numbers, from its 1.15 source run on 2.21
    logits = [
        tf.constant([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]),
        tf.constant([[0.2, 0.1, 1.1], [1.5, 0.5, 0.3]]),
    ]
    targets = [tf.constant([0, 1]), tf.constant([2, 2])]
    weights = [tf.constant([1.0, 0.5]), tf.constant([1.0, 1.0])]
    s2s = tf.contrib.legacy_seq2seq
    by_example = s2s.sequence_loss_by_example(logits, targets, weights)
    total = s2s.sequence_loss(logits, targets, weights)
    mse = s2s.sequence_loss_by_example(
        [tf.constant([1.0, 2.0, 3.0])],
        [tf.constant([1.5, 2.0, 2.0])],
        [tf.ones([3])],
        softmax_loss_function=lambda labels, logits: tf.square(labels - logits),
    )
    with tf.Session() as sess:
        a, b, c = sess.run([by_example, total, mse])
    np.testing.assert_allclose(a, [0.49526, 1.2148625], rtol=1e-5)
    np.testing.assert_allclose(b, 0.85506123, rtol=1e-5)
    np.testing.assert_allclose(c, [0.25, 0.0, 1.0], rtol=1e-5)
