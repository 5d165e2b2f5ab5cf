"""TF 1.x names and semantics MorvanZhou's tutorials (Tensorflow-Tutorial, tutorials/
tensorflowTUT) use, checked against TensorFlow's documented behaviour; the TensorFlow
numbers were computed once with tensorflow-cpu 2.21 (tf.compat.v1).
"""

import numpy as np
import pytest

import kiln as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_losses_cast_integer_labels_to_the_logits_dtype():
    # tf.losses.* cast labels (softmax/sigmoid: to the logits' dtype; the regression losses:
    # both to float32), so int32 one-hot labels fed to a float model are accepted
    y = tf.placeholder(tf.int32, [None, 3])
    logits = tf.constant([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    ce = tf.losses.softmax_cross_entropy(onehot_labels=y, logits=logits)
    sg = tf.losses.sigmoid_cross_entropy(y, logits)
    mse = tf.losses.mean_squared_error(tf.constant([[1, 0, 2], [0, 3, 1]]), logits)
    assert mse.dtype == tf.float32
    with tf.Session() as s:
        got = s.run([ce, sg, mse], {y: [[1, 0, 0], [0, 1, 0]]})
    np.testing.assert_allclose(got, [0.31853974, 0.6819847, 1.0999999], rtol=1e-5)


def test_a_tuple_feed_key_feeds_each_of_its_tensors():
    # Session.run: "if the key is a nested tuple of Tensors, the value should be a nested tuple
    # with the same structure" (403_RNN_regression feeds an LSTMStateTuple back as init state)
    a, b, c = (tf.placeholder(tf.float32, []) for _ in range(3))
    state = tf.nn.rnn_cell.LSTMCell(2).zero_state(1, tf.float32)
    with tf.Session() as s:
        assert s.run(a + b * c, {(a, (b, c)): (1.0, (2.0, 3.0))}) == 7.0
        fed = tf.nn.rnn_cell.LSTMStateTuple(np.ones((1, 2)), np.full((1, 2), 2.0))
        np.testing.assert_array_equal(s.run(state.c + state.h, {state: fed}), [[3.0, 3.0]])


def test_gather_nd_over_params_of_unknown_batch():
    # 405_DQN: q (?, n_actions) at [[row, action], ...]; TF's numbers
    q, a = tf.placeholder(tf.float32, [None, 2]), tf.placeholder(tf.int32, [None])
    g = tf.gather_nd(params=q, indices=tf.stack([tf.range(tf.shape(a)[0]), a], axis=1))
    p3 = tf.placeholder(tf.float32, [None, None, 2])
    g3 = tf.gather_nd(p3, tf.constant([[1, 2], [0, 1]]))
    with tf.Session() as s:
        got = s.run(g, {q: [[1, 2], [3, 4], [5, 6]], a: [1, 0, 1]})
        got3 = s.run(g3, {p3: np.arange(18.0).reshape(3, 3, 2)})
    np.testing.assert_array_equal(got, [2.0, 3.0, 6.0])
    np.testing.assert_array_equal(got3, [[10.0, 11.0], [2.0, 3.0]])


def test_variables_are_created_outside_control_dependencies():
    # TF builds a variable and its initializer in an init_scope: Adam's slots made under
    # control_dependencies(UPDATE_OPS) (502_batch_normalization) initialize without feeds
    x = tf.placeholder(tf.float32, [None, 1])
    update = tf.assign(tf.Variable(0.0), tf.reduce_sum(x))
    with tf.control_dependencies([update]):
        v = tf.Variable(lambda: tf.ones([2]))
        y = tf.identity(v)
    assert not v.initializer.control_inputs
    assert update.op in y.op.control_inputs
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(s.run(v), [1.0, 1.0])


def test_pre_1_0_pack_and_unpack_are_stack_and_unstack():
    # TF 0.12's tf.pack / tf.unpack (tf20_RNN2 unpacks its time steps)
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    parts = tf.unpack(tf.transpose(x, [1, 0]))
    with tf.Session() as s:
        assert len(parts) == 2
        np.testing.assert_array_equal(s.run(parts[1]), [2.0, 4.0, 6.0])
        np.testing.assert_array_equal(s.run(tf.pack(parts, axis=1)), s.run(x))


def test_train_summary_writer_is_the_pre_0_12_file_writer(tmp_path):
    # tf14_tensorboard: tf.train.SummaryWriter('logs/', sess.graph) under TF < 0.12
    tf.constant(1.0, name="c")
    with tf.Session() as s:
        writer = tf.train.SummaryWriter(str(tmp_path), s.graph)
        assert isinstance(writer, tf.summary.FileWriter)
        writer.close()
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_a_known_dim_has_tf1_value_and_dimension_value_reads_both():
    # TF 1.x: x.get_shape()[1].value (tf23_BN); tf.compat.dimension_value of a Dimension or int
    x = tf.placeholder(tf.float32, [None, 3])
    d = x.get_shape()[1]
    assert d.value == 3 and d == 3 and isinstance(d, int) and d * 2 == 6
    assert [None if e is None else e.value for e in x.shape] == [None, 3]
    assert x.shape[0] is None and x.shape.as_list() == [None, 3]
    assert tf.dimension_value(d) == 3 and tf.compat.dimension_value(4) == 4
    assert tf.dimension_value(None) is None and tf.Dimension(5).value == 5
    assert type(x.shape.as_list()[1]) is int


def test_optimizer_slots_made_under_update_ops_initialize_without_feeds():
    # 502_batch_normalization: minimize() inside control_dependencies(UPDATE_OPS); TF makes
    # Adam's slots and beta powers in an init_scope, so the initializer needs no feed
    x, training = tf.placeholder(tf.float32, [None, 1]), tf.placeholder(tf.bool, None)
    h = tf.layers.batch_normalization(tf.layers.dense(x, 3), training=training)
    loss = tf.reduce_mean(tf.square(h))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.AdamOptimizer(0.1).minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        mean = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
        s.run(train, {x: [[1.0], [3.0]], training: True})
        assert np.all(s.run(mean) != 0.0)  # the update ran before the step


def test_a_scalar_fetch_is_a_numpy_scalar():
    # TF's Session.run returns np.float32 for a scalar (tf20_RNN2.2 prints round(cost, 4))
    with tf.Session() as s:
        cost, vec, n = s.run([tf.reduce_sum(tf.ones([3])) / 2, tf.ones([2]), tf.size(tf.ones([4]))])
    assert type(cost) is np.float32 and round(cost, 4) == 1.5
    assert type(n) is np.int32 and isinstance(vec, np.ndarray) and vec.shape == (2,)
