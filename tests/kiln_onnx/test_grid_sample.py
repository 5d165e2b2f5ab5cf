"""ONNX GridSample (onnx/convert/grid_sample.py) against onnx's reference
evaluator on random grids reaching past X's borders: every mode, padding mode
and align_corners in 2-D, linear and nearest in 3-D."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _check(x, grid, **attrs):
    node = helper.make_node("GridSample", ["x", "g"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
            helper.make_tensor_value_info("g", TensorProto.FLOAT, grid.shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    got = KilnRep(model).run([x, grid])[0]
    (want,) = ReferenceEvaluator(model).run(None, {"x": x, "g": grid})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


RNG = np.random.default_rng(7)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_2d(mode, padding, align):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    grid = RNG.uniform(-2.7, 2.7, (2, 3, 4, 2)).astype(np.float32)
    _check(x, grid, mode=mode, padding_mode=padding, align_corners=align)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("padding", ["zeros", "reflection"])
def test_grid_sample_3d(mode, padding):
    x = RNG.standard_normal((1, 2, 3, 4, 3)).astype(np.float32)
    grid = RNG.uniform(-1.8, 1.8, (1, 2, 3, 2, 3)).astype(np.float32)
    _check(x, grid, mode=mode, padding_mode=padding, align_corners=0)
