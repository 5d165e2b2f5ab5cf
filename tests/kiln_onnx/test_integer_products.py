"""ONNX MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv as f64 products
of zero-point-shifted operands (onnx/convert/integer.py), against onnx's reference
(numpy for a per-row zero point) on random int8/uint8 inputs: scalar, per-row and
per-channel zero points, pads, strides and groups, a symbolic batch, outputs that saturate."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

_ELEM = {np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8, np.int32: TensorProto.INT32,
         np.float32: TensorProto.FLOAT}  # fmt: skip


def _model(op, inputs, consts, **attrs):
    """A one-node model: `inputs` (name, dtype, shape) fed, `consts` initializers."""
    names = [n for n, _, _ in inputs] + [n for n, _ in consts]
    order = attrs.pop("order", names)
    node = helper.make_node(op, order, ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, _ELEM[d], s) for n, d, s in inputs],
        [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)],
        [numpy_helper.from_array(v, n) for n, v in consts],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _check(model, feeds):
    (want,) = ReferenceEvaluator(model).run(None, feeds)
    (got,) = prepare(model).run([feeds[i.name] for i in model.graph.input])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    return got


def _ints(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (3, 7, 5), (4, 33, 2)])
def test_matmul_integer_with_per_row_and_per_column_zero_points(dtype, m, k, n):
    rng = np.random.default_rng(m * k + n)
    a, b = _ints(rng, dtype, (m, k)), _ints(rng, dtype, (k, n))
    za, zb = _ints(rng, dtype, (m,)), _ints(rng, dtype, (n,))
    model = _model("MatMulInteger", [("a", dtype, [m, k]), ("b", dtype, [k, n])],
                   [("za", za), ("zb", zb)])  # fmt: skip
    (got,) = prepare(model).run([a, b])
    # onnx's reference takes only a scalar a_zero_point; numpy is the oracle here
    want = (a.astype(np.int32) - za[:, None]) @ (b.astype(np.int32) - zb)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    scalar = _model("MatMulInteger", [("a", dtype, [m, k]), ("b", dtype, [k, n])],
                    [("za", za[:1].reshape(()))])  # fmt: skip
    _check(scalar, {"a": a, "b": b})


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_matmul_batched_with_a_symbolic_batch_saturates(dtype):
    rng = np.random.default_rng(3)
    consts = [("sa", np.float32(0.05)), ("za", _ints(rng, dtype, ())),
              ("sb", np.float32(0.02)), ("zb", _ints(rng, dtype, ())),
              ("sy", np.float32(0.01)), ("zy", _ints(rng, dtype, ()))]  # fmt: skip
    model = _model(
        "QLinearMatMul",
        [("a", dtype, ["B", 3, 9]), ("b", dtype, [9, 4])],
        consts,
        order=["a", "sa", "za", "b", "sb", "zb", "sy", "zy"],
    )
    rep = prepare(model)
    for batch in (1, 2):
        a, b = _ints(rng, dtype, (batch, 3, 9)), _ints(rng, dtype, (9, 4))
        (want,) = ReferenceEvaluator(model).run(None, {"a": a, "b": b})
        (got,) = rep.run([a, b])
        np.testing.assert_array_equal(got, want)
        info = np.iinfo(dtype)
        assert (want == info.max).any() or (want == info.min).any()  # saturation is tested


@pytest.mark.parametrize("pads, strides, group", [([0, 0, 0, 0], [1, 1], 1),
                                                  ([1, 0, 2, 1], [2, 1], 1),
                                                  ([1, 1, 1, 1], [1, 2], 2)])  # fmt: skip
def test_conv_integer_with_per_channel_weight_zero_points(pads, strides, group):
    rng = np.random.default_rng(sum(pads) + group)
    x, w = _ints(rng, np.uint8, (2, 4, 5, 6)), _ints(rng, np.uint8, (6, 4 // group, 3, 2))
    model = _model(
        "ConvInteger",
        [("x", np.uint8, [2, 4, 5, 6])],
        [("w", w), ("zx", np.uint8(100)), ("zw", _ints(rng, np.uint8, (6,)))],
        pads=pads, strides=strides, group=group,
    )  # fmt: skip
    _check(model, {"x": x})


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_conv_with_bias_and_per_channel_scales(dtype):
    rng = np.random.default_rng(5)
    x, w = _ints(rng, dtype, (1, 3, 7, 7)), _ints(rng, dtype, (4, 3, 3, 3))
    consts = [("sx", np.float32(0.03)), ("zx", _ints(rng, dtype, ())), ("w", w),
              ("sw", rng.uniform(0.001, 0.01, 4).astype(np.float32)),
              ("zw", np.zeros(4, dtype)), ("sy", np.float32(0.05)),
              ("zy", _ints(rng, dtype, ())),
              ("bias", rng.integers(-500, 500, 4).astype(np.int32))]  # fmt: skip
    model = _model(
        "QLinearConv", [("x", dtype, [1, 3, 7, 7])], consts,
        order=["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"], pads=[1, 1, 1, 1],
    )  # fmt: skip
    _check(model, {"x": x})


def test_a_float_operand_is_an_error_naming_the_node():
    model = _model("MatMulInteger", [("a", np.float32, [2, 2]), ("b", np.uint8, [2, 2])], [])
    with pytest.raises(ImportError_, match="MatMulInteger.*8-bit integer"):
        prepare(model)
