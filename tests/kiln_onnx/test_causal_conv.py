"""ONNX CausalConvWithState as shifted slices times per-channel taps
(onnx/convert/causal_conv.py) against onnx's reference on random inputs: with and
without a past state, a bias, SiLU, f32 and f16 (convolved in f32, rounded where
onnx rounds), a symbolic batch."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from kiln.onnx.backend import prepare  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("with_past", [False, True])
@pytest.mark.parametrize("activation", ["none", "silu"])
def test_causal_conv_matches_the_onnx_reference(dtype, with_past, activation):
    c, k, n = 4, 3, 9
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    rng = np.random.default_rng(with_past + 2 * (activation == "silu"))
    w = rng.standard_normal((c, 1, k)).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    names = ["x", "w", "b"] + (["past"] if with_past else [])
    inputs = [helper.make_tensor_value_info("x", elem, ["N", c, n])]
    if with_past:
        inputs.append(helper.make_tensor_value_info("past", elem, ["N", c, k - 1]))
    node = helper.make_node("CausalConvWithState", names, ["y", "state"], activation=activation)
    graph = helper.make_graph(
        [node],
        "g",
        inputs,
        [helper.make_tensor_value_info(o, elem, None) for o in ("y", "state")],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 27)])
    model.ir_version = 13
    rep = prepare(model)
    tol = 1e-3 if dtype == np.float16 else 1e-5
    for batch in (1, 2):
        feeds = {"x": rng.standard_normal((batch, c, n)).astype(dtype)}
        if with_past:
            feeds["past"] = rng.standard_normal((batch, c, k - 1)).astype(dtype)
        want = ReferenceEvaluator(model).run(None, feeds)
        got = rep.run([feeds[i.name] for i in model.graph.input])
        for g, e in zip(got, want):
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
