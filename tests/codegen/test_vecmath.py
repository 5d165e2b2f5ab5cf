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
