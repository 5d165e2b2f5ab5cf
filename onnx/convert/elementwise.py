"""Converters of ONNX's elementwise ops: arithmetic with numpy broadcasting,
comparisons, logic, casts and activations."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from ...ir.dtypes import DType
from ...ir.types import ANY
from . import Context, Node, converter


def like(ctx: Context, x: Value, value: float) -> Value:
    """A scalar constant of x's dtype."""
    return ctx.constant(np.asarray(value, dtype=x.type.dtype.numpy), x.type.dtype)


def _unary(onnx_name: str, kiln_name: str, since: int = 1) -> None:
    @converter(onnx_name, since)
    def convert(ctx: Context, node: Node) -> list[Value]:
        return [getattr(ctx.b, kiln_name)(node.inputs[0])]


for _onnx_name, _kiln_name in [
    ("Abs", "abs"),
    ("Neg", "neg"),
    ("Sign", "sign"),
    ("Relu", "relu"),
    ("Exp", "exp"),
    ("Log", "log"),
    ("Sqrt", "sqrt"),
    ("Tanh", "tanh"),
    ("Sigmoid", "sigmoid"),
    ("Erf", "erf"),
    ("Softplus", "softplus"),
    ("Not", "logical_not"),
]:
    _unary(_onnx_name, _kiln_name)


_DIM_ARITHMETIC = {
    "Add": lambda x, y: x + y,
    "Sub": lambda x, y: x - y,
    "Mul": lambda x, y: x * y,
    "Div": lambda x, y: int(x / y),
    "Equal": lambda x, y: int(x == y),
}


def shape_arithmetic(ctx: Context, node: Node, out: Value) -> None:
    """Arithmetic on shapes that hold run-time dims: an entry computed from a symbol
    is a run-time dim (an anonymous one), except that a dim is never -1 or less."""
    a, b = node.inputs[0], node.inputs[1]
    if a.type.rank > 1 or b.type.rank > 1 or node.op_type not in _DIM_ARITHMETIC:
        return
    da, db = ctx.dims_of(a), ctx.dims_of(b)
    if da is None or db is None or (ctx.is_known(a) and ctx.is_known(b)):
        return
    n = max(len(da), len(db))
    if len(da) not in (1, n) or len(db) not in (1, n):
        return
    da, db = da * (n // len(da)), db * (n // len(db))
    fn = _DIM_ARITHMETIC[node.op_type]
    dims = []
    for x, y in zip(da, db):
        if isinstance(x, int) and isinstance(y, int):
            dims.append(fn(x, y))
        elif node.op_type == "Equal":
            other = x if isinstance(x, int) else y
            if not isinstance(other, int) or other >= 0:
                return  # a symbol may equal a non-negative int
            dims.append(0)
        elif node.op_type == "Mul" and (x == 1 or y == 1):
            dims.append(y if x == 1 else x)
        else:
            dims.append(ANY)
    ctx.set_dims(out, dims)


def _binary(onnx_name: str, kiln_name: str) -> None:
    @converter(onnx_name)
    def convert(ctx: Context, node: Node) -> list[Value]:
        if ctx.opset < 7 and node.attr("broadcast", 0) and node.attr("axis", None) is not None:
            raise ctx.error(node, "legacy broadcast with an axis is not supported")
        a, b = node.inputs
        out = getattr(ctx.b, kiln_name)(a, b)
        shape_arithmetic(ctx, node, out)
        return [out]


for _onnx_name, _kiln_name in [
    ("Add", "add"),
    ("Sub", "sub"),
    ("Mul", "mul"),
    ("Equal", "equal"),
    ("Less", "less"),
    ("Greater", "greater"),
    ("LessOrEqual", "less_equal"),
    ("GreaterOrEqual", "greater_equal"),
    ("And", "logical_and"),
    ("Or", "logical_or"),
    ("Xor", "not_equal"),
]:
    _binary(_onnx_name, _kiln_name)


@converter("Div")
def div(ctx: Context, node: Node) -> list[Value]:
    a, b = node.inputs  # kiln's integer division truncates toward zero, as ONNX's
    out = ctx.b.div(a, b)
    shape_arithmetic(ctx, node, out)
    return [out]


@converter("Mod", 10)
def mod(ctx: Context, node: Node) -> list[Value]:
    """fmod=1: C's fmod (the sign of the dividend); fmod=0: Python's % (of the divisor)."""
    a, d = node.inputs
    b = ctx.b
    if a.type.dtype.is_int:
        r = b.sub(a, b.mul(b.div(a, d), d))
    else:  # a - trunc(a / d) * d; a quotient beyond the mantissa is integral already
        q = b.div(a, d)
        big = like(ctx, q, 2.0 ** {"f16": 10, "bf16": 7, "f32": 23}.get(str(a.type.dtype), 52))
        small = b.less(b.abs(q), big)
        cut = b.cast(b.cast(b.select(small, q, like(ctx, q, 0)), dtype="i64"), dtype=a.type.dtype)
        r = b.sub(a, b.mul(b.select(small, cut, q), d))
        inf = like(ctx, a, np.inf)  # x mod inf is x (x - 0 * inf would be NaN)
        finite_by_inf = b.logical_and(b.equal(b.abs(d), inf), b.less(b.abs(a), inf))
        r = b.select(finite_by_inf, a, r)
    if not node.attr("fmod", 0):
        zero = like(ctx, r, 0)
        wrong_sign = b.logical_and(
            b.not_equal(r, zero), b.not_equal(b.less(r, zero), b.less(d, zero))
        )
        r = b.select(wrong_sign, b.add(r, d), r)
    return [r]


@converter("Pow")
def pow_(ctx: Context, node: Node) -> list[Value]:
    a, b = node.inputs
    if b.type.dtype != a.type.dtype:
        b = ctx.b.cast(b, dtype=a.type.dtype)
    exponent = ctx.value_of(b)
    if exponent is not None and exponent.size == 1 and float(exponent.reshape(-1)[0]) == 2.0:
        return [ctx.b.mul(a, a)] if a.type.rank >= b.type.rank else [ctx.b.pow(a, b)]
    return [ctx.b.pow(a, b)]


def _variadic(onnx_name: str, kiln_name: str, mean: bool = False) -> None:
    @converter(onnx_name)
    def convert(ctx: Context, node: Node) -> list[Value]:
        xs = [x for x in node.inputs if x is not None]
        if not xs:
            raise ctx.error(node, "needs at least one input")
        out = xs[0]
        for x in xs[1:]:
            out = getattr(ctx.b, kiln_name)(out, x)
        if len(xs) == 1:
            out = ctx.b.add(out, like(ctx, out, 0)) if out.type.dtype.is_float else out
        if mean:
            out = ctx.b.div(out, like(ctx, out, len(xs)))
        return [out]


_variadic("Sum", "add")
_variadic("Mean", "add", mean=True)
_variadic("Max", "max")
_variadic("Min", "min")


@converter("Where", 9)
def where(ctx: Context, node: Node) -> list[Value]:
    out = ctx.b.select(*node.inputs)
    cond = ctx.value_of(node.inputs[0])
    picks = [ctx.dims_of(v) for v in node.inputs[1:]]
    if cond is not None and cond.ndim <= 1 and all(p is not None for p in picks):
        n = max(cond.size, len(picks[0]), len(picks[1]))
        c = np.broadcast_to(cond.reshape(-1), n)
        t, f = (p * (n // len(p)) if len(p) in (1, n) else None for p in picks)
        if t is not None and f is not None:
            ctx.set_dims(out, [t[i] if c[i] else f[i] for i in range(n)])
    return [out]


@converter("Identity")
def identity(ctx: Context, node: Node) -> list[Value]:

    return [node.inputs[0]]


@converter("Dropout")
def dropout(ctx: Context, node: Node) -> list[Value]:
    """The identity in inference mode; in training mode (training_mode known at
    import: the backend specialises on a run-time one) entries dropped where a
    kiln.random draw falls below the ratio, the rest scaled by 1 / (1 - ratio)."""
    x = node.inputs[0]
    if node.has_input(2):
        training = ctx.value_of(node.input(2))
        if training is None:
            raise ctx.unknown(node, "'training_mode' (input 2)")
        if bool(np.asarray(training).reshape(-1)[0]):
            return _dropout_training(ctx, node, x)
    if ctx.opset < 7 and not node.attr("is_test", 0):
        raise ctx.error(node, "training mode (is_test=0) is not supported")
    out = [x]
    if node.num_outputs > 1:
        shape = [d for d in x.type.shape]
        if not all(isinstance(d, int) for d in shape):
            raise ctx.error(node, "the mask output needs a static shape")
        out.append(ctx.constant(np.ones(shape, dtype=bool), DType.bool))
    return out


def _dropout_training(ctx: Context, node: Node, x: Value) -> list[Value]:
    from .random import seed_of

    b = ctx.b
    ratio = 0.5
    if node.has_input(1):
        given = ctx.value_of(node.input(1))
        if given is None:
            raise ctx.unknown(node, "'ratio' (input 1)")
        ratio = float(np.asarray(given).reshape(-1)[0])
    if not 0 <= ratio < 1:
        raise ctx.error(node, f"ratio {ratio} is not in [0, 1)")
    dt = x.type.dtype if x.type.dtype.is_float else DType.f32
    keep = b.greater_equal(b.random(x, distribution="uniform", seed=seed_of(node), dtype=dt),
                           ctx.constant(np.asarray(ratio, dt.numpy), dt))  # fmt: skip
    scaled = b.mul(x, like(ctx, x, 1 / (1 - ratio)))
    out = [b.select(keep, scaled, like(ctx, x, 0))]
    return out + [keep] if node.num_outputs > 1 else out


@converter("Reciprocal")
def reciprocal(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    return [ctx.b.div(like(ctx, x, 1), x)]


@converter("Clip")
def clip(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    if ctx.opset < 11:
        lo, hi = node.attr("min", None), node.attr("max", None)
        lo = None if lo is None else like(ctx, x, lo)
        hi = None if hi is None else like(ctx, x, hi)
    else:
        lo, hi = node.input(1), node.input(2)
    if lo is not None:
        x = ctx.b.max(x, lo)
    if hi is not None:
        x = ctx.b.min(x, hi)
    return [x]


@converter("LeakyRelu")
def leaky_relu(ctx: Context, node: Node) -> list[Value]:
    return [ctx.b.leaky_relu(node.inputs[0], alpha=float(node.attr("alpha", 0.01)))]


@converter("Elu")
def elu(ctx: Context, node: Node) -> list[Value]:
    return [ctx.b.elu(node.inputs[0], alpha=float(node.attr("alpha", 1.0)))]


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


@converter("Selu")
def selu(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    alpha, gamma = float(node.attr("alpha", _SELU_ALPHA)), float(node.attr("gamma", _SELU_GAMMA))
    if np.float32(alpha) == np.float32(_SELU_ALPHA) and np.float32(gamma) == np.float32(
        _SELU_GAMMA
    ):
        return [ctx.b.selu(x)]
    b = ctx.b
    negative = b.mul(like(ctx, x, alpha), b.sub(b.exp(x), like(ctx, x, 1)))
    return [b.mul(like(ctx, x, gamma), b.select(b.greater(x, like(ctx, x, 0)), x, negative))]


@converter("Celu", 12)
def celu(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    alpha = float(node.attr("alpha", 1.0))
    scaled = b.div(x, like(ctx, x, alpha))
    return [b.mul(like(ctx, x, alpha), b.elu(scaled, alpha=1.0))]


@converter("ThresholdedRelu", 10)
def thresholded_relu(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    alpha = float(node.attr("alpha", 1.0))
    return [b.select(b.greater(x, like(ctx, x, alpha)), x, like(ctx, x, 0))]


def _hard_sigmoid(ctx: Context, x: Value, alpha: float, beta: float) -> Value:
    b = ctx.b
    y = b.add(b.mul(x, like(ctx, x, alpha)), like(ctx, x, beta))
    return b.min(b.max(y, like(ctx, x, 0)), like(ctx, x, 1))


@converter("HardSigmoid")
def hard_sigmoid(ctx: Context, node: Node) -> list[Value]:
    alpha, beta = float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5))
    return [_hard_sigmoid(ctx, node.inputs[0], alpha, beta)]


@converter("HardSwish", 14)
def hard_swish(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    return [ctx.b.mul(x, _hard_sigmoid(ctx, x, 1 / 6, 0.5))]


@converter("Softsign")
def softsign(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    return [b.div(x, b.add(b.abs(x), like(ctx, x, 1)))]


@converter("Mish", 18)
def mish(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    return [b.mul(x, b.tanh(b.softplus(x)))]


@converter("PRelu")
def prelu(ctx: Context, node: Node) -> list[Value]:
    x, slope = node.inputs
    b = ctx.b
    if slope.type.rank == 1 and x.type.rank > 2 and ctx.opset < 7:
        slope = b.reshape(slope, shape=[-1] + [1] * (x.type.rank - 2))
    return [b.select(b.less(x, like(ctx, x, 0)), b.mul(x, slope), x)]


@converter("Gelu", 20)
def gelu(ctx: Context, node: Node) -> list[Value]:
    mode = node.attr("approximate", "none")
    if mode not in ("none", "tanh"):
        raise ctx.error(node, f"approximate={mode!r} is not supported (none or tanh)")
    return [ctx.b.gelu(node.inputs[0], approximate=mode == "tanh")]


@converter("IsNaN", 9)
def is_nan(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    return [ctx.b.not_equal(x, x)]


@converter("IsInf", 10)
def is_inf(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    pos, neg = bool(node.attr("detect_positive", 1)), bool(node.attr("detect_negative", 1))
    checks = []
    if pos:
        checks.append(b.equal(x, like(ctx, x, np.inf)))
    if neg:
        checks.append(b.equal(x, like(ctx, x, -np.inf)))
    if not checks:
        return [b.less(x, x)]  # all false
    return [checks[0] if len(checks) == 1 else b.logical_or(*checks)]


@converter("Shrink", 9)
def shrink(ctx: Context, node: Node) -> list[Value]:
    """x + bias below -lambd, x - bias above lambd, 0 between."""
    x, b = node.inputs[0], ctx.b
    lambd, bias = float(node.attr("lambd", 0.5)), float(node.attr("bias", 0.0))
    low = b.select(b.less(x, like(ctx, x, -lambd)), b.add(x, like(ctx, x, bias)), like(ctx, x, 0))
    return [b.select(b.greater(x, like(ctx, x, lambd)), b.sub(x, like(ctx, x, bias)), low)]
