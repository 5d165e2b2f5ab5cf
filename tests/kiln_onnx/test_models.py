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

_cases = backend_test.test_cases  # {"OnnxBackendRealModelTest": class}
for _cls in _cases.values():
    _cls = pytest.mark.slow(_cls)
globals().update(_cases)
