"""ONNX Col2Im decomposed into slices, pads and adds (onnx/convert/col2im.py),
against onnxruntime on random columns: strides, dilations, pads, odd sizes, a
batch of 1 and a symbolic batch."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(image, block, c, windows, batch="N", **attrs):
    node = helper.make_node("Col2Im", ["x", "image", "block"], ["y"], **attrs)
    rows = c * int(np.prod(block))
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, rows, windows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array(image, np.int64), "image"),
            numpy_helper.from_array(np.array(block, np.int64), "block"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


def _windows(image, block, strides, dilations, pads):
    n = len(image)
    return int(
        np.prod(
            [
                (image[k] + pads[k] + pads[k + n] - (dilations[k] * (block[k] - 1) + 1))
                // strides[k]
                + 1
                for k in range(n)
            ]
        )
    )


CASES = [
    ([5, 5], [2, 2], [1, 1], [1, 1], [0, 0, 0, 0]),
    ([7, 6], [3, 2], [2, 1], [1, 2], [1, 0, 2, 1]),
    ([4, 9], [1, 3], [1, 3], [1, 1], [0, 0, 0, 0]),
    ([6], [3], [2], [1], [1, 1]),
]


@pytest.mark.parametrize("image, block, strides, dilations, pads", CASES)
def test_col2im_matches_onnxruntime(image, block, strides, dilations, pads):
    c = 3
    windows = _windows(image, block, strides, dilations, pads)
    model = _model(image, block, c, windows, strides=strides, dilations=dilations, pads=pads)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rep = prepare(model)
    rng = np.random.default_rng(len(image) + windows)
    for batch in (1, 2):
        x = rng.standard_normal((batch, c * int(np.prod(block)), windows)).astype(np.float32)
        (got,) = rep.run([x])
        (want,) = session.run(None, {"x": x})
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_col2im_wrong_column_count_names_the_node():
    model = _model([5, 5], [2, 2], 1, 15)
    with pytest.raises(ImportError_, match=r"\(Col2Im, opset 18\): 15 columns"):
        prepare(model)
