"""kl.nn.rnn_cell and kl.nn.dynamic_rnn against TensorFlow's own numbers.

TF holds numbers made once with TensorFlow 2.21's tf.compat.v1 (graph mode,
TF-1.x cells from tf-keras) by tests/frontend/tf_rnn_reference.py; TensorFlow
is not a test dependency. The same 2-layer BasicLSTMCell program with fixed
initial values must give TF's losses step by step (plain SGD, lr 0.5), with
and without sequence_length; GRUCell, LSTMCell (peepholes, projection) and
BasicRNNCell must give TF's outputs, zeros past each sequence's end.
"""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend import rnn

pytestmark = pytest.mark.filterwarnings("ignore:kiln. running")

TF = {
    "losses_full": [0.812783, 0.335583, -0.031866, -0.335612, -0.614677],
    "losses_lens": [0.832085, 0.515346, 0.252015, 0.032206, -0.157527],
    "names": [
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias:0",
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0",
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias:0",
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel:0",
    ],
    "gru": [
        [
            [0.349984, -0.065838, -0.121901, -0.027423],
            [-0.304429, -0.029834, -0.142388, 0.761061],
            [-0.085044, -0.161032, 0.309602, 0.459411],
            [0.457336, -0.304039, -0.358145, -0.132029],
            [0.27859, -0.350121, -0.3021, 0.002528],
        ],
        [
            [-0.543249, 0.059759, -0.608102, 0.599966],
            [-0.643401, -0.07517, -0.071136, 0.685711],
            [-0.810676, -0.04862, -0.035572, 0.765664],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
    ],
    "lstmcell": [
        [
            [-0.141034, -0.006425],
            [0.0176, 0.005354],
            [-0.003527, 0.091],
            [-0.309856, 0.03118],
            [-0.260954, 0.075383],
        ],
        [[0.093113, 0.051082], [0.119599, 0.11176], [0.079331, 0.103313], [0.0, 0.0], [0.0, 0.0]],
    ],
    "basicrnn": [
        [
            [0.383064, -0.150534, 0.889584, -0.540893],
            [-0.276117, 0.457184, 0.946388, -0.785021],
            [-0.272255, -0.481834, 0.718329, -0.153532],
            [-0.324403, -0.721644, 0.186417, -0.533067],
            [-0.377473, -0.741985, 0.880002, -0.416839],
        ],
        [
            [0.109872, 0.70955, 0.193674, -0.553243],
            [-0.156617, 0.042027, 0.916642, 0.31588],
            [-0.092662, 0.277983, 0.64056, -0.543004],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
    ],
    "vars": {
        "gru": [
            ["rnn/gru_cell/candidate/bias:0", [4]],
            ["rnn/gru_cell/candidate/kernel:0", [7, 4]],
            ["rnn/gru_cell/gates/bias:0", [8]],
            ["rnn/gru_cell/gates/kernel:0", [7, 8]],
        ],
        "lstmcell": [
            ["rnn/lstm_cell/bias:0", [16]],
            ["rnn/lstm_cell/kernel:0", [5, 16]],
            ["rnn/lstm_cell/projection/kernel:0", [4, 2]],
            ["rnn/lstm_cell/w_f_diag:0", [4]],
            ["rnn/lstm_cell/w_i_diag:0", [4]],
            ["rnn/lstm_cell/w_o_diag:0", [4]],
        ],
        "basicrnn": [["rnn/basic_rnn_cell/bias:0", [4]], ["rnn/basic_rnn_cell/kernel:0", [7, 4]]],
    },
}

B, T, D, H = 2, 5, 3, 4
LENS = np.array([5, 3], np.int32)


def problem():
    """tf_rnn_reference.py's inputs and initial weights, verbatim."""
    rng = np.random.RandomState(0)
    x = rng.randn(B, T, D).astype(np.float32)
    y = rng.randn(B, T, H).astype(np.float32)
    k0 = (rng.randn(D + H, 4 * H) * 0.3).astype(np.float32)
    k1 = (rng.randn(H + H, 4 * H) * 0.3).astype(np.float32)
    b0 = (rng.randn(4 * H) * 0.1).astype(np.float32)
    b1 = (rng.randn(4 * H) * 0.1).astype(np.float32)
    return x, y, {"cell_0": (k0, b0), "cell_1": (k1, b1)}


def _load(sess, values):
    by_name = {v.name: v for v in kl.global_variables()}
    for cell, (k, b) in values.items():
        by_name[f"rnn/multi_rnn_cell/{cell}/basic_lstm_cell/kernel:0"].load(k, sess)
        by_name[f"rnn/multi_rnn_cell/{cell}/basic_lstm_cell/bias:0"].load(b, sess)


@pytest.mark.slow
@pytest.mark.parametrize("with_lens", [False, True])
def test_two_layer_lstm_losses_match_tensorflow(with_lens):
    x, y, values = problem()
    with kl.Graph().as_default():
        cell = rnn.MultiRNNCell([rnn.BasicLSTMCell(H), rnn.BasicLSTMCell(H)])
        outputs, state = kl.nn.dynamic_rnn(
            cell, kl.constant(x), sequence_length=LENS if with_lens else None, dtype=kl.float32
        )
        loss = kl.reduce_mean(kl.square(outputs - y)) + kl.reduce_mean(state[1].c)
        train = kl.train.GradientDescentOptimizer(0.5).minimize(loss)
        assert sorted(v.name for v in kl.global_variables()) == TF["names"]
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            _load(s, values)
            losses = [float(s.run([loss, train])[0]) for _ in range(5)]
            out = s.run(outputs)
    expected = TF["losses_lens" if with_lens else "losses_full"]
    np.testing.assert_allclose(losses, expected, rtol=2e-4, atol=2e-5)
    if with_lens:  # past the end of sequence 1 (length 3): zeros
        np.testing.assert_array_equal(out[1, 3:], 0.0)


@pytest.mark.parametrize(
    "kind,make",
    [
        ("gru", lambda: rnn.GRUCell(H)),
        ("lstmcell", lambda: rnn.LSTMCell(H, use_peepholes=True, num_proj=2)),
        ("basicrnn", lambda: rnn.BasicRNNCell(H)),
    ],
)
def test_cells_match_tensorflow(kind, make):
    x, _, _ = problem()
    with kl.Graph().as_default():
        outputs, _ = kl.nn.dynamic_rnn(
            make(), kl.constant(x), sequence_length=LENS, dtype=kl.float32
        )
        names = [[v.name, v.shape.as_list()] for v in kl.global_variables()]
        assert sorted(names) == TF["vars"][kind]
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            r = np.random.RandomState(5)  # drawn in creation order, as the script does
            for v in kl.global_variables():
                v.load((r.randn(*v.shape.as_list()) * 0.4).astype(np.float32), s)
            out = s.run(outputs)
    np.testing.assert_allclose(out, TF[kind], rtol=1e-4, atol=2e-6)


def _np_lstm(x, k, b, h0, c0, forget_bias=1.0):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c, outs = h0, c0, []
    for t in range(x.shape[0]):
        i, j, f, o = np.split(np.concatenate([x[t], h], 1) @ k + b, 4, axis=1)
        c = c * sig(f + forget_bias) + sig(i) * np.tanh(j)
        h = np.tanh(c) * sig(o)
        outs.append(h)
    return np.stack(outs), c, h


def test_time_major_initial_state_and_static_rnn_agree_with_numpy():
    rng = np.random.RandomState(1)
    x = rng.randn(T, B, D).astype(np.float32)
    k = (rng.randn(D + H, 4 * H) * 0.4).astype(np.float32)
    b = (rng.randn(4 * H) * 0.1).astype(np.float32)
    c0, h0 = (rng.randn(2, B, H) * 0.5).astype(np.float32)
    want, wc, wh = _np_lstm(x, k, b, h0, c0)
    with kl.Graph().as_default():
        cell = rnn.BasicLSTMCell(H)
        init = rnn.LSTMStateTuple(kl.constant(c0), kl.constant(h0))
        out, st = kl.nn.dynamic_rnn(cell, kl.constant(x), initial_state=init, time_major=True)
        with kl.variable_scope("static"):
            cell2 = rnn.BasicLSTMCell(H)
            souts, sst = kl.nn.static_rnn(cell2, list(x), initial_state=init)
        assert isinstance(st, rnn.LSTMStateTuple)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            for v in cell.variables + cell2.variables:
                v.load(k if v.name.endswith("kernel:0") else b, s)
            got = s.run([out, st.c, st.h, souts, sst.h])
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], wc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], wh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.stack(got[3]), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[4], wh, rtol=1e-5, atol=1e-6)


def test_bidirectional_backward_reads_each_sequence_from_its_end():
    rng = np.random.RandomState(2)
    x = rng.randn(B, T, D).astype(np.float32)
    k = (rng.randn(D + H, 4 * H) * 0.4).astype(np.float32)
    b = np.zeros(4 * H, np.float32)
    z = np.zeros((1, H), np.float32)
    with kl.Graph().as_default():
        fw, bw = rnn.BasicLSTMCell(H), rnn.BasicLSTMCell(H)
        (o_fw, o_bw), (s_fw, s_bw) = kl.nn.bidirectional_dynamic_rnn(
            fw, bw, kl.constant(x), sequence_length=LENS, dtype=kl.float32
        )
        names = sorted(v.name for v in kl.global_variables())
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            for v in kl.global_variables():
                v.load(k if v.name.endswith("kernel:0") else b, s)
            got_fw, got_bw, h_bw = s.run([o_fw, o_bw, s_bw.h])
    assert names == [
        "bidirectional_rnn/bw/basic_lstm_cell/bias:0",
        "bidirectional_rnn/bw/basic_lstm_cell/kernel:0",
        "bidirectional_rnn/fw/basic_lstm_cell/bias:0",
        "bidirectional_rnn/fw/basic_lstm_cell/kernel:0",
    ]
    for n in range(B):
        L = LENS[n]
        f, _, _ = _np_lstm(x[n, :L, None], k, b, z, z)
        r, _, rh = _np_lstm(x[n, :L][::-1, None], k, b, z, z)
        np.testing.assert_allclose(got_fw[n, :L], f[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got_bw[n, :L], r[::-1, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h_bw[n], rh[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got_bw[n, L:], 0.0)


def test_dropout_wrapper_keep_one_is_the_cell_and_eager_dynamic_rnn():
    # eager variables keep their names for the process: scopes of this test's own
    rng = np.random.RandomState(3)
    x = rng.randn(B, T, D).astype(np.float32)
    with kl.eager_mode():
        cell = rnn.DropoutWrapper(rnn.GRUCell(H), input_keep_prob=1.0, output_keep_prob=1.0)
        out, state = kl.nn.dynamic_rnn(cell, kl.constant(x), dtype=kl.float32, scope="keep1")
        assert out.shape == (B, T, H)
        np.testing.assert_allclose(out.numpy()[:, -1], state.numpy(), rtol=1e-6)
        assert len(cell.variables) == 4
        gru = rnn.GRUCell(H)
        plain, _ = kl.nn.dynamic_rnn(gru, kl.constant(x), dtype=kl.float32, scope="half")
        dropped = rnn.DropoutWrapper(gru, output_keep_prob=0.5, seed=1)  # the same variables
        out2, _ = kl.nn.dynamic_rnn(dropped, kl.constant(x), dtype=kl.float32, scope="half")
        got, full = out2.numpy(), plain.numpy()
        kept = got != 0.0
        assert kept.any() and not kept.all()
        np.testing.assert_allclose(got[kept], 2.0 * full[kept], rtol=1e-6)


def test_gradient_through_dynamic_rnn_matches_finite_differences():
    rng = np.random.RandomState(4)
    x = rng.randn(B, 3, D).astype(np.float64)
    with kl.Graph().as_default():
        xp = kl.placeholder(kl.float64, [B, 3, D])
        cell = rnn.BasicRNNCell(H, dtype=kl.float64)
        out, _ = kl.nn.dynamic_rnn(cell, xp, sequence_length=[3, 2])
        loss = kl.reduce_sum(out * out)
        (g,) = kl.gradients(loss, [xp])
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            analytic = s.run(g, {xp: x})
            eps, num = 1e-6, np.zeros_like(x)
            for i in np.ndindex(*x.shape):
                d = np.zeros_like(x)
                d[i] = eps
                num[i] = (s.run(loss, {xp: x + d}) - s.run(loss, {xp: x - d})) / (2 * eps)
    np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(analytic[1, 2], 0.0)  # past the end: no gradient


def test_unknown_batch_and_time_run_in_one_graph():
    """Batch and time known only at run time: one kiln.scan for every T."""
    rng = np.random.RandomState(6)
    with kl.Graph().as_default():
        xp = kl.placeholder(kl.float32, [None, None, D])
        lp = kl.placeholder(kl.int32, [None])
        cell = rnn.LSTMCell(H)
        out, st = kl.nn.dynamic_rnn(cell, xp, sequence_length=lp, dtype=kl.float32)
        assert out.shape == [None, None, H]
        grads = kl.gradients(kl.reduce_sum(out), cell.variables)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            k, b = (v.eval() for v in cell.variables)
            for steps, batch in ((5, 2), (7, 3)):
                x = rng.randn(batch, steps, D).astype(np.float32)
                lens = np.arange(batch, dtype=np.int32) + 2
                o, h, g = s.run([out, st.h, grads], {xp: x, lp: lens})
                assert [a.shape for a in g] == [(D + H, 4 * H), (4 * H,)]
                for n in range(batch):
                    z = np.zeros((1, H), np.float32)
                    want, _, wh = _np_lstm(x[n, : lens[n], None], k, b, z, z)
                    np.testing.assert_allclose(o[n, : lens[n]], want[:, 0], rtol=1e-5, atol=1e-6)
                    np.testing.assert_array_equal(o[n, lens[n] :], 0.0)
                    np.testing.assert_allclose(h[n], wh[0], rtol=1e-5, atol=1e-6)


def _scan_matmuls(module):
    """For each kiln.scan of the module (outermost first): the shapes of the rhs of
    the matmuls in its body, and the matmuls outside every scan."""
    func = module["run"]
    scans, outside = [], []
    for op in func.body.ops:
        if op.name == "kiln.scan":
            scans.append(
                [tuple(o.operands[1].type.shape) for o in op.body.ops if o.name == "kiln.matmul"]
            )
        elif op.name == "kiln.matmul":
            outside.append(tuple(op.operands[1].type.shape))
    return scans, outside


def test_multi_rnn_cell_runs_one_scan_per_layer_with_the_input_projection_outside():
    """Each layer's x @ kernel[:D] is one matmul before its scan; a step multiplies
    only h by the recurrent rows kernel[D:] (as cuDNN and PyTorch run a stack)."""
    from kiln.frontend.lowering import lower

    x = np.random.RandomState(7).randn(B, T, D).astype(np.float32)
    with kl.Graph().as_default() as g:
        xp = kl.placeholder(kl.float32, [B, T, D])
        cell = rnn.MultiRNNCell([rnn.BasicLSTMCell(H), rnn.GRUCell(H)])
        out, _ = kl.nn.dynamic_rnn(cell, xp, dtype=kl.float32)
        module = lower(g, [out], {xp: x}).module
    scans, outside = _scan_matmuls(module)
    assert scans == [[(H, 4 * H)], [(H, 2 * H), (H, H)]]
    assert outside == [(D, 4 * H), (H, 3 * H)]  # the GRU's gates and candidate: one matmul


def test_layered_and_projected_stack_matches_the_stepwise_numpy_stack():
    """A 2-layer LSTM stack with sequence_length: the layer-by-layer scans with
    hoisted projections give the step-by-step stack's outputs and states."""
    rng = np.random.RandomState(8)
    x = rng.randn(B, T, D).astype(np.float32)
    lens = np.array([T, 3], np.int32)
    ks = [(rng.randn(d + H, 4 * H) * 0.4).astype(np.float32) for d in (D, H)]
    bs = [(rng.randn(4 * H) * 0.1).astype(np.float32) for _ in range(2)]
    with kl.Graph().as_default():
        cell = rnn.MultiRNNCell([rnn.BasicLSTMCell(H), rnn.BasicLSTMCell(H)])
        out, st = kl.nn.dynamic_rnn(cell, kl.constant(x), sequence_length=lens, dtype=kl.float32)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            for v in cell.variables:
                layer = int(v.name.split("cell_")[1][0])
                v.load(ks[layer] if v.name.endswith("kernel:0") else bs[layer], s)
            got, c1, h1 = s.run([out, st[1].c, st[1].h])
    for n in range(B):
        z = np.zeros((1, H), np.float32)
        xs = x[n, : lens[n], None]
        h0s, _, _ = _np_lstm(xs, ks[0], bs[0], z, z)
        want, wc, wh = _np_lstm(h0s, ks[1], bs[1], z, z)
        np.testing.assert_allclose(got[n, : lens[n]], want[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got[n, lens[n] :], 0.0)
        np.testing.assert_allclose(c1[n], wc[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h1[n], wh[0], rtol=1e-5, atol=1e-6)


def test_gradient_of_a_projected_lstm_stack_matches_finite_differences():
    """The weights' gradients through two projected layers (the input projection's
    one matmul after the backward scan, the recurrent rows' pad) in float64."""
    rng = np.random.RandomState(9)
    x = rng.randn(B, 3, D)
    with kl.Graph().as_default():
        cell = rnn.MultiRNNCell(
            [rnn.LSTMCell(H, dtype=kl.float64), rnn.GRUCell(H, dtype=kl.float64)]
        )
        out, _ = kl.nn.dynamic_rnn(cell, kl.constant(x), dtype=kl.float64)
        loss = kl.reduce_sum(out * out)
        weights = cell.variables
        grads = kl.gradients(loss, weights)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            for v in weights:
                v.load(rng.randn(*v.shape.as_list()) * 0.4, s)
            analytic = s.run(grads)
            for v, g in zip(weights, analytic):
                w0 = s.run(v)
                eps = 1e-6
                for i in list(np.ndindex(*w0.shape))[:: max(1, w0.size // 12)]:
                    d = np.zeros_like(w0)
                    d[i] = eps
                    v.load(w0 + d, s)
                    up = s.run(loss)
                    v.load(w0 - d, s)
                    down = s.run(loss)
                    v.load(w0, s)
                    np.testing.assert_allclose(g[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_static_rnn_is_one_scan_with_tf_names_and_a_list_of_outputs():
    """static_rnn stacks its list and runs dynamic_rnn's scan (TF unrolls one cell
    per step: 28 steps were ~1,000 kernels), keeping TF's names and list."""
    from kiln.frontend.lowering import lower

    x = np.random.RandomState(10).randn(12, B, D).astype(np.float32)
    with kl.Graph().as_default() as g:
        xp = kl.placeholder(kl.float32, [12, B, D])
        cell = rnn.MultiRNNCell([rnn.BasicLSTMCell(H), rnn.BasicLSTMCell(H)])
        outs, state = kl.nn.static_rnn(cell, kl.unstack(xp, 12), dtype=kl.float32)
        assert isinstance(outs, list) and len(outs) == 12
        assert sorted(v.name for v in kl.global_variables()) == TF["names"]
        module = lower(g, [*outs, state[1].h], {xp: x}).module
    scans, _ = _scan_matmuls(module)
    assert scans == [[(H, 4 * H)], [(H, 4 * H)]]


def test_static_rnn_with_sequence_length_is_dynamic_rnn_on_the_stacked_list():
    """Past each sequence's end static_rnn's outputs are zeros and its state frozen,
    as dynamic_rnn's (TF's semantics for both); same weights, same numbers."""
    rng = np.random.RandomState(11)
    x = rng.randn(B, T, D).astype(np.float32)
    lens = np.array([2, T], np.int32)
    with kl.Graph().as_default():
        cells = [rnn.LSTMCell(H, name="a"), rnn.LSTMCell(H, name="b")]
        xp = kl.constant(x)
        douts, dst = kl.nn.dynamic_rnn(cells[0], xp, sequence_length=lens, dtype=kl.float32)
        souts, sst = kl.nn.static_rnn(
            cells[1], kl.unstack(xp, T, 1), sequence_length=lens, dtype=kl.float32
        )
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            for a, b in zip(cells[0].variables, cells[1].variables):
                b.load(s.run(a), s)
            d, dc, so, sc = s.run([douts, dst.c, souts, sst.c])
    np.testing.assert_allclose(np.stack(so, 1), d, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sc, dc, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.stack(so, 1)[0, 2:], 0.0)
