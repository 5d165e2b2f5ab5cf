"""Pools beyond kiln's 2-D pooling kernels (onnx/convert/pool_taps.py): 3-D
windows, dilations, MaxPool's Indices (both storage orders), LpPool and
GlobalLpPool, against onnxruntime on random inputs."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _run_both(op, x, n_out=1, opset=19, **attrs):
    outs = ["y", "i"][:n_out]
    node = helper.make_node(op, ["x"], outs, **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
        + [helper.make_tensor_value_info("i", TensorProto.INT64, None)] * (n_out - 1),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(KilnRep(model).run([x])), session.run(None, {"x": x})


CASES = [
    ("MaxPool", (1, 2, 5, 6, 7), dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2])),
    ("MaxPool", (2, 3, 7, 7), dict(kernel_shape=[3, 3], dilations=[2, 2], pads=[1, 0, 2, 1])),
    ("AveragePool", (1, 2, 6, 5, 5), dict(kernel_shape=[3, 2, 3], pads=[1, 1, 0, 1, 0, 1])),
    ("AveragePool", (1, 2, 6, 5, 5),
     dict(kernel_shape=[3, 2, 3], pads=[1, 1, 0, 1, 0, 1], count_include_pad=1)),
    ("AveragePool", (1, 1, 8, 9),
     dict(kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 1], ceil_mode=1)),
    ("LpPool", (1, 3, 6, 6), dict(kernel_shape=[3, 3], p=3, strides=[2, 1], pads=[1, 1, 1, 1])),
    ("LpPool", (1, 2, 5, 4, 4), dict(kernel_shape=[2, 2, 2])),
    ("LpPool", (1, 2, 9), dict(kernel_shape=[3], auto_pad="SAME_UPPER")),
]  # fmt: skip


@pytest.mark.parametrize("op,shape,attrs", CASES)
def test_tap_pools_match_onnxruntime(op, shape, attrs):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got, want = _run_both(op, x, **attrs)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "storage_order,shape", [(0, (2, 3, 6, 5)), (1, (2, 3, 6, 5)), (0, (1, 2, 4, 5, 4))]
)
def test_max_pool_indices_match_onnxruntime(storage_order, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    n = len(shape) - 2
    attrs = dict(kernel_shape=[2] * n, strides=[2] * n, pads=[0] * n + [1] * n)
    got, want = _run_both("MaxPool", x, n_out=2, storage_order=storage_order, **attrs)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("p", [2, 3])
def test_global_lp_pool_matches_onnxruntime(p):
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5)).astype(np.float32)
    got, want = _run_both("GlobalLpPool", x, p=p)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


def test_max_unpool_of_max_pool_matches_onnxruntime():
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 8)).astype(np.float32)
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p", "i"], **pool),
        helper.make_node("MaxUnpool", ["p", "i"], ["y"], **pool),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = KilnRep(model).run([x])[0]
    np.testing.assert_array_equal(got, session.run(None, {"x": x})[0])
