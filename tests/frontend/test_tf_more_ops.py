"""TensorFlow names added for public programs (issue 18): strided_slice,
scatter_nd, sequence_mask, pad, eye, tensordot, einsum, py_func /
numpy_function / py_function, tf.print and tf.Print.

TF_VALUES were computed once with TensorFlow 2.21 (tests/frontend/
tf_more_ops_reference.py prints them); TensorFlow is not a test dependency.
einsum and tensordot follow numpy's einsum/tensordot, which TensorFlow
documents as their semantics; their gradients are checked by finite
differences.
"""

import numpy as np
import pytest

import kiln as tf

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)

TF_VALUES = {
    "ss_basic": np.array(
        [[[4.0, 6.0], [8.0, 10.0]], [[16.0, 18.0], [20.0, 22.0]]], dtype="float32"
    ),
    "ss_shrink_endmask": np.array(
        [[12.0, 13.0, 14.0, 15.0], [16.0, 17.0, 18.0, 19.0], [20.0, 21.0, 22.0, 23.0]],
        dtype="float32",
    ),
    "ss_neg": np.array([[[20.0, 21.0, 22.0, 23.0]], [[8.0, 9.0, 10.0, 11.0]]], dtype="float32"),
    "ss_ellipsis_newaxis": np.array(
        [
            [[[1.0, 2.0]], [[5.0, 6.0]], [[9.0, 10.0]]],
            [[[13.0, 14.0]], [[17.0, 18.0]], [[21.0, 22.0]]],
        ],
        dtype="float32",
    ),
    "scatter_1d": np.array([0.0, 11.0, 0.0, 10.0, 10.0, 0.0, 0.0, 12.0], dtype="float32"),
    "scatter_rows": np.array(
        [[5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 0.0], [6.0, 6.0, 6.0, 6.0], [0.0, 0.0, 0.0, 0.0]],
        dtype="float32",
    ),
    "scatter_2d": np.array([[0.0, 3.0], [4.0, 0.0]], dtype="float32"),
    "mask": np.array(
        [
            [True, False, False, False, False],
            [True, True, True, False, False],
            [True, True, False, False, False],
        ],
        dtype="bool",
    ),
    "mask_nomax_f": np.array(
        [[[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]], dtype="float32"
    ),
    "pad_c": np.array(
        [
            [7.0, 7.0, 7.0, 7.0, 7.0, 7.0],
            [0.0, 1.0, 2.0, 3.0, 7.0, 7.0],
            [4.0, 5.0, 6.0, 7.0, 7.0, 7.0],
            [8.0, 9.0, 10.0, 11.0, 7.0, 7.0],
        ],
        dtype="float32",
    ),
    "pad_r": np.array(
        [
            [6.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0, 4.0],
            [2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0, 0.0],
            [6.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0, 4.0],
            [10.0, 9.0, 8.0, 9.0, 10.0, 11.0, 10.0, 9.0, 8.0],
            [6.0, 5.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0, 4.0],
        ],
        dtype="float32",
    ),
    "pad_s": np.array(
        [
            [4.0, 4.0, 5.0, 6.0, 7.0, 7.0, 6.0, 5.0, 4.0],
            [0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 0.0],
            [0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 0.0],
            [4.0, 4.0, 5.0, 6.0, 7.0, 7.0, 6.0, 5.0, 4.0],
            [8.0, 8.0, 9.0, 10.0, 11.0, 11.0, 10.0, 9.0, 8.0],
        ],
        dtype="float32",
    ),
    "eye": np.array(
        [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype="float32"
    ),
}


def _run(t, feed=None):
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        return s.run(t, feed)


def _ops():
    x = tf.constant(X)
    return {
        "ss_basic": tf.strided_slice(x, [0, 1, 0], [2, 3, 4], [1, 1, 2]),
        "ss_shrink_endmask": tf.strided_slice(
            x, [1, 0], [2, 0], [1, 1], shrink_axis_mask=1, end_mask=2
        ),
        "ss_neg": tf.strided_slice(x, [-1, -1], [-3, 0], [-1, -2]),
        "ss_ellipsis_newaxis": tf.strided_slice(
            x, [0, 0, 1], [0, 0, 3], [1, 1, 1], ellipsis_mask=1, new_axis_mask=2
        ),
        "scatter_1d": tf.scatter_nd([[4], [3], [1], [7], [4]], [9.0, 10, 11, 12, 1], [8]),
        "scatter_rows": tf.scatter_nd([[0], [2]], [[5.0, 5, 5, 5], [6, 6, 6, 6]], [4, 4]),
        "scatter_2d": tf.scatter_nd([[0, 1], [1, 0]], [3.0, 4.0], [2, 2]),
        "mask": tf.sequence_mask([1, 3, 2], 5),
        "mask_nomax_f": tf.sequence_mask([[1, 3], [2, 0]], dtype=tf.float32),
        "pad_c": tf.pad(x[0], [[1, 0], [0, 2]], constant_values=7),
        "pad_r": tf.pad(x[0], [[1, 1], [2, 3]], "REFLECT"),
        "pad_s": tf.pad(x[0], [[2, 0], [1, 4]], "SYMMETRIC"),
        "eye": tf.eye(2, 3, batch_shape=[2]),
    }


@pytest.mark.parametrize("name", sorted(TF_VALUES))
def test_matches_tensorflow(name):
    tf.reset_default_graph()
    got = _run(_ops()[name])
    want = TF_VALUES[name]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _fd_grad(f, v, eps=1e-3):
    g = np.zeros_like(v, dtype=np.float64)
    for i in np.ndindex(v.shape):
        a, b = v.copy(), v.copy()
        a[i] += eps
        b[i] -= eps
        g[i] = (f(a) - f(b)) / (2 * eps)
    return g


def _check_grad(build, value):
    """d sum(build(v)^2) / dv from kiln against central differences on the oracle."""
    tf.reset_default_graph()
    p = tf.placeholder(tf.float64, value.shape)
    y = build(p)
    loss = tf.reduce_sum(y * y)
    g = tf.gradients(loss, p)[0]
    with tf.Session() as s:
        got = s.run(g, {p: value})
        f = lambda v: float(s.run(loss, {p: v}))  # noqa: E731
        np.testing.assert_allclose(got, _fd_grad(f, value), rtol=1e-5, atol=1e-6)


def test_gradients_of_slices_scatters_and_pads():
    rng = np.random.RandomState(1)
    v = rng.randn(3, 5)
    _check_grad(lambda p: tf.strided_slice(p, [2, 0], [0, 5], [-1, 2]), v)
    _check_grad(lambda p: tf.pad(p, [[1, 2], [3, 1]], "REFLECT"), v)
    _check_grad(lambda p: tf.pad(p, [[2, 0], [0, 4]], "SYMMETRIC") * 2.0, v)
    _check_grad(lambda p: tf.scatter_nd([[1], [3], [1]], p, [4, 5]), v)


EINSUMS = [
    ("ijk,kl->ijl", [(2, 3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 1)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("ijk->", [(2, 3, 4)]),
    ("ij,ij->i", [(3, 4), (3, 4)]),
    ("ij,kj", [(3, 4), (5, 4)]),
    ("i,j->ij", [(3,), (1,)]),
    ("bij,bjk,kl->bil", [(2, 3, 4), (2, 4, 6), (6, 2)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("ij,jk->ik", [(0, 3), (3, 2)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUMS)
def test_einsum_against_numpy(eq, shapes):
    tf.reset_default_graph()
    rng = np.random.RandomState(0)
    values = [rng.randn(*s).astype(np.float32) for s in shapes]
    got = _run(tf.einsum(eq, *[tf.constant(v) for v in values]))
    np.testing.assert_allclose(got, np.einsum(eq, *values), rtol=1e-5, atol=1e-5)


def test_einsum_and_tensordot_gradients_and_unknown_batch():
    rng = np.random.RandomState(2)
    w = rng.randn(4, 3)
    _check_grad(lambda p: tf.einsum("bij,jk->bik", p, tf.constant(w)), rng.randn(2, 5, 4))
    _check_grad(lambda p: tf.tensordot(p, tf.constant(w), [[2], [0]]), rng.randn(2, 5, 4))
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 5, 4])
    y = tf.tensordot(x, tf.constant(w.astype(np.float32)), axes=1)
    assert y.shape.as_list() == [None, 5, 3]
    v = rng.randn(7, 5, 4).astype(np.float32)
    np.testing.assert_allclose(_run(y, {x: v}), np.tensordot(v, w, 1), rtol=1e-5, atol=1e-5)
    a = rng.randn(2, 3, 4).astype(np.float32)
    b = rng.randn(4, 2, 5).astype(np.float32)
    got = _run(tf.tensordot(a, b, [[0, 2], [1, 0]]))
    np.testing.assert_allclose(got, np.tensordot(a, b, [[0, 2], [1, 0]]), rtol=1e-5, atol=1e-5)


def test_bad_input_names_the_op():
    tf.reset_default_graph()
    with pytest.raises(tf.GraphError, match="einsum.*3 terms for 2 inputs"):
        tf.einsum("ij,jk,kl->il", tf.ones([2, 2]), tf.ones([2, 2]))
    with pytest.raises(tf.GraphError, match="tensordot: dim 1"):
        tf.tensordot(tf.ones([2, 3]), tf.ones([4, 2]), 1)
    with pytest.raises(tf.GraphError, match="scatter_nd: updates"):
        tf.scatter_nd([[1]], tf.ones([2]), [4])
    with pytest.raises(tf.GraphError, match="pad: mode"):
        tf.pad(tf.ones([2]), [[1, 1]], "EDGE")
    with pytest.raises(tf.GraphError, match="REFLECT padding"):
        tf.pad(tf.ones([2]), [[2, 0]], "REFLECT")
    with pytest.raises(tf.GraphError, match="sequence_mask without maxlen"):
        tf.sequence_mask(tf.placeholder(tf.int32, [3]))


def test_py_func_and_numpy_function_in_a_graph_and_eagerly():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    doubled = tf.py_func(lambda a: (2 * a).astype(np.float32), [x], tf.float32)
    total, plus = tf.numpy_function(
        lambda a, b: [a.sum(), b + 1], [x, tf.constant(3)], [tf.float32, tf.int32]
    )
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = _run([doubled, total, plus], {x: v})
    np.testing.assert_array_equal(got[0], 2 * v)
    assert got[1] == 15.0 and got[1].dtype == np.float32 and got[2] == 4
    bad = tf.py_func(lambda a: 1 / 0, [x], tf.float32, name="boom")
    with pytest.raises(tf.GraphError, match="boom.*ZeroDivisionError"):
        _run(bad, {x: v})
    with tf.eager_mode():
        e = tf.py_function(lambda t: t * 3, [tf.constant([1.0, 2.0])], tf.float32)
        np.testing.assert_array_equal(e.numpy(), [3.0, 6.0])


def test_print_ops(capsys):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 3])
    w = tf.Variable(np.ones((3, 2), np.float32))
    h = tf.Print(tf.matmul(x, w), [tf.reduce_sum(x)], message="sum: ", first_n=2)
    g = tf.gradients(tf.reduce_sum(h * h), w)[0]
    op = tf.print("total", tf.reduce_sum(x))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            grad = s.run(g, {x: np.ones((2, 3), np.float32)})
        s.run(op, {x: np.ones((2, 3), np.float32)})
    np.testing.assert_array_equal(grad, np.full((3, 2), 12.0))  # identity for gradients
    err = capsys.readouterr().err
    assert err.count("sum: [6") == 2  # first_n=2 of three runs
    assert "total 6" in err


# TensorFlow 2.21's tf.nn.lrn on RandomState(3).randn(2, 3, 2, 7) (see tf_more_ops_reference.py)
LRN_A_SUM = -4.850473519414663
LRN_A_0 = [1.43619954, 0.29486680, 0.06496294, -1.45762885, -0.21915343, -0.28042406, -0.08146393]
LRN_B_0 = [0.09244690, -0.49466059, 0.49320737, -0.48576710, 0.08454715, 0.21762982, -0.29812115]
LRN_G_0 = [0.01357742, 0.57688487, 1.07466888, 1.52394032, 2.13273072, 2.84976697, 3.44404006]
LRN_G_SUM = 119.74485219060443


def test_lrn_matches_tensorflow():
    tf.reset_default_graph()
    x = np.random.RandomState(3).randn(2, 3, 2, 7).astype(np.float32)
    xv = tf.Variable(x)
    a = tf.nn.lrn(x, depth_radius=2, bias=1.0, alpha=0.1, beta=0.75)
    b = tf.nn.local_response_normalization(x)
    y = tf.reduce_sum(tf.nn.lrn(xv, 2, 2.0, 1e-1, 0.75) * np.arange(7, dtype=np.float32))
    got_a, got_b, got_g = _run([a, b, tf.gradients(y, xv)[0]])
    np.testing.assert_allclose(got_a.astype(np.float64).sum(), LRN_A_SUM, rtol=1e-6)
    np.testing.assert_allclose(got_a[0, 0, 0], LRN_A_0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b[1, 2, 1], LRN_B_0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_g[0, 1, 1], LRN_G_0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_g.astype(np.float64).sum(), LRN_G_SUM, rtol=1e-6)
    with pytest.raises(tf.GraphError, match="lrn: .* must be 4-D"):
        tf.nn.lrn(tf.ones([2, 3]))


# TensorFlow 2.21's tf.sort/argsort/norm/nn.swish/silu/xw_plus_b (tf_more_ops_reference.py)
SORTS = {
    "asc": [[1.0, 1.0, 2.0, 3.0], [-1.0, 0.0, 5.0, 5.0], [-2.0, 0.5, 4.0, 4.0]],
    "desc0": [[3.0, 5.0, 5.0, 4.0], [0.5, 1.0, 4.0, 1.0], [-1.0, -2.0, 2.0, 0.0]],
    "arg": [[1, 3, 2, 0], [0, 3, 1, 2], [1, 0, 2, 3]],
    "argd": [[0, 2, 1, 3], [1, 2, 3, 0], [2, 3, 0, 1]],
    "arg0": [[1, 2, 0, 1], [2, 0, 2, 0], [0, 1, 1, 2]],
}
NORMS = {
    "all": 10.11187,
    "ax1": [3.87298, 7.14143, 6.0208],
    "l1": [4.5, 8.0, 11.0, 5.0],
    "inf": [[3.0], [5.0], [4.0]],
}
NN = {
    "swish": [-0.268941, 4.966536, 4.966536, 0.0],
    "silu": [0.31123, -0.238406, 3.928055, 3.928055],
    "xwb": [[16.0, 14.0, 14.5], [13.0, 53.0, 12.5], [12.5, 11.5, 39.25]],
}


def test_sort_norm_swish_match_tensorflow():
    tf.reset_default_graph()
    x = np.array([[3.0, 1.0, 2.0, 1.0], [-1.0, 5.0, 5.0, 0.0], [0.5, -2.0, 4.0, 4.0]], np.float32)
    got = _run(
        {
            "asc": tf.sort(x),
            "desc0": tf.sort(x, axis=0, direction="DESCENDING"),
            "arg": tf.argsort(x),
            "argd": tf.argsort(x, direction="DESCENDING"),
            "arg0": tf.argsort(x, axis=0),
            "all": tf.norm(x),
            "ax1": tf.norm(x, axis=1),
            "l1": tf.norm(x, ord=1, axis=0),
            "inf": tf.norm(x, ord=np.inf, axis=1, keepdims=True),
            "swish": tf.nn.swish(x[1]),
            "silu": tf.nn.silu(x[2]),
            "xwb": tf.nn.xw_plus_b(x, x.T, [1.0, 2.0, 3.0]),
        }
    )
    for k, v in {**SORTS, **NORMS, **NN}.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-5, err_msg=k)
    assert got["arg"].dtype == np.int32
    with pytest.raises(tf.GraphError, match="spectral norm"):
        tf.norm(tf.ones([2, 2]), ord=2, axis=[0, 1])


def test_split_of_an_unknown_dim_into_equal_pieces():
    # nlintz/TensorFlow-Tutorials 07_lstm: tf.split(reshape(x, [-1, 28]), 28, 0); TensorFlow
    # gives pieces of shape (None, 3) and checks the division at run time
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        parts = tf.split(x, 4, 0)
        assert [p.shape.as_list() for p in parts] == [[None, 3]] * 4
        g = tf.gradients(tf.reduce_sum(parts[1] * parts[2]), x)[0]
        v = np.arange(24, dtype=np.float32).reshape(8, 3)
        with tf.Session() as s:
            out, gv = s.run([parts, g], {x: v})
            with pytest.raises(tf.KilnError, match="21 elements"):
                s.run(parts, {x: np.zeros((7, 3), np.float32)})
    for a, b in zip(out, np.split(v, 4, 0)):
        np.testing.assert_array_equal(a, b)
    want = np.zeros_like(v)
    want[2:4], want[4:6] = v[4:6], v[2:4]
    np.testing.assert_array_equal(gv, want)


def test_dense_over_two_unknown_leading_dims():
    # golbin 10 - RNN/03 - Seq2Seq: tf.layers.dense on dynamic_rnn's [batch, time, depth]
    # outputs with batch and time unknown (TensorFlow: shape (None, None, units))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None, 5])
        y = tf.layers.dense(x, 3, name="d")
        assert y.shape.as_list() == [None, None, 3]
        g = tf.gradients(tf.reduce_sum(y), x)[0]
        v = np.random.RandomState(0).rand(2, 4, 5).astype(np.float32)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            k, b = s.run(["d/kernel:0", "d/bias:0"])
            out, gv = s.run([y, g], {x: v})
    np.testing.assert_allclose(out, v @ k + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gv, np.broadcast_to(k.sum(1), v.shape), rtol=1e-5)


def test_dropout_wrapper_inside_dynamic_rnn():
    # golbin 10 - RNN/02, 03: DropoutWrapper(BasicLSTMCell) in a MultiRNNCell under
    # dynamic_rnn; the dropout's run counter lives outside the loop region
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3, 4])
        cells = [
            tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(6), output_keep_prob=0.5)
            for _ in range(2)
        ]
        out, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.MultiRNNCell(cells), x, dtype=tf.float32)
        loss = tf.reduce_mean(tf.square(out))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        v = np.random.RandomState(1).rand(5, 3, 4).astype(np.float32)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            a, b = s.run(out, {x: v}), s.run(out, {x: v})
            s.run(train, {x: v})
    assert a.shape == (5, 3, 6)
    zeros = np.mean(a == 0.0)
    assert 0.25 < zeros < 0.75  # about half the outputs dropped
    assert not np.array_equal(a == 0.0, b == 0.0)  # a new mask each run
