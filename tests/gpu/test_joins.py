# ruff: noqa: E501  (IR text)
"""kiln.pad and kiln.concat as Triton kernels (codegen/triton/joins.py)
against the reference interpreter: pad values (finite, -inf, ints, bools),
zero padding on some axes, symbolic and size-0 dims, a concat with an empty
operand and along the first and last axes."""

from __future__ import annotations

import numpy as np
import pytest


def _steps(exe, name):
    return [s for s in exe.compiled.steps if s.op.name == name]


@pytest.mark.parametrize("value", ["1.5", "-inf"])
def test_pad_of_floats_with_symbolic_and_empty_dims(gpu, rng, value):
    text = f"""func @f(%x: tensor<?x3x2xf32>) -> (tensor<?x6x3xf32>) {{
  %p = kiln.pad %x {{low = [0, 2, 0], high = [0, 1, 1], value = {value}}} : (tensor<?x3x2xf32>) -> tensor<?x6x3xf32>
  kiln.return %p : (tensor<?x6x3xf32>) -> ()
}}"""
    for n in (0, 1, 4):
        exe = gpu.compare(text, rng.standard_normal((n, 3, 2)).astype(np.float32))
        assert not exe.compiled.host_ops and _steps(exe, "kiln.pad")


@pytest.mark.parametrize("dtype", ["i32", "bool"])
def test_pad_of_ints_and_bools(gpu, rng, dtype):
    text = f"""func @f(%x: tensor<2x3x{dtype}>) -> (tensor<5x4x{dtype}>) {{
  %p = kiln.pad %x {{low = [1, 0], high = [2, 1], value = 1.0}} : (tensor<2x3x{dtype}>) -> tensor<5x4x{dtype}>
  kiln.return %p : (tensor<5x4x{dtype}>) -> ()
}}"""
    x = rng.integers(-5, 5, (2, 3))
    exe = gpu.compare(text, x.astype(np.int32) if dtype == "i32" else x > 0)
    assert not exe.compiled.host_ops


def test_concat_with_an_empty_operand_and_symbolic_dims(gpu, rng):
    text = """func @f(%a: tensor<?x2xf32>, %b: tensor<?x0xf32>, %c: tensor<?x3xf32>) -> (tensor<?x5xf32>) {
  %j = kiln.concat %a, %b, %c {axis = 1} : (tensor<?x2xf32>, tensor<?x0xf32>, tensor<?x3xf32>) -> tensor<?x5xf32>
  kiln.return %j : (tensor<?x5xf32>) -> ()
}"""
    for n in (0, 1, 3):
        exe = gpu.compare(
            text,
            rng.standard_normal((n, 2)).astype(np.float32),
            np.zeros((n, 0), np.float32),
            rng.standard_normal((n, 3)).astype(np.float32),
        )
        assert not exe.compiled.host_ops and _steps(exe, "kiln.concat")


def test_concat_of_ints_along_the_first_axis(gpu, rng):
    text = """func @f(%a: tensor<?x2x3xi32>, %b: tensor<1x2x3xi32>) -> (tensor<?x2x3xi32>) {
  %j = kiln.concat %b, %a, %b {axis = 0} : (tensor<1x2x3xi32>, tensor<?x2x3xi32>, tensor<1x2x3xi32>) -> tensor<?x2x3xi32>
  kiln.return %j : (tensor<?x2x3xi32>) -> ()
}"""
    for n in (0, 2):
        gpu.compare(
            text,
            rng.integers(-9, 9, (n, 2, 3)).astype(np.int32),
            rng.integers(-9, 9, (1, 2, 3)).astype(np.int32),
        )
