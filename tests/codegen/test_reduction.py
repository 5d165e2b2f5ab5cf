"""Reduction (row) kernels on the CPU against the reference interpreter: every
reduction over every axis set, keepdims or not, argmax/argmin, NaN, empty
extents, and whole row kernels formed by `fuse` (softmax, layer norm)."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.codegen import lower
from kiln.ir import OPS, ExecutionError, dtype_of
from kiln.ir.ops.reduce import Reduce

# every registered reduction a kernel folds (argmax/argmin take an axis: tested apart)
REDUCTIONS = [
    name.removeprefix("kiln.") for name, cls in OPS.items() if issubclass(cls, Reduce) and cls.fold
]
AXES = [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2), None]


def all_reductions(axes, keepdims=(False,)):
    def build(b, a):
        return [getattr(b, n)(a[0], axes=axes, keepdims=k) for k in keepdims for n in REDUCTIONS]

    return build


def near_one(rng, shape, dtype):
    """Values whose products stay finite: in [0.5, 1.5), with some negatives."""
    x = rng.random(shape) + 0.5
    x[rng.random(shape) < 0.2] *= -1
    return x.astype(dtype_of(dtype).numpy)


@pytest.mark.parametrize("axes", AXES)
def test_float_reductions(kernels, rng, axes):
    m, op = kernels.make_fused(["?x4x7xf32"], all_reductions(axes, (False, True)), "reduction")
    names = REDUCTIONS + [n + " keepdims" for n in REDUCTIONS]
    for rows in (1, 3, 10):
        kernels.check(m, op, near_one(rng, (rows, 4, 7), "f32"), rtol=1e-5, names=names)


@pytest.mark.parametrize("dtype", ["i32", "i64", "f64", "i16", "u8", "u32"])
@pytest.mark.parametrize("axes", [(1,), (0, 2)])
def test_other_dtypes(kernels, rng, dtype, axes):
    m, op = kernels.make_fused([f"3x?x5x{dtype}"], all_reductions(axes), "reduction")
    for n in (1, 4, 9):
        if dtype.startswith("u"):  # max above the signed range, min at zero
            x = rng.integers(0, 5, (3, n, 5)).astype(dtype_of(dtype).numpy)
            x[0, 0, 0] = np.iinfo(x.dtype).max
        elif dtype.startswith("i"):
            x = rng.integers(-4, 5, (3, n, 5)).astype(dtype_of(dtype).numpy)
        else:
            x = near_one(rng, (3, n, 5), dtype)
        kernels.check(m, op, x, rtol=1e-12, names=REDUCTIONS)


@pytest.mark.parametrize("dtype", ["f32", "i32", "u8"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_argmax_argmin(kernels, rng, dtype, axis):
    def build(b, a):
        return [b.argmax(a[0], axis=axis), b.argmin(a[0], axis=axis, index_dtype="i32")]

    m, op = kernels.make_fused([f"?x6x5x{dtype}"], build, "reduction")
    for rows in (1, 4):
        x = rng.integers(-3, 4, (rows, 6, 5)).astype(dtype_of(dtype).numpy)  # many ties
        if dtype == "f32":
            x.reshape(-1)[::7] = np.nan
            x.reshape(-1)[1::11] = -np.inf
        kernels.check(m, op, x)


def test_nan_wins_in_max_and_min(kernels):
    m, op = kernels.make_fused(
        ["?x5xf32"],
        lambda b, a: [
            b.reduce_max(a[0], axes=[1]),
            b.reduce_min(a[0], axes=[1]),
            b.argmax(a[0], axis=1),
            b.argmin(a[0], axis=1),
        ],
        "reduction",
    )
    nan = np.nan
    x = np.array(
        [[1, nan, 3, 4, 5], [nan, 1, 2, 3, nan], [1, 2, 3, 4, 5], [-np.inf] * 5, [1, 2, 3, 4, nan]],
        np.float32,
    )
    got = kernels.check(m, op, x)
    assert np.isnan(got[0][[0, 1, 4]]).all() and got[0][2] == 5
    assert got[2].tolist() == [1, 0, 4, 0, 4]


def test_empty_extents(kernels):
    m, op = kernels.make_fused(
        ["?x?xf32"],
        lambda b, a: [b.reduce_sum(a[0], axes=[1]), b.reduce_prod(a[0], axes=[1])],
        "reduction",
    )
    kernels.check(m, op, np.zeros((3, 0), np.float32))  # sum 0, prod 1
    kernels.check(m, op, np.zeros((0, 4), np.float32))  # no rows
    m, op = kernels.make_fused(
        ["?x?xf32"], lambda b, a: [b.reduce_max(a[0], axes=[1])], "reduction"
    )
    kernels.check(m, op, np.zeros((0, 4), np.float32))
    with pytest.raises(ExecutionError, match="empty"):
        kernels.check(m, op, np.zeros((3, 0), np.float32))


SOFTMAX = """
func @softmax(%x: tensor<?xCxf32>) -> tensor<?xCxf32> {
  %m = kiln.reduce_max %x {axes = [-1], keepdims = true} : (tensor<?xCxf32>) -> tensor<?x1xf32>
  %s = kiln.sub %x, %m : (tensor<?xCxf32>, tensor<?x1xf32>) -> tensor<?xCxf32>
  %e = kiln.exp %s : tensor<?xCxf32>
  %z = kiln.reduce_sum %e {axes = [-1], keepdims = true} : (tensor<?xCxf32>) -> tensor<?x1xf32>
  %p = kiln.div %e, %z : (tensor<?xCxf32>, tensor<?x1xf32>) -> tensor<?xCxf32>
  kiln.return %p : tensor<?xCxf32>
}
"""


@pytest.mark.parametrize("columns", [10, 1027])
def test_softmax_is_one_row_kernel(kernels, rng, columns):
    m, fused = kernels.fused_from_text(SOFTMAX.replace("C", str(columns)))
    assert len(fused) == 1 and fused[0].kind == "reduction"
    kernel = lower(fused[0])
    assert [a.reduced for a in kernel.domain] == [False, True]
    for rows in (0, 1, 5):
        x = (rng.standard_normal((rows, columns)) * 10).astype(np.float32)
        got = kernels.check(m, fused[0], x, rtol=1e-5, atol=1e-7)[0]
        np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-5)


LAYER_NORM = """
func @norm(%x: tensor<?x33xf32>, %g: tensor<33xf32>) -> (tensor<?x33xf32>, tensor<?xf32>) {
  %mu = kiln.reduce_mean %x {axes = [1], keepdims = true} : (tensor<?x33xf32>) -> tensor<?x1xf32>
  %d = kiln.sub %x, %mu : (tensor<?x33xf32>, tensor<?x1xf32>) -> tensor<?x33xf32>
  %sq = kiln.square %d : tensor<?x33xf32>
  %v = kiln.reduce_mean %sq {axes = [1], keepdims = true} : (tensor<?x33xf32>) -> tensor<?x1xf32>
  %eps = kiln.constant {value = dense<0.001> : tensor<f32>} : () -> tensor<f32>
  %ve = kiln.add %v, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %r = kiln.rsqrt %ve : tensor<?x1xf32>
  %n = kiln.mul %d, %r : (tensor<?x33xf32>, tensor<?x1xf32>) -> tensor<?x33xf32>
  %y = kiln.mul %n, %g : (tensor<?x33xf32>, tensor<33xf32>) -> tensor<?x33xf32>
  %s = kiln.reduce_sum %y {axes = [1]} : (tensor<?x33xf32>) -> tensor<?xf32>
  kiln.return %y, %s : (tensor<?x33xf32>, tensor<?xf32>) -> ()
}
"""


def test_layer_norm_reuses_row_values(kernels, rng):
    m, fused = kernels.fused_from_text(LAYER_NORM)
    assert len(fused) == 1 and fused[0].kind == "reduction"
    sweeps = [s for s in lower(fused[0]).body if type(s).__name__ == "Sweep"]
    assert len(sweeps) == 3  # mean; variance; normalise, store and sum
    x = rng.standard_normal((6, 33)).astype(np.float32)
    kernels.check(m, fused[0], x, rng.standard_normal(33).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_mean_over_symbolic_extent(kernels, rng):
    m, op = kernels.make_fused(
        ["3x?xf32", "3x?xi32"],
        lambda b, a: [b.reduce_mean(a[0], axes=[1]), b.reduce_mean(a[1], axes=[1])],
        "reduction",
    )
    for n in (1, 5, 64):
        kernels.check(
            m,
            op,
            rng.standard_normal((3, n)).astype(np.float32),
            rng.integers(-9, 10, (3, n)).astype(np.int32),
            rtol=1e-6,
        )


def test_column_reduction_with_broadcast_inputs(kernels, rng):
    """Reduce over the leading axis; inputs broadcast along rows and columns,
    a row-level input, and both a full and a row result."""

    def build(b, a):
        x, bias, scale = a
        y = b.mul(b.add(x, bias), b.constant(0.5))
        total = b.reduce_sum(y, axes=[0])
        return [y, b.mul(total, scale)]

    m, op = kernels.make_fused(["?x9xf32", "9xf32", "9xf32"], build, "reduction")
    for rows in (1, 2, 17):
        kernels.check(
            m,
            op,
            rng.standard_normal((rows, 9)).astype(np.float32),
            rng.standard_normal(9).astype(np.float32),
            rng.standard_normal(9).astype(np.float32),
            rtol=1e-5,
            atol=1e-6,
        )


def test_long_float_sums_are_accurate(kernels, rng):
    """Sums run in chunks added up in f64: close to the exact sum, where one
    float32 accumulator would be off by ~1e-4."""
    m, op = kernels.make_fused(
        ["?x?xf32"],
        lambda b, a: [b.reduce_sum(a[0], axes=[1]), b.reduce_mean(a[0], axes=[1])],
        "reduction",
    )
    for columns in (4096, 2 * 4096 + 17, 300_001):
        x = rng.random((2, columns)).astype(np.float32)
        total, mean = kernels.check(m, op, x, rtol=1e-6)
        exact = x.astype(np.float64).sum(axis=1)
        np.testing.assert_allclose(total, exact, rtol=2e-7)
        np.testing.assert_allclose(mean, exact / columns, rtol=2e-7)


@pytest.mark.parametrize("columns", [1, 7, 255, 256, 257, 600])
def test_column_blocks_every_reduction_and_width(kernels, rng, columns):
    """Reductions over the leading axes run in blocks of columns (the innermost
    row axis); widths around the block size, ragged last blocks."""
    m, op = kernels.make_fused(
        [f"?x{columns}xf32"],
        lambda b, a: [
            *(getattr(b, n)(a[0], axes=[0]) for n in REDUCTIONS),
            b.argmax(a[0], axis=0),
            b.argmin(a[0], axis=0),
        ],
        "reduction",
    )
    mi, opi = kernels.make_fused(
        [f"?x3x{columns}xi32"],
        lambda b, a: [b.reduce_sum(a[0], axes=[0, 1]), b.reduce_max(a[0], axes=[0, 1])],
        "reduction",
    )
    for rows in (1, 5, 70):
        kernels.check(
            m,
            op,
            near_one(rng, (rows, columns), "f32"),
            rtol=1e-5,
            names=REDUCTIONS + ["argmax", "argmin"],
        )
        kernels.check(mi, opi, rng.integers(-3, 4, (rows, 3, columns)).astype(np.int32))


def test_column_blocks_keep_row_values_between_sweeps(kernels, rng):
    """Variance over axis 0 (batch norm's moments): the mean found by one sweep
    is read by the next sweep and by the stores after it."""

    def build(b, a):
        x = a[0]
        mean = b.reduce_mean(x, axes=[0])
        centred = b.sub(x, mean)
        var = b.reduce_mean(b.mul(centred, centred), axes=[0])
        return [mean, var, b.mul(centred, b.rsqrt(b.add(var, b.constant(1e-3))))]

    m, op = kernels.make_fused(["?x300xf32"], build, "reduction")
    for rows in (1, 3, 129):
        kernels.check(
            m, op, rng.standard_normal((rows, 300)).astype(np.float32) + 3, rtol=1e-4, atol=1e-5
        )


def test_long_column_sums_are_accurate(kernels, rng):
    m, op = kernels.make_fused(
        ["?x3xf32"], lambda b, a: [b.reduce_sum(a[0], axes=[0])], "reduction"
    )
    """numpy adds the rows of a column one at a time in float32 (off by ~1e-5
    here); kiln's chunked f64 totals stay within 2e-7 of the exact sum."""
    x = rng.random((200_001, 3)).astype(np.float32)
    (total,) = kernels.check(m, op, x, rtol=3e-5)
    np.testing.assert_allclose(total, x.astype(np.float64).sum(axis=0), rtol=2e-7)
