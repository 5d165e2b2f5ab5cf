"""Scalar operations of the kernel form as LLVM instructions (llvmlite's builder).

Semantics follow the reference interpreter (numpy): float max/min let NaN
win, compares are ordered except not_equal, integer division truncates
toward zero, float -> int casts truncate. What numpy raises for (integer
division by zero, a negative integer exponent, a non-finite float cast to an
integer) sets a `Fault` bit instead, with a harmless value in its place, so
the loop stays branch-free and vectorisable.

Every instruction of the kernel form (ir/scalar.py) is one entry of
`INSTRUCTIONS` at the end: the one registry of what this renderer
implements. exp, expm1, log, tanh, sigmoid and f32 erf come from
`vecmath.py`: straight-line IR that the loop vectoriser widens with the rest
of the loop. What is left to LLVM intrinsics (pow) and libm (sin, cos, f64
erf) becomes one scalar call per element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir

from ...ir.dtypes import DType
from ..kernel import CompileError, Fault
from . import vecmath

I1, I8, I16 = ir.IntType(1), ir.IntType(8), ir.IntType(16)
I32, I64 = ir.IntType(32), ir.IntType(64)

# LLVM integers have no sign: i8 and u8 are both i8, and the instructions
# (sdiv/udiv, smax/umax, sext/zext, sitofp/uitofp, ...) say which it is.
_TYPES = {
    DType.f32: ir.FloatType(),
    DType.f64: ir.DoubleType(),
    DType.i8: I8,
    DType.i16: I16,
    DType.i32: I32,
    DType.i64: I64,
    DType.u8: I8,
    DType.u16: I16,
    DType.u32: I32,
    DType.u64: I64,
    DType.bool: I1,
}


def value_type(dtype: DType) -> ir.Type:
    """The LLVM type a value of `dtype` has in registers (bool is i1)."""
    try:
        return _TYPES[dtype]
    except KeyError:
        raise CompileError(f"{dtype} is not supported by the LLVM backend yet") from None


def storage_type(dtype: DType) -> ir.Type:
    """The LLVM type of one element in memory (bool is a byte, as in numpy)."""
    return I8 if dtype is DType.bool else value_type(dtype)


_LIBM = {"sin": "sin", "cos": "cos"}  # the f64 names; f32 adds "f"

_FLOAT_COMPARE = {
    "equal": "==",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
}
_INT_COMPARE = {**_FLOAT_COMPARE, "not_equal": "!="}


class Scalars:
    """Emits scalar code at a builder's position; faults go to `fault` (an i32 slot)."""

    def __init__(self, builder: ir.IRBuilder, fault: ir.Value):
        self.b = builder
        self.fault_slot = fault

    @property
    def module(self) -> ir.Module:
        return self.b.module

    # ------------------------------------------------------------ helpers
    def const(self, value, dtype: DType) -> ir.Constant:
        t = value_type(dtype)
        if dtype.is_float:
            return ir.Constant(t, float(value))
        return ir.Constant(t, int(bool(value)) if dtype.is_bool else int(value))

    def function(self, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
        """An intrinsic or C function declared in the module (once)."""
        found = self.module.globals.get(name)
        if found is None:
            found = ir.Function(self.module, ir.FunctionType(ret, list(args)), name)
        return found

    def intrinsic(self, name: str, args: Sequence[ir.Value]) -> ir.Value:
        """Call overloaded intrinsic `name` whose result has its operands' type."""
        t = args[0].type
        fn = self.function(f"{name}.{t.intrinsic_name}", t, [a.type for a in args])
        return self.b.call(fn, list(args))

    def raise_if(self, cond: ir.Value, fault: Fault) -> None:
        """Record `fault` when `cond` holds (an OR, so loops still vectorise)."""
        bit = self.b.select(cond, ir.Constant(I32, int(fault)), ir.Constant(I32, 0))
        self.b.store(self.b.or_(self.b.load(self.fault_slot, typ=I32), bit), self.fault_slot)

    # ------------------------------------------------------------ dispatch
    def compute(self, op: str, args: list[ir.Value], dtypes: list[DType], dtype: DType) -> ir.Value:
        """`op(*args)` where args have `dtypes` and the result has `dtype`."""
        src = dtypes[0] if dtypes else dtype
        floats, others = INSTRUCTIONS.get(op, (None, None))
        emit = floats if src.is_float else others
        if emit is None:
            raise CompileError(f"the LLVM backend has no {op} for {src}")
        return emit(self, args, src, dtype)

    # ------------------------------------------------------------ float
    def float_neg(self, x):
        return self.b.fneg(x)

    def float_sign(self, x):
        one = ir.Constant(x.type, 1.0)
        negative = self.b.select(
            self.b.fcmp_ordered("<", x, ir.Constant(x.type, 0.0)), ir.Constant(x.type, -1.0), x
        )  # NaN and +-0 stay as they are
        return self.b.select(self.b.fcmp_ordered(">", x, ir.Constant(x.type, 0.0)), one, negative)

    def float_rsqrt(self, x):
        return self.b.fdiv(ir.Constant(x.type, 1.0), self.intrinsic("llvm.sqrt", [x]))

    def libm(self, op: str, x: ir.Value) -> ir.Value:
        name = _LIBM[op] if isinstance(x.type, ir.DoubleType) else _LIBM[op] + "f"
        return self.b.call(self.function(name, x.type, [x.type]), [x])

    # ------------------------------------------------------------ integer
    def int_neg(self, x):
        return self.b.sub(ir.Constant(x.type, 0), x)

    def int_abs(self, x, dtype: DType):
        if dtype.is_unsigned:
            return x
        return self.intrinsic("llvm.abs", [x, ir.Constant(I1, 0)])

    def int_sign(self, x, dtype: DType):
        zero = ir.Constant(x.type, 0)
        if dtype.is_unsigned:
            return self.b.zext(self.b.icmp_unsigned("!=", x, zero), x.type)
        return self.b.sub(
            self.b.zext(self.b.icmp_signed(">", x, zero), x.type),
            self.b.zext(self.b.icmp_signed("<", x, zero), x.type),
        )

    def int_div(self, x, y, dtype: DType):
        """Truncating division; by zero is a fault, and MIN / -1 wraps (as numpy)."""
        t = x.type
        zero = self.b.icmp_signed("==", y, ir.Constant(t, 0))
        self.raise_if(zero, Fault.INT_DIVISION_BY_ZERO)
        if dtype.is_unsigned:
            return self.b.udiv(x, self.b.select(zero, ir.Constant(t, 1), y))
        lowest = ir.Constant(t, -(1 << (t.width - 1)))
        overflow = self.b.and_(
            self.b.icmp_signed("==", x, lowest), self.b.icmp_signed("==", y, ir.Constant(t, -1))
        )
        safe = self.b.select(self.b.or_(zero, overflow), ir.Constant(t, 1), y)
        quotient = self.b.sdiv(x, safe)
        return self.b.select(overflow, x, quotient)

    def int_pow(self, x, y, dtype: DType):
        """Exponentiation by squaring, wrapping as numpy does; y < 0 is a fault."""
        b, t = self.b, x.type
        negative = b.icmp_signed("<", y, ir.Constant(t, 0))
        if dtype.is_unsigned:
            negative = ir.Constant(I1, 0)
        self.raise_if(negative, Fault.NEGATIVE_INT_POWER)
        exponent = b.select(negative, ir.Constant(t, 0), y)
        before = b.block
        head = b.append_basic_block("pow.head")
        step = b.append_basic_block("pow.step")
        done = b.append_basic_block("pow.done")
        b.branch(head)
        b.position_at_end(head)
        result, base, e = b.phi(t, "pow.result"), b.phi(t, "pow.base"), b.phi(t, "pow.e")
        result.add_incoming(ir.Constant(t, 1), before)
        base.add_incoming(x, before)
        e.add_incoming(exponent, before)
        b.cbranch(b.icmp_signed("!=", e, ir.Constant(t, 0)), step, done)
        b.position_at_end(step)
        odd = b.trunc(e, I1)
        result.add_incoming(b.select(odd, b.mul(result, base), result), step)
        base.add_incoming(b.mul(base, base), step)
        e.add_incoming(b.lshr(e, ir.Constant(t, 1)), step)
        b.branch(head)
        b.position_at_end(done)
        return result

    # ------------------------------------------------------------ logic
    def compare(self, op: str, args: list[ir.Value], dtype: DType) -> ir.Value:
        x, y = args
        if dtype.is_float:
            if op == "not_equal":
                return self.b.fcmp_unordered("!=", x, y)  # NaN != anything
            return self.b.fcmp_ordered(_FLOAT_COMPARE[op], x, y)
        if dtype.is_bool or dtype.is_unsigned:
            return self.b.icmp_unsigned(_INT_COMPARE[op], x, y)
        return self.b.icmp_signed(_INT_COMPARE[op], x, y)

    def logical(self, op: str, args: list[ir.Value]) -> ir.Value:
        if op == "logical_not":
            return self.b.xor(args[0], ir.Constant(I1, 1))
        return (self.b.and_ if op == "logical_and" else self.b.or_)(*args)

    def cast(self, x: ir.Value, src: DType, dst: DType) -> ir.Value:
        """numpy's astype, with float -> int truncating toward zero and saturating, and
        non-finite a fault."""
        b, t = self.b, value_type(dst)
        if src == dst:
            return x
        if dst.is_bool:
            if src.is_float:
                return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))  # NaN is true
            return b.icmp_signed("!=", x, ir.Constant(x.type, 0))
        if src.is_bool:
            return b.uitofp(x, t) if dst.is_float else b.zext(x, t)
        if src.is_float and dst.is_float:
            wider = isinstance(t, ir.DoubleType)
            return b.fpext(x, t) if wider else b.fptrunc(x, t)
        if dst.is_float:
            return b.uitofp(x, t) if src.is_unsigned else b.sitofp(x, t)
        if src.is_float:
            magnitude = self.intrinsic("llvm.fabs", [x])
            finite = b.fcmp_ordered("<", magnitude, ir.Constant(x.type, float("inf")))
            self.raise_if(b.not_(finite), Fault.NONFINITE_TO_INT)
            safe = b.select(finite, x, ir.Constant(x.type, 0.0))
            # saturating at the integer type's range, as the interpreter (kiln.cast)
            convert = "fptoui" if dst.is_unsigned else "fptosi"
            fn = self.function(
                f"llvm.{convert}.sat.{t.intrinsic_name}.{x.type.intrinsic_name}", t, [x.type]
            )
            return b.call(fn, [safe])
        if t.width > x.type.width:
            return b.zext(x, t) if src.is_unsigned else b.sext(x, t)
        if t.width == x.type.width:
            return x  # same bits, another sign
        return b.trunc(x, t)


# ------------------------------------------------------------------ the registry

Emit = Callable[[Scalars, list, DType, DType], ir.Value]


def _instruction(name: str) -> Emit:
    """One LLVM instruction (a builder method)."""
    return lambda s, args, src, dst: getattr(s.b, name)(*args)


def _intrinsic(name: str) -> Emit:
    """One overloaded intrinsic."""
    return lambda s, args, src, dst: s.intrinsic(name, args)


def _method(name: str) -> Emit:
    """A method of `Scalars` taking the operands."""
    return lambda s, args, src, dst: getattr(s, name)(*args)


def _signed(name: str) -> Emit:
    """A method of `Scalars` taking the operands and their dtype (signed or not)."""
    return lambda s, args, src, dst: getattr(s, name)(*args, src)


def _int_extreme(name: str) -> Emit:
    """llvm.smax/umax or llvm.smin/umin, by the operands' sign."""
    return lambda s, args, src, dst: s.intrinsic(
        f"llvm.{'u' if src.is_unsigned else 's'}{name}", args
    )


def _vecmath(name: str) -> Emit:
    """A `vecmath` function: straight-line IR the loop vectoriser widens."""
    return lambda s, args, src, dst: vecmath.call(s.b, name, args[0])


def _libm(name: str) -> Emit:
    """A libm call: one scalar call per element."""
    return lambda s, args, src, dst: s.libm(name, args[0])


def _logical(name: str) -> Emit:
    return lambda s, args, src, dst: s.logical(name, args)


def _comparison(name: str) -> Emit:
    return lambda s, args, src, dst: s.compare(name, args, src)


def _cast(s: Scalars, args, src: DType, dst: DType) -> ir.Value:
    return s.cast(args[0], src, dst)


def _select(s: Scalars, args, src: DType, dst: DType) -> ir.Value:
    return s.b.select(*args)


def _both(emit: Emit) -> tuple[Emit, Emit]:
    return emit, emit


# Every scalar instruction of ir/scalar.py this renderer implements: name ->
# (how on float operands, how on integer and bool operands; None: not at all).
# `compute` dispatches through it, and tests/ir/test_coverage.py reads it.
# Float max/min let NaN win, as numpy; pow (an intrinsic), sin and cos (libm) are
# one scalar call per element, the vecmath functions vectorise.
INSTRUCTIONS: dict[str, tuple[Emit | None, Emit | None]] = {
    "add": (_instruction("fadd"), _instruction("add")),
    "sub": (_instruction("fsub"), _instruction("sub")),
    "mul": (_instruction("fmul"), _instruction("mul")),
    "div": (_instruction("fdiv"), _signed("int_div")),
    "max": (_intrinsic("llvm.maximum"), _int_extreme("max")),
    "min": (_intrinsic("llvm.minimum"), _int_extreme("min")),
    "pow": (_intrinsic("llvm.pow"), _signed("int_pow")),
    "neg": (_method("float_neg"), _method("int_neg")),
    "abs": (_intrinsic("llvm.fabs"), _signed("int_abs")),
    "sign": (_method("float_sign"), _signed("int_sign")),
    "sqrt": (_intrinsic("llvm.sqrt"), None),
    "rsqrt": (_method("float_rsqrt"), None),
    **{name: (_vecmath(name), None) for name in vecmath.FUNCTIONS},  # exp, expm1, log, ...
    **{name: (_libm(name), None) for name in _LIBM},  # sin, cos
    **{name: _both(_comparison(name)) for name in _INT_COMPARE},
    **{name: _both(_logical(name)) for name in ("logical_and", "logical_or", "logical_not")},
    "select": _both(_select),
    "cast": _both(_cast),
}
