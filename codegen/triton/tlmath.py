"""Scalar functions the generated Triton kernels call (`@triton.jit` helpers).

Written with `triton.language` primitives only, so the same code runs on a GPU
and under `TRITON_INTERPRET=1` (the interpreter has no libdevice). Semantics
follow the reference interpreter (numpy), as `codegen/llvm/scalar.py` does:
float max/min let NaN win, integer division truncates toward zero (MIN / -1
wraps), integer powers wrap, argmax/argmin take the first of equal values and
a NaN wins.
"""

import triton
import triton.language as tl


@triton.jit
def expm1(x):
    """exp(x) - 1, accurate near 0: a Taylor polynomial for |x| < 0.5."""
    small = tl.abs(x) < 0.5
    xs = tl.where(small, x, 0.0)
    # Horner over 1/n!, to 1/17! (enough for f64 on |x| < 0.5)
    p = 1.0 / 355687428096000.0
    p = p * xs + 1.0 / 20922789888000.0
    p = p * xs + 1.0 / 1307674368000.0
    p = p * xs + 1.0 / 87178291200.0
    p = p * xs + 1.0 / 6227020800.0
    p = p * xs + 1.0 / 479001600.0
    p = p * xs + 1.0 / 39916800.0
    p = p * xs + 1.0 / 3628800.0
    p = p * xs + 1.0 / 362880.0
    p = p * xs + 1.0 / 40320.0
    p = p * xs + 1.0 / 5040.0
    p = p * xs + 1.0 / 720.0
    p = p * xs + 1.0 / 120.0
    p = p * xs + 1.0 / 24.0
    p = p * xs + 1.0 / 6.0
    p = p * xs + 0.5
    p = p * xs + 1.0
    return tl.where(small, (p * xs).to(x.dtype), (tl.exp(x) - 1.0).to(x.dtype))


@triton.jit
def tanh(x):
    """tanh from expm1 of -2|x| (no cancellation near 0, saturates at +-1)."""
    e = expm1(-2.0 * tl.abs(x))
    t = (-e / (e + 2.0)).to(x.dtype)
    return tl.where(x < 0, -t, t)


@triton.jit
def sigmoid(x):
    return (1.0 / (1.0 + tl.exp(-x))).to(x.dtype)


@triton.jit
def sign_float(x):
    """+-1, with NaN and signed zeros kept as they are (numpy's sign)."""
    return tl.where(x > 0, 1.0, tl.where(x < 0, -1.0, x)).to(x.dtype)


@triton.jit
def sign_int(x):
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


@triton.jit
def pow_float(x, y):
    """numpy's float power: exp(y log|x|), the sign of an odd integer power of a
    negative base, NaN for a negative base and a non-integer exponent, and
    the special cases of 0, 1 and infinities."""
    ax = tl.abs(x)
    r = tl.exp(y * tl.log(ax))
    y_int = tl.floor(y) == y
    half = y * 0.5
    odd = y_int & (tl.floor(half) != half)
    r = tl.where((x < 0) & odd, -r, r)
    r = tl.where((x < 0) & ~y_int & (tl.abs(y) != float("inf")), float("nan"), r)
    r = tl.where((x == 0) & (y < 0) & odd, 1.0 / x, r)  # +-inf, the sign of the zero
    r = tl.where((x == 0) & (y < 0) & ~odd, float("inf"), r)
    r = tl.where((x == 0) & (y > 0) & ~odd, 0.0, r)
    r = tl.where((x == -1.0) & (tl.abs(y) == float("inf")), 1.0, r)
    r = tl.where((x == 1.0) | (y == 0), 1.0, r)
    return r.to(x.dtype)


@triton.jit
def pow_int(x, y):
    """Exponentiation by squaring, wrapping as numpy does (y < 0 is a fault the
    caller records; it gives 1 here)."""
    e = tl.where(y < 0, 0, y)
    base = x + e * 0  # both at the broadcast shape, so the loop's values keep theirs
    e = e + base * 0
    result = base * 0 + 1
    for _ in range(64):
        odd = (e & 1) != 0
        result = tl.where(odd, result * base, result)
        base = base * base
        e = e >> 1
    return result


@triton.jit
def div_int(x, y):
    """Truncating division; by zero gives 0 (the caller records the fault),
    MIN / -1 wraps to MIN."""
    bad = (y == 0) | ((y == -1) & (x < 0) & (x == -x))
    q = x // tl.where(bad, 1, y)
    return tl.where(y == 0, 0, tl.where(bad, x, q))


@triton.jit
def max_nan(a, b):
    return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def min_nan(a, b):
    return tl.minimum(a, b, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def add(a, b):
    return a + b


@triton.jit
def mul(a, b):
    return a * b


@triton.jit
def argmax_combine(v1, i1, v2, i2):
    """The larger value; of equal values (or two NaNs) the smaller index; NaN wins."""
    n1 = v1 != v1
    n2 = v2 != v2
    first = (v1 > v2) | ((v1 == v2) & (i1 < i2)) | (n1 & ~n2) | (n1 & n2 & (i1 < i2))
    return tl.where(first, v1, v2), tl.where(first, i1, i2)


@triton.jit
def argmin_combine(v1, i1, v2, i2):
    n1 = v1 != v1
    n2 = v2 != v2
    first = (v1 < v2) | ((v1 == v2) & (i1 < i2)) | (n1 & ~n2) | (n1 & n2 & (i1 < i2))
    return tl.where(first, v1, v2), tl.where(first, i1, i2)


@triton.jit
def flag(cond, mask):
    """1 when `cond` holds at some unmasked position, else 0 (an int32 scalar)."""
    return tl.max(tl.where(mask & cond, 1, 0).to(tl.int32))
