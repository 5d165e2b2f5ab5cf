# ruff: noqa: E501  (IR text)
"""kiln.onnx.export: a TF-1.x-style graph, a Keras model and IR modules written as
ONNX; each passes onnx's checker, runs in onnxruntime with the outputs kiln
computes (the Session, the model's predict, the reference interpreter), keeps
its batch dim symbolic, and imports back into kiln with the same outputs."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import kiln as kl  # noqa: E402
import kiln.onnx  # noqa: E402
from kiln.ir import KilnError, interpret, parse  # noqa: E402

RNG = np.random.default_rng(0)


def _ort(proto, feeds):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _kiln_import(proto, *args):
    module = kiln.onnx.import_model(proto)
    return kl.compile(module, "main")(*args)


def _input_dims(proto, i=0):
    dims = proto.graph.input[i].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def _cnn_graph():
    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(kl.float32, [None, 12, 12, 3], name="images")
        w1 = kl.Variable(RNG.normal(size=(3, 3, 3, 8)).astype("f") * 0.3, name="w1")
        y = kl.nn.conv2d(x, w1, strides=[1, 1, 1, 1], padding="SAME")
        mean, var = kl.nn.moments(y, axes=[0, 1, 2])
        y = kl.nn.relu6(kl.nn.batch_normalization(y, mean, var, None, None, 1e-3))
        y = kl.nn.max_pool(y, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME")
        w2 = kl.Variable(RNG.normal(size=(3, 3, 8, 4)).astype("f") * 0.3, name="w2")
        y = kl.nn.conv2d(y, w2, strides=[1, 2, 2, 1], padding="VALID")
        y = kl.nn.avg_pool(y, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding="SAME")
        y = kl.reshape(y, [-1, 2 * 2 * 4])
        w3 = kl.Variable(RNG.normal(size=(16, 5)).astype("f"), name="w3")
        b3 = kl.Variable(np.linspace(-1, 1, 5).astype("f"), name="b3")
        logits = kl.matmul(y, w3) + b3
        probs = kl.nn.softmax(logits, name="probs")
    return g, x, logits, probs


def test_session_cnn_runs_in_onnxruntime_as_in_the_session(tmp_path):
    g, x, logits, probs = _cnn_graph()
    path = tmp_path / "cnn.onnx"
    with g.as_default(), kl.Session() as sess:
        sess.run(kl.global_variables_initializer())
        proto = kiln.onnx.export(sess, [logits, probs], [x], path)
        feeds = {n: RNG.normal(size=(n, 12, 12, 3)).astype("f") for n in (1, 6)}
        want = {n: sess.run([logits, probs], {x: v}) for n, v in feeds.items()}
    onnx.checker.check_model(onnx.load(str(path)))
    assert [i.name for i in proto.graph.input] == ["images"]  # the variables are frozen
    assert _input_dims(proto) == ["images_dim0", 12, 12, 3]
    assert len(proto.graph.initializer) >= 4
    for n, v in feeds.items():  # one model, two batch sizes
        got = _ort(proto, {"images": v})
        for a, b in zip(got, want[n]):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_round_trip_export_import_gives_the_same_outputs():
    g, x, logits, probs = _cnn_graph()
    with g.as_default(), kl.Session() as sess:
        sess.run(kl.global_variables_initializer())
        proto = kiln.onnx.export(sess, [probs], [x])
        v = RNG.normal(size=(3, 12, 12, 3)).astype("f")
        want = sess.run(probs, {x: v})
    module = kiln.onnx.import_model(proto)
    (func,) = list(module)
    assert str(func.arg_types[0]) == "tensor<IMAGES_DIM0x12x12x3xf32>"  # symbolic batch
    (got,) = _kiln_import(proto, v)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_graph_without_session_keeps_variables_as_inputs():
    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(kl.float32, [None, 4], name="x")
        w = kl.Variable(np.ones((4, 2), "f"), name="w")
        y = kl.tanh(kl.matmul(x, w), name="y")
    proto = kiln.onnx.export(g, y, [x])
    assert [i.name for i in proto.graph.input] == ["x", "w"]
    xv = RNG.normal(size=(2, 4)).astype("f")
    wv = RNG.normal(size=(4, 2)).astype("f")
    (got,) = _ort(proto, {"x": xv, "w": wv})
    np.testing.assert_allclose(got, np.tanh(xv @ wv), rtol=1e-5, atol=1e-6)


def test_keras_sequential_runs_in_onnxruntime_as_predict(tmp_path):
    with kl.eager_mode():
        model = kl.keras.Sequential(
            [
                kl.keras.layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 2)),
                kl.keras.layers.MaxPooling2D(2),
                kl.keras.layers.Flatten(),
                kl.keras.layers.Dense(6, activation="tanh"),
                kl.keras.layers.Dense(3, activation="softmax"),
            ]
        )
        x = RNG.normal(size=(5, 8, 8, 2)).astype(np.float32)
        want = model.predict(x)
        proto = kiln.onnx.export(model, path=tmp_path / "keras.onnx")
    onnx.checker.check_model(proto)
    (name,) = [i.name for i in proto.graph.input]
    assert isinstance(_input_dims(proto)[0], str)  # the batch is a dim_param
    (got,) = _ort(proto, {name: x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    (back,) = _kiln_import(proto, x)
    np.testing.assert_allclose(back, want, rtol=1e-4, atol=1e-6)


# IR functions that between them use every op the exporter writes (and some it
# decomposes first): onnxruntime on the export against kiln's reference interpreter.
CASES = {
    "elementwise": (
        """
func @f(%x: tensor<?x5xf32>, %y: tensor<?x5xf32>) -> (tensor<?x5xf32>, tensor<?x5xbool>) {
  %a = kiln.add %x, %y : tensor<?x5xf32>
  %s = kiln.sub %a, %y : tensor<?x5xf32>
  %m = kiln.mul %s, %x : tensor<?x5xf32>
  %q = kiln.square %m : tensor<?x5xf32>
  %e = kiln.exp %x : tensor<?x5xf32>
  %r = kiln.rsqrt %e : tensor<?x5xf32>
  %d = kiln.div %q, %e : tensor<?x5xf32>
  %t = kiln.tanh %d : tensor<?x5xf32>
  %g = kiln.sigmoid %r : tensor<?x5xf32>
  %n = kiln.neg %g : tensor<?x5xf32>
  %b = kiln.abs %n : tensor<?x5xf32>
  %l = kiln.log %b : tensor<?x5xf32>
  %mx = kiln.max %l, %t : tensor<?x5xf32>
  %mn = kiln.min %mx, %y : tensor<?x5xf32>
  %el = kiln.elu %mn {alpha = 0.5} : tensor<?x5xf32>
  %lr = kiln.leaky_relu %el {alpha = 0.1} : tensor<?x5xf32>
  %r6 = kiln.relu6 %lr : tensor<?x5xf32>
  %sp = kiln.softplus %r6 : tensor<?x5xf32>
  %se = kiln.selu %sp : tensor<?x5xf32>
  %er = kiln.erf %se : tensor<?x5xf32>
  %gt = kiln.greater %er, %x : (tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?x5xbool>
  %ne = kiln.not_equal %x, %y : (tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?x5xbool>
  %an = kiln.logical_and %gt, %ne : tensor<?x5xbool>
  %sel = kiln.select %an, %er, %x : (tensor<?x5xbool>, tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?x5xf32>
  %sg = kiln.stop_gradient %sel : tensor<?x5xf32>
  kiln.return %sg, %an : (tensor<?x5xf32>, tensor<?x5xbool>) -> ()
}""",
        [(3, 5), (3, 5)],
    ),
    "reductions_and_normalisation": (
        """
func @f(%x: tensor<?x4x6xf32>, %scale: tensor<6xf32>) -> (tensor<?x4x6xf32>, tensor<?x4xf32>, tensor<?xi32>, tensor<f32>, tensor<?x1x6xf32>) {
  %zero = kiln.constant {value = dense<0.0> : tensor<6xf32>} : () -> tensor<6xf32>
  %ln = kiln.layer_norm %x, %scale, %zero {epsilon = 1e-5} : (tensor<?x4x6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x4x6xf32>
  %sm = kiln.softmax %ln : tensor<?x4x6xf32>
  %ls = kiln.log_softmax %sm {axis = 1} : tensor<?x4x6xf32>
  %sum = kiln.reduce_sum %ls {axes = [2]} : (tensor<?x4x6xf32>) -> tensor<?x4xf32>
  %mean = kiln.reduce_mean %sum {axes = [-1]} : (tensor<?x4xf32>) -> tensor<?xf32>
  %xs = kiln.reduce_sum %x {axes = [2]} : (tensor<?x4x6xf32>) -> tensor<?x4xf32>
  %am = kiln.argmax %xs {axis = 1, index_dtype = i32} : (tensor<?x4xf32>) -> tensor<?xi32>
  %all = kiln.reduce_max %x : (tensor<?x4x6xf32>) -> tensor<f32>
  %lse = kiln.logsumexp %x {axes = [1], keepdims = true} : (tensor<?x4x6xf32>) -> tensor<?x1x6xf32>
  %pr = kiln.reduce_prod %mean : (tensor<?xf32>) -> tensor<f32>
  %mn = kiln.reduce_min %lse {axes = [0, 2], keepdims = true} : (tensor<?x1x6xf32>) -> tensor<1x1x1xf32>
  %b = kiln.add %lse, %mn : (tensor<?x1x6xf32>, tensor<1x1x1xf32>) -> tensor<?x1x6xf32>
  %p = kiln.add %all, %pr : tensor<f32>
  kiln.return %ls, %sum, %am, %p, %b : (tensor<?x4x6xf32>, tensor<?x4xf32>, tensor<?xi32>, tensor<f32>, tensor<?x1x6xf32>) -> ()
}""",
        [(2, 4, 6), (6,)],
    ),
    "data_movement": (
        """
func @f(%x: tensor<?x4x6xf32>, %ids: tensor<3xi32>) -> (tensor<?x8x3xf32>, tensor<3x4x6xf32>, tensor<4x?xf32>, tensor<?x2x6xf32>, tensor<?x1x5x8xf32>) {
  %t = kiln.transpose %x {perm = [0, 2, 1]} : (tensor<?x4x6xf32>) -> tensor<?x6x4xf32>
  %r = kiln.reshape %t {shape = [-1, 8, 3]} : (tensor<?x6x4xf32>) -> tensor<?x8x3xf32>
  %g = kiln.gather %x, %ids : (tensor<?x4x6xf32>, tensor<3xi32>) -> tensor<3x4x6xf32>
  %sl = kiln.slice %x {axes = [1, 2], starts = [1, 5], stops = [3, 0], steps = [1, -2]} : (tensor<?x4x6xf32>) -> tensor<?x2x3xf32>
  %c = kiln.concat %sl, %sl {axis = 2} : (tensor<?x2x3xf32>, tensor<?x2x3xf32>) -> tensor<?x2x6xf32>
  %m = kiln.matmul %x, %x {transpose_b = true} : (tensor<?x4x6xf32>, tensor<?x4x6xf32>) -> tensor<?x4x4xf32>
  %s = kiln.reduce_sum %m {axes = [2]} : (tensor<?x4x4xf32>) -> tensor<?x4xf32>
  %tr = kiln.transpose %s {perm = [1, 0]} : (tensor<?x4xf32>) -> tensor<4x?xf32>
  %e = kiln.expand_dims %x {axis = 1} : (tensor<?x4x6xf32>) -> tensor<?x1x4x6xf32>
  %p = kiln.pad %e {low = [0, 0, 1, 0], high = [0, 0, 0, 2], value = 0.5} : (tensor<?x1x4x6xf32>) -> tensor<?x1x5x8xf32>
  %sq = kiln.squeeze %p {axes = [1]} : (tensor<?x1x5x8xf32>) -> tensor<?x5x8xf32>
  %b = kiln.broadcast_to %sq {shape = [2, -1, 5, 8]} : (tensor<?x5x8xf32>) -> tensor<2x?x5x8xf32>
  %bs = kiln.reduce_sum %b {axes = [0]} : (tensor<2x?x5x8xf32>) -> tensor<?x5x8xf32>
  %be = kiln.expand_dims %bs {axis = 1} : (tensor<?x5x8xf32>) -> tensor<?x1x5x8xf32>
  kiln.return %r, %g, %tr, %c, %be : (tensor<?x8x3xf32>, tensor<3x4x6xf32>, tensor<4x?xf32>, tensor<?x2x6xf32>, tensor<?x1x5x8xf32>) -> ()
}""",
        [(3, 4, 6), "ids"],
    ),
    "casts_cumsum_top_k_shape": (
        """
func @f(%x: tensor<?x6xf32>) -> (tensor<?x6xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<2xi32>, tensor<?x6xi64>) {
  %c = kiln.cumsum %x {axis = 1, exclusive = true, reverse = true} : tensor<?x6xf32>
  %v, %i = kiln.top_k %x {k = 2} : (tensor<?x6xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %s = kiln.shape %x {dtype = i32} : (tensor<?x6xf32>) -> tensor<2xi32>
  %k = kiln.cast %c {dtype = i64} : (tensor<?x6xf32>) -> tensor<?x6xi64>
  kiln.return %c, %v, %i, %s, %k : (tensor<?x6xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<2xi32>, tensor<?x6xi64>) -> ()
}""",
        [(4, 6)],
    ),
}


def _arg(spec, i):
    if spec == "ids":
        return np.array([2, 0, 1], np.int32)
    return (RNG.normal(size=spec) * 2).astype(np.float32)


@pytest.mark.parametrize("opset", [17, 18])  # 18: the reductions' axes became inputs
@pytest.mark.parametrize("case", sorted(CASES))
def test_ir_ops_run_in_onnxruntime_as_the_interpreter(case, opset):
    text, specs = CASES[case]
    module = parse(text)
    args = [_arg(s, i) for i, s in enumerate(specs)]
    want = interpret(module, "f", *args)
    proto = kiln.onnx.export(module, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    names = [i.name for i in proto.graph.input]
    got = _ort(proto, dict(zip(names, args)))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert parse(text) is not module  # the given module is not rewritten
    assert str(module) == str(parse(text))


def test_gelu_is_a_node_at_opset_20_and_decomposed_before():
    text = """
func @f(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %g = kiln.gelu %x {approximate = true} : tensor<?x3xf32>
  kiln.return %g : tensor<?x3xf32>
}"""
    x = RNG.normal(size=(2, 3)).astype("f")
    (want,) = interpret(parse(text), "f", x)
    for opset in (17, 20):
        proto = kiln.onnx.export(parse(text), opset=opset)
        types = {n.op_type for n in proto.graph.node}
        assert ("Gelu" in types) == (opset >= 20)
        (got,) = _ort(proto, {"x": x})
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_an_op_without_onnx_form_is_a_kiln_error_naming_it():
    text = """
func @f(%x: tensor<3xf32>) -> tensor<3xf32> {
  %p = kiln.print %x {message = "x"} : tensor<3xf32> loc("debug_print")
  kiln.return %p : tensor<3xf32>
}"""
    with pytest.raises(KilnError, match=r"kiln.print has no ONNX form.*'debug_print'"):
        kiln.onnx.export(parse(text))


def test_bad_requests_are_kiln_errors(tmp_path):
    module = parse(
        "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  kiln.return %x : tensor<2xf32>\n}\n"
        "func @g(%x: tensor<2xf32>) -> tensor<2xf32> {\n  kiln.return %x : tensor<2xf32>\n}"
    )
    with pytest.raises(KilnError, match="2 functions"):
        kiln.onnx.export(module)
    with pytest.raises(KilnError, match="opset 12 is not supported"):
        kiln.onnx.export(module, name="f", opset=12)
    with pytest.raises(KilnError, match="cannot write"):
        kiln.onnx.export(module, name="f", path=tmp_path / "missing" / "f.onnx")
    proto = kiln.onnx.export(module, name="g")  # an argument returned as it is
    assert [n.op_type for n in proto.graph.node] == ["Identity"]
    x = np.array([1.0, 2.0], np.float32)
    np.testing.assert_array_equal(_ort(proto, {"x": x})[0], x)


def test_keras_lstm_is_an_onnx_scan_with_the_outputs_of_predict():
    with kl.eager_mode():
        model = kl.keras.Sequential([kl.keras.layers.LSTM(4, input_shape=(5, 3))])
        xs = {n: RNG.normal(size=(n, 5, 3)).astype(np.float32) for n in (2, 7)}
        want = {n: model.predict(x) for n, x in xs.items()}
        proto = kiln.onnx.export(model)
    onnx.checker.check_model(proto, full_check=True)
    assert "Scan" in {n.op_type for n in proto.graph.node}
    (name,) = [i.name for i in proto.graph.input]
    for n, x in xs.items():
        (got,) = _ort(proto, {name: x})
        np.testing.assert_allclose(got, want[n], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_forward_and_reverse_with_constants_in_its_body(reverse):
    from kiln.ir import Builder, DType, Module, TensorType, build_scan

    module = Module()
    f = module.add_function("f", [TensorType(DType.f32, [6, 3])])
    b = Builder.at_end(f.body)
    (xs,) = f.args
    init = b.constant(np.zeros(3, np.float32))

    def body(rb, total, x):
        total = rb.add(rb.mul(total, rb.constant(np.full(3, 0.5, np.float32))), x)
        return [total, rb.tanh(total)]

    b.ret(*build_scan(b, [init], [xs], body, reverse=reverse))
    x = RNG.normal(size=(6, 3)).astype(np.float32)
    want = interpret(module, "f", x)
    proto = kiln.onnx.export(module)
    got = _ort(proto, {proto.graph.input[0].name: x})
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bound", [-1, 2])
def test_while_and_if_are_onnx_loop_and_if(bound):
    from kiln.ir import Builder, DType, Module, TensorType, build_if, build_while

    module = Module()
    f = module.add_function("f", [TensorType(DType.f32, [4]), TensorType(DType.f32, [])])
    b = Builder.at_end(f.body)
    x, step = f.args

    def cond(rb, v, n):  # regions see only their arguments: the limit is a constant there
        return [rb.less(rb.reduce_sum(v), rb.constant(np.array(20.0, np.float32)))]

    def body(rb, v, n):
        return [rb.add(rb.mul(v, rb.constant(np.array(1.5, np.float32))), n), n]

    v, n = build_while(b, [x, step], cond, body, max_iterations=bound)
    positive = b.greater(b.reduce_sum(v), b.constant(np.array(0.0, np.float32)))
    (picked,) = build_if(b, positive, [v, n], lambda rb, a, c: [rb.sub(a, c)], lambda rb, a, c: [a])
    b.ret(picked, v)
    proto = kiln.onnx.export(module)
    onnx.checker.check_model(proto, full_check=True)
    assert {"Loop", "If"} <= {node.op_type for node in proto.graph.node}
    for xv, lv in ((np.ones(4), 0.5), (-np.ones(4), 1.0), (np.full(4, 9.0), 2.0)):
        args = [xv.astype(np.float32), np.array(lv, np.float32)]
        want = interpret(module, "f", *args)
        got = _ort(proto, {proto.graph.input[0].name: args[0], proto.graph.input[1].name: args[1]})
        for a, w in zip(got, want):
            np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-6)


def test_kiln_export_of_a_checkpoint_to_onnx(tmp_path, capsys):
    from kiln.cli import main

    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(kl.float32, [None, 3], name="x")
        w = kl.Variable(RNG.normal(size=(3, 2)).astype("f"), name="w")
        kl.nn.relu(kl.matmul(x, w), name="pred")
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            prefix = kl.train.Saver().save(sess, str(tmp_path / "model"))
            weights = sess.run(w)
    out = tmp_path / "pred.onnx"
    assert main(["export", prefix, "--fetch", "pred", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    xv = RNG.normal(size=(4, 3)).astype("f")
    (got,) = _ort(proto, {proto.graph.input[0].name: xv})
    np.testing.assert_allclose(got, np.maximum(xv @ weights, 0), rtol=1e-5, atol=1e-6)


def test_keras_embedding_traced_on_integer_example_inputs():
    with kl.eager_mode():
        model = kl.keras.Sequential(
            [
                kl.keras.layers.Embedding(50, 8, input_shape=(5,)),
                kl.keras.layers.Flatten(),
                kl.keras.layers.Dense(4, activation="softmax"),
            ]
        )
        ids = RNG.integers(0, 50, size=(3, 5)).astype(np.int32)
        want = model.predict(ids)
        proto = kiln.onnx.export(model, args=[ids])
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
    (got,) = _ort(proto, {proto.graph.input[0].name: ids})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
