"""Casts into the narrow types kiln carries in a wider dtype (float8, float4,
int4, int2) and Floor/Ceil/Round, against ml_dtypes' conversions and numpy
(what onnx's reference computes), over values that hit every rounding case:
ties, subnormals, the largest finite value and beyond, inf and NaN."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _one_node(op, x, out_elem, opset=23, **attrs):
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    x_elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", x_elem, x.shape)],
        [helper.make_tensor_value_info("y", out_elem, x.shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return KilnRep(model).run([x])[0]


def _probe(fmt) -> np.ndarray:
    """Every value of `fmt`, the midpoints between neighbours (ties), a little
    either side of them, and values past the ends."""
    finfo = ml_dtypes.finfo(fmt)
    top = float(finfo.max)
    grid = np.linspace(0, top * 1.2, 4001, dtype=np.float32)
    values = np.unique(grid.astype(fmt).astype(np.float32))
    values = values[np.isfinite(values)]
    mids = (values[1:] + values[:-1]) / 2
    extra = np.array([np.inf, np.nan, top * 1.0625, top * 1.2, 1e-30, 2e6], np.float32)
    x = np.concatenate([values, mids, mids * 1.001, mids * 0.999, extra]).astype(np.float32)
    return np.concatenate([x, -x])


# the narrow ONNX types kiln carries, and ml_dtypes' type of each
NARROW = {
    name: getattr(ml_dtypes, dtype)
    for name, dtype in [("FLOAT8E4M3FN", "float8_e4m3fn"), ("FLOAT8E4M3FNUZ", "float8_e4m3fnuz"),
                        ("FLOAT8E5M2", "float8_e5m2"), ("FLOAT8E5M2FNUZ", "float8_e5m2fnuz"),
                        ("FLOAT4E2M1", "float4_e2m1fn"), ("INT4", "int4"), ("UINT4", "uint4"),
                        ("INT2", "int2"), ("UINT2", "uint2")]
}  # fmt: skip
FLOATS = [(getattr(TensorProto, n), t) for n, t in NARROW.items() if n.startswith("FLOAT")]
INTS = [(getattr(TensorProto, n), t) for n, t in NARROW.items() if "INT" in n]


@pytest.mark.parametrize("elem,fmt", FLOATS)
@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_to_a_narrow_float_rounds_as_ml_dtypes(elem, fmt, saturate):
    x = _probe(fmt)
    got = _one_node("Cast", x, elem, to=elem, saturate=saturate)
    assert got.dtype == np.dtype(fmt)
    if saturate:
        top = float(ml_dtypes.finfo(fmt).max)
        want = np.clip(x, -top, top).astype(fmt)
    else:
        want = x.astype(fmt)
    if fmt is ml_dtypes.float4_e2m1fn:  # no NaN: ml_dtypes and kiln give a zero
        want = np.where(np.isnan(x), 0, want.astype(np.float32)).astype(fmt)
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))


def test_narrow_floats_come_in_and_go_out_carried():
    values = np.array([0.5, -3.0, 448.0, np.nan, 2**-9], np.float32)
    x = values.astype(ml_dtypes.float8_e4m3fn)
    got = _one_node("Cast", x, TensorProto.FLOAT16, to=TensorProto.FLOAT16)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, values.astype(np.float16))


@pytest.mark.parametrize("elem,fmt", INTS)
def test_cast_to_a_narrow_integer_as_ml_dtypes(elem, fmt):
    floats = np.array([-17.5, -9, -8.7, -2.5, -1, -0.4, 0, 0.6, 1.9, 3.5, 7.9, 8, 15.2, 16, 99],
                      np.float32)  # fmt: skip
    got = _one_node("Cast", floats, elem, to=elem)
    assert got.dtype == np.dtype(fmt)
    np.testing.assert_array_equal(got.astype(np.int32), floats.astype(fmt).astype(np.int32))
    ints = np.arange(-20, 21, dtype=np.int32)
    got = _one_node("Cast", ints, elem, to=elem)
    np.testing.assert_array_equal(got.astype(np.int32), ints.astype(fmt).astype(np.int32))


@pytest.mark.parametrize("mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_to_float8e8m0_as_onnx_reference(mode, saturate):
    from onnx.numpy_helper import to_float8e8m0

    x = np.array([0.0, -0.0, 1e-45, 2.0**-127, 3 * 2.0**-128, 2.0**-126, 0.124, 0.25, 0.375,
                  0.376, -1.1, 1.5, 1.4999, 2.0, 3.0, 1000.0, 2.0**127, 1.1 * 2.0**127, 3e38,
                  np.inf, -np.inf, np.nan], np.float32)  # fmt: skip
    got = _one_node(
        "Cast", x, TensorProto.FLOAT8E8M0, to=TensorProto.FLOAT8E8M0, saturate=saturate,
        round_mode=mode,
    )  # fmt: skip
    want = to_float8e8m0(x, saturate=bool(saturate), round_mode=mode)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))


def test_an_unknown_round_mode_is_an_import_error():
    x = np.ones(3, np.float32)
    with pytest.raises(Exception, match=r"\(Cast, opset 23\): round_mode='odd' is not supported"):
        _one_node("Cast", x, TensorProto.FLOAT8E8M0, to=TensorProto.FLOAT8E8M0, round_mode="odd")


@pytest.mark.parametrize("op,fn", [("Floor", np.floor), ("Ceil", np.ceil), ("Round", np.rint)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_floor_ceil_round_as_numpy(op, fn, dtype):
    x = np.array([-2.5, -1.5, -0.5, -0.49, 0.0, 0.5, 1.5, 2.5, 2.51, -7.0, 3.999,
                  1e9 + 0.5, -1e9 - 0.5, 2.0**60, np.inf, -np.inf, np.nan], np.float64)  # fmt: skip
    x = x.astype(dtype)
    got = _one_node(op, x, helper.np_dtype_to_tensor_dtype(x.dtype))
    np.testing.assert_array_equal(got, fn(x))
