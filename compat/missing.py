"""'kiln does not implement tf.X yet': the AttributeError for TensorFlow names
kiln lacks, read from compat/tf_v1_names.txt (tf.compat.v1's public names,
written by benchmarks/tf_api.py), and installed as the module `__getattr__`
of kiln and of its TensorFlow-style namespaces (kl.nn, kl.train, kl.math, ...).
A name TensorFlow does not have either gets Python's usual message.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path
from typing import Any

NAMES = Path(__file__).with_name("tf_v1_names.txt")


@functools.cache
def tf_names() -> frozenset[str]:
    """tf.compat.v1's public names, dotted below the root ("nn.relu")."""
    try:
        return frozenset(NAMES.read_text().split())
    except OSError:
        return frozenset()


def missing(prefix: str, module_name: str, name: str) -> AttributeError:
    """The AttributeError for `tf.<prefix><name>`, read on module `module_name`."""
    full = prefix + name
    if not name.startswith("__") and full in tf_names():
        return AttributeError(
            f"kiln does not implement tf.{full} yet (docs/tf-api.md lists TensorFlow's "
            "names by use and what kiln has)"
        )
    return AttributeError(f"module {module_name!r} has no attribute {name!r}")


def install(module: types.ModuleType, prefix: str) -> None:
    """Give `module` (TensorFlow's tf.<prefix>) a __getattr__ that names what kiln
    lacks; an existing module __getattr__ is asked first."""
    before = module.__dict__.get("__getattr__")
    if getattr(before, "_kiln_missing", False):
        return

    def __getattr__(name: str) -> Any:
        if before is not None:
            try:
                return before(name)
            except AttributeError:
                pass
        raise missing(prefix, module.__name__, name)

    __getattr__._kiln_missing = True  # type: ignore[attr-defined]
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
