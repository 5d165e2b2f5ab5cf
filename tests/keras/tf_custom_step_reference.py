"""Prints the TensorFlow values stored in test_custom_train_step.py (Keras 2, tf_keras).

Not a test; TensorFlow is no kiln dependency. `... kiln` runs the same program under kiln.
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np

if sys.argv[1:] == ["kiln"]:
    sys.path.insert(0, "/work/wt/tf")
    import kiln.compat.v2 as tf
    from kiln import keras
else:
    import tensorflow as tf
    import tf_keras as keras


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


rng = np.random.RandomState(0)
x = rng.randn(20, 4).astype("f4")
y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "f4") + 0.3).astype("f4")
inp = keras.Input(shape=(4,))
out = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.1))(inp)
model = CustomModel(inp, out)
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
h = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
print("HIST =", {k: [round(float(v), 6) for v in vs] for k, vs in h.history.items()})
print("EVAL =", [round(float(v), 6) for v in model.evaluate(x, y, batch_size=8, verbose=0)])


class Pair(keras.Model):
    """x-only data, own compile and metrics (the Keras GAN tutorial's shape)."""

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


p = Pair()
p.compile(keras.optimizers.SGD(0.1))
h2 = p.fit(tf.data.Dataset.from_tensor_slices(x).batch(5), epochs=2, verbose=0)
print("HIST2 =", {k: [round(float(v), 6) for v in vs] for k, vs in h2.history.items()})


# train_on_batch / test_on_batch (ON_BATCH)
x = rng.randn(16, 3).astype("f4")
y = (x.sum(1, keepdims=True) > 0).astype("f4")
m = keras.Sequential(
    [
        keras.layers.Dense(
            1,
            activation="sigmoid",
            kernel_initializer=keras.initializers.Constant(0.3),
            input_shape=(3,),
        )
    ]
)
m.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
out = [
    m.train_on_batch(x[:8], y[:8]),
    m.train_on_batch(x[8:], y[8:]),
    m.test_on_batch(x, y),
    m.train_on_batch(x, y, return_dict=True),
]
m2 = keras.Sequential([keras.layers.Dense(1, kernel_initializer="zeros", input_shape=(3,))])
m2.compile("sgd", "mse")
out.append(m2.train_on_batch(x, y))
out.append(m2.train_on_batch(x, y, sample_weight=np.linspace(0, 1, 16)))


def rnd(v):
    if isinstance(v, dict):
        return {a: round(float(b), 5) for a, b in v.items()}
    if isinstance(v, list):
        return [round(float(b), 5) for b in v]
    return round(float(v), 5)


print("ON_BATCH =", [rnd(v) for v in out])
