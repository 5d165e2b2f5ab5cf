"""The converters of onnx/convert/indexing.py, resize.py, einsum.py, layout.py,
local_norm.py, arith.py and detection.py: onnx's own node test cases for their
ops, checks against onnxruntime on random inputs (TopK on any axis, Einsum
equations with diagonals, Resize-11's tf_half_pixel_for_nn, negative
indices), and the import and run-time errors."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kiln.benchmarks.onnx_conformance import case_op, collect, run_case  # noqa: E402
from kiln.ir import KilnError  # noqa: E402
from kiln.onnx import import_model  # noqa: E402
from kiln.onnx.backend import prepare  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

OPS = {
    "GatherElements",
    "ScatterElements",
    "Scatter",
    "GatherND",
    "ScatterND",
    "Resize",
    "Upsample",
    "CumSum",
    "TopK",
    "NonZero",
    "OneHot",
    "Trilu",
    "Hardmax",
    "Einsum",
    "DepthToSpace",
    "SpaceToDepth",
    "MeanVarianceNormalization",
    "BitShift",
    "NonMaxSuppression",
    "Unique",
}
# node cases these converters do not pass, and why
KNOWN: dict[str, str] = {}


@functools.cache
def cases():
    return [c for c in collect() if case_op(c) in OPS]


def frozen(case):
    """The case with its small side inputs (Resize's roi/scales/sizes, OneHot's
    depth and values: ndim <= 1, at most 16 elements) made initializers of the
    model, as kiln.onnx.backend specialises integer ones; one case per data set."""
    for inputs, outputs in case.data_sets:
        model = onnx.ModelProto()
        model.CopyFrom(case.model)
        graph = model.graph
        keep, fed = [], []
        for i, (info, value) in enumerate(zip(list(graph.input), inputs)):
            value = np.asarray(value)
            if i > 0 and value.ndim <= 1 and value.size <= 16:
                graph.initializer.append(numpy_helper.from_array(value, info.name))
            else:
                keep.append(info)
                fed.append(value)
        del graph.input[:]
        graph.input.extend(keep)
        yield dataclasses.replace(case, model=model, data_sets=[(fed, outputs)])


@pytest.mark.slow
def test_node_cases_of_these_ops_pass():
    failures, count = {}, 0
    for case in cases():
        for one in frozen(case):
            count += 1
            ok, cause = run_case(one)
            if not ok and case.name not in KNOWN:
                failures[case.name] = cause
    assert count >= 170, count  # onnx 1.23 has 172 data sets for these ops
    assert not failures, failures


@pytest.mark.slow
def test_node_cases_on_the_cpu_backend_alone():
    """The same cases of the indexing ops with backend="cpu": every op native."""
    names = ("GatherElements", "ScatterElements", "GatherND", "ScatterND", "Resize")
    for case in cases():
        if case_op(case) in names:
            for one in frozen(case):
                ok, cause = run_case(one, backend="cpu")
                assert ok, (case.name, cause)


# ------------------------------------------------------------------ against onnxruntime


def model_of(node, inputs, outputs, initializers=(), opset=18):
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
        [numpy_helper.from_array(a, n) for n, a in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def against_ort(model, feeds, rtol=1e-5, atol=1e-5):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, feeds)
    got = prepare(model).run(feeds)
    for w, g in zip(want, got):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


rng = np.random.default_rng(11)
F, I64 = TensorProto.FLOAT, TensorProto.INT64


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("largest", [0, 1])
def test_top_k(axis, largest):
    x = rng.permutation(60).astype(np.float32).reshape(3, 4, 5)
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)
    model = model_of(node, [("x", F, x.shape)], [("v", F), ("i", I64)], [("k", np.array([2]))])
    against_ort(model, {"x": x})


@pytest.mark.parametrize(
    "equation, shapes",
    [
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("ij,kj->ik", [(3, 4), (5, 4)]),
        ("i,i->", [(6,), (6,)]),
        ("ij->ji", [(3, 4)]),
        ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
        ("...ij,...jk", [(2, 3, 4), (2, 4, 2)]),
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
        ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
        ("ij->i", [(3, 4)]),
        ("ii->i", [(3, 3)]),
        ("bii,bij->bj", [(2, 3, 3), (2, 3, 4)]),
        ("iji->j", [(3, 2, 3)]),
    ],
)
def test_einsum(equation, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node("Einsum", names, ["y"], equation=equation)
    model = model_of(node, [(n, F, s) for n, s in zip(names, shapes)], [("y", F)], opset=12)
    against_ort(
        model, {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(names, shapes)}
    )


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_11_tf_half_pixel_for_nn(mode):
    x = rng.standard_normal((1, 2, 5, 4)).astype(np.float32)
    node = helper.make_node(
        "Resize",
        ["x", "roi", "scales"],
        ["y"],
        mode=mode,
        coordinate_transformation_mode="tf_half_pixel_for_nn",
    )
    inits = [("roi", np.zeros(0, np.float32)), ("scales", np.array([1, 1, 1.6, 0.5], np.float32))]
    against_ort(model_of(node, [("x", F, x.shape)], [("y", F)], inits, opset=11), {"x": x})


@pytest.mark.parametrize("opset", [10, 13])
def test_resize_scales_and_upsample(opset):
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    scales = np.array([1, 1, 2, 1.5], np.float32)
    inputs = ["x", "scales"] if opset == 10 else ["x", "roi", "scales"]
    inits = [("scales", scales)] + ([] if opset == 10 else [("roi", np.zeros(0, np.float32))])
    node = helper.make_node("Resize", inputs, ["y"], mode="linear")
    against_ort(model_of(node, [("x", F, x.shape)], [("y", F)], inits, opset=opset), {"x": x})
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")
    against_ort(model_of(node, [("x", F, x.shape)], [("y", F)], inits[:1], opset=9), {"x": x})


def test_resize_with_a_symbolic_batch():
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="cubic")
    sizes = np.array([1, 3, 7, 9])
    model = model_of(node, [("x", F, ["N", 3, 4, 5])], [("y", F)], [("sizes", sizes)], opset=13)
    with pytest.raises(KilnError, match="must be static"):
        import_model(model)
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic")
    model = model_of(
        node,
        [("x", F, ["N", 3, 4, 5])],
        [("y", F)],
        [("scales", np.array([1, 1, 2, 2], np.float32))],
        opset=13,
    )
    rep = prepare(model)
    for n in (1, 3):
        x = rng.standard_normal((n, 3, 4, 5)).astype(np.float32)
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        np.testing.assert_allclose(rep.run({"x": x})[0], session.run(None, {"x": x})[0], atol=1e-5)


def test_scatter_elements_and_gather_nd_with_negative_indices():
    x = rng.standard_normal((4, 5)).astype(np.float32)
    idx = np.array([[-1, 0, 2, -4, 1]])
    up = rng.standard_normal((1, 5)).astype(np.float32)
    node = helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=0, reduction="add")
    model = model_of(
        node, [("x", F, x.shape), ("i", I64, idx.shape), ("u", F, up.shape)], [("y", F)]
    )
    against_ort(model, {"x": x, "i": idx, "u": up})
    nd = np.array([[-1, 2], [0, -5]])
    node = helper.make_node("GatherND", ["x", "i"], ["y"])
    model = model_of(node, [("x", F, x.shape), ("i", I64, nd.shape)], [("y", F)])
    against_ort(model, {"x": x, "i": nd})


def test_out_of_range_index_is_a_kiln_error_at_run_time():
    node = helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)
    model = model_of(node, [("x", F, (2, 3)), ("i", I64, (2, 1))], [("y", F)])
    rep = prepare(model)
    with pytest.raises(KilnError, match="gather_elements.*out of range"):
        rep.run({"x": np.zeros((2, 3), np.float32), "i": np.array([[0], [3]])})


def test_unsupported_attributes_are_import_errors():
    node = helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="max")
    model = model_of(
        node, [("x", F, (4,)), ("i", I64, (1, 1)), ("u", F, (1,))], [("y", F)], opset=16
    )
    with pytest.raises(KilnError, match=r"ScatterND, opset 16\): reduction='max'"):
        import_model(model)
    node = helper.make_node("Einsum", ["x"], ["y"], equation="ij->k")
    with pytest.raises(KilnError, match="appear in no operand"):
        import_model(model_of(node, [("x", F, (3, 3))], [("y", F)], opset=12))
