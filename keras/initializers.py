"""Weight initializers (keras.initializers), drawn with numpy from one seeded
generator: `kl.keras.utils.set_random_seed(s)` makes models reproducible."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..frontend.graph import GraphError

_rng = [np.random.default_rng(0)]


def set_random_seed(seed: int) -> None:
    """Seed the generator weights are drawn from (and numpy's global one)."""
    _rng[0] = np.random.default_rng(int(seed))
    np.random.seed(int(seed))


def _fans(shape: Sequence[int]) -> tuple[float, float]:
    if len(shape) < 2:
        n = float(shape[0]) if shape else 1.0
        return n, n
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def zeros(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    return np.zeros(shape)


def ones(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    return np.ones(shape)


def glorot_uniform(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _rng[0].uniform(-limit, limit, shape)


def glorot_normal(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    fan_in, fan_out = _fans(shape)
    return _truncated(shape, math.sqrt(2.0 / (fan_in + fan_out)))


def he_normal(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    return _truncated(shape, math.sqrt(2.0 / _fans(shape)[0]))


def he_uniform(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    limit = math.sqrt(6.0 / _fans(shape)[0])
    return _rng[0].uniform(-limit, limit, shape)


def random_uniform(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    return _rng[0].uniform(-0.05, 0.05, shape)


def random_normal(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    return _rng[0].normal(0.0, 0.05, shape)


def _truncated(shape: Sequence[int], stddev: float) -> np.ndarray:
    z = _rng[0].standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = _rng[0].standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return z * stddev / 0.87962566103423978


_BY_NAME: dict[str, Callable] = {
    f.__name__: f
    for f in (
        zeros,
        ones,
        glorot_uniform,
        glorot_normal,
        he_normal,
        he_uniform,
        random_uniform,
        random_normal,
    )
}


def get(identifier: Any) -> Callable[[Sequence[int], Any], np.ndarray]:
    """An initializer from its name or a callable (shape, dtype) -> array."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]
    raise GraphError(f"unknown initializer {identifier!r} (one of {', '.join(_BY_NAME)})")
