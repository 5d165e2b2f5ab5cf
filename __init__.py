"""kiln: a deep-learning graph compiler.

The IR lives in `kiln.ir`; frontends, passes and backends build on it.
"""

from .ir import ExecutionError, KilnError, ParseError, ShapeError, VerifyError

__version__ = "0.1.0"

__all__ = ["ExecutionError", "KilnError", "ParseError", "ShapeError", "VerifyError",
           "__version__"]
