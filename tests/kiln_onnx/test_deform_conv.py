"""ONNX DeformConv as gathered bilinear taps and a matmul per group
(onnx/convert/deform_conv.py) against onnx's reference on random inputs: offsets
that move taps off the image, a mask and a bias, groups, offset groups, strides,
dilations, pads, a symbolic batch."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CASES = [
    dict(),
    dict(strides=[2, 1], pads=[1, 0, 1, 1], dilations=[1, 2]),
    dict(group=2, offset_group=2, pads=[1, 1, 1, 1]),
]


def _out(size, k, s, d, p0, p1):
    return (size + p0 + p1 - ((k - 1) * d + 1)) // s + 1


@pytest.mark.parametrize("attrs", CASES)
@pytest.mark.parametrize("with_mask", [False, True])
def test_deform_conv_matches_the_onnx_reference(attrs, with_mask):
    c, h, w, oc, kh, kw = 4, 6, 5, 6, 3, 2
    group, og = attrs.get("group", 1), attrs.get("offset_group", 1)
    s, d = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    p = attrs.get("pads", [0, 0, 0, 0])
    oh, ow = _out(h, kh, s[0], d[0], p[0], p[2]), _out(w, kw, s[1], d[1], p[1], p[3])
    rng = np.random.default_rng(len(str(attrs)) + with_mask)
    weights = rng.standard_normal((oc, c // group, kh, kw)).astype(np.float32)
    bias = rng.standard_normal(oc).astype(np.float32)
    names = ["x", "w", "offset", "b"] + (["mask"] if with_mask else [])
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w]),
        helper.make_tensor_value_info("offset", TensorProto.FLOAT, ["N", og * kh * kw * 2, oh, ow]),
    ]
    if with_mask:
        inputs.append(
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", og * kh * kw, oh, ow])
        )
    node = helper.make_node("DeformConv", names, ["y"], kernel_shape=[kh, kw], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    rep = prepare(model)
    for batch in (1, 2):
        feeds = {
            "x": rng.standard_normal((batch, c, h, w)).astype(np.float32),
            "offset": rng.uniform(-2.5, 2.5, (batch, og * kh * kw * 2, oh, ow)).astype(np.float32),
        }
        if with_mask:
            feeds["mask"] = rng.uniform(0, 1, (batch, og * kh * kw, oh, ow)).astype(np.float32)
        (want,) = ReferenceEvaluator(model).run(None, feeds)
        (got,) = rep.run([feeds[i.name] for i in model.graph.input])
        assert got.shape == want.shape == (batch, oc, oh, ow)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_3d_deform_conv_is_an_error_naming_the_node():
    node = helper.make_node("DeformConv", ["x", "w", "offset"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3, 3]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 1, 1, 1]),
            helper.make_tensor_value_info("offset", TensorProto.FLOAT, [1, 3, 3, 3, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    with pytest.raises(ImportError_, match="DeformConv.*2-D"):
        prepare(model)
