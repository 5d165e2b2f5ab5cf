"""tf.train.MonitoredTrainingSession and its hooks (issue 18).

The RUNS/LOSSES/CKPT_STEPS/RESTORED values were printed by TensorFlow 2.21
(tf.compat.v1) running tests/frontend/tf_monitored_reference.py, which
builds the same program as `_train` below; TensorFlow is not a test
dependency.
"""

import logging
import os

import numpy as np
import pytest

import kiln as tf

RUNS = 25
LOSSES = [4.705963, 3.051675, 2.005631, 0.000506, 0.000342]
CKPT_STEPS = [0, 10, 20, 25]
RESTORED, MORE = 25, 5
LATEST = "model.ckpt-30"


def _model():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(tf.zeros([2, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    gs = tf.train.get_or_create_global_step()
    op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
    rng = np.random.RandomState(0)
    data = rng.randn(16, 2).astype("f4")
    feed = tf.train.FeedFnHook(lambda: {x: data, y: data @ np.array([[1.0], [2.0]], "f4")})
    return loss, gs, op, feed


def test_training_loop_checkpoints_and_restore_match_tensorflow(tmp_path):
    loss, gs, op, feed = _model()
    d = str(tmp_path)
    losses = []
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=d,
        hooks=[tf.train.StopAtStepHook(last_step=25), feed],
        save_checkpoint_steps=10,
        save_summaries_steps=None,
    ) as s:
        while not s.should_stop():
            losses.append(float(s.run([op, loss])[1]))
    assert len(losses) == RUNS
    np.testing.assert_allclose(losses[:3] + losses[-2:], LOSSES, rtol=1e-4, atol=1e-6)
    steps = {
        int(f.split("-")[1].split(".")[0]) for f in os.listdir(d) if f.startswith("model.ckpt-")
    }
    assert sorted(steps) == CKPT_STEPS
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=d, hooks=[tf.train.StopAtStepHook(num_steps=5), feed]
    ) as s:
        first, more = int(s.run(gs)), 0
        while not s.should_stop():
            s.run(op)
            more += 1
    assert (first, more) == (RESTORED, MORE)
    assert os.path.basename(tf.train.latest_checkpoint(d)) == LATEST


def test_logging_nan_final_ops_and_custom_hooks(caplog):
    tf.reset_default_graph()
    v = tf.Variable(1.0)
    gs = tf.train.get_or_create_global_step()
    step = tf.group(tf.assign_add(gs, 1), tf.assign(v, v * 2.0))
    seen = []

    class Recorder(tf.train.SessionRunHook):
        def begin(self):
            seen.append("begin")

        def after_create_session(self, session, coord):
            seen.append(("created", float(session.run(v))))

        def before_run(self, run_context):
            return tf.train.SessionRunArgs({"v": v})

        def after_run(self, run_context, run_values):
            seen.append(float(run_values.results["v"]))
            if run_values.results["v"] >= 8.0:
                run_context.request_stop()

        def end(self, session):
            seen.append("end")

    final = tf.train.FinalOpsHook(v)
    log = tf.train.LoggingTensorHook({"v": v, "step": gs}, every_n_iter=2)
    with caplog.at_level(logging.INFO, logger="kiln.tf"):
        with tf.train.SingularMonitoredSession(hooks=[Recorder(), log, final]) as s:
            while not s.should_stop():
                s.run(step)
    assert seen == ["begin", ("created", 1.0), 1.0, 2.0, 4.0, 8.0, "end"]
    assert final.final_ops_values == 16.0
    assert [r.getMessage() for r in caplog.records] == ["v = 1.0, step = 0", "v = 4.0, step = 2"]

    tf.reset_default_graph()
    bad = tf.Variable(np.nan)
    with pytest.raises(tf.train.NanLossDuringTrainingError):
        with tf.train.MonitoredSession(hooks=[tf.train.NanTensorHook(bad)]) as s:
            s.run(bad)
    with pytest.raises(tf.GraphError, match="needs a global step"):
        tf.train.MonitoredSession(hooks=[tf.train.StopAtStepHook(num_steps=1)])


def test_end_of_input_ends_the_loop_cleanly():
    tf.reset_default_graph()
    ds = tf.data.Dataset.from_tensor_slices(np.arange(5, dtype=np.float32))
    value = ds.make_one_shot_iterator().get_next()
    got = []
    with tf.train.MonitoredSession() as s:
        while not s.should_stop():
            got.append(float(s.run(value)))
    assert got == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert s.should_stop()
