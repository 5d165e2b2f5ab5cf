"""Counter-based random numbers: Philox 4x32-10, bit-exact with Triton's.

Element i of a draw (row-major) uses the counter (lo32(i), hi32(i), 0, 0) and
the key (lo32(seed), hi32(seed)), exactly as ``triton.language.rand`` and
``randn`` do with offset i, so the CPU and GPU backends draw the same numbers
for the same seed.
"""

from __future__ import annotations

import numpy as np

_KEY_A, _KEY_B = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_ROUND_A, _ROUND_B = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_UNIFORM_SCALE = np.float32(4.6566127342e-10)  # keeps 2**31 - 1 below 1.0


def philox4x32(seed: int, offsets: np.ndarray, rounds: int = 10) -> tuple[np.ndarray, ...]:
    """Four uint32 streams for the counters `offsets` (uint64) under `seed`."""
    offsets = np.asarray(offsets, np.uint64)
    seed &= (1 << 64) - 1
    c0 = (offsets & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    c1 = (offsets >> np.uint64(32)).astype(np.uint32)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0, k1 = np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)
    with np.errstate(over="ignore"):
        for _ in range(rounds):
            p0 = _ROUND_B * c2.astype(np.uint64)  # B * c2, full 64 bits
            p1 = _ROUND_A * c0.astype(np.uint64)
            c0, c1, c2, c3 = (
                (p0 >> np.uint64(32)).astype(np.uint32) ^ c1 ^ k0,
                p0.astype(np.uint32),
                (p1 >> np.uint64(32)).astype(np.uint32) ^ c3 ^ k1,
                p1.astype(np.uint32),
            )
            k0 = np.uint32(k0 + _KEY_A)
            k1 = np.uint32(k1 + _KEY_B)
    return c0, c1, c2, c3


def to_uniform(bits: np.ndarray) -> np.ndarray:
    """uint32 -> float32 in [0, 1), as triton.language.uint_to_uniform_float."""
    x = bits.view(np.int32)
    x = np.where(x < 0, ~x, x)
    return x.astype(np.float32) * _UNIFORM_SCALE


def uniform(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """float32 U[0, 1) of `shape`; equals ``tl.rand(seed, offsets)``."""
    n = int(np.prod(shape, dtype=np.int64))
    c0, _, _, _ = philox4x32(seed, np.arange(n, dtype=np.uint64))
    return to_uniform(c0).reshape(shape)


def normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """float32 N(0, 1) of `shape` by Box-Muller; equals ``tl.randn(seed, offsets)``."""
    n = int(np.prod(shape, dtype=np.int64))
    c0, c1, _, _ = philox4x32(seed, np.arange(n, dtype=np.uint64))
    u1 = np.maximum(np.float32(1.0e-7), to_uniform(c0))
    theta = np.float32(6.283185307179586) * to_uniform(c1)
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    return (r * np.cos(theta)).astype(np.float32).reshape(shape)
