"""Keras 2's custom step protocol (issue 18): `train_step(self, data)` and
`test_step(self, data)` overridden, with `self.compiled_loss`,
`self.compiled_metrics` and `self.metrics`; x-only data, a model's own
compile() and metrics property (the Keras GAN tutorial's shape).

HIST / EVAL / HIST2 were printed by TensorFlow 2.21 with tf_keras running
tests/keras/tf_custom_step_reference.py, the same programs as below.
"""

import numpy as np
import pytest

import kiln.compat._v2 as tf  # TF 2's names without switching the test process to eager
from kiln import keras


@pytest.fixture(autouse=True)
def _eager():
    """TF 2's default, for these tests only."""
    with tf.eager_mode():
        yield


HIST = {"loss": [4.991893, 2.386959, 1.272669], "mae": [1.691308, 1.178136, 0.867781]}
EVAL = [0.801667, 0.714801]
HIST2 = {"energy": [0.127433, 0.009736]}


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _data():
    rng = np.random.RandomState(0)
    x = rng.randn(20, 4).astype("f4")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "f4") + 0.3).astype("f4")
    return x, y


def _close(got, want):
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-6)


def test_custom_train_and_test_step_match_keras():
    x, y = _data()
    inp = keras.Input(shape=(4,))
    out = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.1))(inp)
    model = CustomModel(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    h = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert sorted(h.history) == ["loss", "mae"]
    _close(h.history, HIST)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=8, verbose=0), EVAL, rtol=1e-4)
    assert [m.name for m in model.metrics] == ["loss", "mae"]


class Pair(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.2))
        self.tracker = keras.metrics.Mean(name="energy")

    def compile(self, opt):
        super().compile()
        self.opt = opt

    @property
    def metrics(self):
        return [self.tracker]

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            e = tf.reduce_mean(tf.square(self(data)))
        g = tape.gradient(e, self.trainable_variables)
        self.opt.apply_gradients(zip(g, self.trainable_variables))
        self.tracker.update_state(e)
        return {"energy": self.tracker.result()}


def test_x_only_data_own_compile_and_metrics():
    x, _ = _data()
    p = Pair()
    p.compile(keras.optimizers.SGD(0.1))
    h = p.fit(tf.data.Dataset.from_tensor_slices(x).batch(5), epochs=2, verbose=0)
    _close(h.history, HIST2)


def test_builtin_fit_without_labels_is_an_error():
    x, _ = _data()
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(tf.GraphError, match="fit: the data has no labels"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(5), verbose=0)


# tf_keras's train_on_batch / test_on_batch on the same model and data
# (tests/keras/tf_custom_step_reference.py prints it)
ON_BATCH = [[0.51992, 1.0], [0.53272, 1.0], [0.4396, 1.0], {"loss": 0.4396, "accuracy": 1.0}]
ON_BATCH += [0.5, 0.25032]


def test_train_and_test_on_batch_match_keras():
    rng = np.random.RandomState(1)
    x = rng.randn(16, 3).astype("f4")
    y = (x.sum(1, keepdims=True) > 0).astype("f4")
    init = keras.initializers.Constant(0.3)
    m = keras.Sequential(
        [keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init, input_shape=(3,))]
    )
    m.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
    out = [m.train_on_batch(x[:8], y[:8]), m.train_on_batch(x[8:], y[8:]), m.test_on_batch(x, y)]
    out.append(m.train_on_batch(x, y, return_dict=True))
    m2 = keras.Sequential([keras.layers.Dense(1, kernel_initializer="zeros", input_shape=(3,))])
    m2.compile("sgd", "mse")
    out.append(m2.train_on_batch(x, y))
    out.append(m2.train_on_batch(x, y, sample_weight=np.linspace(0, 1, 16)))
    for got, want in zip(out, ON_BATCH):
        if isinstance(want, dict):
            assert got.keys() == want.keys()
            got, want = list(got.values()), list(want.values())
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
