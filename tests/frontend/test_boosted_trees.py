"""Boosted trees on kiln: tf.estimator.BoostedTreesClassifier / Regressor (TF 2's
API: feature columns, numpy_input_fn) and tf.contrib.boosted_trees'
GradientBoostedDecisionTreeClassifier with a LearnerConfig (TF 1.15), as
TensorFlow-Examples' programs use them.

TF's documented facts checked: the metric keys evaluate returns (binary:
accuracy, accuracy_baseline, auc, auc_precision_recall, average_loss,
label/mean, loss, precision, prediction/mean, recall; regressor: average_loss,
label/mean, loss, prediction/mean; each with global_step), the prediction keys,
training stopping once the ensemble has n_trees trees, and LearnerConfig's
fields and enum values (learner.proto)."""

import numpy as np
import pytest

import kiln as tf
from kiln.contrib.boosted_trees.estimator_batch.estimator import (
    GradientBoostedDecisionTreeClassifier,
)
from kiln.contrib.boosted_trees.proto import learner_pb2
from kiln.estimator.tree_ensemble import BoostingParams, TreeEnsemble


def _blobs(n, seed, num_classes=3, num_features=4, gap=1.0):
    """Classes apart on the first two features (by about 3.6 gap standard deviations)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    x = rng.normal(size=(n, num_features))
    x[:, 0] += 3.0 * gap * y
    x[:, 1] -= 2.0 * gap * y
    return x.astype(np.float32), y


def _input(x, y, epochs, shuffle, batch_size=100):
    return tf.estimator.inputs.numpy_input_fn(
        x={"x": x}, y=y, batch_size=batch_size, num_epochs=epochs, shuffle=shuffle
    )


def test_ensemble_fits_separable_classes_deterministically():
    x, y = _blobs(600, 0)
    tx, ty = _blobs(300, 1)
    params = BoostingParams("softmax", 3, n_trees=5, max_depth=3, learning_rate=0.5, l2=1.0,
                            batches_per_layer=1)  # fmt: skip
    runs = []
    for _ in range(2):
        ensemble = TreeEnsemble(params, 4)
        losses = [ensemble.train(x[i : i + 200], y[i : i + 200]) for i in [0, 200, 400] * 5]
        runs.append(ensemble.logits(tx))
    assert losses[-1] < 0.5 * losses[0]
    assert ensemble.finished and len(ensemble.trees) == 5
    assert (runs[0].argmax(1) == ty).mean() > 0.9
    np.testing.assert_array_equal(runs[0], runs[1])


def test_classifier_train_evaluate_predict():
    x, y = _blobs(400, 2, num_classes=2, gap=2.0)
    cols = [tf.feature_column.numeric_column(key="x", shape=(4,))]
    model = tf.estimator.BoostedTreesClassifier(
        cols, n_batches_per_layer=1, n_trees=10, max_depth=3, learning_rate=0.5
    )
    model.train(_input(x, y.astype(np.float64), None, True), max_steps=1000)
    tx, ty = _blobs(200, 3, num_classes=2, gap=2.0)
    result = model.evaluate(_input(tx, ty, 1, False))
    assert set(result) == {
        "accuracy", "accuracy_baseline", "auc", "auc_precision_recall", "average_loss",
        "label/mean", "loss", "precision", "prediction/mean", "recall", "global_step",
    }  # fmt: skip
    assert result["accuracy"] > 0.95 and result["auc"] > 0.97
    assert result["label/mean"] == pytest.approx(ty.mean())
    # training ended when the ensemble had its 10 trees, well before max_steps
    assert 10 <= result["global_step"] <= 10 * 3
    predictions = list(model.predict(_input(tx, None, 1, False)))
    assert len(predictions) == 200
    first = predictions[0]
    assert first["probabilities"].shape == (2,) and first["logits"].shape == (1,)
    assert first["class_ids"].shape == (1,) and first["classes"][0] in (b"0", b"1")
    assert first["all_classes"].tolist() == [b"0", b"1"]
    ids = np.array([p["class_ids"][0] for p in predictions])
    assert (ids == ty).mean() == pytest.approx(result["accuracy"])


def test_regressor_fits_a_smooth_target():
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, size=(500, 3)).astype(np.float32)
    y = np.sin(x[:, 0]) * 3.0 + x[:, 1]
    cols = [tf.feature_column.numeric_column(key="x", shape=(3,))]
    model = tf.estimator.BoostedTreesRegressor(
        cols, n_batches_per_layer=1, n_trees=30, max_depth=3, learning_rate=0.3
    )
    model.train(_input(x, y, None, True, batch_size=250), max_steps=200)
    result = model.evaluate(_input(x, y, 1, False))
    assert set(result) == {"average_loss", "label/mean", "loss", "prediction/mean", "global_step"}
    assert result["average_loss"] < 0.1 * y.var()
    (first,) = list(model.predict(_input(x[:1], None, 1, False)))
    assert first["predictions"].shape == (1,)


def test_contrib_classifier_with_learner_config():
    config = learner_pb2.LearnerConfig()
    config.learning_rate_tuner.fixed.learning_rate = 0.3
    config.regularization.l2 = 0.01
    config.constraints.max_tree_depth = 4
    config.growing_mode = learner_pb2.LearnerConfig.LAYER_BY_LAYER
    config.multi_class_strategy = learner_pb2.LearnerConfig.DIAGONAL_HESSIAN
    assert learner_pb2.LearnerConfig.DIAGONAL_HESSIAN == 3 and config.regularization.l1 == 0.0
    model = GradientBoostedDecisionTreeClassifier(
        learner_config=config,
        n_classes=3,
        examples_per_layer=300,
        num_trees=5,
        center_bias=False,
        config=tf.contrib.learn.RunConfig(save_checkpoints_secs=300),
    )
    x, y = _blobs(600, 5)
    model.fit(input_fn=_input(x, y, None, True, batch_size=300), max_steps=100)
    tx, ty = _blobs(300, 6)
    result = model.evaluate(input_fn=_input(tx, ty, 1, False))
    assert set(result) == {"accuracy", "loss", "global_step"}
    assert result["accuracy"] > 0.9
    first = next(iter(model.predict(input_fn=_input(tx, None, 1, False))))
    assert first["probabilities"].shape == (3,) and first["classes"] in (0, 1, 2)


def test_bad_input_is_a_kiln_error():
    with pytest.raises(AttributeError, match="no field 'max_depth'"):
        learner_pb2.LearnerConfig().constraints.max_depth = 3
    x, y = _blobs(100, 7)
    cols = [tf.feature_column.numeric_column(key="x", shape=(4,))]
    model = tf.estimator.BoostedTreesClassifier(cols, n_batches_per_layer=1, n_classes=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"class ids in \[0, 2\)"):
        model.train(_input(x, y, None, True), max_steps=5)  # 3 classes given to 2
    with pytest.raises(tf.KilnError, match="n_batches_per_layer"):
        tf.estimator.BoostedTreesClassifier(cols, n_batches_per_layer=0)
    model.train(_input(x, (y > 0).astype(np.int64), None, True), max_steps=5)
    wide = [tf.feature_column.numeric_column(key="x", shape=(5,))]
    model._feature_columns = wide  # a changed input layer: the ensemble knows 4 features
    with pytest.raises(tf.errors.InvalidArgumentError, match="trained on 4 features, got 5"):
        model.evaluate(_input(np.ones((10, 5), np.float32), np.zeros(10), 1, False))
