# ruff: noqa: E501  (IR text)
"""Reduction kernels through the GPU backend against the reference interpreter:
softmax as one kernel, row and column sums, every reduction kind, mean, NaN,
the looped form for a reduced extent too large for one block."""

import numpy as np

from kiln.ir import parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline


def test_softmax_is_one_kernel_and_matches(gpu, rng):
    text = """func @f(%x: tensor<?x37xf32>) -> tensor<?x37xf32> {
  %s = kiln.softmax %x : tensor<?x37xf32>
  kiln.return %s : tensor<?x37xf32>
}"""
    m = parse(text)
    run_pipeline(m, DEFAULT_PIPELINE)
    assert [op.name for op in m["f"].ops].count("kiln.fused") == 1
    exe = gpu.compare(text, rng.standard_normal((5, 37)).astype(np.float32))
    [step] = exe.compiled.steps
    assert "for k0" not in step.kernel.source  # the whole row is one block
    gpu.compare(text, rng.standard_normal((1, 37)).astype(np.float32) * 30)


def test_every_reduction_kind_over_rows_and_columns(gpu, rng):
    text = """func @f(%x: tensor<6x9xf32>, %i: tensor<6x9xi32>) -> (tensor<6xf32>, tensor<9xf32>, tensor<6xf32>, tensor<9xf32>, tensor<6xi64>, tensor<9xi64>, tensor<6xi32>, tensor<f32>, tensor<6xf32>) {
  %a = kiln.reduce_sum %x {axes = [1]} : (tensor<6x9xf32>) -> tensor<6xf32>
  %b = kiln.reduce_max %x {axes = [0]} : (tensor<6x9xf32>) -> tensor<9xf32>
  %c = kiln.reduce_min %x {axes = [1]} : (tensor<6x9xf32>) -> tensor<6xf32>
  %d = kiln.reduce_prod %x {axes = [0]} : (tensor<6x9xf32>) -> tensor<9xf32>
  %e = kiln.argmax %x {axis = 1} : (tensor<6x9xf32>) -> tensor<6xi64>
  %g = kiln.argmin %x {axis = 0} : (tensor<6x9xf32>) -> tensor<9xi64>
  %h = kiln.reduce_sum %i {axes = [1]} : (tensor<6x9xi32>) -> tensor<6xi32>
  %k = kiln.reduce_mean %x : (tensor<6x9xf32>) -> tensor<f32>
  %m = kiln.reduce_mean %x {axes = [1]} : (tensor<6x9xf32>) -> tensor<6xf32>
  kiln.return %a, %b, %c, %d, %e, %g, %h, %k, %m : (tensor<6xf32>, tensor<9xf32>, tensor<6xf32>, tensor<9xf32>, tensor<6xi64>, tensor<9xi64>, tensor<6xi32>, tensor<f32>, tensor<6xf32>) -> ()
}"""
    x = rng.standard_normal((6, 9)).astype(np.float32)
    x[2, 3] = x[2, 7] = 5.0  # a tie: the first index wins
    x[4, 4] = np.nan  # NaN wins max, min and argmax
    i = rng.integers(-1000, 1000, (6, 9)).astype(np.int32)
    gpu.compare(text, x, i)


def test_reduction_over_middle_axis_with_broadcast_operand(gpu, rng):
    text = """func @f(%x: tensor<?x7x5xf32>, %w: tensor<7x1xf32>) -> tensor<?x5xf32> {
  %m = kiln.mul %x, %w : (tensor<?x7x5xf32>, tensor<7x1xf32>) -> tensor<?x7x5xf32>
  %e = kiln.exp %m : tensor<?x7x5xf32>
  %s = kiln.reduce_sum %e {axes = [1]} : (tensor<?x7x5xf32>) -> tensor<?x5xf32>
  %l = kiln.log %s : tensor<?x5xf32>
  kiln.return %l : tensor<?x5xf32>
}"""
    w = rng.standard_normal((7, 1)).astype(np.float32)
    gpu.compare(text, rng.standard_normal((3, 7, 5)).astype(np.float32), w)


def test_large_symbolic_extent_loops_over_blocks(gpu, rng):
    text = """func @f(%x: tensor<2x?xf32>) -> (tensor<2xf32>, tensor<2x?xf32>, tensor<2xi64>) {
  %m = kiln.reduce_max %x {axes = [1], keepdims = true} : (tensor<2x?xf32>) -> tensor<2x1xf32>
  %d = kiln.sub %x, %m : (tensor<2x?xf32>, tensor<2x1xf32>) -> tensor<2x?xf32>
  %e = kiln.exp %d : tensor<2x?xf32>
  %s = kiln.reduce_sum %e {axes = [1]} : (tensor<2x?xf32>) -> tensor<2xf32>
  %a = kiln.argmax %x {axis = 1} : (tensor<2x?xf32>) -> tensor<2xi64>
  kiln.return %s, %e, %a : (tensor<2xf32>, tensor<2x?xf32>, tensor<2xi64>) -> ()
}"""
    exe = gpu.compare(text, rng.standard_normal((2, 3000)).astype(np.float32), rtol=1e-4)
    assert any("for k0" in s.kernel.source for s in exe.compiled.steps)
    gpu.compare(text, rng.standard_normal((2, 5)).astype(np.float32))


def test_reductions_over_axes_of_size_one(gpu, rng):
    """The reduced axes collapse away (every row is one element): the kernel is
    rendered as pointwise, each fold the element itself, argmax index 0."""
    text = """func @f(%x: tensor<?x1xf32>, %y: tensor<1xf32>, %i: tensor<4x1xi32>) -> (tensor<?xf32>, tensor<?xf32>, tensor<f32>, tensor<f32>, tensor<?xi64>, tensor<4xi32>, tensor<?xf32>) {
  %a = kiln.abs %x : (tensor<?x1xf32>) -> tensor<?x1xf32>
  %b = kiln.reduce_max %a {axes = [1]} : (tensor<?x1xf32>) -> tensor<?xf32>
  %c = kiln.reduce_sum %x {axes = [1]} : (tensor<?x1xf32>) -> tensor<?xf32>
  %d = kiln.reduce_min %y {axes = [0]} : (tensor<1xf32>) -> tensor<f32>
  %e = kiln.reduce_prod %y {axes = [0]} : (tensor<1xf32>) -> tensor<f32>
  %g = kiln.argmax %x {axis = 1} : (tensor<?x1xf32>) -> tensor<?xi64>
  %h = kiln.reduce_sum %i {axes = [1]} : (tensor<4x1xi32>) -> tensor<4xi32>
  %k = kiln.reduce_mean %x {axes = [1]} : (tensor<?x1xf32>) -> tensor<?xf32>
  kiln.return %b, %c, %d, %e, %g, %h, %k : (tensor<?xf32>, tensor<?xf32>, tensor<f32>, tensor<f32>, tensor<?xi64>, tensor<4xi32>, tensor<?xf32>) -> ()
}"""
    for n in (0, 1, 5):
        x = rng.standard_normal((n, 1)).astype(np.float32)
        if n:
            x[0, 0] = np.nan
        exe = gpu.compare(
            text,
            x,
            rng.standard_normal(1).astype(np.float32),
            rng.integers(-9, 9, (4, 1)).astype(np.int32),
        )
        assert not exe.compiled.host_ops
