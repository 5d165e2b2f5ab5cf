"""kiln's one exception family.

Every error a user can cause is a `KilnError`. Its message says what went
wrong, where (an op's name and location: the frontend name such as
``dense/MatMul``, or the text's ``line:column``), what was expected and what
came.
"""

from __future__ import annotations


class KilnError(Exception):
    """The base of every error kiln raises for a user's mistake.

    An error about a place in IR text carries its 1-based `line` and `column` and
    its `message` without them, which `diagnostic` formats the compilers' way."""

    line: int | None = None
    column: int | None = None

    @property
    def message(self) -> str:
        return self.__dict__.get("_message", str(self))

    def at(self, line: int | None, column: int | None, message: str) -> KilnError:
        """This error, located at line:column of the text; `message` is the text
        without the location (what `diagnostic` prints after `error:`)."""
        self.line, self.column, self._message = line, column, message
        return self


class ParseError(KilnError):
    """Malformed IR text. Carries the 1-based line and column."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f"{line}:{column}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.at(line, column, message)


class VerifyError(KilnError):
    """A module that breaks an IR invariant (types, SSA, terminators)."""


class ShapeError(VerifyError):
    """A type rule rejected its operands (shapes, dtypes or attributes)."""


class ExecutionError(KilnError):
    """Running a function failed: bad arguments or a failing op at run time."""


class CompileError(KilnError):
    """Code generation cannot handle a kernel (an op or dtype not supported yet)."""


def diagnostic(error: KilnError, filename: str, source: str | None = None) -> str:
    """`FILE:LINE:COL: error: MESSAGE`, then the offending line and a caret under the
    column (as clang and mlir-opt print them); `FILE: error: MESSAGE` for an error
    with no place in the text."""
    if error.line is None:
        return f"{filename}: error: {error.message}"
    head = f"{filename}:{error.line}:{error.column}: error: {error.message}"
    lines = (source or "").splitlines()
    if not 1 <= error.line <= len(lines):
        return head
    text = lines[error.line - 1].expandtabs(1)  # one column per character
    caret = " " * max((error.column or 1) - 1, 0) + "^"
    return f"{head}\n{text}\n{caret}"
