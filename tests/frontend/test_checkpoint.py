"""Checkpoint bookkeeping (get_checkpoint_state, checkpoint_exists,
latest_checkpoint) and TF 2's object checkpoints, as TensorFlow names them:
TF's Saver writes `checkpoint` with model_checkpoint_path and one
all_model_checkpoint_paths line per kept checkpoint, and get_checkpoint_state
joins relative paths to the directory; Checkpoint.save numbers from 1
(`ckpt-1`), CheckpointManager keeps the newest max_to_keep."""

import numpy as np
import pytest

import kiln as tf


def test_saver_record_and_get_checkpoint_state(tmp_path):
    tf.reset_default_graph()
    v = tf.Variable(3.0, name="v")
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for step in (1, 2, 3):
            saver.save(s, str(tmp_path / "model"), global_step=step)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "model-3")
    assert state.all_model_checkpoint_paths == [
        str(tmp_path / "model-2"),
        str(tmp_path / "model-3"),
    ]
    assert tf.train.latest_checkpoint(str(tmp_path)) == state.model_checkpoint_path
    assert tf.train.checkpoint_exists(state.model_checkpoint_path)
    assert not tf.train.checkpoint_exists(str(tmp_path / "model-1"))  # deleted: max_to_keep=2
    assert tf.train.get_checkpoint_state(str(tmp_path / "none")) is None
    with tf.Session() as s:
        saver.restore(s, state.model_checkpoint_path)
        assert s.run(v) == 3.0


def test_checkpoint_save_restore_variables(tmp_path):
    with tf.eager_mode():
        v = tf.Variable([1.0, 2.0])
        step = tf.Variable(0, dtype=tf.int64)
        ckpt = tf.train.Checkpoint(v=v, step=step)
        path = ckpt.save(str(tmp_path / "ckpt"))
        assert path == str(tmp_path / "ckpt-1")
        assert tf.train.latest_checkpoint(str(tmp_path)) == path
        v.assign([5.0, 6.0])
        step.assign(9)
        ckpt.restore(path).assert_consumed()
        np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
        assert step.numpy() == 0
        assert ckpt.save(str(tmp_path / "ckpt")).endswith("ckpt-2")
        w = ckpt.write(str(tmp_path / "exact"))
        assert w == str(tmp_path / "exact") and tf.train.checkpoint_exists(w)
        with pytest.raises(tf.errors.NotFoundError):
            ckpt.restore(str(tmp_path / "missing"))
        other = tf.train.Checkpoint(u=tf.Variable(0.0))
        with pytest.raises(AssertionError):
            other.restore(path).assert_consumed()
        assert ckpt.restore(None) is not None  # TF: restoring None does nothing


def test_checkpoint_manager_keeps_max_to_keep(tmp_path):
    with tf.eager_mode():
        v = tf.Variable(0.0)
        ckpt = tf.train.Checkpoint(v=v)
        manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
        assert manager.latest_checkpoint is None
        for i in range(4):
            v.assign(float(i))
            manager.save()
        assert manager.checkpoints == [str(tmp_path / "ckpt-3"), str(tmp_path / "ckpt-4")]
        assert not tf.train.checkpoint_exists(str(tmp_path / "ckpt-1"))
        again = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
        assert again.latest_checkpoint == str(tmp_path / "ckpt-4")
        v.assign(-1.0)
        ckpt.restore(again.latest_checkpoint)
        assert v.numpy() == 3.0
        state = tf.train.get_checkpoint_state(str(tmp_path))
        assert state.all_model_checkpoint_paths == manager.checkpoints


def test_checkpoint_of_a_keras_model_and_optimizer(tmp_path):
    with tf.eager_mode():
        model = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(2,))])
        opt = tf.keras.optimizers.Adam(0.1)
        x = np.ones((4, 2), np.float32)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x))
        opt.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        )
        before = [w.copy() for w in model.get_weights()]
        slot = opt.get_slot(model.trainable_variables[0], "m").numpy()
        path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ck"))
        fresh = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(2,))])
        fresh(x)
        fresh_opt = tf.keras.optimizers.Adam(0.1)
        tf.train.Checkpoint(model=fresh, optimizer=fresh_opt).restore(path)
        for a, b in zip(before, fresh.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert fresh_opt.iterations.numpy() == 1
        np.testing.assert_array_equal(
            fresh_opt.get_slot(fresh.trainable_variables[0], "m").numpy(), slot
        )
