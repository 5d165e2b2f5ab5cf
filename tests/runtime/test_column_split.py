"""A sum over the leading axes of [R, C] runs its columns in blocks (codegen/llvm/render.py):
the threads' shares of [begin, end) are whole blocks (`split_grain`), never a few columns each,
which made every call walk all R rows again (a CNN's bias gradients ran at 1 GB/s). The results
are checked against numpy with one and two threads, on widths below, at and across a block."""

import numpy as np
import pytest

import kiln
from kiln.codegen.llvm.render import COLUMN_BLOCK
from kiln.ir import parse
from kiln.runtime import parallel

SOURCE = """
func @f(%x: tensor<?x{c}xf32>) -> tensor<{c}xf32> {{
  %s = kiln.reduce_sum %x {{axes = [0]}} : (tensor<?x{c}xf32>) -> tensor<{c}xf32>
  kiln.return %s : tensor<{c}xf32>
}}
"""


@pytest.mark.parametrize("columns", [1, 7, 32, COLUMN_BLOCK, COLUMN_BLOCK + 45, 3 * COLUMN_BLOCK])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_leading_axis_sums_match_numpy(monkeypatch, columns, threads):
    monkeypatch.setenv("KILN_NUM_THREADS", threads)
    exe = kiln.compile(parse(SOURCE.format(c=columns)), "f", backend="cpu")
    rng = np.random.default_rng(columns)
    for rows in (0, 1, 4099):
        x = rng.standard_normal((rows, columns), np.float32)
        (got,) = exe(x)
        np.testing.assert_allclose(got, x.sum(0, dtype=np.float64), rtol=1e-4, atol=1e-3)


def test_the_kernel_asks_for_whole_blocks():
    exe = kiln.compile(parse(SOURCE.format(c=32)), "f", backend="cpu")
    (step,) = exe._run.steps
    assert step.kernel.grain == COLUMN_BLOCK
    big = 1 << 30
    # 32 columns are one block: one thread, however much is summed
    assert parallel.threads_for(32, big, step.kernel.grain) == 0
    if parallel.openmp_available() and parallel.max_threads() > 1:
        n = min(parallel.max_threads(), 3)
        assert parallel.threads_for(3 * COLUMN_BLOCK, big, COLUMN_BLOCK) == n  # 3 blocks
        assert parallel.threads_for(32, big) == min(parallel.max_threads(), 32)  # rows: any
