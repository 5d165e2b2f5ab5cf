"""ONNX's trigonometric and hyperbolic ops (onnx/convert/trig.py: range
reduction and series in f64) against numpy, over each function's domain, its
edges (0, +-1, tiny and large values) and inf/NaN."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from kiln.onnx.backend import KilnRep  # noqa: E402
from onnx import helper  # noqa: E402

WIDE = np.concatenate([np.linspace(-40, 40, 2001), [0.0, 1e-9, -1e-7, 1e-3, 1234.5, -98765.4]])
UNIT = np.concatenate([np.linspace(-1, 1, 2001), [1e-9, -1e-6, 0.999999, -0.9999999]])
ABOVE_ONE = np.concatenate([np.linspace(1, 50, 2001), [1.0 + 1e-6, 1e4]])
SPECIAL = np.array([np.inf, -np.inf, np.nan])

FUNCTIONS = {
    "Sin": (np.sin, WIDE),
    "Cos": (np.cos, WIDE),
    "Tan": (np.tan, np.linspace(-1.5, 1.5, 1001)),
    "Atan": (np.arctan, np.concatenate([WIDE, [1e30, -1e30]])),
    "Asin": (np.arcsin, UNIT),
    "Acos": (np.arccos, UNIT),
    "Sinh": (np.sinh, np.linspace(-20, 20, 2001)),
    "Cosh": (np.cosh, np.linspace(-20, 20, 2001)),
    "Asinh": (np.arcsinh, np.concatenate([WIDE, [1e-12, -1e-5]])),
    "Acosh": (np.arccosh, ABOVE_ONE),
    "Atanh": (np.arctanh, np.linspace(-0.999, 0.999, 2001)),
}


def _run(op, x):
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", elem, x.shape)],
        [helper.make_tensor_value_info("y", elem, x.shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    return KilnRep(model).run([x])[0]


@pytest.mark.parametrize("op", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-7)])
def test_trig_matches_numpy(op, dtype, rtol):
    fn, values = FUNCTIONS[op]
    x = np.concatenate([values, SPECIAL]).astype(dtype)
    got = _run(op, x)
    assert got.dtype == x.dtype
    with np.errstate(all="ignore"):
        want = fn(x.astype(np.float64)).astype(dtype)
    scale = np.maximum(np.abs(want.astype(np.float64)), np.finfo(dtype).tiny)
    finite = np.isfinite(want)
    err = np.abs(got[finite].astype(np.float64) - want[finite]) / scale[finite]
    assert err.max() <= rtol * 4 + (1e-9 if op in ("Sin", "Cos", "Tan") else 0), (op, err.max())
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
