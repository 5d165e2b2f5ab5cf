"""TF 2 names instillai/TensorFlow-Course's programs use (tf.Module, tf.test, tf.config,
Keras's sparse crossentropy on unnormalized probabilities, ...), against TensorFlow's
documented behaviour; the numbers are TensorFlow 2.21's (tf-keras), computed once."""

import os
import unittest

import numpy as np
import pytest

import kiln as tf


@pytest.fixture(autouse=True)
def eager():
    # TF 2 semantics, without importing kiln.compat.v2 (which would make every later
    # test of the session eager)
    with tf.eager_mode():
        yield


class Layer(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.x = tf.Variable([[1.0, 3.0]], name="x_trainable")
        self.y = tf.Variable(2.0, trainable=False, name="y_non_trainable")

    def __call__(self, v):
        return self.x * v + self.y


class Model(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.layers = [Layer("layer_1"), Layer("layer_2")]

    @tf.Module.with_name_scope
    def scope(self):
        with tf.name_scope("inner") as s:
            return s


def test_module_names_and_variables_found_by_walking_attributes():
    layer = Layer(name="my_layer")
    np.testing.assert_array_equal(layer(tf.constant(1.0)).numpy(), [[3.0, 5.0]])
    assert layer.name == "my_layer"
    assert [v.name for v in layer.trainable_variables] == ["x_trainable:0"]
    assert [v.name for v in layer.non_trainable_variables] == ["y_non_trainable:0"]
    assert [v.name for v in layer.variables] == ["x_trainable:0", "y_non_trainable:0"]
    model = Model()
    assert model.name == "model"  # the class name in snake case
    assert Layer().name == "layer" and type("SampleLayer", (tf.Module,), {})().name == (
        "sample_layer"
    )
    assert model.submodules == tuple(model.layers)
    assert len(model.trainable_variables) == 2 and len(model.variables) == 4
    assert model.trainable_variables[0] is model.layers[0].x
    assert model.scope() == "model/inner/"
    with pytest.raises(ValueError, match="not a valid module name"):
        Layer(name="my layer")


def test_tf_test_is_unittest_and_a_cpu_build():
    assert issubclass(tf.test.TestCase, unittest.TestCase)

    class Case(tf.test.TestCase):
        def test_close(self):
            self.assertAllClose(tf.constant([1.0, 2.0]), [1.0, 2.0 + 1e-8])
            self.assertAllEqual(self.evaluate(tf.constant([1, 2])), [1, 2])

    result = unittest.TextTestRunner(stream=open(os.devnull, "w")).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(Case)
    )
    assert result.wasSuccessful()
    assert tf.test.is_built_with_cuda() is False and tf.test.gpu_device_name() == ""
    (cpu,) = tf.config.list_physical_devices(device_type=None)
    assert (cpu.name, cpu.device_type) == ("/physical_device:CPU:0", "CPU")
    assert tf.config.list_physical_devices("GPU") == []


def test_sparse_crossentropy_normalizes_probabilities_as_keras():
    p = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.7], [1.0, 0.0, 0.5]], np.float32)
    y = np.array([0, 2, 1])
    loss = tf.keras.losses.SparseCategoricalCrossentropy()(y, p)
    np.testing.assert_allclose(loss.numpy(), 5.918568, rtol=1e-5)  # TensorFlow 2.21


def test_scalar_numpy_is_a_numpy_scalar():
    v = tf.constant([3, 4], tf.uint8)[0].numpy()
    assert isinstance(v, np.uint8) and {v: "three"}[3] == "three"
    assert isinstance(tf.Variable(2.0).numpy(), np.float32)
    assert tf.constant([1.0, 2.0]).numpy().shape == (2,)


def test_fit_takes_1d_inputs_and_checkpoints_every_n_batches(tmp_path):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,))])
    model.compile(loss="mse", optimizer=tf.keras.optimizers.Adam(0.1))
    x = np.linspace(0, 1, 40)
    path = str(tmp_path / "ck" / "cp-{epoch:05d}.ckpt")
    saver = tf.keras.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=3)
    model.fit(x, 2 * x, batch_size=10, epochs=2, verbose=0, callbacks=[saver])
    # 8 batches: saved after the 3rd (epoch 1) and the 6th (epoch 2)
    assert {f.split(".")[0] for f in os.listdir(tmp_path / "ck")} == {"cp-00001", "cp-00002"}
    assert model.predict(x).shape == (40, 1)
