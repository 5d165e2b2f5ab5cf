"""ONNX STFT as gathered frames times the window through the DFT converter
(onnx/convert/spectral.py) against onnx's reference on random signals: real and
complex, with a window or a frame_length, one- and two-sided, a symbolic batch."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(n, c, step, window=None, frame_length=None, onesided=1):
    names = ["x", "step", "window" if window is not None else "", "length" if frame_length else ""]
    inits = [numpy_helper.from_array(np.array(step, np.int64), "step")]
    if window is not None:
        inits.append(numpy_helper.from_array(window, "window"))
    if frame_length:
        inits.append(numpy_helper.from_array(np.array(frame_length, np.int64), "length"))
    node = helper.make_node("STFT", names, ["y"], onesided=onesided)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", n, c])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("c, onesided", [(1, 1), (1, 0), (2, 0)])
@pytest.mark.parametrize("windowed", [True, False])
def test_stft_matches_the_onnx_reference(c, onesided, windowed):
    rng = np.random.default_rng(c + 2 * onesided + 4 * windowed)
    n, step, taps = 37, 5, 8
    window = np.hanning(taps).astype(np.float32) if windowed else None
    model = _model(n, c, step, window, None if windowed else taps, onesided)
    rep = prepare(model)
    for batch in (1, 2):
        x = rng.standard_normal((batch, n, c)).astype(np.float32)
        (want,) = ReferenceEvaluator(model).run(None, {"x": x})
        (got,) = rep.run([x])
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_window_longer_than_the_signal_is_an_error_naming_the_node():
    with pytest.raises(ImportError_, match="STFT.*do not fit"):
        prepare(_model(4, 1, 1, np.ones(6, np.float32)))
