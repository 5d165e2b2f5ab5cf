"""ONNX BitCast as arithmetic on sign, exponent and mantissa (onnx/convert/bitcast.py)
against numpy's .view on random bit patterns and the edge values: signed zeros,
infinities, subnormals, the largest and smallest normals, all widths kiln has, a
symbolic dim and a scalar."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import helper  # noqa: E402


def _elem(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _model(src, dst, shape):
    node = helper.make_node("BitCast", ["x"], ["y"], to=_elem(dst))
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", _elem(src), shape)],
        [helper.make_tensor_value_info("y", _elem(dst), None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26)])
    model.ir_version = 12
    return model


def _floats(dtype, rng, n):
    info = np.finfo(dtype)
    edges = [0.0, -0.0, np.inf, -np.inf, info.tiny, -info.tiny, info.max, -info.max,
             info.smallest_subnormal, -info.smallest_subnormal, 1.0, -2.5,
             3 * info.tiny / 7]  # fmt: skip
    ints = {np.float32: np.int32, np.float64: np.int64, np.float16: np.int16}[dtype]
    bits = rng.integers(np.iinfo(ints).min, np.iinfo(ints).max, size=n, dtype=ints)
    x = np.concatenate([np.array(edges, dtype), bits.view(dtype)])
    return x[np.isfinite(x) | np.isinf(x)]  # random NaN payloads are not kept


@pytest.mark.parametrize("src, dst", [(np.float32, np.int32), (np.float32, np.uint32),
                                      (np.float64, np.int64), (np.float64, np.uint64),
                                      (np.float16, np.int16)])  # fmt: skip
def test_float_bits_match_numpy_view_and_round_trip(src, dst):
    rng = np.random.default_rng(np.dtype(src).itemsize)
    x = _floats(src, rng, 300)
    (bits,) = prepare(_model(src, dst, ["N"])).run([x])
    assert bits.dtype == dst
    np.testing.assert_array_equal(bits, x.view(dst))
    (back,) = prepare(_model(dst, src, ["N"])).run([bits])
    np.testing.assert_array_equal(back.view(dst), bits)  # -0.0 and the bits, exactly


def test_a_nan_reads_as_a_nan_and_a_nan_pattern_as_a_nan():
    (bits,) = prepare(_model(np.float32, np.int32, [2])).run([np.array([np.nan, 1.0], np.float32)])
    np.testing.assert_array_equal(bits, np.array([np.nan, 1.0], np.float32).view(np.int32))
    (y,) = prepare(_model(np.int32, np.float32, [2])).run([np.array([0x7F800001, -1], np.int32)])
    assert np.isnan(y).all()


@pytest.mark.parametrize("src, dst", [(np.int8, np.uint8), (np.uint8, np.int8),
                                      (np.uint16, np.int16), (np.uint32, np.int32),
                                      (np.int64, np.uint64), (np.bool_, np.uint8)])  # fmt: skip
def test_integer_bits_wrap_as_numpy_view(src, dst):
    rng = np.random.default_rng(7)
    if src is np.bool_:
        x = rng.integers(0, 2, size=9).astype(bool)
    else:
        info = np.iinfo(src)
        x = np.concatenate([[info.min, info.max, 0], rng.integers(info.min, info.max, 20)])
        x = x.astype(src)
    (y,) = prepare(_model(src, dst, [len(x)])).run([x])
    np.testing.assert_array_equal(y, x.view(dst))


def test_a_scalar():
    (y,) = prepare(_model(np.float32, np.int32, [])).run([np.array(1.0, np.float32)])
    assert y.shape == () and y == 1065353216


def test_widths_that_differ_are_an_error_naming_the_node():
    with pytest.raises(ImportError_, match="BitCast.*differ in width"):
        prepare(_model(np.float32, np.int64, [2]))
