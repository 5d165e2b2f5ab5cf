# ruff: noqa: E501  (IR text)
"""Matmul and conv templates with their fused epilogues through the GPU backend
against the reference interpreter: ragged tile edges, transposes, batches,
integer products, padding, strides; and the strided-copy kernels."""

import numpy as np


def test_matmul_bias_relu_with_ragged_edges(gpu, rng):
    text = """func @f(%x: tensor<?x37xf32>, %w: tensor<37x21xf32>, %b: tensor<21xf32>) -> (tensor<?x21xf32>, tensor<?x21xbool>) {
  %m = kiln.matmul %x, %w : (tensor<?x37xf32>, tensor<37x21xf32>) -> tensor<?x21xf32>
  %a = kiln.add %m, %b : (tensor<?x21xf32>, tensor<21xf32>) -> tensor<?x21xf32>
  %r = kiln.relu %a : tensor<?x21xf32>
  %z = kiln.constant {value = dense<0.0> : tensor<f32>} : tensor<f32>
  %g = kiln.greater %a, %z : (tensor<?x21xf32>, tensor<f32>) -> tensor<?x21xbool>
  kiln.return %r, %g : (tensor<?x21xf32>, tensor<?x21xbool>) -> ()
}"""
    w = rng.standard_normal((37, 21)).astype(np.float32)
    b = rng.standard_normal(21).astype(np.float32)
    exe = gpu.compare(
        text, rng.standard_normal((19, 37)).astype(np.float32), w, b, rtol=1e-4, atol=1e-5
    )
    [step] = exe.compiled.steps
    assert "tl.dot" in step.kernel.source
    gpu.compare(text, rng.standard_normal((1, 37)).astype(np.float32), w, b, rtol=1e-4, atol=1e-5)


def test_transposed_and_batched_matmul(gpu, rng):
    text = """func @f(%a: tensor<3x20x9xf32>, %b: tensor<17x20xf32>, %c: tensor<2x1x5x6xf64>, %d: tensor<3x6x4xf64>) -> (tensor<3x9x17xf32>, tensor<2x3x5x4xf64>) {
  %m = kiln.matmul %a, %b {transpose_a = true, transpose_b = true} : (tensor<3x20x9xf32>, tensor<17x20xf32>) -> tensor<3x9x17xf32>
  %n = kiln.matmul %c, %d : (tensor<2x1x5x6xf64>, tensor<3x6x4xf64>) -> tensor<2x3x5x4xf64>
  %s = kiln.sub %n, %n : tensor<2x3x5x4xf64>
  %t = kiln.add %n, %s : tensor<2x3x5x4xf64>
  kiln.return %m, %t : (tensor<3x9x17xf32>, tensor<2x3x5x4xf64>) -> ()
}"""
    gpu.compare(
        text,
        rng.standard_normal((3, 20, 9)).astype(np.float32),
        rng.standard_normal((17, 20)).astype(np.float32),
        rng.standard_normal((2, 1, 5, 6)),
        rng.standard_normal((3, 6, 4)),
        rtol=1e-4,
        atol=1e-5,
    )


def test_integer_matmul_and_vector_operands(gpu, rng):
    text = """func @f(%a: tensor<5x7xi32>, %b: tensor<7x3xi32>, %v: tensor<7xf32>, %w: tensor<7x4xf32>) -> (tensor<5x3xi32>, tensor<4xf32>) {
  %m = kiln.matmul %a, %b : (tensor<5x7xi32>, tensor<7x3xi32>) -> tensor<5x3xi32>
  %n = kiln.matmul %v, %w : (tensor<7xf32>, tensor<7x4xf32>) -> tensor<4xf32>
  kiln.return %m, %n : (tensor<5x3xi32>, tensor<4xf32>) -> ()
}"""
    gpu.compare(
        text,
        rng.integers(-9, 9, (5, 7)).astype(np.int32),
        rng.integers(-9, 9, (7, 3)).astype(np.int32),
        rng.standard_normal(7).astype(np.float32),
        rng.standard_normal((7, 4)).astype(np.float32),
        rtol=1e-4,
        atol=1e-5,
    )


def test_conv_with_padding_strides_and_epilogue(gpu, rng):
    text = """func @f(%x: tensor<?x7x6x3xf32>, %k: tensor<3x3x3x5xf32>, %b: tensor<5xf32>) -> (tensor<?x7x6x5xf32>, tensor<?x3x2x5xf32>) {
  %c = kiln.conv2d %x, %k {strides = [1, 1], padding = "SAME"} : (tensor<?x7x6x3xf32>, tensor<3x3x3x5xf32>) -> tensor<?x7x6x5xf32>
  %a = kiln.add %c, %b : (tensor<?x7x6x5xf32>, tensor<5xf32>) -> tensor<?x7x6x5xf32>
  %r = kiln.relu %a : tensor<?x7x6x5xf32>
  %d = kiln.conv2d %x, %k {strides = [2, 2], padding = "VALID"} : (tensor<?x7x6x3xf32>, tensor<3x3x3x5xf32>) -> tensor<?x3x2x5xf32>
  kiln.return %r, %d : (tensor<?x7x6x5xf32>, tensor<?x3x2x5xf32>) -> ()
}"""
    exe = gpu.compare(
        text,
        rng.standard_normal((2, 7, 6, 3)).astype(np.float32),
        rng.standard_normal((3, 3, 3, 5)).astype(np.float32),
        rng.standard_normal(5).astype(np.float32),
        rtol=1e-4,
        atol=1e-5,
    )
    kinds = [s.op.kind for s in exe.compiled.steps if s.op.name == "kiln.fused"]
    assert kinds.count("conv") == 2


def test_strided_copies(gpu, rng):
    text = """func @f(%x: tensor<4x5x6xf32>, %v: tensor<5x1xf32>) -> (tensor<6x4x5xf32>, tensor<2x5x3xf32>, tensor<3x5x4xf32>) {
  %t = kiln.transpose %x {perm = [2, 0, 1]} : (tensor<4x5x6xf32>) -> tensor<6x4x5xf32>
  %s = kiln.slice %x {axes = [0, 2], starts = [1, 0], stops = [4, 6], steps = [2, 2]} : (tensor<4x5x6xf32>) -> tensor<2x5x3xf32>
  %b = kiln.broadcast_to %v {shape = [3, 5, 4]} : (tensor<5x1xf32>) -> tensor<3x5x4xf32>
  kiln.return %t, %s, %b : (tensor<6x4x5xf32>, tensor<2x5x3xf32>, tensor<3x5x4xf32>) -> ()
}"""
    exe = gpu.compare(
        text,
        rng.standard_normal((4, 5, 6)).astype(np.float32),
        rng.standard_normal((5, 1)).astype(np.float32),
    )
    assert not exe.compiled.host_ops
