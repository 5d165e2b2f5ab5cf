"""The converters of ONNX's trigonometric and hyperbolic ops (Sin, Cos, Tan,
Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh), computed in f64
(whatever the input's float type) and cast back. Sin and Cos are kiln.sin and
kiln.cos (libm's), Tan their quotient; Atan reduces to |u| <= tan(pi/8) and sums its
series; the inverse and hyperbolic functions are formulas over Atan, exp, log
and sqrt."""

from __future__ import annotations

import math

from ...ir.core import Value
from . import Context
from .elementwise import like
from .rounding import float_unary


def _horner(ctx: Context, x: Value, coefficients: list[float]) -> Value:
    """c0 + c1 x + c2 x^2 + ... by Horner's rule."""
    b = ctx.b
    acc = like(ctx, x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = b.add(b.mul(acc, x), like(ctx, x, c))
    return acc


def _atan(ctx: Context, x: Value) -> Value:
    b = ctx.b
    a = b.abs(x)
    big = b.greater(a, like(ctx, a, 1))
    t = b.select(big, b.div(like(ctx, a, 1), a), a)  # in [0, 1]
    mid = b.greater(t, like(ctx, t, math.tan(math.pi / 8)))
    u = b.select(mid, b.div(b.sub(t, like(ctx, t, 1)), b.add(t, like(ctx, t, 1))), t)
    series = b.mul(u, _horner(ctx, b.mul(u, u), [(-1) ** k / (2 * k + 1) for k in range(22)]))
    y = b.select(mid, b.add(series, like(ctx, t, math.pi / 4)), series)
    y = b.select(big, b.sub(like(ctx, y, math.pi / 2), y), y)
    return b.select(b.less(x, like(ctx, x, 0)), b.neg(y), y)


def _asin(ctx: Context, x: Value) -> Value:
    b = ctx.b
    one = like(ctx, x, 1)
    return _atan(ctx, b.div(x, b.sqrt(b.mul(b.sub(one, x), b.add(one, x)))))


def _exp_pair(ctx: Context, x: Value) -> tuple[Value, Value]:
    b = ctx.b
    return b.exp(x), b.exp(b.neg(x))


def _sinh(ctx: Context, x: Value) -> Value:
    b = ctx.b
    small = b.less(b.abs(x), like(ctx, x, 1e-3))  # the series where e^x - e^-x cancels
    x2 = b.mul(x, x)
    series = b.mul(x, _horner(ctx, x2, [1, 1 / 6, 1 / 120, 1 / 5040]))
    p, n = _exp_pair(ctx, x)
    return b.select(small, series, b.mul(b.sub(p, n), like(ctx, x, 0.5)))


def _cosh(ctx: Context, x: Value) -> Value:
    p, n = _exp_pair(ctx, x)
    return ctx.b.mul(ctx.b.add(p, n), like(ctx, x, 0.5))


def _asinh(ctx: Context, x: Value) -> Value:
    b = ctx.b
    a = b.abs(x)
    y = b.log(b.add(a, b.sqrt(b.add(b.mul(a, a), like(ctx, a, 1)))))
    small = b.less(a, like(ctx, a, 1e-4))  # log(1 + a) loses a's digits: the series
    y = b.select(
        small, b.mul(a, b.sub(like(ctx, a, 1), b.mul(b.mul(a, a), like(ctx, a, 1 / 6)))), y
    )
    return b.select(b.less(x, like(ctx, x, 0)), b.neg(y), y)


def _acosh(ctx: Context, x: Value) -> Value:
    b = ctx.b
    one = like(ctx, x, 1)  # (x - 1)(x + 1): x^2 - 1 cancels near 1
    return b.log(b.add(x, b.sqrt(b.mul(b.sub(x, one), b.add(x, one)))))


def _atanh(ctx: Context, x: Value) -> Value:
    b = ctx.b
    one = like(ctx, x, 1)
    y = b.mul(b.log(b.div(b.add(one, x), b.sub(one, x))), like(ctx, x, 0.5))
    small = b.less(b.abs(x), like(ctx, x, 1e-4))
    series = b.mul(x, b.add(one, b.mul(b.mul(x, x), like(ctx, x, 1 / 3))))
    return b.select(small, series, y)


def _tan(ctx: Context, x: Value) -> Value:
    return ctx.b.div(ctx.b.sin(x), ctx.b.cos(x))


_FUNCTIONS = {
    "Sin": lambda ctx, x: ctx.b.sin(x),
    "Cos": lambda ctx, x: ctx.b.cos(x),
    "Tan": _tan,
    "Atan": _atan,
    "Asin": _asin,
    "Acos": lambda ctx, x: ctx.b.sub(like(ctx, x, math.pi / 2), _asin(ctx, x)),
    "Sinh": _sinh,
    "Cosh": _cosh,
    "Asinh": _asinh,
    "Acosh": _acosh,
    "Atanh": _atanh,
}


for _name, _fn in _FUNCTIONS.items():
    float_unary(_name, _fn, 9 if _name.endswith("h") else 7, in_f64=True)
