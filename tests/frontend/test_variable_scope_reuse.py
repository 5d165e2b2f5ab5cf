"""variable_scope(...).reuse_variables() as TF 1.x: get_variable then returns
the existing variable; a new name in a reusing scope is an error."""

import pytest

import kiln as tf


def test_reuse_variables():
    tf.reset_default_graph()
    with tf.variable_scope("foo") as scope:
        v = tf.get_variable("v", [1])
        scope.reuse_variables()
        assert tf.get_variable("v", [1]) is v
        with pytest.raises(tf.KilnError, match="does not exist"):
            tf.get_variable("w", [1])
    with tf.variable_scope("bar"):
        a = tf.layers.dense(tf.zeros([2, 3]), 4, name="d")
        tf.get_variable_scope().reuse_variables()
        b = tf.layers.dense(tf.zeros([2, 3]), 4, name="d")
    assert a.shape.as_list() == b.shape.as_list() == [2, 4]
    assert len(tf.trainable_variables()) == 3  # foo/v, bar/d/kernel, bar/d/bias
