"""The LLVM backend itself: vector code, the IR it shows, the compile cache,
and argument checks before native code runs."""

from __future__ import annotations

import gc
import re

import llvmlite.binding as llvm
import numpy as np
import pytest

from kiln.codegen import lower
from kiln.codegen.llvm import (
    compile_module,
    compiled_kernel,
    kernel_asm,
    kernel_ir,
    render,
    run_kernel,
)
from kiln.ir import ExecutionError


def chain(b, a):
    """max(2x + 1, 0)"""
    return [b.relu(b.add(b.mul(a[0], b.constant(2.0)), b.constant(1.0)))]


def test_float_pointwise_kernel_is_vectorised(kernels):
    if "+avx2" not in llvm.get_host_cpu_features().flatten():
        pytest.skip("the host has no AVX2")
    m, op = kernels.make_fused(["?xf32"], chain)
    asm = kernel_asm(op)
    assert re.search(r"\b[yz]mm\d+", asm), "no packed 256/512-bit registers"
    assert re.search(r"\bv(max|add|mul|fmadd\w*)ps\b", asm), "no packed float arithmetic"


def test_kernel_ir_before_and_after_optimisation(kernels):
    m, op = kernels.make_fused(["?xf32"], chain)
    rendered = kernel_ir(op, optimized=False)
    assert 'define internal i32 @"kernel.body"' in rendered and "noalias" in rendered
    assert "llvm.maximum.f32" in rendered
    optimized = kernel_ir(op)
    assert "<8 x float>" in optimized or "<16 x float>" in optimized


def test_compiled_once_per_kernel(kernels):
    m1, op1 = kernels.make_fused(["?xf32"], chain)
    m2, op2 = kernels.make_fused(["?xf32"], chain)  # another op, the same kernel
    assert compiled_kernel(op1)[1] is compiled_kernel(op2)[1]


def test_large_flat_kernel(kernels, rng):
    m, op = kernels.make_fused(["?xf32"], chain)
    x = rng.standard_normal(1_000_003).astype(np.float32)
    np.testing.assert_array_equal(run_kernel(op, x)[0], np.maximum(2 * x + 1, 0))


def test_non_contiguous_input_is_copied(kernels, rng):
    m, op = kernels.make_fused(["?x3xf32", "?x3xf32"], lambda b, a: [b.sub(*a)])
    x = rng.standard_normal((3, 5)).astype(np.float32)
    y = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(run_kernel(op, x.T, y)[0], x.T - y)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (lambda: [np.zeros((2, 5), np.float64), np.zeros(5, np.float32)], "expected dtype f32"),
        (lambda: [np.zeros(10, np.float32), np.zeros(5, np.float32)], "expected rank 2"),
        (lambda: [np.zeros((2, 4), np.float32), np.zeros(5, np.float32)], "does not fit"),
        (lambda: [np.zeros((2, 5), np.float32), np.zeros(4, np.float32)], "does not fit"),
        (lambda: [np.zeros((2, 5), np.float32)], "takes 2 inputs, got 1"),
    ],
)
def test_bad_arguments_are_kiln_errors(kernels, arrays, message):
    m, op = kernels.make_fused(["?x5xf32", "5xf32"], lambda b, a: [b.add(*a)])
    with pytest.raises(ExecutionError, match=message):
        run_kernel(op, *arrays())


def test_symbolic_dims_must_agree(kernels):
    m, op = kernels.make_fused(["?x5xf32", "?x5xf32"], lambda b, a: [b.add(*a)])
    with pytest.raises(ExecutionError, match="does not fit"):
        run_kernel(op, np.zeros((2, 5), np.float32), np.zeros((3, 5), np.float32))
    m, op = kernels.make_fused(["NxNxf32"], lambda b, a: [b.exp(a[0])])
    run_kernel(op, np.zeros((3, 3), np.float32))
    with pytest.raises(ExecutionError, match="does not fit"):
        run_kernel(op, np.zeros((2, 3), np.float32))


def test_freeing_compiled_code_leaves_the_rest_working(kernels, rng):
    """An execution engine frees its target machine with itself: each must own one."""
    m, op = kernels.make_fused(["?xf32"], lambda b, a: [b.exp(a[0])])
    dropped = compile_module(render(lower(op)))
    del dropped
    gc.collect()
    m, op = kernels.make_fused(["?xf32"], lambda b, a: [b.tanh(a[0])])
    kernels.check(m, op, rng.standard_normal(10).astype(np.float32), rtol=2e-6)
