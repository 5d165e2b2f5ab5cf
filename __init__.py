"""kiln: a deep-learning graph compiler.

    import kiln as kl          # TensorFlow 1.x's graph API (kiln.frontend)
    kl.compile(module, "f")    # an IR module to a callable (kiln.runtime)

The IR lives in `kiln.ir`; frontends, passes and backends build on it.
"""

from .frontend import *  # noqa: F403  (kl.constant, kl.Session, ...: TensorFlow 1.x's API)
from .ir import ExecutionError, KilnError, ParseError, ShapeError, VerifyError
from .runtime.aot import load  # a library made by `kiln compile`
from .runtime.executable import Executable, compile  # noqa: A004

__version__ = "0.1.0"

__all__ = ["ExecutionError", "KilnError", "ParseError", "ShapeError", "VerifyError",
           "__version__"]
