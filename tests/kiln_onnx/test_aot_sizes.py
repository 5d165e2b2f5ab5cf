"""Imported models ahead of time with symbolic dims whose kernel sizes are not
one polynomial: batched matmuls (attention scores over heads) take a stride of
0 along an axis of extent 1, so at batch 1 the sizes take another polynomial
(runtime/aot.py's Piecewise); a buffer reused by several values is as large as
the largest (its Max). Each library against onnxruntime over batch sizes."""

import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import kiln  # noqa: E402
from kiln.ir import parse  # noqa: E402
from kiln.onnx import import_model  # noqa: E402
from kiln.passes import DEFAULT_PIPELINE, run_pipeline  # noqa: E402
from kiln.runtime import aot, symbolic  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F = TensorProto.FLOAT


def _attention(heads=2, seq=5, d=3):
    """scores = softmax(q @ k^T / sqrt(d)) @ v over [batch, heads, seq, d]."""
    shape = ["batch", heads, seq, d]
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["s2"]),
        helper.make_node("Softmax", ["s2"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [helper.make_tensor_value_info(n, F, shape) for n in "qkv"],
        [helper.make_tensor_value_info("o", F, shape)],
        [numpy_helper.from_array(np.array(d**-0.5, np.float32), "scale")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _library(model, out):
    module = import_model(model)
    run_pipeline(module, DEFAULT_PIPELINE)
    aot.build(module, "main", out)
    return kiln.load(out)


def test_batched_attention_ships_with_a_symbolic_batch(tmp_path):
    model = _attention()
    lib = _library(model, tmp_path / "out")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch in (1, 2, 3, 8):
        feeds = {n: rng.standard_normal((batch, 2, 5, 3)).astype(np.float32) for n in "qkv"}
        (got,) = lib(*feeds.values())
        (want,) = session.run(None, feeds)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


BATCHED = """\
func @bmm(%a: tensor<Nx3x4xf32>, %b: tensor<Nx4x5xf32>) -> tensor<Nx3x5xf32> {
  %0 = kiln.matmul %a, %b : (tensor<Nx3x4xf32>, tensor<Nx4x5xf32>) -> tensor<Nx3x5xf32>
  kiln.return %0 : tensor<Nx3x5xf32>
}
"""


def test_the_fit_is_piecewise_at_a_dim_of_one(tmp_path):
    module = parse(BATCHED)
    run_pipeline(module, DEFAULT_PIPELINE)
    fit = symbolic.fit(aot.CpuProgram(module, "bmm"))
    piecewise = [s for s in fit.polys.values() if isinstance(s, symbolic.Piecewise)]
    assert piecewise, "the batch strides are 0 at N = 1"
    for size in piecewise:
        assert "N == 1" in aot.c_expr(size, fit.params)
        assert symbolic.evaluate(size, (7,)) == symbolic.evaluate(size.general, (7,))
    aot.build(module, "bmm", tmp_path / "out")
    lib = kiln.load(tmp_path / "out")
    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 9):
        a = rng.standard_normal((n, 3, 4)).astype(np.float32)
        b = rng.standard_normal((n, 4, 5)).astype(np.float32)
        np.testing.assert_allclose(lib(a, b)[0], a @ b, rtol=1e-5, atol=1e-6)


def test_max_and_piecewise_evaluate_as_their_c_expressions():
    params = [symbolic.Param("N", [(0, 0)]), symbolic.Param("M", [(0, 1)])]
    grows = {(0,): 8, (0, 1): 4}  # 8N + 4NM
    fixed = {(): 300}
    size = symbolic.Max((grows, symbolic.Piecewise(((frozenset({1}), {(): 7}),), fixed)))
    text = aot.c_expr(size, params)
    assert text.startswith("KILN_MAX(") and "M == 1" in text
    for n, m in ((1, 1), (2, 3), (30, 1), (1, 40), (100, 100)):
        want = max(8 * n + 4 * n * m, 7 if (m == 1 and n != 1) else 300)
        assert symbolic.evaluate(size, (n, m)) == want
        c = text.replace("KILN_MAX", "max").replace("&&", " and ")
        c = c.replace("N", str(n)).replace("M", str(m))
        assert eval(_ternaries(c)) == want


def _ternaries(c: str) -> str:
    """C's `(t) ? (a) : b` as Python's `(a) if (t) else b`, innermost first."""
    pattern = re.compile(r"\(\(([^()]*)\) \? \(([^()]*)\) : ([^()]*)\)")
    while "?" in c:
        c = pattern.sub(r"((\2) if (\1) else (\3))", c)
    return c
