"""QuantizeLinear/DequantizeLinear (onnx/convert/quant.py) against onnx's
reference evaluator: per-tensor, per-axis and blocked scales, 8-bit, 4-bit and
float8 outputs, ties rounding to even and saturation."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(op, x, scale, zero, out_elem, **attrs):
    inits = [numpy_helper.from_array(scale, "s")]
    names = ["x", "s"]
    if zero is not None:
        inits.append(numpy_helper.from_array(zero, "z"))
        names.append("z")
    graph = helper.make_graph(
        [helper.make_node(op, names, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)],
        [helper.make_tensor_value_info("y", out_elem, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])


X = (np.arange(-30, 30, dtype=np.float32).reshape(4, 15) * 0.75).astype(np.float32)
CASES = [
    (np.float32(0.5), np.uint8(128), TensorProto.UINT8, {}),
    (np.array([0.5, 1.0, 2.0, 0.25], np.float32), np.array([0, 3, -2, 1], np.int8),
     TensorProto.INT8, dict(axis=0)),
    (np.full((4, 3), 1.5, np.float32), np.zeros((4, 3), ml_dtypes.int4), TensorProto.INT4,
     dict(axis=1, block_size=5)),
    (np.float32(2.0), np.zeros((), ml_dtypes.float8_e4m3fn), TensorProto.FLOAT8E4M3FN, {}),
]  # fmt: skip


@pytest.mark.parametrize("scale,zero,elem,attrs", CASES)
def test_quantize_and_dequantize_match_onnx_reference(scale, zero, elem, attrs):
    model = _model("QuantizeLinear", X, np.asarray(scale), np.asarray(zero), elem, **attrs)
    got = KilnRep(model).run([X])[0]
    (want,) = ReferenceEvaluator(model).run(None, {"x": X})
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))
    back = _model("DequantizeLinear", want, np.asarray(scale), np.asarray(zero), 1, **attrs)
    got = KilnRep(back).run([want])[0]
    (expected,) = ReferenceEvaluator(back).run(None, {"x": want})
    np.testing.assert_allclose(got, expected, rtol=1e-6)
