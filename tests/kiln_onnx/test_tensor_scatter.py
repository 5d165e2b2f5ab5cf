"""ONNX TensorScatter (a KV-cache update) as a select of gathered update rows
(onnx/convert/tensor_scatter.py) against onnx's reference on random caches:
linear and circular modes, wrapping writes, axes 1 and 2, no write indices, a
symbolic batch."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _model(cache, update, mode, axis, with_writes=True, batch="B"):
    names = ["cache", "update"] + (["w"] if with_writes else [])
    node = helper.make_node("TensorScatter", names, ["y"], mode=mode, axis=axis)
    inputs = [
        helper.make_tensor_value_info("cache", TensorProto.FLOAT, [batch, *cache[1:]]),
        helper.make_tensor_value_info("update", TensorProto.FLOAT, [batch, *update[1:]]),
    ]
    if with_writes:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.INT64, [batch]))
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)])
    model.ir_version = 10
    return model


@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("axis, cache, update", [(-2, (3, 2, 7, 4), (3, 2, 3, 4)),
                                                 (1, (3, 5, 2), (3, 1, 2))])  # fmt: skip
def test_tensor_scatter_matches_the_onnx_reference(mode, axis, cache, update):
    rng = np.random.default_rng(len(cache) + len(mode))
    length, rows = cache[axis], update[axis]
    model = _model(cache, update, mode, axis)
    rep = prepare(model)
    for batch in (1, 3):
        c = rng.standard_normal((batch, *cache[1:])).astype(np.float32)
        u = rng.standard_normal((batch, *update[1:])).astype(np.float32)
        top = length if mode == "circular" else length - rows + 1  # circular writes wrap
        w = rng.integers(0, top, batch).astype(np.int64)
        (want,) = ReferenceEvaluator(model).run(None, {"cache": c, "update": u, "w": w})
        (got,) = rep.run([c, u, w])
        np.testing.assert_array_equal(got, want)


def test_without_write_indices_rows_go_to_the_start():
    model = _model((2, 3, 6, 2), (2, 3, 2, 2), "linear", -2, with_writes=False, batch=2)
    rng = np.random.default_rng(0)
    c = rng.standard_normal((2, 3, 6, 2)).astype(np.float32)
    u = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    (want,) = ReferenceEvaluator(model).run(None, {"cache": c, "update": u})
    (got,) = prepare(model).run([c, u])
    np.testing.assert_array_equal(got, want)


def test_the_batch_axis_is_an_error_naming_the_node():
    with pytest.raises(ImportError_, match="TensorScatter.*after the batch"):
        prepare(_model((2, 4), (2, 4), "linear", 0))
