"""Initializable and reinitializable tf.data iterators against TF 1.x: the
element lists below are what tensorflow-cpu 2.21's compat.v1 gives for the
same program (placeholder-fed from_tensor_slices, re-initialised with a
longer feed; from_structure switching between two datasets)."""

import numpy as np
import pytest

import kiln as tf

X = np.arange(10, dtype=np.float32).reshape(5, 2)


def _drain(s, t):
    out = []
    try:
        while True:
            out.append(s.run(t).tolist())
    except tf.errors.OutOfRangeError:
        return out


def test_initializable_iterator_over_a_fed_placeholder():
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float32, [None, 2])
    ds = tf.data.Dataset.from_tensor_slices(ph).batch(2)
    assert ds.output_types is tf.float32 and ds.output_shapes.as_list() == [None, 2]
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, feed_dict={ph: X[:3]})
        assert _drain(s, nxt) == [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0]]]
        s.run(it.initializer, feed_dict={ph: X})  # a new pass, over the new feed
        assert _drain(s, nxt) == [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]], [[8.0, 9.0]]]
    with pytest.raises(tf.KilnError, match="initializable"):
        ds.make_one_shot_iterator()


def test_reinitializable_iterator_from_structure():
    tf.reset_default_graph()
    train = tf.data.Dataset.from_tensor_slices((X, np.arange(5))).batch(2)
    test = tf.data.Dataset.from_tensor_slices((X * 10, np.arange(5))).batch(3)
    assert train.output_types == (tf.float32, tf.int64)
    assert [s.as_list() for s in train.output_shapes] == [[None, 2], [None]]
    it = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    a, b = it.get_next()
    init_train, init_test = it.make_initializer(train), it.make_initializer(test)
    with tf.Session() as s:
        s.run(init_train)
        assert s.run(a).tolist() == [[0.0, 1.0], [2.0, 3.0]]
        s.run(init_test)
        assert s.run([a, b])[1].tolist() == [0, 1, 2]
        assert s.run(a).tolist() == [[60.0, 70.0], [80.0, 90.0]]
        s.run(init_train)
        assert s.run(b).tolist() == [0, 1]
    with pytest.raises(tf.KilnError, match="types"):
        it.make_initializer(tf.data.Dataset.from_tensor_slices(np.arange(3)).batch(2))


def test_get_next_before_the_initializer_fails_as_tf():
    tf.reset_default_graph()
    it = tf.data.Dataset.from_tensor_slices(X).make_initializable_iterator()
    e = it.get_next()
    assert e.shape.as_list() == [2]  # unbatched: the element's own shape
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not been initialized"):
            s.run(e)
        s.run(it.initializer)
        assert s.run(e).tolist() == [0.0, 1.0]
