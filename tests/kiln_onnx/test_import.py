"""kiln.onnx.import_model: each converter against onnxruntime on random inputs,
the import-time folding of shape arithmetic, symbolic dims, initializers as
arguments, and the errors a bad model or an unsupported node gives."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import kiln  # noqa: E402
from kiln.onnx import import_model  # noqa: E402
from kiln.onnx.backend import KilnBackend, prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def make_model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        [numpy_helper.from_array(a, n) for n, a in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def check_against_ort(model, feeds, rtol=1e-4, atol=1e-5):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, feeds)
    got = prepare(model).run(feeds)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def single(op_type, xs, out_shape=None, opset=17, inits=(), n_out=1, **attrs):
    """A one-node model over float inputs x0, x1, ... (and initializers)."""
    names = [f"x{i}" for i in range(len(xs))]
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op_type, names + [n for n, _ in inits], outs, **attrs)
    model = make_model(
        [node],
        [(n, F, x.shape) for n, x in zip(names, xs)],
        [(o, F, None) for o in outs],
        inits,
        opset,
    )
    return model, dict(zip(names, xs))


CASES = [
    ("Conv", [rand(2, 3, 9, 9), rand(4, 3, 3, 3)], {"pads": [1, 0, 1, 2], "strides": [2, 1]}),
    ("Conv", [rand(1, 4, 8, 8), rand(4, 2, 3, 3)], {"group": 2, "dilations": [2, 1]}),
    ("Conv", [rand(1, 3, 7, 7), rand(2, 3, 2, 2)], {"auto_pad": "SAME_LOWER"}),
    (
        "Conv",
        [rand(2, 4, 9, 9), rand(4, 1, 3, 3), rand(4)],
        {"group": 4, "pads": [1, 1, 1, 1], "strides": [2, 2]},
    ),
    ("Conv", [rand(1, 3, 8, 8), rand(3, 1, 3, 3)], {"group": 3, "dilations": [2, 2]}),
    (  # depthwise with channel multiplier 2
        "Conv",
        [rand(2, 3, 7, 9), rand(6, 1, 3, 2), rand(6)],
        {"group": 3, "pads": [1, 0, 1, 1], "strides": [2, 2]},
    ),
    ("Conv", [rand(1, 2, 9), rand(4, 1, 3)], {"group": 2, "dilations": [2]}),  # 1-D
    ("Conv", [rand(2, 3, 10), rand(5, 3, 3)], {"strides": [2]}),
    (
        "ConvTranspose",
        [rand(1, 3, 5, 5), rand(3, 2, 3, 3)],
        {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
    ),
    ("Gemm", [rand(3, 4), rand(5, 4), rand(5)], {"transB": 1, "alpha": 0.5, "beta": 2.0}),
    ("MatMul", [rand(2, 3, 4), rand(4, 5)], {}),
    ("MaxPool", [rand(1, 2, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    (
        "AveragePool",
        [rand(1, 2, 6, 6)],
        {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    ),
    ("AveragePool", [rand(1, 2, 6, 6)], {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0]}),
    ("GlobalAveragePool", [rand(2, 3, 4, 5)], {}),
    ("Softmax", [rand(2, 3, 4)], {"axis": 1}),
    ("LogSoftmax", [rand(2, 3, 4)], {}),
    ("LeakyRelu", [rand(3, 4)], {"alpha": 0.3}),
    ("HardSigmoid", [rand(3, 4)], {}),
    ("Elu", [rand(3, 4)], {"alpha": 0.7}),
    ("Selu", [rand(3, 4)], {}),
    ("Softsign", [rand(3, 4)], {}),
    ("Erf", [rand(3, 4)], {}),
    ("Sum", [rand(3, 4), rand(4), rand(1, 4)], {}),
    ("Max", [rand(3, 4), rand(4)], {}),
    ("Mean", [rand(3, 4), rand(3, 1)], {}),
    ("Transpose", [rand(2, 3, 4)], {"perm": [2, 0, 1]}),
    ("Flatten", [rand(2, 3, 4)], {"axis": -1}),
    ("Concat", [rand(2, 3), rand(2, 5)], {"axis": -1}),
    ("InstanceNormalization", [rand(2, 3, 4, 4), rand(3), rand(3)], {}),
    ("LayerNormalization", [rand(2, 3, 4), rand(3, 4), rand(3, 4)], {"axis": -2}),
    ("ReduceSum", [rand(2, 3, 4)], {"keepdims": 0}),
    ("ReduceL2", [rand(2, 3, 4)], {}),
]


@pytest.mark.parametrize(
    "op_type,xs,attrs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_converter_matches_onnxruntime(op_type, xs, attrs):
    model, feeds = single(op_type, xs, **attrs)
    check_against_ort(model, feeds)


def test_batch_norm_with_initializers():
    c = 3
    inits = [("s", rand(c)), ("b", rand(c)), ("m", rand(c)), ("v", np.abs(rand(c)) + 0.5)]
    model, feeds = single("BatchNormalization", [rand(2, c, 4, 4)], inits=inits, epsilon=1e-3)
    check_against_ort(model, feeds)


def test_opset_axes_as_attribute_and_as_input():
    x = rand(2, 3, 4)
    old, feeds = single("ReduceMean", [x], opset=13, axes=[1])
    check_against_ort(old, feeds)
    axes = ("axes", np.array([1], np.int64))
    new, feeds = single("ReduceMean", [x], opset=18, inits=[axes])
    check_against_ort(new, feeds)
    sq_old, feeds = single("Unsqueeze", [x], opset=11, axes=[0, 3])
    check_against_ort(sq_old, feeds)
    sq_new, feeds = single("Unsqueeze", [x], opset=13, inits=[("axes", np.array([0, 3]))])
    check_against_ort(sq_new, feeds)


def test_slice_pad_split_clip_with_constant_inputs():
    x = rand(4, 6)
    ints = lambda *v: np.array(v, np.int64)  # noqa: E731
    m, f = single(
        "Slice",
        [x],
        inits=[("s", ints(1, -1)), ("e", ints(100, -6)), ("a", ints(0, 1)), ("st", ints(2, -2))],
    )
    check_against_ort(m, f)
    m, f = single("Pad", [x], inits=[("p", ints(1, 0, 0, 2)), ("c", np.array(1.5, np.float32))])
    check_against_ort(m, f)
    m, f = single("Split", [x], n_out=2, axis=1, inits=[("sp", ints(2, 4))])
    check_against_ort(m, f)
    m, f = single(
        "Clip", [x], inits=[("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.5, np.float32))]
    )
    check_against_ort(m, f)


def test_shape_arithmetic_folds_with_a_symbolic_batch():
    """torch's exporter reshapes with Shape -> Gather -> Unsqueeze -> Concat -> Reshape:
    the chain folds at import, the batch dim stays symbolic."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [
        ("zero", np.array(0, np.int64)),
        ("ax", np.array([0], np.int64)),
        ("minus1", np.array([-1], np.int64)),
    ]
    model = make_model(nodes, [("x", F, ["batch", 3, 4])], [("y", F, None)], inits)
    module = import_model(model)
    func = module["main"]
    assert str(func.arg_types[0]) == "tensor<BATCHx3x4xf32>"
    assert str(func.result_types[0]) == "tensor<BATCHx12xf32>"
    names = [op.name for op in func.ops]
    assert "kiln.reshape" in names
    run = kiln.compile(module, "main")
    for batch in (1, 5):
        x = rand(batch, 3, 4)
        np.testing.assert_array_equal(run(x)[0], x.reshape(batch, 12))


def test_initializers_as_arguments():
    w = rand(4, 5)
    model, feeds = single("MatMul", [rand(3, 4)], inits=[("w", w)])
    module = import_model(model, initializers_as_args=True)
    assert [str(t) for t in module["main"].arg_types] == ["tensor<3x4xf32>", "tensor<4x5xf32>"]
    run = kiln.compile(module, "main")
    np.testing.assert_allclose(run(feeds["x0"], w)[0], feeds["x0"] @ w, rtol=1e-5)


def test_integer_and_bool_ops():
    a = np.array([[1, -7, 9]], np.int64)
    b = np.array([[2, 2, -4]], np.int64)
    nodes = [
        helper.make_node("Div", ["a", "b"], ["q"]),
        helper.make_node("Greater", ["a", "b"], ["g"]),
        helper.make_node("Where", ["g", "a", "b"], ["w"]),
        helper.make_node("Cast", ["g"], ["c"], to=TensorProto.FLOAT),
    ]
    outs = [("q", I64, None), ("g", TensorProto.BOOL, None), ("w", I64, None), ("c", F, None)]
    model = make_model(nodes, [("a", I64, [1, 3]), ("b", I64, [1, 3])], outs)
    check_against_ort(model, {"a": a, "b": b})


def test_uint8_is_carried_wider_and_returned_in_its_type():
    x = np.array([[1, 200, 3]], np.uint8)
    node = helper.make_node("Add", ["x", "x"], ["y"])
    model = make_model([node], [("x", TensorProto.UINT8, [1, 3])], [("y", TensorProto.UINT8, None)])
    out = prepare(model).run([np.array([[1, 20, 3]], np.uint8)])[0]
    assert out.dtype == np.uint8 and out.tolist() == [[2, 40, 6]]
    assert x.dtype == np.uint8


def test_shape_inputs_fed_at_run_time_are_specialised():
    """onnx's node tests feed shapes as inputs: the backend compiles per value."""
    node = helper.make_node("Reshape", ["x", "shape"], ["y"])
    model = make_model([node], [("x", F, [2, 6]), ("shape", I64, [2])], [("y", F, None)])
    rep = prepare(model)
    x = rand(2, 6)
    assert rep.run([x, np.array([3, 4])])[0].shape == (3, 4)
    assert rep.run([x, np.array([4, -1])])[0].shape == (4, 3)


def test_unsupported_op_names_node_op_and_opset():
    node = helper.make_node("Frobnicate", ["x0"], ["y0"], name="frob_1")
    model = make_model([node], [("x0", F, [2])], [("y0", F, None)], opset=13)
    with pytest.raises(ImportError_, match=r"node 'frob_1' \(Frobnicate, opset 13\)"):
        import_model(model)


@pytest.mark.parametrize("mode", ["edge", "reflect", "wrap"])
def test_pad_modes(mode):
    m, f = single("Pad", [rand(3, 4)], mode=mode, inits=[("p", np.array([2, 1, 1, 3]))])
    check_against_ort(m, f)


def test_unsupported_attribute_is_an_import_error():
    model, _ = single("Pad", [rand(2, 3)], mode="mirror", inits=[("p", np.zeros(4, np.int64))])
    with pytest.raises(ImportError_, match=r"\(Pad, opset 17\): mode='mirror' is not supported"):
        import_model(model)
    assert not KilnBackend.is_compatible(model)


def test_truncated_and_malformed_files_are_kiln_errors(tmp_path):
    model, _ = single("Relu", [rand(2, 3)])
    data = model.SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(kiln.KilnError, match="not a valid ONNX model|no graph"):
        import_model(str(path))
    (tmp_path / "junk.onnx").write_bytes(b"\xff\xfe not protobuf at all \x00\x01")
    with pytest.raises(kiln.KilnError):
        import_model(str(tmp_path / "junk.onnx"))
    with pytest.raises(kiln.KilnError, match="cannot read"):
        import_model(str(tmp_path / "missing.onnx"))
    whole = tmp_path / "ok.onnx"
    whole.write_bytes(data)
    assert "kiln.relu" in str(import_model(str(whole)))


def test_the_imported_text_round_trips():
    model, _ = single("Conv", [rand(1, 3, 8, 8)], inits=[("w", rand(4, 3, 3, 3))])
    module = import_model(model)
    text = str(module)
    assert str(kiln.ir.parse(text)) == text


def test_an_op_onnx_defines_as_a_function_is_expanded():
    """MeanVarianceNormalization has no converter: its function body is imported."""
    model, feeds = single("MeanVarianceNormalization", [rand(2, 3, 4, 4)], opset=13)
    check_against_ort(model, feeds)


def test_lrn_mod_and_losses():
    m, f = single("LRN", [rand(1, 6, 3, 3)], size=3, alpha=0.01, beta=0.7, bias=1.5)
    check_against_ort(m, f)
    a = np.array([[-7, 7, -3, 5]], np.int64)
    d = np.array([[3, -3, 2, 2]], np.int64)
    for fmod in (0, 1):
        node = helper.make_node("Mod", ["a", "d"], ["y"], fmod=fmod)
        model = make_model([node], [("a", I64, [1, 4]), ("d", I64, [1, 4])], [("y", I64, None)])
        check_against_ort(model, {"a": a, "d": d})
    scores, labels = rand(4, 5, 2), np.array([[0, 4], [1, 1], [2, 3], [4, 0]], np.int64)
    for reduction in ("mean", "none"):
        node = helper.make_node(
            "SoftmaxCrossEntropyLoss", ["s", "t"], ["loss"], reduction=reduction, ignore_index=1
        )
        model = make_model(
            [node], [("s", F, [4, 5, 2]), ("t", I64, [4, 2])], [("loss", F, None)], opset=13
        )
        check_against_ort(model, {"s": scores, "t": labels})
