"""tf.keras.datasets offline (issue 18): Keras's cached files in Keras's formats
and splits; a missing file is a KilnError, never a download."""

import numpy as np
import pytest

import kiln as tf


def test_mnist_reads_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    rng = np.random.RandomState(0)
    arrays = {
        "x_train": rng.randint(0, 256, (5, 28, 28)).astype(np.uint8),
        "y_train": np.arange(5, dtype=np.uint8),
        "x_test": rng.randint(0, 256, (2, 28, 28)).astype(np.uint8),
        "y_test": np.arange(2, dtype=np.uint8),
    }
    np.savez(tmp_path / "datasets" / "mnist.npz", **arrays)
    (xt, yt), (xs, ys) = tf.keras.datasets.mnist.load_data()
    np.testing.assert_array_equal(xt, arrays["x_train"])
    assert xt.dtype == np.uint8 and ys.tolist() == [0, 1]


def test_boston_housing_split_is_keras_s(tmp_path):
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    y = np.arange(10, dtype=np.float64)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    (xt, yt), (xs, ys) = tf.keras.datasets.boston_housing.load_data(str(tmp_path / "b.npz"))
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)  # Keras's boston_housing.load_data
    assert yt.tolist() == order[:8].tolist() and ys.tolist() == order[8:].tolist()
    np.testing.assert_array_equal(xt, x[order[:8]])


def test_missing_file_is_a_kiln_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(tf.KilnError, match="kiln does not download"):
        tf.keras.datasets.mnist.load_data()
