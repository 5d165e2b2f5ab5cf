"""The scalar instructions of the kernel form, and what an op's `scalar` builds with.

A fused kernel computes every elementwise op of its group one element at a
time, as a few scalar instructions (`codegen/kernel.py`'s `Compute`). This
module is the one list of those instructions: each renderer (LLVM, Triton)
implements every one of them once, and each elementwise op says, in its own
class, what it is in terms of them (`Operation.scalar`): relu is
``k.max(x, k.const(0))``, softplus a handful of instructions. Adding an op
therefore never touches a renderer; adding an instruction touches each
renderer once.

It lives in `ir/` because the ops declare themselves with it and `ir/`
imports nothing of the rest of kiln.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .dtypes import DType
from .errors import KilnError


@dataclass(frozen=True)
class Instruction:
    """One scalar instruction.

    `result` says the dtype it gives: "operand" (its first operand's; select's
    second), "bool" (compares, logic) or "given" (cast: the dtype asked for).
    `transcendental` marks the costly ones (a libm-class function): a kernel
    stores a value made with them rather than computing it twice, and the
    cost model counts them apart from the flops, as XLA's does."""

    name: str
    arity: int
    result: str = "operand"
    transcendental: bool = False
    flops: int = 1


def _table(*instructions: Instruction) -> dict[str, Instruction]:
    return {i.name: i for i in instructions}


INSTRUCTIONS: dict[str, Instruction] = _table(
    *(Instruction(n, 1) for n in ("neg", "abs", "sign", "sqrt", "rsqrt")),
    *(
        Instruction(n, 1, transcendental=True)
        for n in ("exp", "expm1", "log", "tanh", "sigmoid", "erf", "sin", "cos")
    ),
    Instruction("logical_not", 1, "bool"),
    Instruction("cast", 1, "given", flops=0),
    *(Instruction(n, 2) for n in ("add", "sub", "mul", "div", "max", "min")),
    Instruction("pow", 2, transcendental=True),
    *(
        Instruction(n, 2, "bool")
        for n in (
            "equal",
            "not_equal",
            "less",
            "less_equal",
            "greater",
            "greater_equal",
            "logical_and",
            "logical_or",
        )
    ),
    Instruction("select", 3, flops=0),
)


def result_dtype(instruction: Instruction, args: Sequence[DType], given: DType | None) -> DType:
    """The dtype of `instruction` applied to operands of dtypes `args`."""
    if instruction.result == "bool":
        return DType.bool
    if instruction.result == "given":
        if given is None:
            raise KilnError(f"scalar {instruction.name} needs the dtype to give")
        return given
    if given is not None:
        return given
    return args[1] if instruction.name == "select" else args[0]


class ScalarEmitter:
    """What an op's `scalar(k, *operands)` builds with: `k.const(value)`,
    `k.position(dim)` (the element's index along the result's `dim`, for
    iota) and one method per instruction, ``k.max(x, y)``, ``k.cast(x,
    dtype=...)``. Operands and results are opaque handles of the emitter.

    `dtype` is the op's result dtype, the default of `const`. A subclass
    implements `_emit`, `_const`, `_position` and `dtype_of`."""

    def __init__(self, dtype: DType):
        self.dtype = dtype

    def emit(self, name: str, *args: Any, dtype: DType | None = None) -> Any:
        """The instruction `name` applied to `args`."""
        instruction = INSTRUCTIONS.get(name)
        if instruction is None:
            raise KilnError(
                f"{name!r} is not a scalar instruction of the kernel form (ir/scalar.py lists them)"
            )
        if len(args) != instruction.arity:
            raise KilnError(f"scalar {name} takes {instruction.arity} operands, got {len(args)}")
        out = result_dtype(instruction, [self.dtype_of(a) for a in args], dtype)
        return self._emit(instruction, list(args), out)

    def const(self, value: bool | int | float, dtype: DType | None = None) -> Any:
        return self._const(value, dtype or self.dtype)

    def position(self, dim: int, dtype: DType | None = None) -> Any:
        return self._position(dim, dtype or self.dtype)

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in INSTRUCTIONS:
            raise AttributeError(
                f"{name!r} is not a scalar instruction of the kernel form (ir/scalar.py lists them)"
            )
        return lambda *args, dtype=None: self.emit(name, *args, dtype=dtype)

    # ------------------------------------------------------------ to implement
    def dtype_of(self, handle: Any) -> DType:
        raise NotImplementedError

    def _emit(self, instruction: Instruction, args: list[Any], dtype: DType) -> Any:
        raise NotImplementedError

    def _const(self, value: bool | int | float, dtype: DType) -> Any:
        raise NotImplementedError

    def _position(self, dim: int, dtype: DType) -> Any:
        raise NotImplementedError


class Tally(ScalarEmitter):
    """Runs an op's `scalar` on placeholders and records the instructions it
    uses: an elementwise op's cost (flops and transcendentals per element)
    and the coverage test's check that every renderer implements them."""

    def __init__(self, dtype: DType, operand_dtypes: Sequence[DType]):
        super().__init__(dtype)
        self.used: list[Instruction] = []
        self.operands = list(operand_dtypes)

    def dtype_of(self, handle: DType) -> DType:
        return handle

    def _emit(self, instruction, args, dtype):
        self.used.append(instruction)
        return dtype

    def _const(self, value, dtype):
        return dtype

    def _position(self, dim, dtype):
        return dtype
