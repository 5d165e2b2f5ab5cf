"""TensorFlow's dtype names and rules (checked against tensorflow-cpu 2.21)."""

from __future__ import annotations

import numpy as np
import pytest

import kiln as tf
from kiln.ir import KilnError


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("float", "float32"),  # TF's "float" is float32, numpy's is float64
        ("double", "float64"),
        ("half", "float16"),
        ("int16", "int16"),
        ("uint8", "uint8"),
        ("uint16", "uint16"),
        ("uint32", "uint32"),
        ("uint64", "uint64"),
        ("string", "string"),
        (float, "float32"),
        (bool, "bool"),
        (object, "string"),
        (np.float64, "float64"),
        (np.uint8, "uint8"),
    ],
)
def test_as_dtype_follows_tensorflow(name, want):
    assert tf.as_dtype(name).name == want


def test_unknown_names_are_kiln_errors():
    with pytest.raises(KilnError, match="not a dtype name: 'int'"):
        tf.as_dtype("int")  # TensorFlow rejects "int" too


def test_dtype_properties_match_tensorflow():
    assert repr(tf.int16) == "tf.int16" and str(tf.string) == "<dtype: 'string'>"
    assert tf.uint8.max == 255 and tf.uint8.min == 0 and tf.int16.min == -32768
    assert tf.float32.min == np.float32(-3.4028235e38)
    assert tf.uint8.is_unsigned and not tf.int8.is_unsigned and tf.uint8.is_integer
    assert tf.string.as_numpy_dtype is object and tf.float32.size == 4
    assert tf.uint16.as_numpy_dtype is np.uint16


def test_placeholder_float_is_float32_and_multiplies_float32_variables():
    x = tf.placeholder("float", [None, 2])
    w = tf.Variable(np.ones((2, 1), np.float32))
    y = tf.matmul(x, w)
    assert x.dtype is tf.float32 and y.dtype is tf.float32
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out = s.run(y, {x: [[1.0, 2.0]]})
    assert out.dtype == np.float32 and out.tolist() == [[3.0]]


@pytest.mark.parametrize("dtype", ["int16", "uint8", "uint16", "uint32", "uint64"])
def test_new_integer_dtypes_run_in_a_session(dtype):
    np_dtype = np.dtype(dtype)
    a = tf.placeholder(getattr(tf, dtype), [4])
    b = tf.placeholder(getattr(tf, dtype), [4])
    x = np.array([0, 1, 100, np.iinfo(np_dtype).max], np_dtype)
    y = np.array([3, 1, 7, 2], np_dtype)
    with tf.Session() as s:
        got = s.run([a + b, a * b, tf.maximum(a, b), tf.cast(a, tf.float32)], {a: x, b: y})
    with np.errstate(over="ignore"):
        want = [x + y, x * y, np.maximum(x, y), x.astype(np.float32)]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.tolist() == w.tolist()


def test_uint8_images_scale_to_float():
    u = tf.placeholder(tf.uint8, [3])
    with tf.Session() as s:
        got = s.run(tf.cast(u, tf.float32) / 255.0, {u: np.array([0, 51, 255], np.uint8)})
    assert got.tolist() == [0.0, np.float32(0.2), 1.0]
