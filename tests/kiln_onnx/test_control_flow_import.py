"""ONNX If, Loop, Scan, LSTM, GRU and RNN imported onto kiln.if / kiln.while /
kiln.scan, compiled (backend="auto") and compared with ONNX Runtime's numbers,
computed live (onnxruntime is in the test extra)."""

import pathlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import kiln.onnx.backend as backend  # noqa: E402
from kiln.onnx import import_model  # noqa: E402
from kiln.onnx.convert import OnnxImportError  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

F = TensorProto.FLOAT


def _ort(model, feeds: dict) -> list:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _kiln(model, feeds: dict) -> list:
    rep = backend.prepare(model)
    return [np.asarray(o) for o in rep.run(feeds)]


def _agree(model, feeds: dict, rtol=1e-5, atol=1e-5) -> list:
    want, got = _ort(model, feeds), _kiln(model, feeds)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, (k, g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {k}")
    return got


def _ops(module) -> set[str]:
    names = set()

    def walk(block):
        for op in block.ops:
            names.add(op.name)
            for region in op.regions:
                for inner in region.blocks:
                    walk(inner)

    walk(module["main"].body)
    return names


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _init(name, array):
    return onnx.numpy_helper.from_array(np.asarray(array), name)


# ---------------------------------------------------------------- torch exports


DATA = pathlib.Path(__file__).parent / "data"  # written by data/make_torch_exports.py


def _torch_export(name):
    """A model torch.onnx.export wrote (stored: torch is not a test dependency) and the
    inputs and torch's own outputs it was exported with."""
    return onnx.load(str(DATA / f"{name}.onnx")), dict(np.load(DATA / f"{name}.npz"))


def test_torch_lstm_of_two_layers_gives_onnxruntimes_numbers():
    model, data = _torch_export("torch_lstm2")
    assert [n.op_type for n in model.graph.node].count("LSTM") == 2
    module = import_model(model)
    assert "kiln.scan" in _ops(module)
    got = _agree(model, {k: data[k] for k in ("x", "h0", "c0")})
    np.testing.assert_allclose(got[0], data["torch_y"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[2], data["torch_cn"], rtol=1e-5, atol=1e-5)


def test_torch_lstm_with_a_dynamic_batch_imports_once_for_every_batch_size():
    # torch builds the zero initial states with Shape/Gather/Concat/ConstantOfShape
    model, data = _torch_export("torch_lstm_dynamic")
    module = import_model(model)
    assert [str(d) for d in module["main"].arg_types[0].shape[:2]] == ["BATCH", "STEPS"]
    rep = backend.prepare(model)
    np.testing.assert_allclose(rep.run([data["x"]])[0], data["torch_y"], rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(0)
    for shape in [(2, 3, 4), (5, 7, 4)]:
        x = rng.normal(size=shape).astype(np.float32)
        (want, *_), got = _ort(model, {"x": x}), np.asarray(rep.run([x])[0])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_torch_bidirectional_gru_gives_onnxruntimes_numbers():
    model, data = _torch_export("torch_bigru2")
    gru_nodes = [n for n in model.graph.node if n.op_type == "GRU"]
    assert gru_nodes and any(
        a.name == "linear_before_reset" and a.i == 1 for a in gru_nodes[0].attribute
    )
    got = _agree(model, {"x": data["x"]})
    np.testing.assert_allclose(got[0], data["torch_y"], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- RNN op features


def _rnn_model(op, gates, *, dirs, layout=0, extra_inputs=(), **attrs):
    T, B, I, H = 4, 3, 2, 3
    rng = np.random.default_rng(7)
    w = rng.normal(size=(dirs, gates * H, I)).astype(np.float32)
    r = rng.normal(size=(dirs, gates * H, H)).astype(np.float32) * 0.5
    bias = rng.normal(size=(dirs, 2 * gates * H)).astype(np.float32)
    x_shape = [B, T, I] if layout else [T, B, I]
    state = [B, dirs, H] if layout else [dirs, B, H]
    inputs = [helper.make_tensor_value_info("X", F, x_shape)]
    feeds = {"X": rng.normal(size=x_shape).astype(np.float32)}
    names = ["X", "W", "R", "B"]
    for name in extra_inputs:
        if name == "sequence_lens":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.INT32, [B]))
            feeds[name] = np.array([T, 1, 2], np.int32)
        elif name == "P":
            inputs.append(helper.make_tensor_value_info(name, F, [dirs, 3 * H]))
            feeds[name] = rng.normal(size=(dirs, 3 * H)).astype(np.float32)
        elif name:
            inputs.append(helper.make_tensor_value_info(name, F, state))
            feeds[name] = rng.normal(size=state).astype(np.float32)
        names.append(name)
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, names, outs, hidden_size=H, layout=layout, **attrs)
    y_shape = [B, T, dirs, H] if layout else [T, dirs, B, H]
    outputs = [helper.make_tensor_value_info("Y", F, y_shape)] + [
        helper.make_tensor_value_info(o, F, state) for o in outs[1:]
    ]
    inits = [_init("W", w), _init("R", r), _init("B", bias)]
    return _model([node], inputs, outputs, inits), feeds


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_with_sequence_lens_peepholes_and_clip_gives_onnxruntimes_numbers(direction):
    dirs = 2 if direction == "bidirectional" else 1
    model, feeds = _rnn_model(
        "LSTM",
        4,
        dirs=dirs,
        extra_inputs=("sequence_lens", "initial_h", "initial_c", "P"),
        direction=direction,
        clip=1.5,
    )
    got = _agree(model, feeds)
    # past a sequence's end Y is zero
    assert np.all(got[0][1:, :, 1] == 0) and np.all(got[0][2:, :, 2] == 0)


def test_lstm_batch_major_layout_gives_onnxruntimes_numbers_of_the_time_major_one():
    # ONNX Runtime does not run layout=1: its numbers for layout 0, transposed
    kw = dict(dirs=2, extra_inputs=("", "initial_h"), direction="bidirectional")
    time_major, feeds = _rnn_model("LSTM", 4, **kw)
    batch_major, _ = _rnn_model("LSTM", 4, layout=1, **kw)
    want = _ort(time_major, feeds)
    got = _kiln(
        batch_major,
        {
            "X": feeds["X"].transpose(1, 0, 2),
            "initial_h": feeds["initial_h"].transpose(1, 0, 2),
        },
    )
    np.testing.assert_allclose(got[0], want[0].transpose(2, 0, 1, 3), rtol=1e-5, atol=1e-5)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, w.transpose(1, 0, 2), rtol=1e-5, atol=1e-5)


def test_lstm_input_forget_gives_onnxruntimes_numbers():
    model, feeds = _rnn_model(
        "LSTM", 4, dirs=1, extra_inputs=("", "initial_h", "initial_c"), input_forget=1
    )
    _agree(model, feeds)


@pytest.mark.parametrize("before_reset", [0, 1])
def test_gru_with_sequence_lens_gives_onnxruntimes_numbers(before_reset):
    model, feeds = _rnn_model(
        "GRU",
        3,
        dirs=2,
        extra_inputs=("sequence_lens", "initial_h"),
        direction="bidirectional",
        linear_before_reset=before_reset,
    )
    _agree(model, feeds)


def test_rnn_activation_with_alpha_gives_onnxruntimes_numbers():
    model, feeds = _rnn_model(
        "RNN",
        1,
        dirs=2,
        direction="bidirectional",
        activations=["LeakyRelu", "HardSigmoid"],
        activation_alpha=[0.3, 0.4],
        activation_beta=[0.6],
    )
    _agree(model, feeds)


def test_an_unknown_activation_is_an_import_error_naming_the_node():
    model, _ = _rnn_model("RNN", 1, dirs=1, activations=["Swish"])
    with pytest.raises(OnnxImportError, match=r"\(RNN, opset 17\): activation 'Swish'"):
        import_model(model)


# ---------------------------------------------------------------- Loop


def _loop_body(nodes, carried, outs):
    """A Loop body: (i, cond_in, *carried) -> (cond_out, *outs); (name, shape)
    pairs of float tensors."""
    return helper.make_graph(
        nodes,
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            *(helper.make_tensor_value_info(n, F, shape) for n, shape in carried),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            *(helper.make_tensor_value_info(n, F, shape) for n, shape in outs),
        ],
    )


def _while_doubling_model():
    """x doubled (times an outer-scope factor) while its sum is below a limit:
    a while loop (no trip count), its condition computed in the body."""
    body = _loop_body(
        [
            helper.make_node("Mul", ["x_in", "factor"], ["x_out"]),
            helper.make_node("ReduceSum", ["x_out"], ["total"], keepdims=0),
            helper.make_node("Less", ["total", "limit"], ["cond_out"]),
        ],
        [("x_in", [3])],
        [("x_out", [3])],
    )
    loop = helper.make_node("Loop", ["", "go", "x"], ["x_final"], body=body)
    return _model(
        [loop],
        [
            helper.make_tensor_value_info("go", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", F, [3]),
            helper.make_tensor_value_info("factor", F, [3]),
        ],
        [helper.make_tensor_value_info("x_final", F, [3])],
        [_init("limit", np.float32(100.0))],
    )


def test_a_while_loop_with_an_outer_scope_value_gives_onnxruntimes_numbers():
    model = _while_doubling_model()
    assert "kiln.while" in _ops(import_model(model))
    for go in (True, False):
        feeds = {
            "go": np.array(go),
            "x": np.array([1.0, 2.0, 3.0], np.float32),
            "factor": np.array([2.0, 1.5, 1.0], np.float32),
        }
        got = _agree(model, feeds)
        assert go or np.array_equal(got[0], feeds["x"])


def test_a_loop_with_a_run_time_trip_count_compiles_once_for_every_count():
    from kiln.runtime.executable import compile as kiln_compile

    body = _loop_body(
        [
            helper.make_node("Add", ["y_in", "y_in"], ["y_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        [("y_in", [2])],
        [("y_out", [2])],
    )
    model = _model(
        [helper.make_node("Loop", ["M", "", "y"], ["y_final"], body=body)],
        [
            helper.make_tensor_value_info("M", TensorProto.INT64, []),
            helper.make_tensor_value_info("y", F, [2]),
        ],
        [helper.make_tensor_value_info("y_final", F, [2])],
    )
    module = import_model(model)  # M stays an argument (kiln.onnx.backend would specialise)
    assert "kiln.while" in _ops(module)
    run = kiln_compile(module, "main")
    y = np.array([1.0, -2.0], np.float32)
    for m in (0, 3, 5):
        (want,) = _ort(model, {"M": np.array(m), "y": y})
        np.testing.assert_array_equal(run(np.array(m), y)[0], want)


def test_the_body_condition_ends_a_loop_without_a_cond_input_as_in_onnxruntime():
    stop = helper.make_tensor("stop", TensorProto.BOOL, [], [False])
    body = _loop_body(
        [
            helper.make_node("Add", ["y_in", "y_in"], ["y_out"]),
            helper.make_node("Constant", [], ["cond_out"], value=stop),
        ],
        [("y_in", [2])],
        [("y_out", [2])],
    )
    model = _model(
        [helper.make_node("Loop", ["M", "", "y"], ["y_final"], body=body)],
        [helper.make_tensor_value_info("y", F, [2])],
        [helper.make_tensor_value_info("y_final", F, [2])],
        [_init("M", np.int64(5))],
    )
    got = _agree(model, {"y": np.array([1.0, 2.0], np.float32)})
    np.testing.assert_array_equal(got[0], [2.0, 4.0])  # one trip, not M


def _early_exit_model(trips=10):
    """acc += x[i] for i < M while acc stays under a limit, each acc a scan
    output; with a nested If on an outer-scope value in the body."""
    then_g = helper.make_graph(
        [helper.make_node("Add", ["acc_next0", "bonus"], ["picked"])],
        "then",
        [],
        [helper.make_tensor_value_info("picked", F, [1])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["acc_next0"], ["kept"])],
        "else",
        [],
        [helper.make_tensor_value_info("kept", F, [1])],
    )
    body = _loop_body(
        [
            helper.make_node("Unsqueeze", ["i", "zero_axis"], ["i1"]),
            helper.make_node("Gather", ["xs", "i1"], ["xi"], axis=0),
            helper.make_node("Add", ["acc_in", "xi"], ["acc_next0"]),
            helper.make_node(
                "If", ["use_bonus"], ["acc_out"], then_branch=then_g, else_branch=else_g
            ),
            helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0),
            helper.make_node("Less", ["total", "limit"], ["cond_out"]),
            helper.make_node("Identity", ["acc_out"], ["row"]),
        ],
        [("acc_in", [1])],
        [("acc_out", [1]), ("row", [1])],
    )
    loop = helper.make_node("Loop", ["M", "go", "acc0"], ["acc", "rows"], body=body)
    return _model(
        [loop],
        [
            helper.make_tensor_value_info("go", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc0", F, [1]),
            helper.make_tensor_value_info("xs", F, [trips]),
            helper.make_tensor_value_info("use_bonus", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("acc", F, [1]),
            helper.make_tensor_value_info("rows", F, [None, 1]),
        ],
        [
            _init("M", np.int64(trips)),
            _init("limit", np.float32(20.0)),
            _init("bonus", np.array([0.5], np.float32)),
            _init("zero_axis", np.array([0], np.int64)),
        ],
    )


@pytest.mark.parametrize("bonus", [False, True])
def test_a_loop_that_ends_early_keeps_the_scan_rows_of_the_trips_that_ran(bonus):
    model = _early_exit_model()
    ops = _ops(import_model(model))
    assert {"kiln.scan", "kiln.if"} <= ops
    feeds = {
        "go": np.array(True),
        "acc0": np.array([1.0], np.float32),
        "xs": np.arange(1, 11, dtype=np.float32),
        "use_bonus": np.array(bonus),
    }
    got = _agree(model, feeds)
    assert 1 < got[1].shape[0] < 10  # the loop stopped before M trips


def test_a_for_loop_with_scan_outputs_has_m_rows():
    body = _loop_body(
        [
            helper.make_node("Cast", ["i"], ["fi"], to=F),
            helper.make_node("Mul", ["y_in", "fi"], ["prod"]),
            helper.make_node("Add", ["prod", "y_in"], ["y_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        [("y_in", [2])],
        [("y_out", [2]), ("prod", [2])],
    )
    loop = helper.make_node("Loop", ["M", "", "y"], ["y_final", "prods"], body=body)
    model = _model(
        [loop],
        [helper.make_tensor_value_info("y", F, [2])],
        [
            helper.make_tensor_value_info("y_final", F, [2]),
            helper.make_tensor_value_info("prods", F, [6, 2]),
        ],
        [_init("M", np.int64(6))],
    )
    module = import_model(model)
    assert "kiln.scan" in _ops(module) and "kiln.nonzero" not in _ops(module)
    got = _agree(model, {"y": np.array([0.5, -1.0], np.float32)})
    assert got[1].shape == (6, 2)


# ---------------------------------------------------------------- Scan and If


def test_scan_along_axis_1_in_reverse_gives_onnxruntimes_numbers():
    body = helper.make_graph(
        [
            helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
            helper.make_node("Mul", ["s_out", "w"], ["y_t"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("s_in", F, [2]),
            helper.make_tensor_value_info("x_t", F, [2]),
        ],
        [
            helper.make_tensor_value_info("s_out", F, [2]),
            helper.make_tensor_value_info("y_t", F, [2]),
        ],
    )
    node = helper.make_node(
        "Scan",
        ["s0", "x"],
        ["s", "ys"],
        body=body,
        num_scan_inputs=1,
        scan_input_axes=[1],
        scan_input_directions=[1],
        scan_output_axes=[1],
    )
    model = _model(
        [node],
        [
            helper.make_tensor_value_info("s0", F, [2]),
            helper.make_tensor_value_info("x", F, [2, 4]),
            helper.make_tensor_value_info("w", F, [2]),
        ],
        [
            helper.make_tensor_value_info("s", F, [2]),
            helper.make_tensor_value_info("ys", F, [2, 4]),
        ],
    )
    rng = np.random.default_rng(3)
    feeds = {
        "s0": rng.normal(size=2).astype(np.float32),
        "x": rng.normal(size=(2, 4)).astype(np.float32),
        "w": rng.normal(size=2).astype(np.float32),
    }
    _agree(model, feeds)


def _if_model(pred_value=None, out_type=None):
    def branch(name, values):
        out = helper.make_tensor_value_info(f"{name}_out", F, [3])
        if out_type is not None:
            out = helper.make_value_info(f"{name}_out", out_type)
        return helper.make_graph(
            [helper.make_node("Mul", ["x", name + "_k"], [f"{name}_out"])],
            name,
            [],
            [out],
            [_init(name + "_k", np.asarray(values, np.float32))],
        )

    node = helper.make_node(
        "If",
        ["p"],
        ["y"],
        then_branch=branch("then", [2, 2, 2]),
        else_branch=branch("else", [-1, 0, 1]),
    )
    inputs = [helper.make_tensor_value_info("x", F, [3])]
    inits = []
    if pred_value is None:
        inputs.append(helper.make_tensor_value_info("p", TensorProto.BOOL, []))
    else:
        inits.append(_init("p", np.array(pred_value)))
    return _model([node], inputs, [helper.make_tensor_value_info("y", F, [3])], inits)


def test_if_on_a_run_time_predicate_gives_onnxruntimes_numbers():
    model = _if_model()
    assert "kiln.if" in _ops(import_model(model))
    for p in (True, False):
        _agree(model, {"x": np.array([1.0, 2.0, 3.0], np.float32), "p": np.array(p)})


def test_if_on_a_known_predicate_imports_only_its_branch():
    model = _if_model(pred_value=False)
    assert "kiln.if" not in _ops(import_model(model))
    got = _agree(model, {"x": np.array([1.0, 2.0, 3.0], np.float32)})
    np.testing.assert_array_equal(got[0], [-1.0, 0.0, 3.0])


def test_a_sequence_valued_branch_needs_its_condition_at_import():
    """Sequences are host-side values (onnx/convert/sequence.py): an If yielding
    one inlines the branch its condition picks, so the condition must be known
    at import (kiln.onnx.backend specialises on a fed one)."""
    seq = helper.make_sequence_type_proto(helper.make_tensor_type_proto(F, [3]))
    with pytest.raises(OnnxImportError, match="the condition of an If with sequence"):
        import_model(_if_model(out_type=seq))


# ---------------------------------------------------------------- gradients


def test_gradients_through_an_imported_lstm_match_finite_differences():
    from kiln.ir.interpreter import Interpreter
    from kiln.passes.autodiff import differentiate

    model, feeds = _rnn_model(
        "LSTM",
        4,
        dirs=2,
        extra_inputs=("sequence_lens", "initial_h", "initial_c", "P"),
        direction="bidirectional",
        clip=1.5,
    )
    module = import_model(
        model, initializers_as_args=True, constants={"sequence_lens": feeds["sequence_lens"]}
    )
    assert [a.name for a in module["main"].args] == [
        "X",
        "initial_h",
        "initial_c",
        "P",
        "W",
        "R",
        "B",
    ]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    args = [feeds[n] for n in ("X", "initial_h", "initial_c", "P")]
    args += [weights[n] for n in ("W", "R", "B")]
    rng = np.random.default_rng(0)
    seed = rng.normal(size=(2, 3, 3)).astype(np.float32)
    wrt = [0, 1, 3, 4, 5, 6]
    differentiate(module, "main", wrt=wrt, of=[1], seeds=True)  # of Y_h
    interp = Interpreter(module)
    grads = interp.call("main_grad", [*args, seed])[3:]

    def loss(values):
        y_h = np.asarray(interp.call("main", values)[1], np.float64)
        return float(np.sum(y_h * seed))

    eps = 1e-2
    for k, grad in zip(wrt, grads):
        for _ in range(3):
            idx = tuple(int(rng.integers(0, s)) for s in args[k].shape)
            up = [a.copy() for a in args]
            down = [a.copy() for a in args]
            up[k][idx] += eps
            down[k][idx] -= eps
            fd = (loss(up) - loss(down)) / (2 * eps)
            assert abs(np.asarray(grad)[idx] - fd) <= 1e-3 * abs(fd) + 1e-4, (k, idx)


@pytest.mark.slow  # collecting onnx's node cases takes ~10 s
def test_function_ops_whose_bodies_hold_a_scan_pass_onnxs_cases():
    # LinearAttention expands to a function body with a Scan whose subgraph uses
    # the body's (renamed) values
    from kiln.benchmarks import onnx_conformance

    cases = [c for c in onnx_conformance.collect() if c.name.startswith("test_linear_attention")]
    assert len(cases) >= 2
    for case in cases[:4]:
        ok, cause = onnx_conformance.run_case(case)
        assert ok, (case.name, cause)


def test_scan_outputs_of_an_unbounded_loop_are_an_import_error_naming_the_node():
    model = _early_exit_model()
    model.graph.initializer[0].CopyFrom(_init("M", np.int64(2**62)))
    with pytest.raises(OnnxImportError, match=r"\(Loop, opset 17\): scan outputs of a Loop"):
        import_model(model)


def test_imported_region_ops_print_parse_and_verify():
    from kiln.ir import parse

    model, feeds = _rnn_model(
        "GRU", 3, dirs=2, extra_inputs=("sequence_lens", "initial_h"), direction="bidirectional"
    )
    modules = [
        import_model(model, constants={"sequence_lens": feeds["sequence_lens"]}),
        import_model(_early_exit_model()),
        import_model(_while_doubling_model()),
    ]
    for module in modules:
        module.verify()
        text = str(module)
        again = parse(text)
        again.verify()
        assert str(again) == text
