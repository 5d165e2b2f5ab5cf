"""tf.contrib.tensor_forest on kiln: the random forest of TensorFlow-Examples'
random_forest.py, graph mode, with TF 1.15's API (ForestHParams(...).fill(),
RandomForestGraphs.training_graph / training_loss / inference_graph, and
tensorflow.python.ops.resources to initialise the forest).

TF 1.15's documented facts checked: fill() sets num_splits_to_consider to
max(10, floor(sqrt(num_features))) (capped at 1000) and num_output_columns to
num_classes + 1; training_loss is minus the average tree size; inference_graph
returns (probabilities, tree_paths, variance) with probabilities of shape
[batch, num_classes] that sum to 1."""

import numpy as np
import pytest

import kiln as tf
from kiln.contrib.tensor_forest.python import tensor_forest
from kiln.python.ops import resources


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _blobs(n, seed, num_features=6, num_classes=3):
    """Separable classes: class c has its features near 3 * c on the first two axes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    x = rng.normal(size=(n, num_features)).astype(np.float32)
    x[:, 0] += 3.0 * y
    x[:, 1] -= 3.0 * y
    return x, y.astype(np.int32)


def _forest(num_features=6, num_classes=3, **kwargs):
    X = tf.placeholder(tf.float32, shape=[None, num_features])
    Y = tf.placeholder(tf.int32, shape=[None])
    hparams = tensor_forest.ForestHParams(
        num_classes=num_classes, num_features=num_features, base_random_seed=7, **kwargs
    ).fill()
    return X, Y, hparams, tensor_forest.RandomForestGraphs(hparams)


def test_fill_derives_tf_defaults():
    h = tensor_forest.ForestHParams(num_classes=10, num_features=784, num_trees=10).fill()
    assert h.num_splits_to_consider == 28 and h.num_output_columns == 11
    assert h.split_after_samples == 250 and h.max_nodes == 10000
    small = tensor_forest.ForestHParams(num_classes=2, num_features=5).fill()
    assert small.num_splits_to_consider == 10
    with pytest.raises(tf.KilnError, match="num_features"):
        tensor_forest.ForestHParams(num_classes=2).fill()


def test_forest_grows_and_fits_separable_classes():
    X, Y, hparams, forest = _forest(num_trees=5, max_nodes=64, split_after_samples=20)
    train_op = forest.training_graph(X, Y)
    loss_op = forest.training_loss(X, Y)
    probs, paths, variance = forest.inference_graph(X)
    accuracy = tf.reduce_mean(
        tf.cast(tf.equal(tf.argmax(probs, 1), tf.cast(Y, tf.int64)), tf.float32)
    )
    init = tf.group(
        tf.global_variables_initializer(),
        resources.initialize_resources(resources.shared_resources()),
    )
    sess = tf.Session()
    sess.run(init)
    losses = []
    for step in range(15):
        bx, by = _blobs(128, step)
        _, loss = sess.run([train_op, loss_op], feed_dict={X: bx, Y: by})
        losses.append(loss)
    assert losses[-1] < losses[0] < 0  # minus the average size: the trees grew
    assert -losses[-1] <= hparams.max_nodes
    tx, ty = _blobs(300, 99)
    p, tp, v = sess.run([probs, paths, variance], feed_dict={X: tx})
    assert p.shape == (300, 3) and tp.shape == (300, 5) and v.shape == (300, 3)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert (v >= 0).all()
    assert sess.run(accuracy, feed_dict={X: tx, Y: ty}) > 0.9
    # running the initializer again empties the forest
    sess.run(init)
    assert sess.run(loss_op) == -1.0


def test_bagging_and_feature_bagging_still_learn():
    X, Y, hparams, forest = _forest(
        num_trees=4,
        max_nodes=64,
        split_after_samples=20,
        bagging_fraction=0.6,
        feature_bagging_fraction=0.5,
    )
    assert all(len(f) == 3 for f in hparams.bagged_features)
    train_op = forest.training_graph(X, Y)
    probs, _, _ = forest.inference_graph(X)
    sess = tf.Session()
    sess.run(resources.initialize_resources(resources.shared_resources()))
    for step in range(15):
        bx, by = _blobs(128, step)
        sess.run(train_op, feed_dict={X: bx, Y: by})
    tx, ty = _blobs(300, 98)
    predicted = sess.run(probs, feed_dict={X: tx}).argmax(1)
    assert (predicted == ty).mean() > 0.85


def test_bad_inputs_are_kiln_errors():
    X, Y, _, forest = _forest()
    train_op = forest.training_graph(X, Y)
    probs, _, _ = forest.inference_graph(X)
    sess = tf.Session()
    bx, by = _blobs(32, 0)
    with pytest.raises(tf.errors.FailedPreconditionError, match="initialize_resources"):
        sess.run(train_op, feed_dict={X: bx, Y: by})
    sess.run(resources.initialize_resources(resources.shared_resources()))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"class ids in \[0, 3\)"):
        sess.run(train_op, feed_dict={X: bx, Y: by + 3})
    with pytest.raises(tf.errors.InvalidArgumentError, match="32 examples but 5 labels"):
        sess.run(train_op, feed_dict={X: bx, Y: by[:5]})
    wide = tf.placeholder(tf.float32, shape=[None, 9])
    with pytest.raises(tf.KilnError, match=r"\[batch, 6\] \(num_features\)"):
        forest.inference_graph(wide)
    loose = tf.placeholder(tf.float32, shape=None)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"got \[32, 4\]"):
        sess.run(forest.inference_graph(loose)[0], feed_dict={loose: bx[:, :4]})


def test_resources_registry():
    assert resources.shared_resources() == []
    assert resources.initialize_resources([]) is not None  # a no-op to run
    _forest()
    (res,) = resources.shared_resources()
    sess = tf.Session()
    assert not sess.run(res.is_initialized)
    sess.run(resources.initialize_resources([res]))
    assert sess.run(res.is_initialized)
