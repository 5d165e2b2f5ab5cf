"""Pointwise kernels on the CPU against the reference interpreter: every
elementwise op, every dtype, broadcasting, symbolic dims, awkward sizes."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.ir import OPS, ExecutionError, Trait, dtype_of
from kiln.ir.ops.elementwise import Binary, Compare, Unary

SIZES = (0, 1, 7, 69, 1027)  # none a multiple of a vector width, but 0


def _registered(base: type, float_only: bool | None = None) -> list[str]:
    """The short names of the registered ops of `base` that kernels compute
    (a scalar form) and that need no attribute, from the registry."""
    return [
        name.removeprefix("kiln.")
        for name, cls in OPS.items()
        if issubclass(cls, base)
        and cls.has_scalar_form()
        and not any(spec.required for spec in cls.attr_specs.values())
        and (float_only is None or (Trait.FLOAT_ONLY in cls.traits) == float_only)
    ]


UNARY_FLOAT = _registered(Unary)
UNARY_INT = _registered(Unary, float_only=False)
BINARY_FLOAT = _registered(Binary)
# pow is left out: a negative integer exponent faults (test_int_power_wraps_like_numpy)
BINARY_INT = [n for n in _registered(Binary, float_only=False) if n != "pow"]
COMPARE = _registered(Compare)
DTYPES = ["f32", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool"]
UNSIGNED = ["u8", "u16", "u32", "u64"]
TOLERANCE = {"f32": 2e-6, "f64": 1e-13}


def ints(rng, shape, dtype, low=-100, high=100):
    if dtype in UNSIGNED:  # unsigned: the same spread, above zero
        low, high = max(low, 0), high - min(low, 0)
    return rng.integers(low, high, shape).astype(dtype_of(dtype).numpy)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_float_unary_ops(kernels, rng, dtype):
    m, op = kernels.make_fused(
        [f"?x{dtype}"], lambda b, a: [getattr(b, n)(a[0]) for n in UNARY_FLOAT]
    )
    for n in SIZES:
        x = kernels.floats(rng, n, dtype)
        kernels.check(m, op, x, rtol=TOLERANCE[dtype], atol=1e-30, names=UNARY_FLOAT)


def test_elu_alpha(kernels, rng):
    m, op = kernels.make_fused(["?xf32"], lambda b, a: [b.elu(a[0], alpha=0.3)])
    kernels.check(m, op, kernels.floats(rng, 100, "f32"), rtol=2e-6)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_float_binary_ops(kernels, rng, dtype):
    m, op = kernels.make_fused(
        [f"?x{dtype}", f"?x{dtype}"], lambda b, a: [getattr(b, n)(*a) for n in BINARY_FLOAT]
    )
    for n in SIZES:
        x, y = kernels.floats(rng, n, dtype), kernels.floats(rng, n, dtype)
        kernels.check(m, op, x, y, rtol=TOLERANCE[dtype], names=BINARY_FLOAT)


@pytest.mark.parametrize("dtype", ["i8", "i16", "i32", "i64", *UNSIGNED])
def test_int_ops(kernels, rng, dtype):
    names = UNARY_INT + BINARY_INT
    m, op = kernels.make_fused(
        [f"?x{dtype}", f"?x{dtype}"],
        lambda b, a: (
            [getattr(b, n)(a[0]) for n in UNARY_INT] + [getattr(b, n)(*a) for n in BINARY_INT]
        ),
    )
    for n in SIZES:
        x = ints(rng, n, dtype)
        y = ints(rng, n, dtype, -9, 9)
        y[y == 0] = 3
        if dtype in UNSIGNED and n > 2:
            x[:2] = np.iinfo(x.dtype).max  # above the signed range: compares and divides unsigned
        kernels.check(m, op, x, y, names=names)


@pytest.mark.parametrize("dtype", ["i32", "i64"])
def test_int_power_wraps_like_numpy(kernels, rng, dtype):
    m, op = kernels.make_fused([f"?x{dtype}", f"?x{dtype}"], lambda b, a: [b.pow(*a)])
    x = ints(rng, 500, dtype, -20, 20)
    y = ints(rng, 500, dtype, 0, 30)
    kernels.check(m, op, x, y)


def test_int_division_rounds_toward_zero(kernels):
    m, op = kernels.make_fused(["?xi32", "?xi32"], lambda b, a: [b.div(*a)])
    x = np.array([7, -7, 7, -7, 0, 6, -6, -(2**31), 2**31 - 1], np.int32)
    y = np.array([2, 2, -2, -2, 5, 3, -3, -1, -1], np.int32)
    got = kernels.check(m, op, x, y)[0]
    assert got.tolist() == [3, -3, -3, 3, 0, 2, 2, -(2**31), -(2**31 - 1)]


@pytest.mark.parametrize("dtype", ["f32", "i32", "u32", "bool"])
def test_compares(kernels, rng, dtype):
    m, op = kernels.make_fused(
        [f"?x{dtype}", f"?x{dtype}"], lambda b, a: [getattr(b, n)(*a) for n in COMPARE]
    )
    for n in SIZES:
        if dtype == "f32":
            x, y = kernels.floats(rng, n, dtype), kernels.floats(rng, n, dtype)
            y[: n // 2] = x[: n // 2]  # equal pairs, NaN == NaN among them
        elif dtype == "bool":
            x, y = rng.random(n) < 0.5, rng.random(n) < 0.5
        else:
            x, y = ints(rng, n, dtype, -3, 3), ints(rng, n, dtype, -3, 3)
        kernels.check(m, op, x, y, names=COMPARE)


def test_logical_ops_and_select(kernels, rng):
    def build(b, a):
        p, q, x, y = a
        return [
            b.logical_and(p, q),
            b.logical_or(p, q),
            b.logical_not(p),
            b.select(p, x, y),
            b.select(b.less(x, y), y, x),
        ]

    m, op = kernels.make_fused(["?x5xbool", "?x1xbool", "?x5xf32", "f32"], build)
    for rows in (0, 1, 9):
        p = rng.random((rows, 5)) < 0.5
        q = rng.random((rows, 1)) < 0.5
        x = kernels.floats(rng, (rows, 5), "f32")
        kernels.check(m, op, p, q, x, np.float32(0.5))


@pytest.mark.parametrize("source", DTYPES)
def test_casts(kernels, rng, source):
    m, op = kernels.make_fused(
        [f"?x{source}"], lambda b, a: [b.cast(a[0], dtype=d) for d in DTYPES]
    )
    for n in SIZES:
        if source == "bool":
            x = rng.random(n) < 0.5
        elif source.startswith("f"):
            # values in the range of every integer type
            x = (rng.random(n) * 200 - 100).astype(dtype_of(source).numpy)
            x[: n // 3] = np.round(x[: n // 3])
            if n > 3:
                x[:3] = [0.0, -0.0, 0.5]
        else:
            x = ints(rng, n, source, -128, 128)
        kernels.check(m, op, x, names=DTYPES)


def test_unsigned_casts_wrap_like_numpy(kernels):
    m, op = kernels.make_fused(
        ["?xi64"], lambda b, a: [b.cast(a[0], dtype=d) for d in ("u8", "u16", "u32", "u64")]
    )
    kernels.check(m, op, np.array([-1, 255, 256, 70000, -(2**40), 2**40 + 3], np.int64))
    m, op = kernels.make_fused(
        ["?xu8"], lambda b, a: [b.cast(a[0], dtype=d) for d in ("i8", "i32", "f32", "u64")]
    )
    got = kernels.check(m, op, np.array([0, 127, 128, 255], np.uint8))
    assert got[2].tolist() == [0.0, 127.0, 128.0, 255.0]


def test_wrapping_int_casts(kernels):
    m, op = kernels.make_fused(
        ["?xi64"], lambda b, a: [b.cast(a[0], dtype="i32"), b.cast(a[0], dtype="i8")]
    )
    x = np.array([2**40 + 5, -(2**33) - 1, 300, -129], np.int64)
    kernels.check(m, op, x)


def test_nan_in_max_and_min(kernels):
    m, op = kernels.make_fused(
        ["?xf32", "?xf32"], lambda b, a: [b.max(*a), b.min(*a), b.relu(a[0])]
    )
    nan = np.nan
    x = np.array([nan, 1.0, nan, -1.0, 2.0, -np.inf, 0.0], np.float32)
    y = np.array([1.0, nan, nan, -2.0, np.inf, nan, -0.0], np.float32)
    got = kernels.check(m, op, x, y)
    assert np.isnan(got[0][[0, 1, 2, 5]]).all() and np.isnan(got[1][[0, 1, 2, 5]]).all()
    assert np.isnan(got[2][0])


@pytest.mark.parametrize(
    "shapes",
    [
        ("?x5xf32", "5xf32"),  # a row vector along the rows
        ("?x5xf32", "?x1xf32"),  # a column broadcast along the columns
        ("?x1xf32", "1x7xf32"),  # an outer sum
        ("4x?x3xf32", "4x1x3xf32"),  # a middle broadcast
        ("?x5xf32", "f32"),  # a scalar
    ],
)
def test_broadcasting(kernels, rng, shapes):
    m, op = kernels.make_fused(
        list(shapes), lambda b, a: [b.sub(b.mul(*a), a[1]), b.exp(b.add(*a))]
    )
    types = [v.type for v in op.operands]
    for size in (0, 1, 6):
        arrays = []
        for t in types:
            shape = [size if not isinstance(d, int) else d for d in t.shape]
            arrays.append(kernels.floats(rng, shape, "f32", specials=False))
        kernels.check(m, op, *arrays, rtol=2e-6)


def test_named_symbols(kernels, rng):
    m, op = kernels.make_fused(["NxMxf32", "Mxf32"], lambda b, a: [b.add(*a)])
    x, y = rng.standard_normal((3, 4)).astype(np.float32), np.arange(4, dtype=np.float32)
    kernels.check(m, op, x, y)


def test_iota_broadcast_to_and_constants(kernels, rng):
    def build(b, a):
        x, v = a
        rows = b.iota(shape=[3, 4], dimension=0, dtype="f32")
        cols = b.cast(b.iota(shape=[3, 4], dimension=1, dtype="i32"), dtype="f32")
        spread = b.broadcast_to(v, shape=[3, 4])
        two = b.constant(2.0)
        return [
            b.add(b.mul(x, two), b.mul(rows, cols)),
            b.add(spread, rows),
            b.iota(shape=[3, 4], dimension=1, dtype="i64"),
        ]

    m, op = kernels.make_fused(["3x4xf32", "4xf32"], build)
    kernels.check(
        m,
        op,
        rng.standard_normal((3, 4)).astype(np.float32),
        rng.standard_normal(4).astype(np.float32),
    )


def test_faults_are_kiln_errors(kernels):
    m, op = kernels.make_fused(["?xi32", "?xi32"], lambda b, a: [b.div(*a)])
    with pytest.raises(ExecutionError, match="integer division by zero"):
        kernels.check(m, op, np.array([1, 2, 3], np.int32), np.array([1, 0, 3], np.int32))
    m, op = kernels.make_fused(["?xf32"], lambda b, a: [b.cast(a[0], dtype="i32")])
    for bad in (np.nan, np.inf):
        with pytest.raises(ExecutionError, match="non-finite"):
            kernels.check(m, op, np.array([1.0, bad], np.float32))
    m, op = kernels.make_fused(["?xi64", "?xi64"], lambda b, a: [b.pow(*a)])
    with pytest.raises(ExecutionError, match="negative exponent"):
        kernels.check(m, op, np.array([2, 2], np.int64), np.array([1, -1], np.int64))


def test_scalar_kernel(kernels):
    m, op = kernels.make_fused(["f32", "f32"], lambda b, a: [b.add(*a), b.less(*a)])
    kernels.check(m, op, np.float32(1.5), np.float32(2.25))


def test_broadcast_like_takes_only_the_shape_of_its_second_operand(kernels, rng):
    """reduce_mean's gradient: a scalar spread to the shape of a value the
    kernel never reads (it only gives the extents), then stop_gradient."""

    def build(b, a):
        spread = b.create("kiln.broadcast_like", a[0], a[1]).result
        return [b.create("kiln.stop_gradient", b.mul(spread, a[2])).result]

    m, op = kernels.make_fused(["f32", "?x5xf32", "5xf32"], build)
    for rows in (0, 1, 9):
        kernels.check(
            m,
            op,
            np.float32(rng.standard_normal()),
            rng.standard_normal((rows, 5)).astype(np.float32),
            rng.standard_normal(5).astype(np.float32),
        )
