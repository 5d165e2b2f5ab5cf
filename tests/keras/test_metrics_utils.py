"""tf.keras.metrics objects, to_categorical and the layer aliases against
TensorFlow 2.21's tf.keras (numbers from the same calls there)."""

import numpy as np
import pytest

import kiln as tf


def test_mean_and_accuracies_match_tf_keras():
    m = tf.keras.metrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([4.0], sample_weight=[2.0])
    assert float(m.result()) == pytest.approx(2.8)  # TF: 2.799999952316284
    a = tf.keras.metrics.SparseCategoricalAccuracy()
    a.update_state([[1], [2], [0]], [[0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    a.update_state([1], [[0.6, 0.4, 0.0]])
    assert float(a.result()) == 0.75
    a.reset_states()
    assert float(a.result()) == 0.0
    b = tf.keras.metrics.Accuracy()
    b.update_state([1, 2, 3, 4], [0, 2, 3, 4], sample_weight=[1, 1, 0, 1])
    assert float(b.result()) == pytest.approx(0.6666666865348816)
    c = tf.keras.metrics.CategoricalAccuracy()
    assert float(c([[0, 1], [1, 0]], [[0.3, 0.7], [0.4, 0.6]])) == 0.5


def test_to_categorical():
    got = tf.keras.utils.to_categorical([[1], [0], [3]])
    assert got.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    # float32 as TF 1.x/2.x's tf.keras (Keras 3 changed the default to float64)
    assert tf.keras.utils.to_categorical([1, 2], 4).dtype == np.float32
    assert tf.keras.utils.to_categorical(np.zeros((2, 3), int), 2).shape == (2, 3, 2)


def test_layer_aliases_and_softmax():
    assert tf.keras.layers.MaxPool2D is tf.keras.layers.MaxPooling2D
    assert tf.keras.layers.AvgPool2D is tf.keras.layers.AveragePooling2D
    with tf.eager_mode():
        out = tf.keras.layers.Softmax()(np.array([[1.0, 2.0, 3.0]], np.float32)).numpy()
    np.testing.assert_allclose(out, [[0.09003057, 0.24472848, 0.66524088]], rtol=1e-6)
