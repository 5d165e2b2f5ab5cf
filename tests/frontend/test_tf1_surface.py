"""TF 1.x graph-surface semantics that tutorial programs lean on (issue 18).

The numbers were computed once with tensorflow-cpu (tf.compat.v1) and are stored here:
lists holding tensors pack into one tensor (tf.reduce_mean([a, b]) is the mean of both);
tf.range(tf.shape(x)[0]) counts a run-time dim; tf.group / tf.no_op return None eagerly;
TF 1.x optimizers update eager variables; tfe.Iterator has .next(); tfe.Network tracks
its layers' variables."""

import numpy as np
import pytest

import kiln as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def test_lists_holding_tensors_pack_as_in_tf():
    a, b = tf.constant([1.0, 2.0]), tf.constant([3.0, 5.0])
    m = tf.reduce_mean([a, b])
    p = tf.convert_to_tensor([a, [7.0, 8.0]])
    q = tf.convert_to_tensor([[tf.constant(1), 2], [3, 4]])
    assert p.shape.as_list() == [2, 2] and p.dtype == tf.float32 and q.dtype == tf.int32
    with tf.Session() as s:
        mv, pv, qv = s.run([m, p, q])
    assert mv == pytest.approx(2.75)  # TF: 2.75
    np.testing.assert_array_equal(pv, [[1.0, 2.0], [7.0, 8.0]])
    np.testing.assert_array_equal(qv, [[1, 2], [3, 4]])
    with pytest.raises(tf.GraphError, match="dtype"):
        tf.convert_to_tensor([tf.constant(1), tf.constant(1.0)])


def test_range_over_a_run_time_dim():
    x = tf.placeholder(tf.float32, [None, 5, 3])
    r = tf.range(tf.shape(x)[0])
    r5 = tf.range(0, tf.shape(x)[0]) * 5
    static = tf.range(tf.shape(x)[1], dtype=tf.int64)
    assert r.shape.as_list() == [None] and r.dtype == tf.int32
    assert static.shape.as_list() == [5] and static.dtype == tf.int64
    with tf.Session() as s:
        rv, r5v = s.run([r, r5], {x: np.zeros((4, 5, 3), np.float32)})
        np.testing.assert_array_equal(rv, [0, 1, 2, 3])  # TF: [0 1 2 3]
        np.testing.assert_array_equal(r5v, [0, 5, 10, 15])  # TF: [0 5 10 15]
        assert s.run(r, {x: np.zeros((7, 5, 3), np.float32)}).tolist() == list(range(7))
    with pytest.raises(tf.GraphError, match="range"):
        tf.range(1, tf.shape(x)[0])
    with pytest.raises(tf.GraphError, match="range"):
        tf.range(tf.reduce_sum(tf.constant([1, 2])))


def test_group_and_no_op_are_none_eagerly():
    from kiln.frontend.eager import eager_mode

    with eager_mode():
        assert tf.group(tf.constant(1.0)) is None
        assert tf.no_op() is None
    assert tf.no_op().type == "NoOp"


def test_tf1_adam_updates_eager_variables():
    from kiln.frontend.eager import eager_mode

    with eager_mode():
        w = tf.Variable([1.0, -2.0])
        opt = tf.train.AdamOptimizer(0.1)
        for _ in range(2):
            with tf.GradientTape() as t:
                loss = tf.reduce_sum(w * w)
            opt.apply_gradients([(t.gradient(loss, w), w)])
        # TF 1.15 eager, same program: [0.8004126, -1.8001668]
        np.testing.assert_allclose(w.numpy(), [0.8004126, -1.8001668], rtol=1e-5)
        assert opt.get_slot(w, "m").name == "Variable/Adam:0"


def test_tfe_iterator_next_and_network_variables():
    from kiln.frontend.eager import eager_mode

    tfe = tf.contrib.eager
    with eager_mode():
        ds = tf.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.float32).reshape(3, 2))
        it = tfe.Iterator(ds)
        np.testing.assert_array_equal(it.next(), [0.0, 1.0])
        np.testing.assert_array_equal(next(it), [2.0, 3.0])

        class Net(tfe.Network):
            def __init__(self):
                super().__init__()
                self.hidden = self.track_layer(tf.layers.Dense(4, activation=tf.nn.relu))
                self.out = self.track_layer(tf.layers.Dense(1))

            def call(self, x):
                return self.out(self.hidden(x))

        net = Net()
        y = net(tf.constant(np.ones((3, 2), np.float32)))
        assert y.shape.as_list() == [3, 1]
        shapes = [v.shape.as_list() for v in net.variables]
        assert shapes == [[2, 4], [4], [4, 1], [1]]
        grads = tfe.implicit_gradients(lambda x: tf.reduce_sum(net(x)))(tf.ones([3, 2]))
        assert {id(v) for _, v in grads} == {id(v) for v in net.trainable_variables}
        y2 = net(tf.constant(np.ones((3, 2), np.float32)))
        np.testing.assert_array_equal(y.numpy(), y2.numpy())  # the second call reuses them
