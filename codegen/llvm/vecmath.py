"""vecmath: exp, expm1, log, tanh and sigmoid for f32 and f64, and erf for f32,
as LLVM IR that the loop vectoriser widens.

`llvm.exp` and its kin become one scalar libm call per element, which no
loop vectoriser can widen. Each function here is straight-line code instead
(arithmetic, compares, selects and integer operations on the float's bits;
no branch, no call that survives inlining), defined once per module as an
internal, always-inlined function `kiln.NAME.f32` / `kiln.NAME.f64`. Inlined
into a kernel's loop, it is vectorised with the rest of the loop: 8 or 16
f32 lanes with AVX2 or AVX-512.

The methods are the classic ones (Cody and Waite's range reduction, as in
Cephes and fdlibm):

- exp(x) = 2^k * e^r with k = round(x / ln 2) and r = x - k ln 2 computed in
  two parts (`ln 2 = hi + lo`, k * hi exact), |r| <= ln(2) / 2; e^r - 1 =
  r + r^2 P(r), P the minimax polynomial for the relative error of e^r - 1
  (degree 4 for f32, 9 for f64: one and two multiply-adds fewer than the
  Taylor series of the same accuracy). 2^k is built from its bits, in two
  factors so that subnormal results round once and k = 128 (f32) still
  overflows to inf.
- expm1(x) = 2^k (e^r - 1) + (2^k - 1): no cancellation near 0.
- log(x) = k ln 2 + log(m) with m in [sqrt(1/2), sqrt(2)), log(m) =
  2 atanh(s), s = f / (2 + f), f = m - 1, written as f - f^2/2 + s (f^2/2 +
  R(s^2)) so that the division's rounding error is scaled down by s.
- tanh(x) = sign(x) t / (t + 2) with t = expm1(2|x|), exact near 0.
- sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) otherwise, e = exp(-|x|):
  nothing overflows (the reference interpreter's formula).
- erf (f32; GELU's): for |x| < 1, x P(x^2); for 1 <= |x| <= 4, 1 - e^(-x^2)
  Q(1/|x|), Q fitting erfc(a) e^(a^2) (smooth in 1/a); past 4 erf rounds to
  +-1. P and Q are Chebyshev fits (numpy) to Python's math.erf/erfc, made at
  import; both branches are computed and one selected (no branch). f64's erf
  stays libm's scalar call: a fit to double precision needs more than numpy's
  double-precision fitting gives.

P's coefficients come from the Remez exchange in `minimax.py` (run it to
print them; tests/codegen/test_vecmath.py checks that it reproduces the
literals below); its truncation error is under 0.15 ulp (f32) and 0.11 ulp
(f64). log's atanh series is truncated Taylor (2/(2k+1), computed below) with
enough terms that truncation costs less than 0.1 ulp; the constants ln 2 and
1/ln 2 come from `decimal`. Measured errors: exp within about 1 ulp (f32 and
f64), tanh and sigmoid within 2.6 ulp (172 million f32, every 13th bit
pattern in [-104, 89]: exp 1.04, sigmoid 2.40, tanh 2.57); the sweeps in
tests/codegen/test_vecmath.py assert bounds a little above.

Special values are numpy's: exp(-inf) = 0, exp(x) = inf past the largest
finite result, log(0) = -inf, log(x < 0) = nan, log(inf) = inf, tanh
saturates at +-1, NaN gives NaN, -0.0 stays -0.0 where numpy keeps it, and
subnormal inputs and results are exact IEEE (no flush to zero).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

import numpy as np
from llvmlite import ir

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)


def _ln2() -> Decimal:
    with localcontext() as context:
        context.prec = 40
        return Decimal(2).ln()


@dataclass(frozen=True)
class Format:
    """What the algorithms need to know about one float type."""

    name: str  # "f32" or "f64"
    float_type: ir.Type
    int_type: ir.IntType  # the integer of the same width (its bits)
    mantissa: int  # stored mantissa bits
    expm1_poly: tuple[float, ...]  # P: e^r - 1 = r + r^2 P(r) (minimax.py), lowest first
    atanh_terms: int  # of R(z) in log: ditto
    exp_range: tuple[float, float]  # x beyond gives 0 or inf (or would: then clamped)
    expm1_range: tuple[float, float]  # below: -1; above: inf
    tanh_limit: float  # |x| beyond gives +-1
    ln2_bits: int  # significant bits of ln2_hi: k * ln2_hi is exact for every k used

    @property
    def bias(self) -> int:
        return (1 << (self.int_type.width - self.mantissa - 2)) - 1

    @property
    def max_exponent(self) -> int:
        return self.bias

    def pack(self, value: float) -> int:
        """The bits of `value` rounded to this format, as an unsigned int."""
        code = {"f32": ("<f", "<I"), "f64": ("<d", "<Q")}[self.name]
        return struct.unpack(code[1], struct.pack(code[0], value))[0]

    def round(self, value: float) -> float:
        """`value` rounded to this format (an exact Python float)."""
        code = {"f32": "<f", "f64": "<d"}[self.name]
        return struct.unpack(code, struct.pack(code, value))[0]

    def split_ln2(self) -> tuple[float, float]:
        """ln 2 = hi + lo, hi with `ln2_bits` significant bits, lo rounded."""
        ln2 = _ln2()
        scale = 2 ** (self.ln2_bits - 1)  # ln 2 is in [0.5, 1)
        hi = math.floor(float(ln2) * 2 * scale) / (2 * scale)
        return hi, self.round(float(ln2 - Decimal(hi)))


F32 = Format(
    "f32",
    ir.FloatType(),
    I32,
    23,
    expm1_poly=(
        0.4999999701976776,
        0.1666654348373413,
        0.04166720062494278,
        0.00836651399731636,
        0.0013882522471249104,
    ),
    atanh_terms=4,
    exp_range=(-104.0, 89.0),
    expm1_range=(-18.0, 89.0),
    tanh_limit=10.0,
    ln2_bits=16,
)
F64 = Format(
    "f64",
    ir.DoubleType(),
    I64,
    52,
    expm1_poly=(
        0.5000000000000006,
        0.1666666666666667,
        0.04166666666657316,
        0.008333333333326172,
        0.0013888888932480515,
        0.0001984126987465708,
        2.4801504357184548e-05,
        2.7557255627849483e-06,
        2.762635319499033e-07,
        2.5105119759491292e-08,
    ),
    atanh_terms=10,
    exp_range=(-746.0, 710.0),
    expm1_range=(-40.0, 710.0),
    tanh_limit=20.0,
    ln2_bits=32,
)


def format_of(t: ir.Type) -> Format:
    if isinstance(t, ir.FloatType):
        return F32
    if isinstance(t, ir.DoubleType):
        return F64
    raise TypeError(f"vecmath has no functions on {t}")


# ------------------------------------------------------------------ the public face


def call(builder: ir.IRBuilder, name: str, x: ir.Value) -> ir.Value:
    """`name(x)` at the builder's position, `x` a float or double; the function
    is defined in the builder's module on first use."""
    return builder.call(function(builder.module, name, x.type), [x])


def function(module: ir.Module, name: str, t: ir.Type) -> ir.Function:
    """`kiln.NAME.f32` (or `.f64`) in `module`, defined once: internal and
    always inlined, so it disappears into the loops that call it."""
    fmt = format_of(t)
    symbol = f"kiln.{name}.{fmt.name}"
    found = module.globals.get(symbol)
    if found is not None:
        return found
    body = FUNCTIONS[name]  # KeyError: not a vecmath function
    fn = ir.Function(module, ir.FunctionType(t, [t]), symbol)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(body(_Emitter(builder, fmt), fn.args[0]))
    return fn


# ------------------------------------------------------------------ building blocks


class _Emitter:
    """Float and integer arithmetic of one format at a builder's position,
    with Python numbers accepted wherever a float operand is."""

    def __init__(self, builder: ir.IRBuilder, fmt: Format):
        self.b, self.fmt = builder, fmt
        self.t, self.i = fmt.float_type, fmt.int_type

    def f(self, value) -> ir.Value:
        return value if isinstance(value, ir.Value) else ir.Constant(self.t, float(value))

    def int(self, value: int) -> ir.Constant:
        return ir.Constant(self.i, value)

    def add(self, x, y):
        return self.b.fadd(self.f(x), self.f(y))

    def sub(self, x, y):
        return self.b.fsub(self.f(x), self.f(y))

    def mul(self, x, y):
        return self.b.fmul(self.f(x), self.f(y))

    def div(self, x, y):
        return self.b.fdiv(self.f(x), self.f(y))

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        t = args[0].type
        symbol = f"{name}.{t.intrinsic_name}"
        fn = self.b.module.globals.get(symbol) or ir.Function(
            self.b.module, ir.FunctionType(t, [a.type for a in args]), symbol
        )
        return self.b.call(fn, list(args))

    def fma(self, x, y, z):
        """x * y + z, fused where the target has FMA (llvm.fmuladd)."""
        return self.intrinsic("llvm.fmuladd", self.f(x), self.f(y), self.f(z))

    def poly(self, x: ir.Value, coefficients: Sequence[float]) -> ir.Value:
        """c0 + c1 x + c2 x^2 + ... by Horner's rule."""
        acc = self.f(coefficients[-1])
        for c in reversed(coefficients[:-1]):
            acc = self.fma(acc, x, c)
        return acc

    def select(self, cond, x, y):
        return self.b.select(cond, self.f(x), self.f(y))

    def less(self, x, y):
        return self.b.fcmp_ordered("<", self.f(x), self.f(y))

    def clamp(self, x, lo: float, hi: float | None) -> ir.Value:
        """x limited to [lo, hi]; NaN stays NaN (a max and a min on x86). The
        functions below convert no float to an integer, so a NaN flows through
        their arithmetic and bit operations into a NaN result, with no select
        at the end; ordered compares also let LLVM drop a bound that the
        argument's known range makes redundant (-|x| > hi, |x| < 0)."""
        low = self.select(self.b.fcmp_ordered("<", x, self.f(lo)), lo, x)
        if hi is None:
            return low
        return self.select(self.b.fcmp_ordered(">", low, self.f(hi)), hi, low)

    def bits(self, x: ir.Value) -> ir.Value:
        return self.b.bitcast(x, self.i)

    def from_bits(self, n: ir.Value) -> ir.Value:
        return self.b.bitcast(n, self.t)

    # ------------------------------------------------------------ exponents
    @property
    def shifter(self) -> float:
        """1.5 * 2^mantissa: adding it rounds |t| < 2^(mantissa-1) to an integer,
        which then sits in the low bits of the sum."""
        return 1.5 * 2.0**self.fmt.mantissa

    def round_to_int(self, x: ir.Value, scale: float) -> tuple[ir.Value, ir.Value]:
        """(n, k): x * scale rounded to the nearest integer, as a float and as
        an int (one multiply-add rounds the product and adds the shifter)."""
        shifted = self.fma(x, scale, self.shifter)
        n = self.sub(shifted, self.shifter)
        k = self.b.sub(self.bits(shifted), self.int(self.fmt.pack(self.shifter)))
        return n, k

    def int_to_float(self, k: ir.Value) -> ir.Value:
        """A small int (|k| < 2^(mantissa-1)) as a float, by the same trick
        backwards (no i64 -> f64 conversion, which AVX2 lacks)."""
        shifted = self.b.add(k, self.int(self.fmt.pack(self.shifter)))
        return self.sub(self.from_bits(shifted), self.shifter)

    def pow2(self, k: ir.Value) -> ir.Value:
        """2^k for k in the normal exponent range, from its bits."""
        biased = self.b.add(k, self.int(self.fmt.bias))
        return self.from_bits(self.b.shl(biased, self.int(self.fmt.mantissa)))

    def scale(self, x: ir.Value, k: ir.Value) -> ir.Value:
        """x * 2^k in two steps, each factor normal: a subnormal result is
        rounded once, and a k one past the largest exponent still works."""
        half = self.b.ashr(k, self.int(1))
        return self.mul(self.mul(x, self.pow2(half)), self.pow2(self.b.sub(k, half)))

    def reduce_ln2(self, x: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
        """(r, n, k) with x = k ln 2 + r, |r| <= ln(2) / 2 (plus rounding)."""
        hi, lo = self.fmt.split_ln2()
        n, k = self.round_to_int(x, 1 / math.log(2))
        r = self.fma(n, -lo, self.fma(n, -hi, x))
        return r, n, k

    def expm1_reduced(self, r: ir.Value) -> ir.Value:
        """e^r - 1 = r + r^2 P(r) for |r| <= ln(2) / 2."""
        return self.fma(self.mul(r, r), self.poly(r, self.fmt.expm1_poly), r)


# ------------------------------------------------------------------ the functions


def exp(m: _Emitter, x: ir.Value, nonpositive: bool = False) -> ir.Value:
    """e^x; `nonpositive`: x <= 0 (or NaN) is known, so no upper clamp."""
    lo, hi = m.fmt.exp_range  # e^lo rounds to 0, e^hi overflows
    r, _, k = m.reduce_ln2(m.clamp(x, lo, None if nonpositive else hi))
    return m.scale(m.add(m.expm1_reduced(r), 1.0), k)


def expm1(m: _Emitter, x: ir.Value) -> ir.Value:
    lo, hi = m.fmt.expm1_range  # below lo the result rounds to -1; above hi, inf
    r, _, k = m.reduce_ln2(m.clamp(x, lo, hi))
    e = m.expm1_reduced(r)
    # 2^k (e + 1) - 1 = 2^k e + (2^k - 1), 2^k - 1 exact for the k where it
    # matters; k may be one past the largest exponent: 2^k = 2^(k-1) * 2.
    capped = m.b.select(
        m.b.icmp_signed(">", k, m.int(m.fmt.max_exponent)), m.int(m.fmt.max_exponent), k
    )
    s = m.pow2(capped)
    y = m.mul(m.fma(s, e, m.sub(s, 1.0)), m.pow2(m.b.sub(k, capped)))
    zero_or_nan = m.b.fcmp_unordered("==", x, m.f(0.0))
    return m.select(zero_or_nan, x, y)  # keeps -0.0 and NaN


def log(m: _Emitter, x: ir.Value) -> ir.Value:
    fmt, b = m.fmt, m.b
    # subnormals: scale into the normal range first
    extra = fmt.mantissa + 2
    tiny = m.less(x, 2.0 ** (1 - fmt.bias))
    x_normal = m.select(tiny, m.mul(x, 2.0**extra), x)
    # x = 2^k * m with m in [sqrt(1/2), sqrt(2)): offset the bits so that the
    # exponent field steps at sqrt(1/2) instead of 1
    sqrt_half = fmt.pack(math.sqrt(0.5))
    one = fmt.pack(1.0)
    shifted = b.add(m.bits(x_normal), m.int(one - sqrt_half))
    k = b.sub(b.lshr(shifted, m.int(fmt.mantissa)), m.int(fmt.bias))
    k = b.sub(k, b.select(tiny, m.int(extra), m.int(0)))
    mantissa_mask = (1 << fmt.mantissa) - 1
    mant = m.from_bits(b.add(b.and_(shifted, m.int(mantissa_mask)), m.int(sqrt_half)))
    # log(1 + f) = 2 atanh(s) = 2s + s R(s^2) = f - f^2/2 + s (f^2/2 + R)
    f = m.sub(mant, 1.0)
    s = m.div(f, m.add(f, 2.0))
    z = m.mul(s, s)
    series = [2 / (2 * j + 1) for j in range(1, fmt.atanh_terms + 1)]  # z-powers 1, 2, ...
    big_r = m.mul(z, m.poly(z, series))
    half_f2 = m.mul(m.mul(f, f), 0.5)
    hi, lo = fmt.split_ln2()
    kf = m.int_to_float(k)
    y = m.fma(s, m.add(half_f2, big_r), m.mul(kf, lo))
    y = m.add(m.add(m.sub(y, half_f2), f), m.mul(kf, hi))
    # specials: log(0) = -inf, log(x < 0) = nan, log(inf) = inf, NaN stays
    y = m.select(b.fcmp_ordered("==", x, m.f(math.inf)), math.inf, y)
    y = m.select(b.fcmp_ordered("==", x, m.f(0.0)), -math.inf, y)
    return m.select(b.fcmp_unordered("<", x, m.f(0.0)), math.nan, y)


def tanh(m: _Emitter, x: ir.Value) -> ir.Value:
    limit = m.fmt.tanh_limit  # tanh(limit) rounds to 1
    a = m.clamp(m.intrinsic("llvm.fabs", x), 0.0, limit)
    t = call(m.b, "expm1", m.add(a, a))
    y = m.div(t, m.add(t, 2.0))
    return m.intrinsic("llvm.copysign", y, x)


def sigmoid(m: _Emitter, x: ir.Value) -> ir.Value:
    e = exp(m, m.b.fneg(m.intrinsic("llvm.fabs", x)), nonpositive=True)
    # x >= 0 as its sign bit (x86's blendv reads only that bit): -0.0 gives
    # e / (1 + e) = 1/2 just as 1 / (1 + e) does
    positive = m.b.icmp_signed(">=", m.bits(x), m.int(0))
    numerator = m.select(positive, 1.0, e)
    return m.div(numerator, m.add(e, 1.0))


def _chebyshev_fit(f: Callable[[float], float], lo: float, hi: float, degree: int):
    """(coefficients c0.., mid, half): f(x) ~ sum c_j s^j with s = (x - mid) / half,
    a least-squares Chebyshev fit of f on [lo, hi] at 400 Chebyshev nodes."""
    from numpy.polynomial import chebyshev

    s = np.cos(np.pi * (np.arange(400) + 0.5) / 400)
    mid, half = (hi + lo) / 2, (hi - lo) / 2
    fitted = chebyshev.chebfit(s, [f(mid + half * v) for v in s], degree)
    return [float(c) for c in chebyshev.cheb2poly(fitted)], mid, half


def _erf_over_x(z: float) -> float:  # erf(x) / x at z = x^2
    return math.erf(math.sqrt(z)) / math.sqrt(z) if z > 0 else 2 / math.sqrt(math.pi)


# erf(x) = x P(x^2) on |x| < 1; erfc(a) = e^(-a^2) Q(1/a) on [1, 4]: about 2 and
# 1 ulp in f32 (tests/codegen/test_vecmath.py)
_ERF_SMALL = _chebyshev_fit(_erf_over_x, 0.0, 1.0, 6)
_ERFC_LARGE = _chebyshev_fit(lambda t: math.erfc(1 / t) * math.exp(1 / t**2), 0.25, 1.0, 9)


def erf(m: _Emitter, x: ir.Value) -> ir.Value:
    if m.fmt.name != "f32":
        return m.b.call(_libm_erf(m.b.module, m.t), [x])

    def fitted(v: ir.Value, fit) -> ir.Value:
        coefficients, mid, half = fit
        return m.poly(m.mul(m.sub(v, mid), 1 / half), coefficients)

    a = m.clamp(m.intrinsic("llvm.fabs", x), 0.0, 4.0)  # NaN flows through to y
    small = m.mul(x, fitted(m.mul(x, x), _ERF_SMALL))
    big = m.clamp(a, 1.0, 4.0)
    e = call(m.b, "exp", m.b.fneg(m.mul(big, big)))
    large = m.sub(1.0, m.mul(e, fitted(m.div(1.0, big), _ERFC_LARGE)))
    return m.select(m.less(a, 1.0), small, m.intrinsic("llvm.copysign", large, x))


def _libm_erf(module: ir.Module, t: ir.Type) -> ir.Function:
    return module.globals.get("erf") or ir.Function(module, ir.FunctionType(t, [t]), "erf")


FUNCTIONS: dict[str, Callable[[_Emitter, ir.Value], ir.Value]] = {
    "exp": exp,
    "expm1": expm1,
    "log": log,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "erf": erf,
}
