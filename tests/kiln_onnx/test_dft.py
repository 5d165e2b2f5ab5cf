"""ONNX DFT (onnx/convert/spectral.py) against numpy.fft: forward and inverse,
real and complex input, one-sided (rfft, irfft), dft_length padding and
truncating, on an inner and an outer axis."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SIGNAL = np.random.default_rng(5).standard_normal((3, 8, 5))


def _dft(x, axis, length=None, **attrs):
    inits = [numpy_helper.from_array(np.array(axis, np.int64), "axis")]
    names = ["x", "", "axis"]
    if length is not None:
        inits.append(numpy_helper.from_array(np.array(length, np.int64), "n"))
        names[1] = "n"
    graph = helper.make_graph(
        [helper.make_node("DFT", names, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return KilnRep(model).run([x.astype(np.float32)])[0]


def _pair(z):
    return np.stack([z.real, z.imag], axis=-1)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("length", [None, 6, 11])
def test_forward_of_a_real_signal(axis, length):
    got = _dft(SIGNAL[..., None], axis, length)
    np.testing.assert_allclose(got, _pair(np.fft.fft(SIGNAL, n=length, axis=axis)), atol=1e-4)


@pytest.mark.parametrize("axis", [0, 1])
def test_inverse_of_a_complex_signal_and_rfft_irfft(axis):
    z = SIGNAL + 1j * SIGNAL[::-1]
    got = _dft(_pair(z), axis, inverse=1)
    np.testing.assert_allclose(got, _pair(np.fft.ifft(z, axis=axis)), atol=1e-5)
    half = _dft(SIGNAL[..., None], axis, onesided=1)
    np.testing.assert_allclose(half, _pair(np.fft.rfft(SIGNAL, axis=axis)), atol=1e-4)
    n = SIGNAL.shape[axis]
    back = _dft(half, axis, n, onesided=1, inverse=1)
    np.testing.assert_allclose(back[..., 0], SIGNAL, atol=1e-5)
