"""The depthwise ops (ir/ops/depthwise.py) and their native kernels
(codegen/llvm/depthwise.py): references against conv2d with a block-diagonal
filter (an independent form), the gradient ops as the transposes of the
convolution, central differences in float64, and the CPU kernels against the
reference interpreter on odd shapes, size 0 and 1, strides, dilations,
multipliers and a symbolic batch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from kiln.ir import Builder, ExecutionError, Module, ShapeError, TensorType, interpret

TESTS = Path(__file__).resolve().parents[1]
autodiff = sys.modules["kiln_tests_autodiff"]
build, check_gradients = autodiff.build, autodiff.check_gradients

# input [n, h, w, c], filter [kh, kw, c, m], strides, dilations, padding
CASES = [
    ((2, 7, 6, 3), (3, 3, 3, 1), (1, 1), (1, 1), "SAME"),
    ((1, 9, 8, 5), (3, 2, 5, 2), (2, 2), (1, 1), "SAME"),  # stride 2, multiplier 2
    ((2, 9, 7, 4), (3, 3, 4, 1), (1, 2), (2, 2), "VALID"),  # dilation 2
    ((3, 5, 5, 2), (5, 5, 2, 3), (2, 1), (1, 1), "SAME"),  # window wider than strides
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (1, 1), "VALID"),  # size 1
    ((2, 6, 5, 3), (2, 3, 3, 2), (3, 2), (2, 1), [1, 2, 0, 1]),  # explicit padding
]


def attrs_of(strides, dilations, padding):
    attrs = {"strides": list(strides), "dilations": list(dilations)}
    if isinstance(padding, list):
        attrs.update(padding="EXPLICIT", explicit_padding=padding)
    else:
        attrs["padding"] = padding
    return attrs


def apply(name, *arrays, **attrs):
    m = build(list(arrays), lambda b, *a: getattr(b, name)(*a, **attrs))
    return interpret(m, "f", *arrays)[0]


def block_diagonal(w):
    """[kh, kw, c, m] as the [kh, kw, c, c * m] filter of an equal conv2d."""
    kh, kw, c, m = w.shape
    full = np.zeros((kh, kw, c, c, m), w.dtype)
    for k in range(c):
        full[:, :, k, k, :] = w[:, :, k, :]
    return full.reshape(kh, kw, c, c * m)


@pytest.mark.parametrize("xs, ws, strides, dilations, padding", CASES)
def test_references_are_the_convolution_and_its_transposes(xs, ws, strides, dilations, padding):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    attrs = attrs_of(strides, dilations, padding)
    y = apply("depthwise_conv2d", x, w, **attrs)
    np.testing.assert_allclose(y, apply("conv2d", x, block_diagonal(w), **attrs), atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = apply("depthwise_conv2d_backprop_input", g, w, input_size=list(xs[1:3]), **attrs)
    dw = apply("depthwise_conv2d_backprop_filter", x, g, filter_size=list(ws[:2]), **attrs)
    assert dx.shape == x.shape and dw.shape == w.shape
    # <g, conv(x, w)> is bilinear: its derivatives in x and w are the gradient ops
    np.testing.assert_allclose(np.sum(g * y), np.sum(dx * x), rtol=1e-10)
    np.testing.assert_allclose(np.sum(g * y), np.sum(dw * w), rtol=1e-10)


@pytest.mark.parametrize("xs, ws, strides, dilations, padding", CASES[1:4])
def test_gradients_against_central_differences(xs, ws, strides, dilations, padding):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    attrs = attrs_of(strides, dilations, padding)
    check_gradients(build([x, w], lambda b, a, f: b.depthwise_conv2d(a, f, **attrs)), [x, w])
    y = apply("depthwise_conv2d", x, w, **attrs)
    g = rng.standard_normal(y.shape)
    size = {"input_size": list(xs[1:3])}
    check_gradients(
        build([g, w], lambda b, a, f: b.depthwise_conv2d_backprop_input(a, f, **size, **attrs)),
        [g, w],
    )
    fsize = {"filter_size": list(ws[:2])}
    check_gradients(
        build([x, g], lambda b, a, f: b.depthwise_conv2d_backprop_filter(a, f, **fsize, **attrs)),
        [x, g],
    )


def test_type_errors_name_the_op():
    m = Module()
    f = m.add_function("f", [TensorType("f32", [1, 5, 5, 3]), TensorType("f32", [3, 3, 2, 1])])
    b = Builder.at_end(f.body)
    with pytest.raises(ShapeError, match="kiln.depthwise_conv2d: input channels 3"):
        b.depthwise_conv2d(f.args[0], f.args[1])
    with pytest.raises(ShapeError, match="kiln.depthwise_conv2d_backprop_input: an input"):
        b.depthwise_conv2d_backprop_input(f.args[0], f.args[1], input_size=[9, 9])


def _library_helpers():
    """tests/codegen/test_library.py's one-op native harness (one copy of it)."""
    name = "kiln_tests_library"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / "codegen" / "test_library.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _type(shape, dtype, symbolic_batch=False):
    dims = ["?" if symbolic_batch and k == 0 else str(d) for k, d in enumerate(shape)]
    return "x".join(dims) + "x" + dtype


KERNEL_CASES = CASES + [
    ((0, 5, 5, 3), (3, 3, 3, 2), (1, 1), (1, 1), "SAME"),  # empty batch
    ((2, 11, 13, 37), (3, 3, 37, 1), (2, 2), (1, 1), "SAME"),  # channels no vector width divides
]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("xs, ws, strides, dilations, padding", KERNEL_CASES)
def test_native_kernels_match_the_reference(dtype, xs, ws, strides, dilations, padding):
    """Each kernel whole and with its outer range split in three, a symbolic
    batch, against the interpreter."""
    lib = _library_helpers()
    rng = np.random.default_rng(6)
    numpy_dtype = {"f32": np.float32, "f64": np.float64}[dtype]
    x = rng.standard_normal(xs).astype(numpy_dtype)
    w = rng.standard_normal(ws).astype(numpy_dtype)
    attrs = attrs_of(strides, dilations, padding)
    y = apply("depthwise_conv2d", x.astype(np.float64), w.astype(np.float64), **attrs)
    g = rng.standard_normal(y.shape).astype(numpy_dtype)
    symbolic = xs[0] != 1
    forward = lib.native("depthwise_conv2d", _type(xs, dtype, symbolic), _type(ws, dtype), **attrs)
    lib.check(forward, x, w, exact=False)
    back_input = lib.native(
        "depthwise_conv2d_backprop_input",
        _type(y.shape, dtype, symbolic),
        _type(ws, dtype),
        input_size=list(xs[1:3]),
        **attrs,
    )
    lib.check(back_input, g, w, exact=False)
    back_filter = lib.native(
        "depthwise_conv2d_backprop_filter",
        _type(xs, dtype, symbolic),
        _type(y.shape, dtype, symbolic),
        filter_size=list(ws[:2]),
        **attrs,
    )
    lib.check(back_filter, x, g, exact=False)


def test_native_kernel_rejects_shapes_that_do_not_fit():
    lib = _library_helpers()
    n = lib.native("depthwise_conv2d", "?x5x5x3xf32", "3x3x3x2xf32", padding="SAME")
    with pytest.raises(ExecutionError, match="kiln.depthwise_conv2d"):
        n.kernel.bind([(1, 5, 5, 3), (3, 3, 3, 2)], [(1, 5, 5, 5)])
