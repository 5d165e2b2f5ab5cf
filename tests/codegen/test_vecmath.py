"""vecmath's exp, log, tanh, sigmoid and erf, compiled into pointwise kernels,
against long-double numpy: error in ulps over wide sweeps, and numpy's
special values (inf, nan, signed zero, subnormals, overflow and underflow
thresholds)."""

import math

import numpy as np
import pytest

import kiln
from kiln.ir import parse

FUNCTIONS = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "erf": np.vectorize(math.erf, otypes=[np.float64]),  # numpy has no erf; f64 is libm's
}
# Bounds in ulps, a little above what the sweeps measure (exp, log ~1; tanh, sigmoid ~2.4).
BOUND = {"exp": 1.5, "log": 1.5, "tanh": 3.0, "sigmoid": 3.0, "erf": 3.0}
DTYPES = {"f32": np.float32, "f64": np.float64}


def compiled(fn: str, dt: str):
    module = parse(f"""func @f(%x: tensor<?x{dt}>) -> tensor<?x{dt}> {{
  %y = kiln.{fn} %x : tensor<?x{dt}>
  kiln.return %y : tensor<?x{dt}>
}}""")
    run = kiln.compile(module, "f", backend="cpu")
    return lambda x: run(x)[0]


def sweep(fn: str, dtype, rng) -> np.ndarray:
    if fn == "log":  # magnitudes over the whole exponent range, subnormals included
        info = np.finfo(dtype)
        lo, hi = np.log(float(info.smallest_subnormal)), np.log(float(info.max))
        return np.exp(rng.uniform(lo, hi, 200_000)).astype(dtype)
    limit = 100.0 if fn == "exp" and dtype is np.float32 else 750.0 if fn == "exp" else 40.0
    limit = 5.0 if fn == "erf" else limit  # erf is +-1 in f32 past 3.92
    wide = rng.uniform(-limit, limit, 100_000)
    near_zero = rng.uniform(-1, 1, 50_000) * 10.0 ** rng.uniform(-12, 0, 50_000)
    return np.concatenate([wide, near_zero]).astype(dtype)


def ulps(got: np.ndarray, x: np.ndarray, fn: str, dtype) -> np.ndarray:
    with np.errstate(all="ignore"):
        ref = FUNCTIONS[fn](x.astype(np.longdouble))
    finite = (np.abs(ref) >= np.finfo(dtype).tiny) & (np.abs(ref) <= np.finfo(dtype).max)
    spacing = np.spacing(np.abs(ref[finite]).astype(dtype)).astype(np.longdouble)
    return np.abs(got[finite].astype(np.longdouble) - ref[finite]) / spacing


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_error_in_ulps(fn, dt):
    dtype = DTYPES[dt]
    x = sweep(fn, dtype, np.random.default_rng(7))
    got = compiled(fn, dt)(x)
    assert got.dtype == dtype
    err = ulps(got, x, fn, dtype)
    assert err.size > 0.9 * x.size
    assert float(err.max()) <= BOUND[fn], f"{fn} {dt}: max error {float(err.max()):.2f} ulp"


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_special_values_as_numpy(fn, dt):
    dtype = DTYPES[dt]
    info = np.finfo(dtype)
    overflow = np.log(float(info.max))
    x = np.array(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            np.nan,
            float(info.smallest_subnormal),
            -float(info.smallest_subnormal),
            float(info.tiny),
            float(info.max),
            -float(info.max),
            overflow,
            np.nextafter(overflow, np.inf),
            -overflow,
            -overflow - 30,
            1.0,
            -1.0,
        ],
        dtype=dtype,
    )
    got = compiled(fn, dt)(x)
    with np.errstate(all="ignore"):
        want = FUNCTIONS[fn](x.astype(np.longdouble)).astype(dtype)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    close = np.isclose(got, want, rtol=4 * info.eps, atol=0)
    assert np.all(same | close), list(zip(x, got, want))
    # signed zeros survive where numpy keeps them
    zeros = (want == 0) & (got == 0)
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros])) or fn == "sigmoid"


def test_ragged_lengths_and_empty():
    run = compiled("exp", "f32")
    for n in (0, 1, 7, 15, 17, 1023):
        x = np.linspace(-5, 5, n, dtype=np.float32)
        np.testing.assert_allclose(run(x), np.exp(x), rtol=3e-7)


@pytest.mark.parametrize("fmt", ["f32", "f64"])
def test_exp_polynomial_is_what_minimax_computes(fmt):
    """The literals in vecmath are the Remez exchange's output (provenance),
    and their truncation error is the documented one (f32 0.15, f64 0.11 ulp)."""
    from kiln.codegen.llvm import minimax, vecmath

    literals = {"f32": vecmath.F32, "f64": vecmath.F64}[fmt].expm1_poly
    assert list(literals) == minimax.coefficients(fmt)
    r = np.linspace(-minimax.HALF_LN2, minimax.HALF_LN2, 100_000, dtype=minimax.LD)
    half_ulps = np.max(np.abs(minimax.relative_error(literals, r))) / np.finfo(DTYPES[fmt]).epsneg
    assert half_ulps < {"f32": 0.3, "f64": 0.22}[fmt]


@pytest.mark.parametrize("fn", ["exp", "sigmoid", "tanh"])
def test_dense_f32_sweep(fn):
    """Every 331st f32 (by bit pattern) from -104 to 89: all the range
    reductions' cases; against numpy's f64 (exact enough for f32 ulps). Normal
    results within the bound in ulps, subnormal ones within one subnormal."""
    top = np.array([89.0], np.float32).view(np.int32)[0]
    positive = np.arange(0, top, 331, dtype=np.int32).view(np.float32)
    x = np.concatenate([-positive[positive <= 104], positive])
    got = compiled(fn, "f32")(x).astype(np.float64)
    with np.errstate(all="ignore"):
        ref = FUNCTIONS[fn](x.astype(np.float64))
    info = np.finfo(np.float32)
    normal = (np.abs(ref) >= info.tiny) & (np.abs(ref) <= info.max)
    spacing = np.spacing(np.abs(ref[normal]).astype(np.float32)).astype(np.float64)
    worst = float(np.max(np.abs(got[normal] - ref[normal]) / spacing))
    assert worst <= BOUND[fn], f"{fn}: {worst:.2f} ulp"
    small = ~normal & (np.abs(ref) < info.tiny)
    assert np.all(np.abs(got[small] - ref[small]) <= float(info.smallest_subnormal))
    assert np.all(np.isinf(got[ref > info.max]))
