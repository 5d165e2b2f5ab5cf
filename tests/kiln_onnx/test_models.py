"""onnx's model tests (the nine real architectures shipped in the onnx wheel, with
weights as ConstantOfShape and stored outputs) through kiln.onnx.backend, run by
onnx's own runner: onnx.backend.test.BackendTest."""

import pytest

backend_test_module = pytest.importorskip("onnx.backend.test")

import kiln.onnx.backend  # noqa: E402

MODELS = [
    "test_resnet50",
    "test_vgg19",
    "test_densenet121",
    "test_inception_v1",
    "test_inception_v2",
    "test_shufflenet",
    "test_squeezenet",
    "test_bvlc_alexnet",
    "test_zfnet512",
]

backend_test = backend_test_module.BackendTest(kiln.onnx.backend, __name__)
for _name in MODELS:
    backend_test.include(f"^{_name}_cpu$")

# the real-model class only (the node cases are tests/kiln_onnx/test_node_conformance.py)
OnnxBackendRealModelTest = pytest.mark.slow(backend_test.test_cases["OnnxBackendRealModelTest"])
