"""tf.debugging.check_numerics / tf.check_numerics / tf.add_check_numerics_ops against
TensorFlow's documented behaviour (messages computed once with tensorflow-cpu 2.21:
"bad : Tensor had NaN values", "... Inf values", "... Inf and NaN values"; the gradient
of check_numerics(x * x) is 2x)."""

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.eager import eager_mode


@pytest.mark.parametrize(
    "value, words",
    [([1.0, np.nan], "NaN"), ([np.inf, 1.0], "Inf"), ([np.nan, np.inf], "Inf and NaN")],
)
def test_check_numerics_eager_messages(value, words):
    with eager_mode():
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=f"bad : Tensor had {words} values"
        ):
            tf.debugging.check_numerics(tf.constant(value), "bad")
        ok = tf.debugging.check_numerics(tf.constant([1.0, 2.0]), "bad")
        np.testing.assert_array_equal(ok.numpy(), [1.0, 2.0])


def test_check_numerics_in_a_graph_is_an_identity_for_gradients():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2])
        y = tf.check_numerics(x * x, "m")
        g = tf.gradients(tf.reduce_sum(y), x)[0]
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(g, {x: [1.0, 2.0]}), [2.0, 4.0])
            with pytest.raises(tf.errors.InvalidArgumentError, match="m : Tensor had Inf values"):
                s.run(y, {x: [1e30, 1.0]})
            np.testing.assert_array_equal(s.run(y, {x: [3.0, 4.0]}), [9.0, 16.0])
    with pytest.raises(tf.KilnError, match="not a float tensor"):
        tf.check_numerics(tf.constant([1, 2]), "ints")


def test_add_check_numerics_ops_checks_every_float_tensor():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2])
        y = tf.log(x)
        check = tf.add_check_numerics_ops()
        with tf.Session() as s:
            s.run([y, check], {x: [1.0, 2.0]})
            with pytest.raises(tf.errors.InvalidArgumentError, match="Tensor had Inf values"):
                s.run([y, check], {x: [0.0, 2.0]})
