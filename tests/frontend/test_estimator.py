"""tf.estimator on kiln: model_fn(features, labels, mode, params), train /
evaluate / predict sharing model_dir's checkpoints, numpy_input_fn's epochs.
(TensorFlow 2.16+ ships no Estimator, so the spec is TF 1.15's documented
behaviour: train saves model.ckpt-<global_step>; evaluate returns the metric
values, "loss" and "global_step"; predict yields one example at a time.)"""

import numpy as np
import pytest

import kiln as tf


def model_fn(features, labels, mode, params):
    logits = tf.layers.dense(features["x"], params["classes"], name="logits")
    classes = tf.argmax(logits, 1)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions={"class": classes, "logits": logits})
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.train.GradientDescentOptimizer(0.5).minimize(
        loss, global_step=tf.train.get_global_step()
    )
    acc = tf.metrics.accuracy(labels, tf.cast(classes, tf.int32))
    return tf.estimator.EstimatorSpec(
        mode, loss=loss, train_op=train_op, eval_metric_ops={"accuracy": acc}
    )


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    return x, y


@pytest.mark.slow
def test_estimator_train_evaluate_predict(tmp_path):
    x, y = _data()
    est = tf.estimator.Estimator(model_fn, model_dir=str(tmp_path), params={"classes": 2})
    train_fn = tf.estimator.inputs.numpy_input_fn(
        {"x": x}, y, batch_size=20, num_epochs=None, shuffle=True
    )
    eval_fn = tf.estimator.inputs.numpy_input_fn({"x": x}, y, batch_size=50, shuffle=False)
    est.train(train_fn, steps=30)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-30")
    first = est.evaluate(eval_fn)
    assert set(first) == {"accuracy", "loss", "global_step"} and first["global_step"] == 30
    assert first["accuracy"] > 0.9
    est.train(train_fn, steps=20)  # continues from the checkpoint
    second = est.evaluate(eval_fn)
    assert second["global_step"] == 50 and second["loss"] < first["loss"]
    est.train(train_fn, max_steps=50)  # already there: nothing to do
    assert est.evaluate(eval_fn)["global_step"] == 50
    preds = list(est.predict(tf.estimator.inputs.numpy_input_fn({"x": x}, shuffle=False)))
    assert len(preds) == 200 and set(preds[0]) == {"class", "logits"}
    accuracy = np.mean([p["class"] for p in preds] == y)
    assert accuracy == pytest.approx(second["accuracy"], abs=1e-6)
    assert "logits/kernel" in est.get_variable_names()


def test_numpy_input_fn_epochs_end_training(tmp_path):
    x, y = _data()
    est = tf.estimator.Estimator(model_fn, model_dir=str(tmp_path), params={"classes": 2})
    est.train(
        tf.estimator.inputs.numpy_input_fn({"x": x}, y, batch_size=50, num_epochs=2, shuffle=False)
    )
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-8")  # 2 x 200 / 50
    with pytest.raises(tf.KilnError, match="shuffle"):
        tf.estimator.inputs.numpy_input_fn({"x": x}, y)
