"""ONNX MelWeightMatrix computed at import (onnx/convert/mel.py) against onnx's
reference: several bank sizes, edges and rates, an output dtype, inputs fed at
run time (the backend specialises on them), and a bad size naming the node."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

_NAMES = ["mels", "length", "rate", "low", "high"]
_ELEMS = [TensorProto.INT64] * 3 + [TensorProto.FLOAT] * 2


def _model(**attrs):
    node = helper.make_node("MelWeightMatrix", _NAMES, ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, e, []) for n, e in zip(_NAMES, _ELEMS)],
        [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _feeds(mels, length, rate, low, high):
    return [np.int64(mels), np.int64(length), np.int64(rate), np.float32(low), np.float32(high)]


@pytest.mark.parametrize("params", [(8, 16, 8192, 0, 4096), (5, 33, 16000, 100, 7000),
                                    (1, 4, 100, 10, 40), (20, 64, 44100, 20, 20000)])  # fmt: skip
@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.DOUBLE])
def test_mel_weight_matrix_matches_the_onnx_reference(params, elem):
    model = _model(output_datatype=elem)
    feeds = _feeds(*params)
    (want,) = ReferenceEvaluator(model).run(None, dict(zip(_NAMES, feeds)))
    (got,) = prepare(model).run(feeds)
    assert got.dtype == want.dtype and got.shape == (params[1] // 2 + 1, params[0])
    np.testing.assert_array_equal(got, want)


def test_a_bad_size_is_an_error_naming_the_node():
    with pytest.raises(ImportError_, match="MelWeightMatrix.*bad sizes"):
        prepare(_model()).run(_feeds(0, 16, 8192, 0, 4096))
