"""onnx's node conformance cases of the core op set (CNNs, transformers, RNNs) run
through kiln.onnx.backend (benchmarks/onnx_conformance.py). The floor is the pass
count kiln reached: a regression fails here; raise the floor when kiln passes more."""

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnx.backend.test.case.node")

from kiln.benchmarks import onnx_conformance  # noqa: E402

CORE_FLOOR = 961  # of 961 core cases (onnx 1.23), as measured on the onnx branch
ALL_FLOOR = 1819  # of all 1,884: measured 1,819 (+ random ops, BitCast, RoiAlign, integer
# and quantized products, DeformConv, 3-D ConvTranspose, string Equal, training Dropout,
# TensorScatter, MelWeightMatrix, STFT, CausalConvWithState)


@pytest.fixture(scope="module")
def cases():
    return onnx_conformance.collect()


@pytest.mark.slow
def test_pass_counts_do_not_regress(cases):
    rows = onnx_conformance.run(cases)
    counts = onnx_conformance.summary(rows)
    assert counts["core"][1] > 900 and counts["all"][1] > 1800
    failing = sorted(
        r["name"] for r in rows if not r["ok"] and r["op"] in onnx_conformance.CORE_OPS
    )
    assert counts["core"][0] >= CORE_FLOOR, (counts, failing[:60])
    assert counts["all"][0] >= ALL_FLOOR, counts


def test_a_case_that_passes_and_one_that_fails_are_told_apart(cases):
    by_name = {c.name: c for c in cases}
    ok, cause = onnx_conformance.run_case(by_name["test_relu"])
    assert ok and cause == ""
    ok, cause = onnx_conformance.run_case(by_name["test_image_decoder_decode_jpeg_rgb"])
    assert not ok and cause.startswith("ImportError_: (ImageDecoder): this op type is not")
