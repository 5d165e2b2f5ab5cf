"""The reference interpreter: runs any function on numpy arrays.

It is the oracle every pass and backend is checked against. Arguments are
checked against the function's types (dtype, rank, static dims, and named
symbols bound consistently); every op's result is checked against its type,
so a shape that only fails at run time is an ExecutionError naming the op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Block, Function, Module, Operation, Value
from .dtypes import as_storage
from .errors import ExecutionError, KilnError
from .types import TensorType, format_shape


def interpret(module: Module, func: str, *args: Any) -> list[np.ndarray]:
    """Run `module`'s function `func` on `args` (arrays or nested lists)."""
    return Interpreter(module).call(func, list(args))


def _text(what) -> str:
    return what() if callable(what) else what


class _Bindings:
    """Sizes bound to named symbols during one call."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}

    def check(self, type: TensorType, shape: tuple[int, ...], what) -> None:
        """Raise naming `what` (a string, or a function making one) on a mismatch."""
        if len(shape) != type.rank:
            raise ExecutionError(
                f"{_text(what)}: expected rank {type.rank} ({type}), got shape "
                f"{format_shape(shape)}"
            )
        for d, n in zip(type.shape, shape):
            if isinstance(d, int):
                ok = d == n
            elif d.anonymous:
                ok = True
            else:
                ok = self.sizes.setdefault(d.name, n) == n
            if not ok:
                raise ExecutionError(
                    f"{_text(what)}: expected {type}{self._said()}, got shape {format_shape(shape)}"
                )

    def _said(self) -> str:
        if not self.sizes:
            return ""
        return " with " + ", ".join(f"{k}={v}" for k, v in self.sizes.items())


class Interpreter:
    """Runs functions of one module. `call` is re-entrant (kiln.call uses it)."""

    def __init__(self, module: Module):
        self.module = module

    def call(self, name: str, args: list[Any]) -> list[np.ndarray]:
        func = self.module[name]
        if len(args) != len(func.args):
            raise ExecutionError(f"@{name} takes {len(func.args)} arguments, got {len(args)}")
        bindings = _Bindings()
        values = [self._argument(func, i, a, bindings) for i, a in enumerate(args)]
        return self.run_block(func.body, values, bindings)

    def _argument(self, func: Function, i: int, value: Any, bindings: _Bindings) -> np.ndarray:
        arg = func.args[i]
        what = f"@{func.name} argument {i} (%{arg.name or i})"
        want = arg.type.dtype
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)
            if array.dtype != want.numpy:
                raise ExecutionError(f"{what}: expected dtype {want}, got numpy {array.dtype}")
        else:
            try:
                array = np.asarray(value, dtype=want.numpy)
            except (ValueError, TypeError) as e:
                raise ExecutionError(f"{what}: cannot convert to {want}: {e}") from None
        bindings.check(arg.type, array.shape, what)
        return as_storage(array, want)

    def run_block(
        self, block: Block, args: list[np.ndarray], bindings: _Bindings | None = None
    ) -> list[np.ndarray]:
        """Run a block's ops on its arguments; returns its terminator's operands."""
        bindings = bindings or _Bindings()
        env: dict[int, np.ndarray] = {id(a): v for a, v in zip(block.args, args)}
        end = block.terminator
        with np.errstate(all="ignore"):
            for op in block.ops:
                inputs = [env[id(v)] for v in op.operands]
                if op is end:
                    return inputs
                for r, out in zip(op.results, self._evaluate(op, inputs)):
                    env[id(r)] = self._result(op, r, out, bindings)
        raise ExecutionError("block has no terminator")

    def evaluate_op(self, op: Operation, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run one op on arrays exactly as a function would (storage rounding and
        result checks included); constant folding uses this."""
        bindings = _Bindings()
        with np.errstate(all="ignore"):
            outs = self._evaluate(op, inputs)
        return [self._result(op, r, out, bindings) for r, out in zip(op.results, outs)]

    def _evaluate(self, op: Operation, inputs: list[np.ndarray]) -> list[np.ndarray]:
        try:
            outs = op.evaluate(self, inputs)
        except KilnError as e:
            if str(e).startswith(op.name):
                raise
            raise op.error(str(e), ExecutionError) from None
        except (ValueError, IndexError, TypeError, ArithmeticError) as e:
            shapes = ", ".join(format_shape(x.shape) for x in inputs)
            raise op.error(f"failed on operands of shapes {shapes}: {e}", ExecutionError) from None
        if len(outs) != len(op.results):
            raise op.error(
                f"reference gave {len(outs)} results for {len(op.results)}", ExecutionError
            )
        return outs

    def _result(self, op: Operation, r: Value, out: Any, bindings: _Bindings) -> np.ndarray:
        array = as_storage(np.asarray(out), r.type.dtype)
        bindings.check(r.type, array.shape, lambda: f"result of {op.describe()}")
        return array
