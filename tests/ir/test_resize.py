"""kiln.resize (ir/ops/resize.py): the reference against onnx's own reference
implementation for every mode, coordinate transformation and rounding, the
decomposition (gathers and constant weights) compiled for the CPU against the
reference, gradients through it against central differences, and the type
errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import kiln
from kiln.ir import Builder, Module, ShapeError, interpret, parse
from kiln.ir.types import parse_type_body
from kiln.passes.autodiff import differentiate


@pytest.fixture
def rng():
    return np.random.default_rng(18)


def resize_module(type_: str, **attrs) -> Module:
    m = Module()
    f = m.add_function("f", [parse_type_body(type_)])
    b = Builder.at_end(f.body)
    b.ret(b.resize(f.args[0], **attrs))
    return m.verify()


def onnx_resize(x, sizes=None, scales=None, roi=None, **attrs):
    """onnx's reference Resize (opset 19) on x."""
    reference = pytest.importorskip("onnx.reference.ops.op_resize")
    defaults = dict(
        antialias=0,
        axes=None,
        coordinate_transformation_mode="half_pixel",
        cubic_coeff_a=-0.75,
        exclude_outside=0,
        extrapolation_value=0.0,
        keep_aspect_ratio_policy="stretch",
        mode="nearest",
        nearest_mode="round_prefer_floor",
    )
    defaults.update(attrs)
    run = reference.Resize._run
    scales = None if scales is None else np.array(scales, np.float32)
    sizes = None if sizes is None else np.array(sizes, np.int64)
    roi = None if roi is None else np.array(roi, np.float32)
    return run(None, x, roi, scales, sizes, **defaults)[0]


TRANSFORMS = [
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
]  # tf_half_pixel_for_nn (opset 11 to 12) is checked against onnxruntime in tests/kiln_onnx
CASES = [
    # (input shape, sizes or None, scales or None)
    ((1, 2, 4, 5), (1, 2, 7, 3), None),
    ((1, 1, 3, 3), None, (1.0, 1.0, 2.0, 1.5)),
    ((2, 1, 6, 4), None, (1.0, 1.0, 0.5, 0.6)),
    ((1, 1, 1, 3), (1, 1, 4, 1), None),
]


def kiln_attrs(shape, sizes, scales):
    if sizes is not None:
        return {"sizes": [n if n != m else -1 for n, m in zip(sizes, shape)]}
    scales = [float(np.float32(s)) for s in scales]  # ONNX stores scales as float32
    out = [int(np.floor(s * n)) for s, n in zip(scales, shape)]
    return {"sizes": out, "scales": scales}


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_reference_matches_onnx(rng, mode, transform):
    roundings = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
    for (shape, sizes, scales), rounding in itertools.product(CASES, roundings):
        if mode != "nearest" and rounding != "round_prefer_floor":
            continue
        x = rng.standard_normal(shape).astype(np.float32)
        attrs = dict(mode=mode, coordinate_transformation_mode=transform, nearest_mode=rounding)
        want = onnx_resize(x, sizes, scales, **attrs)
        m = resize_module(
            f"{'x'.join(map(str, shape))}xf32", **kiln_attrs(shape, sizes, scales), **attrs
        )
        got = interpret(m, "f", x)[0]
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=str((shape, attrs)))


@pytest.mark.parametrize(
    "attrs",
    [
        dict(mode="cubic", exclude_outside=True, cubic_coeff_a=-0.5),
        dict(mode="linear", antialias=True),
        dict(mode="cubic", antialias=True),
        dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"),
        dict(mode="nearest", coordinate_transformation_mode="tf_crop_and_resize"),
    ],
)
def test_reference_matches_onnx_options(rng, attrs):
    x = rng.standard_normal((1, 2, 8, 6)).astype(np.float32)
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    roi = [0, 0, 0.2, -0.1, 1, 1, 0.9, 1.3] if crop else None
    for sizes in [(1, 2, 3, 4), (1, 2, 11, 9)]:
        want = onnx_resize(x, sizes, None, roi, extrapolation_value=2.5, **attrs)
        extra = {"roi": roi} if crop else {}
        m = resize_module("1x2x8x6xf32", sizes=sizes, extrapolation_value=2.5, **extra, **attrs)
        np.testing.assert_allclose(interpret(m, "f", x)[0], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_decomposition_compiled_for_the_cpu(rng, mode):
    """A symbolic batch, two resized dims: the decomposition compiles to native
    gathers and pointwise kernels and agrees with the reference."""
    m = resize_module(
        "?x3x5x4xf32",
        sizes=[-1, -1, 9, 2],
        mode=mode,
        coordinate_transformation_mode="align_corners",
    )
    exe = kiln.compile(m, "f", backend="cpu")
    for batch in (1, 2, 0):
        x = rng.standard_normal((batch, 3, 5, 4)).astype(np.float32)
        got = exe(x)
        got = np.asarray(got[0] if isinstance(got, (list, tuple)) else got)
        np.testing.assert_allclose(got, interpret(m, "f", x)[0], rtol=1e-5, atol=1e-5)


def test_nearest_keeps_integers_exact(rng):
    x = rng.integers(-(2**62), 2**62, (1, 1, 3, 2))
    m = resize_module("1x1x3x2xi64", sizes=[-1, -1, 6, 4], mode="nearest")
    got = interpret(m, "f", x)[0]
    assert got.dtype == np.int64 and set(got.reshape(-1)) <= set(x.reshape(-1))
    exe = kiln.compile(m, "f", backend="cpu")
    out = exe(x)
    np.testing.assert_array_equal(
        np.asarray(out[0] if isinstance(out, (list, tuple)) else out), got
    )


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_gradient_through_the_decomposition(rng, mode):
    m = resize_module("1x1x3x4xf64", sizes=[-1, -1, 5, 3], mode=mode)
    x = rng.standard_normal((1, 1, 3, 4))
    seed = rng.standard_normal((1, 1, 5, 3))
    grad = differentiate(m, "f", [0], of=[0], seeds=True)
    got = interpret(m, grad.name, x, seed)[1]
    want = np.zeros_like(x)
    eps = 1e-6
    for pos in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[pos] += eps
        down[pos] -= eps
        want[pos] = np.sum(seed * (interpret(m, "f", up)[0] - interpret(m, "f", down)[0])) / (
            2 * eps
        )
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_text_round_trip():
    m = resize_module(
        "?x3x4x4xf32", sizes=[-1, -1, 8, 8], scales=[1, 1, 2, 2], mode="cubic", antialias=True
    )
    assert "kiln.resize" in str(m) and parse(str(m)) == m


def test_type_errors():
    with pytest.raises(ShapeError, match="needs floats"):
        resize_module("1x1x2x2xi32", sizes=[-1, -1, 4, 4], mode="linear")
    with pytest.raises(ShapeError, match="must be static"):
        resize_module("1x1x?x2xf32", sizes=[-1, -1, 4, 4])
    with pytest.raises(ShapeError, match="one entry per dim"):
        resize_module("1x1x2x2xf32", sizes=[4, 4])
