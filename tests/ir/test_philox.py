"""kiln's Philox draws equal Triton's tl.rand / tl.randn bit for bit.

Triton runs under TRITON_INTERPRET=1 in a child process (the interpreter flag
must be set before triton is imported, and must not leak into other tests).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kiln.ir import philox

SCRIPT = Path(__file__).with_name("triton_rand.py")


@pytest.mark.parametrize("seed, n", [(0, 16), (1234, 64), (2**31 - 1, 128)])
def test_philox_matches_triton(tmp_path, seed, n):
    out = tmp_path / "draw.npz"
    subprocess.run([sys.executable, str(SCRIPT), str(seed), str(n), str(out)], check=True)
    drawn = np.load(out)
    np.testing.assert_array_equal(philox.uniform(seed, (n,)), drawn["uniform"])
    np.testing.assert_array_equal(philox.normal(seed, (n,)), drawn["normal"])


def test_uniform_in_unit_interval_and_normal_moments():
    u = philox.uniform(7, (100_000,))
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    z = philox.normal(7, (100_000,))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02
