# ruff: noqa: E501  (IR text)
"""kiln.cumsum as a Triton kernel (codegen/triton/scans.py) against the
reference interpreter: every axis, exclusive and reverse, ints, symbolic and
size-0 dims."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize(
    ("exclusive", "reverse"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_cumsum_along_every_axis(gpu, rng, axis, exclusive, reverse):
    flags = f"axis = {axis}, exclusive = {str(exclusive).lower()}, reverse = {str(reverse).lower()}"
    text = f"""func @f(%x: tensor<?x5x3xf32>, %i: tensor<?x5x3xi32>) -> (tensor<?x5x3xf32>, tensor<?x5x3xi32>) {{
  %c = kiln.cumsum %x {{{flags}}} : (tensor<?x5x3xf32>) -> tensor<?x5x3xf32>
  %d = kiln.cumsum %i {{{flags}}} : (tensor<?x5x3xi32>) -> tensor<?x5x3xi32>
  kiln.return %c, %d : (tensor<?x5x3xf32>, tensor<?x5x3xi32>) -> ()
}}"""
    for n in (0, 1, 4):
        exe = gpu.compare(
            text,
            rng.standard_normal((n, 5, 3)).astype(np.float32),
            rng.integers(-9, 9, (n, 5, 3)).astype(np.int32),
        )
        assert not exe.compiled.host_ops
        # the pipeline may turn a float cumsum along an inner axis into a matmul
        # with a triangle; an int one, and one along axis 0, stay a running sum
        names = [s.op.name for s in exe.compiled.steps]
        assert names.count("kiln.cumsum") >= (2 if axis == 0 else 1)
