"""ONNX RoiAlign as matmuls with per-ROI interpolation matrices
(onnx/convert/roi_align.py) against onnxruntime on random maps and ROIs, some
reaching past the map's edges: avg and max modes, half_pixel and
output_half_pixel, a spatial scale, a symbolic number of ROIs, one ROI."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _model(c, h, w, **attrs):
    node = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, c, h, w]),
            helper.make_tensor_value_info("rois", TensorProto.FLOAT, ["R", 4]),
            helper.make_tensor_value_info("idx", TensorProto.INT64, ["R"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    model.ir_version = 8
    return model


def _rois(rng, n, h, w, scale):
    corners = rng.uniform(-2, [w + 2, h + 2], size=(n, 2, 2)) / scale
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    return np.concatenate([lo, hi], axis=1).astype(np.float32)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("transform", ["half_pixel", "output_half_pixel"])
def test_roi_align_matches_onnxruntime(mode, transform):
    c, h, w, scale = 3, 9, 7, 0.5
    attrs = dict(mode=mode, coordinate_transformation_mode=transform, output_height=3,
                 output_width=4, sampling_ratio=2, spatial_scale=scale)  # fmt: skip
    model = _model(c, h, w, **attrs)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rep = prepare(model)
    rng = np.random.default_rng(len(mode) + len(transform))
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    for n in (1, 5):
        rois = _rois(rng, n, h, w, scale)
        idx = rng.integers(0, 2, n).astype(np.int64)
        (got,) = rep.run([x, rois, idx])
        (want,) = session.run(None, {"x": x, "rois": rois, "idx": idx})
        assert got.shape == want.shape == (n, c, 3, 4)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_an_adaptive_sampling_ratio_is_an_error_naming_the_node():
    with pytest.raises(ImportError_, match="RoiAlign.*sampling_ratio"):
        prepare(_model(1, 4, 4, sampling_ratio=0))
