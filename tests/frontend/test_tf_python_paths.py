"""`tensorflow.python.*` module paths TF-1.x layer code imports (framework.ops, tensor_shape,
tensor_util, dtypes; ops.array_ops / math_ops / random_ops; layers.utils), as kiln aliases."""

import numpy as np
import pytest

import kiln as tf
from kiln.python.framework import dtypes, ops, tensor_shape, tensor_util
from kiln.python.layers import utils
from kiln.python.ops import array_ops, math_ops, random_ops


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_shapes_and_their_compatibility():
    assert tensor_shape.scalar().as_list() == []
    assert tensor_shape.unknown_shape().ndims is None
    assert tensor_shape.as_shape([2, None]).is_compatible_with([2, 5])
    assert not tensor_shape.TensorShape([2, 3]).is_compatible_with([3, 3])
    tensor_shape.unknown_shape().assert_is_compatible_with([1, 2, 3])
    with pytest.raises(ValueError, match="incompatible"):
        tensor_shape.vector(3).assert_is_compatible_with(tensor_shape.scalar())


def test_constant_value_and_smart_cond():
    keep = ops.convert_to_tensor(1.0, dtype=dtypes.float32, name="keep")
    assert tensor_util.constant_value(keep) == 1.0
    assert tensor_util.constant_value(tf.placeholder(tf.float32)) is None
    assert tensor_util.is_tensor(keep) and not tensor_util.is_tensor(1.0)
    x = tf.constant([1.0, -2.0])
    taken = utils.smart_cond(True, lambda: x * 2.0, lambda: x)  # known now: no cond op
    assert taken.op.type != "If"
    flag = tf.placeholder(tf.bool, [])
    chosen = utils.smart_cond(flag, lambda: x * 2.0, lambda: x)
    with tf.Session() as sess:
        assert sess.run(taken).tolist() == [2.0, -4.0]
        assert sess.run(chosen, {flag: False}).tolist() == [1.0, -2.0]


def test_ops_modules_are_the_tf_namespace():
    x = tf.constant([[1.5, -0.5]])
    with ops.name_scope("scope"):
        shape = array_ops.shape(x)
        floor = math_ops.floor(x)
        noise = random_ops.random_uniform([2], seed=1)
    assert floor.name.startswith("scope/")
    got = tf.Session().run([shape, floor, noise])
    assert got[0].tolist() == [1, 2] and got[1].tolist() == [[1.0, -1.0]]
    assert np.all((got[2] >= 0) & (got[2] < 1))
