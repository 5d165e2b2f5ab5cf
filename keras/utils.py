"""keras.utils and keras.preprocessing's array helpers: to_categorical,
normalize, pad_sequences, set_random_seed, plot_model's absence made clear."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from ..frontend.graph import GraphError
from . import text
from .initializers import set_random_seed
from .metrics import to_categorical


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """x divided by its `order`-norm along `axis` (zero norms left as is)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: str = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float = 0.0,
) -> np.ndarray:
    """Lists of ids as one (n, maxlen) array, padded and cut at the front
    ('pre', Keras's default) or the back ('post')."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise GraphError("pad_sequences: padding and truncating are 'pre' or 'post'")
    seqs = [list(s) for s in sequences]
    n = maxlen if maxlen is not None else max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), n), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not s or n == 0:
            continue
        s = s[-n:] if truncating == "pre" else s[:n]
        if padding == "post":
            out[i, : len(s)] = s
        else:
            out[i, n - len(s) :] = s
    return out


def plot_model(*_: Any, **__: Any) -> None:
    raise GraphError(
        "kl.keras.utils.plot_model is not implemented (kiln has no graphviz "
        "dependency); model.summary() prints the layers"
    )


sequence = SimpleNamespace(pad_sequences=pad_sequences)
preprocessing = SimpleNamespace(sequence=sequence, text=text)

__all__ = [
    "normalize",
    "pad_sequences",
    "plot_model",
    "preprocessing",
    "sequence",
    "set_random_seed",
    "to_categorical",
]
