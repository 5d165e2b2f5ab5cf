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
        w = tf.Variable([1.0, -2.0], name="w")
        opt = tf.train.AdamOptimizer(0.1)
        for _ in range(2):
            with tf.GradientTape() as t:
                loss = tf.reduce_sum(w * w)
            opt.apply_gradients([(t.gradient(loss, w), w)])
        # TF 1.15 eager, same program: [0.8004126, -1.8001668]
        np.testing.assert_allclose(w.numpy(), [0.8004126, -1.8001668], rtol=1e-5)
        assert opt.get_slot(w, "m").name == "w/Adam:0"  # TF: w/Adam:0


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


def test_reverse_sequence_and_static_bidirectional_rnn_match_tf():
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    rs = tf.reverse_sequence(tf.constant(x), [2, 4], seq_axis=1, batch_axis=0)
    rs0 = tf.reverse_sequence(
        tf.constant(x.transpose(1, 0, 2)), tf.constant([3, 1], tf.int64), seq_axis=0, batch_axis=1
    )
    xs = [tf.constant(x[:, t]) for t in range(4)]
    cell = tf.nn.rnn_cell.BasicRNNCell
    with tf.variable_scope("m", initializer=tf.constant_initializer(0.1)):
        outs, _, sb = tf.nn.static_bidirectional_rnn(
            cell(2), cell(2), xs, dtype=tf.float32, sequence_length=[2, 4]
        )
    with tf.variable_scope("n", initializer=tf.constant_initializer(0.1)):
        outs2, _, _ = tf.contrib.rnn.static_bidirectional_rnn(
            cell(2), cell(2), [v * 0.01 for v in xs], dtype=tf.float32
        )
    assert sorted(v.name for v in tf.trainable_variables())[:4] == [
        "m/bidirectional_rnn/bw/basic_rnn_cell/bias:0",
        "m/bidirectional_rnn/bw/basic_rnn_cell/kernel:0",
        "m/bidirectional_rnn/fw/basic_rnn_cell/bias:0",
        "m/bidirectional_rnn/fw/basic_rnn_cell/kernel:0",
    ]
    loss = tf.reduce_sum(tf.stack(outs)) + tf.reduce_sum(tf.stack(outs2) ** 2)
    (g,) = tf.gradients(loss, [xs[0]])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        got = s.run([rs, rs0, outs[0], outs[3], sb, outs2[1], g])
    # tensorflow-cpu (tf.compat.v1, tf-keras cells), the same program
    want = [
        [
            [[3, 4, 5], [0, 1, 2], [6, 7, 8], [9, 10, 11]],
            [[21, 22, 23], [18, 19, 20], [15, 16, 17], [12, 13, 14]],
        ],
        [
            [[6, 7, 8], [12, 13, 14]],
            [[3, 4, 5], [15, 16, 17]],
            [[0, 1, 2], [18, 19, 20]],
            [[9, 10, 11], [21, 22, 23]],
        ],  # fmt: skip
        [[0.291313, 0.291313, 0.435554, 0.435554], [0.999181, 0.999181, 0.999451, 0.999451]],
        [[0.0, 0.0, 0.0, 0.0], [0.999998, 0.999998, 0.999996, 0.999996]],
        [[0.435554, 0.435554], [0.999451, 0.999451]],
        [[0.012599, 0.012599, 0.017397, 0.017397], [0.055738, 0.055738, 0.061934, 0.061934]],
        [[0.35526, 0.35526, 0.35526], [0.000965, 0.000965, 0.000965]],
    ]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_shapes_with_a_run_time_batch_entry():
    x = tf.placeholder(tf.float32, [None, 4, 4, 2])
    w = tf.Variable(tf.ones([3, 3, 2, 2]))
    out_shape = tf.stack([tf.shape(x)[0], 8, 8, 2])
    y = tf.nn.conv2d_transpose(x, w, out_shape, strides=[1, 2, 2, 1], padding="SAME")
    z = tf.reshape(y, [tf.shape(x)[0], 8 * 8 * 2])
    z2 = tf.reshape(y, tf.stack([tf.shape(x)[0], 128]))
    assert y.shape.as_list() == [None, 8, 8, 2] and z.shape.as_list() == [None, 128]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        a, b = s.run([z, z2], {x: np.ones((3, 4, 4, 2), np.float32)})
    # TF: shape (3, 128), sum 1452.0, first row starts [2 2 2 2 4 4]
    assert a.shape == (3, 128) and a.sum() == 1452.0
    np.testing.assert_array_equal(a[0, :6], [2, 2, 2, 2, 4, 4])
    np.testing.assert_array_equal(a, b)
    flat = tf.reshape(y, [tf.shape(y)[0], -1])  # the -1 of y itself is known: 128
    assert flat.shape.as_list() == [None, 128]
    with pytest.raises(tf.GraphError, match="reshape"):
        tf.reshape(y, [tf.shape(x)[0], -1])  # x's batch need not be y's
    with pytest.raises(tf.GraphError, match="conv2d_transpose"):
        tf.nn.conv2d_transpose(x, w, tf.shape(y), strides=[1, 2, 2, 1])


def test_exponential_moving_average_names_and_values_match_tf():
    v = tf.Variable([1.0, 2.0], name="v")
    x = tf.placeholder(tf.float32, [None, 2])
    with tf.variable_scope("bn"):
        m, var = tf.nn.moments(x, [0])
        ema = tf.train.ExponentialMovingAverage(decay=0.9)
        up = ema.apply([m, var, v])
    ema2 = tf.train.ExponentialMovingAverage(
        0.99, num_updates=tf.constant(3), zero_debias=True, name="E2"
    )
    up2 = ema2.apply([m])
    # TF's names for the same program
    assert ema.average(m).name == "bn/bn/moments/Squeeze/ExponentialMovingAverage:0"
    assert ema.average(v).name == "bn/v/ExponentialMovingAverage:0"
    assert up.name == "bn/ExponentialMovingAverage"
    assert ema2.average(m).name == "bn/moments/Squeeze/E2:0"
    assert ema2.average(v) is None
    assert [t.name for t in tf.moving_average_variables()] == ["v:0"]
    assert len(tf.global_variables()) == 7 and [t.name for t in tf.trainable_variables()] == ["v:0"]
    keys = sorted(ema2.variables_to_restore())[:6]
    assert keys == [
        "bn/bn/moments/Squeeze/ExponentialMovingAverage",
        "bn/bn/moments/Squeeze_1/ExponentialMovingAverage",
        "bn/moments/Squeeze/E2",
        "bn/moments/Squeeze/E2/biased",
        "bn/moments/Squeeze/E2/local_step",
        "bn/v/ExponentialMovingAverage",
    ]
    step = v.assign(v * 2.0)
    got = []
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(s.run(ema.average(v)), [1.0, 2.0])
        for i in range(3):
            s.run(step)
            s.run([up, up2], {x: np.array([[1.0, 2.0], [3.0, 6.0 + i]], np.float32)})
            got.append(s.run([ema.average(m), ema.average(var), ema.average(v), ema2.average(m)]))
    want = [  # TF 1.x (tf.compat.v1), the same program
        [[0.2, 0.4], [0.1, 0.4], [1.1, 2.2], [2.0, 4.0]],
        [[0.38, 0.81], [0.19, 0.985], [1.39, 2.78], [2.0, 4.382353]],
        [[0.542, 1.229], [0.271, 1.7865], [2.051, 4.102], [2.0, 4.822785]],
    ]
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5)
    with pytest.raises(tf.GraphError, match="already has an average"):
        ema.apply([m])


@pytest.mark.parametrize("backend", ["cpu", "interpreter"])
def test_sin_cos_and_their_gradients_match_tf(backend):
    x = tf.placeholder(tf.float32, [None])
    y = tf.sin(x) * tf.math.cos(x * 2.0)
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    xs = np.linspace(-3, 3, 7).astype(np.float32)
    with tf.Session(config=tf.ConfigProto(), backend=backend) as s:
        a, b = s.run([y, g], {x: xs})
    # tensorflow-cpu, the same graph
    np.testing.assert_allclose(
        a, [-0.135499, 0.594356, 0.350175, 0.0, -0.350175, -0.594356, 0.135499], atol=1e-6
    )
    np.testing.assert_allclose(
        b, [-0.871699, 1.648329, -1.75514, 1.0, -1.75514, 1.648329, -0.871699], atol=1e-5
    )


# three steps on sum(w^2 * [1, 0.5, 3]) from w = [1, -2, 0.05]: tensorflow-cpu (tf.compat.v1)
OPTIMIZER_CASES = {
    "adadelta": (
        lambda: tf.train.AdadeltaOptimizer(1.0, rho=0.9, epsilon=1e-6),
        [0.990309, -1.990301, 0.040642],
        ["w/Adadelta:0", "w/Adadelta_1:0", "w:0"],
    ),
    "ftrl": (
        lambda: tf.train.FtrlOptimizer(
            0.5, l1_regularization_strength=0.01, l2_regularization_strength=0.1
        ),
        [0.101898, -0.726927, -0.079499],
        ["w/Ftrl:0", "w/Ftrl_1:0", "w:0"],
    ),
    "ftrl_plain": (
        lambda: tf.train.FtrlOptimizer(0.5),
        [0.1008, -0.754219, -0.053581],
        ["w/Ftrl:0", "w/Ftrl_1:0", "w:0"],
    ),
    "proximal": (
        lambda: tf.train.ProximalGradientDescentOptimizer(
            0.1, l1_regularization_strength=0.5, l2_regularization_strength=0.2
        ),
        [0.364848, -1.24347, 0.0],
        ["w:0"],
    ),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_tf1_optimizers_match_tf(case):
    make, want, names = OPTIMIZER_CASES[case]
    w = tf.Variable([1.0, -2.0, 0.05], name="w")
    step = make().minimize(tf.reduce_sum(w * w * tf.constant([1.0, 0.5, 3.0])))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            s.run(step)
        np.testing.assert_allclose(s.run(w), want, rtol=2e-5, atol=1e-6)
    assert sorted(v.name for v in tf.global_variables()) == names


def test_learning_rate_schedules_match_tf():
    g = tf.placeholder(tf.int64, [])
    lrs = [
        tf.train.piecewise_constant(g, [10, 20], [1.0, 0.5, 0.1]),
        tf.train.polynomial_decay(0.1, g, 20, end_learning_rate=0.01, power=2.0),
        tf.train.polynomial_decay(0.1, g, 20, cycle=True),
        tf.train.inverse_time_decay(0.1, g, 10, 0.5),
        tf.train.inverse_time_decay(0.1, g, 10, 0.5, staircase=True),
        tf.train.natural_exp_decay(0.1, g, 10, 0.5),
        tf.train.natural_exp_decay(0.1, g, 10, 0.5, staircase=True),
        tf.train.cosine_decay(0.1, g, 20, alpha=0.1),
        tf.train.exponential_decay(0.1, g, 10, 0.5, staircase=True),
    ]
    want = {  # tensorflow-cpu, the same schedules (the last: 0.1 * 0.5 ** (step // 10))
        0: [1.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
        5: [1.0, 0.060625, 0.075025, 0.08, 0.1, 0.0778801, 0.1, 0.0868198, 0.1],
        10: [1.0, 0.0325, 0.05005, 0.0666667, 0.0666667, 0.0606531, 0.0606531, 0.055, 0.05],
        15: [0.5, 0.015625, 0.025075, 0.0571429, 0.0666667, 0.0472367, 0.0606531, 0.0231802, 0.05],
        25: [0.1, 0.01, 0.0375625, 0.0444444, 0.05, 0.0286505, 0.0367879, 0.01, 0.025],
    }
    with tf.Session() as s:
        for step, expected in want.items():
            np.testing.assert_allclose(s.run(lrs, {g: step}), expected, rtol=1e-5)
    with pytest.raises(tf.GraphError, match="piecewise_constant"):
        tf.train.piecewise_constant(g, [10], [1.0])


def test_layer_and_get_variable_regularizers_match_tf():
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3) / 10)

    def reg(scale):
        return lambda w: scale * tf.reduce_sum(tf.square(w)) / 2

    tf.layers.dense(
        x,
        2,
        kernel_initializer=tf.constant_initializer(0.5),
        bias_initializer=tf.constant_initializer(0.1),
        kernel_regularizer=reg(0.1),
        bias_regularizer=reg(1.0),
        activity_regularizer=reg(0.01),
    )
    tf.get_variable("w", [2, 2], initializer=tf.ones_initializer(), regularizer=reg(0.3))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    total = tf.losses.get_regularization_loss()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        got, tot = s.run(losses), s.run(total)
    # tensorflow-cpu: kernel, bias, activity, get_variable's regularizer; their sum
    np.testing.assert_allclose(got, [0.075, 0.01, 0.005525, 0.6], rtol=1e-5)
    assert tot == pytest.approx(0.690525, rel=1e-5)
