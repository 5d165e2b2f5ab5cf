"""kiln: a deep-learning graph compiler.

    import kiln as kl          # TensorFlow 1.x's graph API (kiln.frontend)
    kl.compile(module, "f")    # an IR module to a callable (kiln.runtime)

The IR lives in `kiln.ir`; frontends, passes and backends build on it. This
file assembles the public namespace from the layers: the frontend's
TensorFlow API, and beside it what builds on the frontend (kl.keras,
kl.data, kl.contrib, kl.estimator, kl.viz), which the frontend itself never
imports. Those, and the compiler behind `kl.compile` and `kl.load`, are
imported on first use (`__getattr__` below): `import kiln` stays light.
"""

import importlib

from ._version import __version__
from .frontend import *  # noqa: F403  (kl.constant, kl.Session, ...: TensorFlow 1.x's API)
from .frontend import summary  # kl.summary (TensorBoard event files)
from .ir import ExecutionError, KilnError, ParseError, ShapeError, VerifyError

__all__ = ["ExecutionError", "KilnError", "ParseError", "ShapeError", "VerifyError", "__version__"]

# ---- TensorFlow's namespaces (tf-core): kl.strings is tf.strings (the
# frontend module of that name holds the host ops), kl.compat.v1 / v2.
from . import compat, frontend  # noqa: E402
from .compat.missing import install as _install_missing  # noqa: E402
from .compat.missing import missing as _missing  # noqa: E402
from .frontend.namespaces import strings_namespace as strings  # noqa: E402

# name -> (module, attribute or None for the module itself), imported on first use
_LAZY = {
    "contrib": ("kiln.contrib", None),  # tf.contrib
    "data": ("kiln.data", None),  # tf.data
    "estimator": ("kiln.estimator", None),  # tf.estimator
    "keras": ("kiln.keras", None),  # tf.keras
    "viz": ("kiln.viz", "viz"),  # kl.viz(graph_or_module): an SVG picture
    "load": ("kiln.runtime.aot", "load"),  # a library made by `kiln compile`
    "Executable": ("kiln.runtime.executable", "Executable"),
    "compile": ("kiln.runtime.executable", "compile"),
}


def __getattr__(name: str):
    """The lazily imported names; else a TensorFlow name kiln lacks: "kiln does
    not implement tf.X yet"."""
    if name not in _LAZY:
        raise _missing("", "kiln", name)
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    if name == "data":
        _install_missing(module, "data.")
    if name == "keras":  # tf.keras and its submodules (tf.keras.layers, ...)
        _install_missing(module, "keras.")
        for sub in dir(module):
            inner = getattr(module, sub, None)
            if isinstance(inner, type(module)) and inner.__name__.startswith("kiln.keras"):
                _install_missing(inner, f"keras.{sub}.")
    globals()[name] = value  # after the import: `import kiln.viz` set the module there
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})


for _prefix, _module in [
    ("nn.", frontend.nn),
    ("feature_column.", frontend.feature_column),
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
    ("debugging.", frontend.debugging),
    ("python_io.", frontend.python_io),
    ("sparse.", frontend.sparse),
    ("gfile.", frontend.gfile),
    ("strings.", strings),
    ("logging.", frontend.logging),
    ("app.", frontend.app),
    ("flags.", frontend.flags),
]:
    _install_missing(_module, _prefix)
del _prefix, _module
