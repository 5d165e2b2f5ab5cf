"""kiln: a deep-learning graph compiler.

    import kiln as kl          # TensorFlow 1.x's graph API (kiln.frontend)
    kl.compile(module, "f")    # an IR module to a callable (kiln.runtime)

The IR lives in `kiln.ir`; frontends, passes and backends build on it. This
file assembles the public namespace from the layers: the frontend's
TensorFlow API, and beside it what builds on the frontend (kl.keras,
kl.data, kl.viz), which the frontend itself never imports.
"""

from . import (
    contrib,
    data,
    estimator,
    keras,
)  # kl.contrib, kl.data, kl.keras (tf.contrib, tf.data, tf.keras)
from ._version import __version__
from .frontend import *  # noqa: F403  (kl.constant, kl.Session, ...: TensorFlow 1.x's API)
from .frontend import summary  # kl.summary (TensorBoard event files)
from .ir import ExecutionError, KilnError, ParseError, ShapeError, VerifyError
from .runtime.aot import load  # a library made by `kiln compile`
from .runtime.executable import Executable, compile  # noqa: A004
from .viz import viz  # kl.viz(graph_or_module): an SVG picture (the package is kiln.viz)

__all__ = ["ExecutionError", "KilnError", "ParseError", "ShapeError", "VerifyError", "__version__"]

# ---- TensorFlow's namespaces (tf-core): kl.strings is tf.strings (the
# frontend module of that name holds the host ops), kl.compat.v1 / v2.
from . import compat, frontend  # noqa: E402
from .compat.missing import install as _install_missing  # noqa: E402
from .compat.missing import missing as _missing  # noqa: E402
from .frontend.namespaces import strings_namespace as strings  # noqa: E402


def __getattr__(name: str):
    """A TensorFlow name kiln lacks: "kiln does not implement tf.X yet"."""
    raise _missing("", "kiln", name)


for _prefix, _module in [
    ("nn.", frontend.nn),
    ("train.", frontend.train),
    ("image.", frontend.image),
    ("layers.", frontend.layers),
    ("losses.", frontend.losses),
    ("summary.", frontend.summary),
    ("dtypes.", frontend.dtypes),
    ("math.", frontend.math),
    ("random.", frontend.random),
    ("io.", frontend.io),
    ("io.gfile.", frontend.io.gfile),
    ("gfile.", frontend.gfile),
    ("strings.", strings),
    ("logging.", frontend.logging),
    ("app.", frontend.app),
    ("flags.", frontend.flags),
    ("data.", data),
]:
    _install_missing(_module, _prefix)
del _prefix, _module
