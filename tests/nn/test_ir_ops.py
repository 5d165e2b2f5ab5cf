"""The IR ops of issue 7 (ir/ops/array.py, ir/ops/conv.py): references
against independent numpy, decompositions against the ops, gradient rules
against central differences in float64, and type errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from kiln.ir import Builder, Module, ShapeError, TensorType, interpret
from kiln.ir.ops.conv import NARROW

autodiff = sys.modules["kiln_tests_autodiff"]
build, check_gradients, normal, distinct = (
    autodiff.build,
    autodiff.check_gradients,
    autodiff.normal,
    autodiff.distinct,
)


def apply(name, *arrays, **attrs):
    m = Module()
    f = m.add_function("f", [TensorType(a.dtype, a.shape) for a in arrays])
    b = Builder.at_end(f.body)
    out = getattr(b, name)(*f.args, **attrs)
    b.ret(*(out if isinstance(out, tuple) else (out,)))
    return interpret(m.verify(), "f", *arrays)


def decomposed(name, *arrays, **attrs):
    """The op's decomposition, interpreted (None when it keeps the op)."""
    m = Module()
    f = m.add_function("f", [TensorType(a.dtype, a.shape) for a in arrays])
    b = Builder.at_end(f.body)
    op = b.create("kiln." + name, *f.args, **attrs)
    out = op.decompose(Builder.before(op))
    if out is None:
        return None
    op.result.replace_all_uses_with(out)
    f.body.erase(op)
    b.ret(out)
    assert "kiln." + name not in str(m)
    return interpret(m.verify(), "f", *arrays)[0]


# ------------------------------------------------------------------ cumsum


def np_cumsum(x, axis, exclusive, reverse):
    y = np.flip(x, axis) if reverse else x
    out = np.cumsum(y, axis=axis)
    if exclusive:
        out = np.concatenate(
            [
                np.zeros_like(np.take(out, [0], axis)),
                np.take(out, range(out.shape[axis] - 1), axis),
            ],
            axis,
        )
    return np.flip(out, axis) if reverse else out


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "shape, axis", [((5,), 0), ((3, 4), 1), ((2, 3, 4), 1), ((1, 6), 0), ((0, 3), 1)]
)
def test_cumsum(shape, axis, exclusive, reverse):
    x = normal(*shape)
    want = np_cumsum(x, axis, exclusive, reverse)
    (got,) = apply("cumsum", x, axis=axis, exclusive=exclusive, reverse=reverse)
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(
        decomposed("cumsum", x, axis=axis, exclusive=exclusive, reverse=reverse), want, atol=1e-12
    )
    ints = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    (got,) = apply("cumsum", ints, axis=axis, exclusive=exclusive, reverse=reverse)
    np.testing.assert_array_equal(got, np_cumsum(ints, axis, exclusive, reverse))
    assert decomposed("cumsum", ints, axis=axis) is None  # integers stay a cumsum
    if x.size:
        check_gradients(
            build([x], lambda b, v: b.cumsum(v, axis=axis, exclusive=exclusive, reverse=reverse)),
            [x],
        )


# ------------------------------------------------------------------ top_k, nonzero, shape


def test_top_k_orders_and_breaks_ties_by_index():
    x = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5]])
    values, indices = apply("top_k", x, k=3)
    np.testing.assert_array_equal(values, [[3, 3, 1], [0.5, 0.5, 0.5]])
    np.testing.assert_array_equal(indices, [[1, 2, 0], [0, 1, 2]])
    assert indices.dtype == np.int32
    values, indices = apply("top_k", np.arange(6, dtype=np.int32), k=0)
    assert values.shape == (0,) and indices.shape == (0,)


def test_top_k_gradient():
    x = distinct(2, 3, 5)
    check_gradients(build([x], lambda b, v: b.top_k(v, k=2)[0]), [x])


def test_nonzero_and_shape():
    x = np.array([[True, False, True], [False, False, True]])
    (got,) = apply("nonzero", x)
    np.testing.assert_array_equal(got, np.argwhere(x))
    (none,) = apply("nonzero", np.zeros((0, 3), bool))
    assert none.shape == (0, 2)
    (shape,) = apply("shape", np.zeros((0, 4, 1)))
    np.testing.assert_array_equal(shape, [0, 4, 1])


def test_type_errors():
    f32 = TensorType("f32", [3, 4])
    m = Module()
    f = m.add_function("f", [f32, TensorType("f32", [2, 2, 1, 3])])
    b = Builder.at_end(f.body)
    with pytest.raises(ShapeError, match="kiln.top_k: k = 5 is larger"):
        b.top_k(f.args[0], k=5)
    with pytest.raises(ShapeError, match="kiln.cumsum: axis 2 is out of range"):
        b.cumsum(f.args[0], axis=2)
    with pytest.raises(ShapeError, match="kiln.conv2d_transpose: expected an NHWC"):
        b.conv2d_transpose(f.args[0], f.args[1], output_size=[4, 4])


# ------------------------------------------------------------------ conv2d_transpose


def np_conv2d_transpose(v, w, size, strides, padding):
    """Scatter each input pixel times the filter into the (padded) output."""
    n, oh, ow, _ = v.shape
    kh, kw, cout, _ = w.shape
    pads = []
    for axis, k in enumerate((kh, kw)):
        if padding == "VALID":
            pads.append(0)
        else:
            out = -(-size[axis] // strides[axis])
            pads.append(max((out - 1) * strides[axis] + k - size[axis], 0) // 2)
    big = np.zeros((n, size[0] + kh + strides[0], size[1] + kw + strides[1], cout))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for c in range(kw):
                    big[:, i * strides[0] + a, j * strides[1] + c] += v[:, i, j] @ w[a, c].T
    return big[:, pads[0] : pads[0] + size[0], pads[1] : pads[1] + size[1]]


CONV_T = [  # value spatial, filter, output size, strides, padding
    ((3, 3), (3, 3), (5, 5), (2, 2), "SAME"),
    ((3, 4), (3, 2), (6, 7), (2, 2), "SAME"),  # odd sizes under SAME
    ((2, 2), (2, 2), (6, 6), (3, 3), "VALID"),  # stride > kernel: gaps
    ((4, 4), (3, 3), (6, 6), (1, 1), "VALID"),
    ((1, 1), (1, 1), (1, 1), (1, 1), "SAME"),  # size-1 everything
    ((2, 2), (2, 2), (7, 7), (3, 3), "VALID"),  # stride > kernel, an unused tail
]


@pytest.mark.parametrize("spatial, kernel, size, strides, padding", CONV_T)
def test_conv2d_transpose(spatial, kernel, size, strides, padding):
    rng = np.random.default_rng(1)
    v = rng.standard_normal((2, *spatial, 3))
    w = rng.standard_normal((*kernel, 4, 3))
    attrs = dict(output_size=list(size), strides=list(strides), padding=padding)
    (got,) = apply("conv2d_transpose", v, w, **attrs)
    np.testing.assert_allclose(got, np_conv2d_transpose(v, w, size, strides, padding), atol=1e-12)
    np.testing.assert_allclose(decomposed("conv2d_transpose", v, w, **attrs), got, atol=1e-12)
    # the adjoint of conv2d: <conv2d(x, w), v> == <x, conv2d_transpose(v, w)>
    x = rng.standard_normal(got.shape)
    (y,) = apply("conv2d", x, w, strides=list(strides), padding=padding)
    np.testing.assert_allclose(np.sum(y * v), np.sum(x * got), rtol=1e-10)
    check_gradients(build([v, w], lambda b, a, f: b.conv2d_transpose(a, f, **attrs)), [v, w])


PHASED = [  # value spatial, filter, output size, strides, dilations, padding
    ((7, 7), (5, 5), (14, 14), (2, 2), (1, 1), "SAME"),  # the DCGAN generator's
    ((4, 5), (3, 3), (7, 9), (2, 2), (3, 3), "SAME"),  # dilated
    ((3, 3), (4, 3), (13, 12), (3, 2), (2, 3), "VALID"),  # coprime stride and dilation
    ((4, 3), (3, 5), (8, 3), (2, 1), (1, 1), "SAME"),  # one axis strided
    ((4, 3), (3, 3), (6, 6), (2, 2), (1, 1), [1, 2, 0, 1]),  # explicit padding
    ((1, 1), (3, 3), (2, 2), (2, 2), (1, 1), "SAME"),  # one value pixel
]


@pytest.mark.parametrize("cout", [9, 3])  # conv2d per phase; one matmul (narrow output)
@pytest.mark.parametrize("spatial, kernel, size, strides, dilations, padding", PHASED)
def test_conv2d_transpose_by_phases(spatial, kernel, size, strides, dilations, padding, cout):
    """Strided transposes decompose per output phase, with no spread value:
    one dense conv2d per phase, or for fewer than NARROW output channels one
    matmul whose columns the phases sum; equal to the reference."""
    rng = np.random.default_rng(2)
    v = rng.standard_normal((2, *spatial, 3))
    w = rng.standard_normal((*kernel, cout, 3))
    attrs = dict(output_size=list(size), strides=list(strides), dilations=list(dilations))
    if isinstance(padding, list):
        attrs.update(padding="EXPLICIT", explicit_padding=padding)
    else:
        attrs["padding"] = padding
    (got,) = apply("conv2d_transpose", v, w, **attrs)
    x = rng.standard_normal(got.shape)
    (y,) = apply("conv2d", x, w, **{k: a for k, a in attrs.items() if k != "output_size"})
    np.testing.assert_allclose(np.sum(y * v), np.sum(x * got), rtol=1e-10)
    np.testing.assert_allclose(decomposed("conv2d_transpose", v, w, **attrs), got, atol=1e-12)
    m = Module()
    f = m.add_function("f", [TensorType(a.dtype, a.shape) for a in (v, w)])
    op = Builder.at_end(f.body).create("kiln.conv2d_transpose", *f.args, **attrs)
    op.decompose(Builder.before(op))
    names = [o.name for o in f.body.ops]
    if cout < NARROW:
        assert names.count("kiln.matmul") == 1 and "kiln.conv2d" not in names
    else:
        convs = [o for o in f.body.ops if o.name == "kiln.conv2d"]
        assert len(convs) == strides[0] * strides[1]
        assert all(tuple(c.strides) == (1, 1) for c in convs)


def test_conv2d_transpose_empty_batch():
    v, w = np.zeros((0, 3, 3, 2)), normal(3, 3, 1, 2)
    (got,) = apply("conv2d_transpose", v, w, output_size=[6, 6], strides=[2, 2], padding="SAME")
    assert got.shape == (0, 6, 6, 1)
