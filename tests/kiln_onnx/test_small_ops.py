"""Shrink, LpNormalization, EyeLike and BatchNormalization's training mode
against onnx's reference evaluator."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _check(node, x, n_out=1, inits=(), opset=15, rtol=1e-6):
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in node.output[:n_out]],
        [numpy_helper.from_array(a, n) for n, a in inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    got = KilnRep(model).run([x])
    want = ReferenceEvaluator(model).run(None, {"x": x})
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)


X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("lambd,bias", [(0.5, 0.0), (0.7, 0.3)])
def test_shrink(lambd, bias):
    _check(helper.make_node("Shrink", ["x"], ["y"], lambd=lambd, bias=bias), X)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_l2_normalization_with_a_zero_norm(axis):
    x = X.copy()
    x[:, 0, :] = 0  # zero norms along axis 0 and 2
    _check(helper.make_node("LpNormalization", ["x"], ["y"], axis=axis, p=2), x)


@pytest.mark.parametrize("k", [-2, 0, 3])
def test_eye_like(k):
    _check(helper.make_node("EyeLike", ["x"], ["y"], k=k), X[0])


def test_batch_norm_training_mode():
    c = X.shape[1]
    rng = np.random.default_rng(1)
    inits = [(n, rng.uniform(0.5, 1.5, c).astype(np.float32)) for n in ("s", "b", "m", "v")]
    node = helper.make_node(
        "BatchNormalization",
        ["x", "s", "b", "m", "v"],
        ["y", "rm", "rv"],
        training_mode=1,
        momentum=0.8,
        epsilon=1e-3,
    )
    _check(node, X, n_out=3, inits=inits, rtol=1e-5)


def _np_cumprod(x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    y = np.cumprod(x, axis=axis)
    if exclusive:
        y = np.concatenate([np.ones_like(np.take(y, [0], axis)), np.delete(y, -1, axis)], axis)
    return np.flip(y, axis) if reverse else y


@pytest.mark.parametrize(
    "shape,axis,dtype",
    [((7, 3), 0, np.float32), ((2, 5), -1, np.int64), ((4, 1), 1, np.float32), ((9,), 0, np.int64)],
)
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cum_prod_as_numpy(shape, axis, exclusive, reverse, dtype):
    x = np.random.default_rng(3).integers(-3, 4, shape).astype(dtype)
    node = helper.make_node("CumProd", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", elem, x.shape)],
        [helper.make_tensor_value_info("y", elem, None)],
        [numpy_helper.from_array(np.array(axis, np.int64), "axis")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26)])
    got = KilnRep(model).run([x])[0]
    np.testing.assert_array_equal(got, _np_cumprod(x, axis % x.ndim, exclusive, reverse))


def _model_of(node, feeds, opset=13):
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in feeds.items()
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_compress_with_a_run_time_condition(axis):
    cond = np.array([True, False, True])
    attrs = {} if axis is None else {"axis": axis}
    model = _model_of(helper.make_node("Compress", ["x", "c"], ["y"], **attrs), {"x": X, "c": cond})
    got = KilnRep(model).run([X, cond])[0]
    np.testing.assert_array_equal(got, np.compress(cond, X, axis=axis))


@pytest.mark.parametrize("time_axis", [0, 1])
def test_reverse_sequence(time_axis):
    x = X[:, :3, 0] if time_axis == 0 else X[:, :3, 0].T.copy()  # time 3 x batch 3
    lens = np.array([1, 3, 2], np.int64)
    node = helper.make_node(
        "ReverseSequence", ["x", "l"], ["y"], time_axis=time_axis, batch_axis=1 - time_axis
    )
    got = KilnRep(_model_of(node, {"x": x, "l": lens})).run([x, lens])[0]
    want = x.copy() if time_axis == 0 else x.T.copy()
    for i, n in enumerate(lens):
        want[:n, i] = want[:n, i][::-1]
    np.testing.assert_array_equal(got, want if time_axis == 0 else want.T)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint16, np.uint64])
@pytest.mark.parametrize(
    "op,fn",
    [("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or), ("BitwiseXor", np.bitwise_xor)],
)
def test_bitwise_binary_as_numpy(op, fn, dtype):
    info = np.iinfo(dtype)
    edges = np.array([info.min, info.max, 0, 1, info.max // 3, info.min // 2 + 1], dtype)
    rng = np.random.default_rng(4)
    a = np.concatenate([edges, rng.integers(info.min, info.max, 10, dtype=dtype, endpoint=True)])
    c = np.concatenate([edges[::-1], rng.integers(info.min, info.max, 10, dtype=dtype)])
    elem = helper.np_dtype_to_tensor_dtype(a.dtype)
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "c"], ["y"]), helper.make_node("BitwiseNot", ["a"], ["n"])],
        "g",
        [helper.make_tensor_value_info(n, elem, a.shape) for n in ("a", "c")],
        [helper.make_tensor_value_info(n, elem, None) for n in ("y", "n")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    got, inverted = KilnRep(model).run([a, c])
    np.testing.assert_array_equal(got, fn(a, c))
    np.testing.assert_array_equal(inverted, np.invert(a))


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3, 3), (2, 2, 4, 4)])
def test_det_as_numpy(shape):
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    x[..., 0, 0] = 0  # a zero where elimination would pivot
    model = _model_of(helper.make_node("Det", ["x"], ["y"]), {"x": x})
    got = KilnRep(model).run([x])[0]
    np.testing.assert_allclose(got, np.linalg.det(x), rtol=1e-5, atol=1e-6)
