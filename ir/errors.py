"""kiln's one exception family.

Every error a user can cause is a `KilnError`. Its message says what went
wrong, where (an op's name and location: the frontend name such as
``dense/MatMul``, or the text's ``line:column``), what was expected and what
came.
"""

from __future__ import annotations


class KilnError(Exception):
    """The base of every error kiln raises for a user's mistake."""


class ParseError(KilnError):
    """Malformed IR text. Carries the 1-based line and column."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line = line
        self.column = column
        where = f"{line}:{column}: " if line is not None else ""
        super().__init__(f"{where}{message}")


class VerifyError(KilnError):
    """A module that breaks an IR invariant (types, SSA, terminators)."""


class ShapeError(VerifyError):
    """A type rule rejected its operands (shapes, dtypes or attributes)."""


class ExecutionError(KilnError):
    """Running a function failed: bad arguments or a failing op at run time."""


class CompileError(KilnError):
    """Code generation cannot handle a kernel (an op or dtype not supported yet)."""
