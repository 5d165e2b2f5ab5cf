"""A 3-D ONNX ConvTranspose as 2-D ones per depth tap, spread and summed along
depth (onnx/convert/conv_transpose_3d.py), against onnxruntime on random inputs:
strides, dilations, pads, output_padding, groups, a bias, a symbolic batch."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kiln.onnx.backend import prepare  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CASES = [
    dict(),
    dict(strides=[2, 1, 2], pads=[1, 0, 0, 0, 1, 1]),
    dict(strides=[3, 2, 1], dilations=[2, 1, 2], output_padding=[1, 1, 0]),
    dict(group=2, strides=[2, 2, 2], pads=[0, 1, 1, 1, 0, 1]),
]


@pytest.mark.parametrize("attrs", CASES)
def test_conv_transpose_3d_matches_onnxruntime(attrs):
    group = attrs.get("group", 1)
    c, o, spatial = 4, 6, (3, 4, 5)
    rng = np.random.default_rng(len(str(attrs)))
    w = rng.standard_normal((c, o // group, 2, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, *spatial])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rep = prepare(model)
    for batch in (1, 2):
        x = rng.standard_normal((batch, c, *spatial)).astype(np.float32)
        (got,) = rep.run([x])
        (want,) = session.run(None, {"x": x})
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
