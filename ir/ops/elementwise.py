"""Elementwise ops: unary and binary arithmetic, comparisons, select, cast.

Binary ops take operands of one dtype and broadcast their shapes as numpy
does; kiln's IR never promotes dtypes implicitly (the frontend inserts casts).
"""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, dtype_, float_
from ..core import Operation, Trait
from ..dtypes import DType
from ..errors import ExecutionError, ShapeError
from ..gradient import scalar_like
from ..registry import op
from ..types import TensorType, broadcast_shapes

EW, COMM, FLOAT = Trait.ELEMENTWISE, Trait.COMMUTATIVE, Trait.FLOAT_ONLY
COMPARISON = "a bool result: constant almost everywhere"
LOGIC = "bools in, a bool out"


def _require_float(op_: Operation, *types: TensorType) -> None:
    for t in types:
        if not t.dtype.is_float:
            raise ShapeError(f"expected a floating-point operand, got {t}")


def _same_dtype(*types: TensorType) -> None:
    if len({t.dtype for t in types}) > 1:
        raise ShapeError("operands must have one dtype, got " + ", ".join(map(str, types)))


class Unary(Operation):
    """x -> f(x), same type."""

    def infer(self, x: TensorType) -> TensorType:
        if self.has_trait(FLOAT):
            _require_float(self, x)
        elif x.dtype.is_bool:
            raise ShapeError(f"expected a numeric operand, got {x}")
        return x


class Binary(Operation):
    """(x, y) -> f(x, y), one dtype, shapes broadcast."""

    def infer(self, x: TensorType, y: TensorType) -> TensorType:
        _same_dtype(x, y)
        if self.has_trait(FLOAT):
            _require_float(self, x)
        elif x.dtype.is_bool:
            raise ShapeError(f"expected numeric operands, got {x}")
        return TensorType(x.dtype, broadcast_shapes(x.shape, y.shape))


# ------------------------------------------------------------------ unary


@op("kiln.neg", ["x"], traits=[EW], tf="Neg", onnx="Neg")
class Neg(Unary):
    def reference(self, x):
        return np.negative(x)

    def vjp(self, b, g):
        return [b.neg(g)]


@op("kiln.abs", ["x"], traits=[EW], tf="Abs", onnx="Abs")
class Abs(Unary):
    def reference(self, x):
        return np.abs(x)

    def vjp(self, b, g):
        return [b.mul(g, b.sign(self.x))]


@op("kiln.sign", ["x"], traits=[EW], tf="Sign", onnx="Sign")
class Sign(Unary):
    def reference(self, x):
        return np.sign(x)

    def vjp(self, b, g):
        """Constant almost everywhere: no gradient."""
        return [None]


@op("kiln.square", ["x"], traits=[EW], tf="Square")
class Square(Unary):
    def reference(self, x):
        return np.multiply(x, x)

    def scalar(self, k, x):
        return k.mul(x, x)

    def vjp(self, b, g):
        return [b.mul(g, b.mul(self.x, scalar_like(b, 2, g)))]


@op("kiln.relu", ["x"], traits=[EW], tf="Relu", onnx="Relu")
class Relu(Unary):
    def reference(self, x):
        return np.maximum(x, np.zeros((), x.dtype))

    def scalar(self, k, x):
        return k.max(x, k.const(0))

    def vjp(self, b, g):
        zero = scalar_like(b, 0, g)
        return [b.select(b.greater(self.x, zero), g, zero)]


@op("kiln.exp", ["x"], traits=[EW, FLOAT], tf="Exp", onnx="Exp")
class Exp(Unary):
    def reference(self, x):
        return np.exp(x)

    def vjp(self, b, g):
        return [b.mul(g, self.result)]


@op("kiln.log", ["x"], traits=[EW, FLOAT], tf="Log", onnx="Log")
class Log(Unary):
    def reference(self, x):
        return np.log(x)

    def vjp(self, b, g):
        return [b.div(g, self.x)]


@op("kiln.sqrt", ["x"], traits=[EW, FLOAT], tf="Sqrt", onnx="Sqrt")
class Sqrt(Unary):
    def reference(self, x):
        return np.sqrt(x)

    def vjp(self, b, g):
        return [b.div(g, b.mul(self.result, scalar_like(b, 2, g)))]


@op("kiln.rsqrt", ["x"], traits=[EW, FLOAT], tf="Rsqrt")
class Rsqrt(Unary):
    def reference(self, x):
        return np.reciprocal(np.sqrt(x))

    def vjp(self, b, g):
        """d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y / x."""
        return [b.mul(g, b.mul(b.div(self.result, self.x), scalar_like(b, -0.5, g)))]


@op("kiln.tanh", ["x"], traits=[EW, FLOAT], tf="Tanh", onnx="Tanh")
class Tanh(Unary):
    def reference(self, x):
        return np.tanh(x)

    def vjp(self, b, g):
        return [b.mul(g, b.sub(scalar_like(b, 1, g), b.square(self.result)))]


@op("kiln.sin", ["x"], traits=[EW, FLOAT], tf="Sin", onnx="Sin")
class Sin(Unary):
    def reference(self, x):
        return np.sin(x)

    def vjp(self, b, g):
        return [b.mul(g, b.cos(self.x))]


@op("kiln.cos", ["x"], traits=[EW, FLOAT], tf="Cos", onnx="Cos")
class Cos(Unary):
    def reference(self, x):
        return np.cos(x)

    def vjp(self, b, g):
        return [b.mul(g, b.neg(b.sin(self.x)))]


@op("kiln.sigmoid", ["x"], traits=[EW, FLOAT], tf="Sigmoid", onnx="Sigmoid")
class Sigmoid(Unary):
    def reference(self, x):
        # exp of a non-positive number only: never overflows.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)

    def vjp(self, b, g):
        y = self.result
        return [b.mul(g, b.mul(y, b.sub(scalar_like(b, 1, g), y)))]


@op("kiln.elu", ["x"], {"alpha": Attr(float_, 1.0)}, traits=[EW, FLOAT], tf="Elu", onnx="Elu")
class Elu(Unary):
    """x if x > 0 else alpha * (exp(x) - 1), as tf.nn.elu (alpha = 1)."""

    def reference(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)

    def scalar(self, k, x):
        zero = k.const(0.0)
        scaled = k.mul(k.const(self.alpha), k.expm1(k.min(x, zero)))
        return k.select(k.greater(x, zero), x, scaled)

    def vjp(self, b, g):
        """1 for x > 0, else alpha * exp(x) = y + alpha."""
        below = b.mul(g, b.add(self.result, scalar_like(b, self.alpha, g)))
        return [b.select(b.greater(self.x, scalar_like(b, 0, g)), g, below)]


# ------------------------------------------------------------------ binary


@op("kiln.add", ["lhs", "rhs"], traits=[EW, COMM], tf="AddV2", onnx="Add")
class Add(Binary):
    def reference(self, x, y):
        return np.add(x, y)

    def vjp(self, b, g):
        return [g, g]


@op("kiln.sub", ["lhs", "rhs"], traits=[EW], tf="Sub", onnx="Sub")
class Sub(Binary):
    def reference(self, x, y):
        return np.subtract(x, y)

    def vjp(self, b, g):
        return [g, b.neg(g)]


@op("kiln.mul", ["lhs", "rhs"], traits=[EW, COMM], tf="Mul", onnx="Mul")
class Mul(Binary):
    def reference(self, x, y):
        return np.multiply(x, y)

    def vjp(self, b, g):
        return [b.mul(g, self.rhs), b.mul(g, self.lhs)]


@op("kiln.div", ["lhs", "rhs"], traits=[EW], tf="RealDiv", onnx="Div")
class Div(Binary):
    """Division; on integers it rounds toward zero (as C and XLA do)."""

    def reference(self, x, y):
        if x.dtype.kind == "f":
            return np.divide(x, y)
        if np.any(y == 0):
            raise ExecutionError("integer division by zero")
        q = np.floor_divide(x, y)
        inexact_negative = (np.remainder(x, y) != 0) & ((x < 0) != (y < 0))
        return q + inexact_negative.astype(q.dtype)

    def vjp(self, b, g):
        """x / y: 1 / y, and -x / y^2 = -(x / y) / y."""
        return [b.div(g, self.rhs), b.neg(b.div(b.mul(g, self.result), self.rhs))]


@op("kiln.pow", ["lhs", "rhs"], traits=[EW], tf="Pow", onnx="Pow")
class Pow(Binary):
    def reference(self, x, y):
        if x.dtype.kind == "i" and np.any(y < 0):
            raise ExecutionError("integer power with a negative exponent")
        return np.power(x, y)

    def vjp(self, b, g):
        """x^y: y x^(y-1), and x^y log x (taken as 0 where x <= 0, as TensorFlow)."""
        x, y = self.lhs, self.rhs
        one = scalar_like(b, 1, g)
        dx = b.mul(g, b.mul(y, b.pow(x, b.sub(y, one))))
        positive_x = b.select(b.greater(x, scalar_like(b, 0, g)), x, one)
        dy = b.mul(g, b.mul(self.result, b.log(positive_x)))
        return [dx, dy]


@op("kiln.max", ["lhs", "rhs"], traits=[EW, COMM], tf="Maximum", onnx="Max")
class Max(Binary):
    """Elementwise maximum; NaN wins, as in XLA and numpy."""

    def reference(self, x, y):
        return np.maximum(x, y)

    def vjp(self, b, g):
        """The gradient goes to the chosen operand; to the left one on ties."""
        compare = b.greater_equal if self.name == "kiln.max" else b.less_equal
        left, zero = compare(self.lhs, self.rhs), scalar_like(b, 0, g)
        return [b.select(left, g, zero), b.select(left, zero, g)]


@op("kiln.min", ["lhs", "rhs"], traits=[EW, COMM], tf="Minimum", onnx="Min")
class Min(Binary):
    def reference(self, x, y):
        return np.minimum(x, y)

    vjp = Max.vjp


# ------------------------------------------------------------------ logic


class Compare(Operation):
    """(x, y) -> bool, one dtype, shapes broadcast."""

    def infer(self, x: TensorType, y: TensorType) -> TensorType:
        _same_dtype(x, y)
        return TensorType(DType.bool, broadcast_shapes(x.shape, y.shape))


@op(
    "kiln.equal",
    ["lhs", "rhs"],
    traits=[EW, COMM],
    not_differentiable=COMPARISON,
    tf="Equal",
    onnx="Equal",
)
class Equal(Compare):
    def reference(self, x, y):
        return np.equal(x, y)


@op(
    "kiln.not_equal",
    ["lhs", "rhs"],
    traits=[EW, COMM],
    not_differentiable=COMPARISON,
    tf="NotEqual",
)
class NotEqual(Compare):
    def reference(self, x, y):
        return np.not_equal(x, y)


@op("kiln.less", ["lhs", "rhs"], traits=[EW], not_differentiable=COMPARISON, tf="Less", onnx="Less")
class Less(Compare):
    def reference(self, x, y):
        return np.less(x, y)


@op(
    "kiln.less_equal",
    ["lhs", "rhs"],
    traits=[EW],
    not_differentiable=COMPARISON,
    tf="LessEqual",
    onnx="LessOrEqual",
)
class LessEqual(Compare):
    def reference(self, x, y):
        return np.less_equal(x, y)


@op(
    "kiln.greater",
    ["lhs", "rhs"],
    traits=[EW],
    not_differentiable=COMPARISON,
    tf="Greater",
    onnx="Greater",
)
class Greater(Compare):
    def reference(self, x, y):
        return np.greater(x, y)


@op(
    "kiln.greater_equal",
    ["lhs", "rhs"],
    traits=[EW],
    not_differentiable=COMPARISON,
    tf="GreaterEqual",
    onnx="GreaterOrEqual",
)
class GreaterEqual(Compare):
    def reference(self, x, y):
        return np.greater_equal(x, y)


class Logical(Operation):
    def infer(self, *types: TensorType) -> TensorType:
        for t in types:
            if not t.dtype.is_bool:
                raise ShapeError(f"expected bool operands, got {t}")
        return TensorType(DType.bool, broadcast_shapes(*(t.shape for t in types)))


@op(
    "kiln.logical_and",
    ["lhs", "rhs"],
    traits=[EW, COMM],
    not_differentiable=LOGIC,
    tf="LogicalAnd",
    onnx="And",
)
class LogicalAnd(Logical):
    def reference(self, x, y):
        return np.logical_and(x, y)


@op(
    "kiln.logical_or",
    ["lhs", "rhs"],
    traits=[EW, COMM],
    not_differentiable=LOGIC,
    tf="LogicalOr",
    onnx="Or",
)
class LogicalOr(Logical):
    def reference(self, x, y):
        return np.logical_or(x, y)


@op("kiln.logical_not", ["x"], traits=[EW], not_differentiable=LOGIC, tf="LogicalNot", onnx="Not")
class LogicalNot(Logical):
    def reference(self, x):
        return np.logical_not(x)


@op("kiln.select", ["cond", "on_true", "on_false"], traits=[EW], tf="SelectV2", onnx="Where")
class Select(Operation):
    """cond ? on_true : on_false, all three broadcast (tf.where, XLA select)."""

    def infer(self, cond: TensorType, a: TensorType, b: TensorType) -> TensorType:
        if not cond.dtype.is_bool:
            raise ShapeError(f"the condition must be bool, got {cond}")
        _same_dtype(a, b)
        return TensorType(a.dtype, broadcast_shapes(cond.shape, a.shape, b.shape))

    def reference(self, cond, a, b):
        return np.where(cond, a, b)

    def vjp(self, b, g):
        zero = scalar_like(b, 0, g)
        return [None, b.select(self.cond, g, zero), b.select(self.cond, zero, g)]


@op("kiln.cast", ["x"], {"dtype": Attr(dtype_)}, traits=[EW], tf="Cast", onnx="Cast")
class Cast(Operation):
    """Convert to `dtype`; float to int truncates toward zero and saturates at the
    integer type's range (XLA's convert; the native code's fptosi.sat), to bool
    tests != 0."""

    def infer(self, x: TensorType) -> TensorType:
        return x.with_dtype(self.dtype)

    def reference(self, x):
        if x.dtype.kind == "f" and self.dtype.is_int:
            if not np.all(np.isfinite(x)):
                raise ExecutionError(f"cannot cast non-finite values to {self.dtype}")
            info = np.iinfo(self.dtype.numpy)
            # the bounds as floats: -2**31 is exact, 2**31 - 1 rounds up to 2**31
            low, high = float(info.min), float(info.max) + 1
            with np.errstate(invalid="ignore"):
                out = np.trunc(np.clip(x, low, None)).astype(self.dtype.numpy)
            out = np.asarray(out)
            out[np.asarray(x) >= high] = info.max
            return out
        return x.astype(self.dtype.numpy)

    def scalar(self, k, x):
        return k.cast(x, dtype=self.dtype)

    def vjp(self, b, g):
        """Back to the operand's dtype; an integer or bool operand has no gradient."""
        source = self.x.type.dtype
        return [b.cast(g, dtype=source) if source.is_float else None]


@op(
    "kiln.stop_gradient",
    ["x"],
    traits=[EW],
    not_differentiable="it is the identity that tf.stop_gradient hides from the gradient",
    tf="StopGradient",
)
class StopGradient(Operation):
    """x itself; autodiff treats it as a constant (tf.stop_gradient)."""

    def infer(self, x: TensorType) -> TensorType:
        return x

    def reference(self, x):
        return x

    def scalar(self, k, x):
        return x
