# ruff: noqa: E501  (IR text)
"""Pointwise kernels through the GPU backend (Triton's interpreter) against the
reference interpreter: broadcasting, symbolic dims, int and bool ops, casts,
math functions, faults."""

import re

import numpy as np
import pytest

from kiln.ir import ExecutionError


def test_float_chain_with_broadcasting(gpu, rng):
    text = """func @f(%x: tensor<?x5x6xf32>, %b: tensor<6xf32>, %c: tensor<5x1xf32>) -> tensor<?x5x6xf32> {
  %a = kiln.add %x, %b : (tensor<?x5x6xf32>, tensor<6xf32>) -> tensor<?x5x6xf32>
  %m = kiln.mul %a, %c : (tensor<?x5x6xf32>, tensor<5x1xf32>) -> tensor<?x5x6xf32>
  %t = kiln.tanh %m : tensor<?x5x6xf32>
  %s = kiln.sigmoid %t : tensor<?x5x6xf32>
  %e = kiln.elu %s : tensor<?x5x6xf32>
  %r = kiln.relu %e : tensor<?x5x6xf32>
  kiln.return %r : tensor<?x5x6xf32>
}"""
    b, c = rng.standard_normal(6).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32)
    for n in (3, 1):
        gpu.compare(text, rng.standard_normal((n, 5, 6)).astype(np.float32), b, c)


def test_math_functions_and_nan_max(gpu, rng):
    text = """func @f(%x: tensor<64xf64>, %y: tensor<64xf64>) -> (tensor<64xf64>, tensor<64xf64>, tensor<64xf64>, tensor<64xf64>) {
  %p = kiln.pow %x, %y : tensor<64xf64>
  %m = kiln.max %x, %y : tensor<64xf64>
  %a = kiln.abs %x : tensor<64xf64>
  %l = kiln.log %a : tensor<64xf64>
  %q = kiln.rsqrt %a : tensor<64xf64>
  %g = kiln.sign %x : tensor<64xf64>
  %t = kiln.tanh %x : tensor<64xf64>
  %s = kiln.add %q, %g : tensor<64xf64>
  kiln.return %p, %m, %l, %s : (tensor<64xf64>, tensor<64xf64>, tensor<64xf64>, tensor<64xf64>) -> ()
}"""
    x = rng.standard_normal(64) * 3
    x[:8] = [np.nan, 0.0, -0.0, np.inf, -np.inf, 1.0, -2.0, 1e-9]
    y = np.round(rng.standard_normal(64) * 2)
    y[8:16] = rng.standard_normal(8)
    y[16] = np.nan
    gpu.compare(text, x, y, rtol=1e-10, atol=1e-12)


def test_int_and_bool_ops(gpu, rng):
    text = """func @f(%x: tensor<7x9xi32>, %y: tensor<9xi32>, %z: tensor<7x9xi8>) -> (tensor<7x9xi32>, tensor<7x9xbool>, tensor<7x9xi8>, tensor<7x9xf32>) {
  %d = kiln.div %x, %y : (tensor<7x9xi32>, tensor<9xi32>) -> tensor<7x9xi32>
  %p = kiln.pow %d, %y : (tensor<7x9xi32>, tensor<9xi32>) -> tensor<7x9xi32>
  %l = kiln.less %x, %y : (tensor<7x9xi32>, tensor<9xi32>) -> tensor<7x9xbool>
  %g = kiln.greater_equal %p, %x : (tensor<7x9xi32>, tensor<7x9xi32>) -> tensor<7x9xbool>
  %o = kiln.logical_or %l, %g : tensor<7x9xbool>
  %n = kiln.logical_not %o : tensor<7x9xbool>
  %w = kiln.mul %z, %z : tensor<7x9xi8>
  %c = kiln.cast %n {dtype = "f32"} : (tensor<7x9xbool>) -> tensor<7x9xf32>
  %s = kiln.select %n, %x, %p : (tensor<7x9xbool>, tensor<7x9xi32>, tensor<7x9xi32>) -> tensor<7x9xi32>
  kiln.return %s, %n, %w, %c : (tensor<7x9xi32>, tensor<7x9xbool>, tensor<7x9xi8>, tensor<7x9xf32>) -> ()
}"""
    x = rng.integers(-50, 50, (7, 9)).astype(np.int32)
    y = rng.integers(1, 5, 9).astype(np.int32) * np.where(np.arange(9) % 2, 1, -1).astype(np.int32)
    y[y < 0] = np.abs(y[y < 0])  # a negative int power is a fault, tested below
    z = rng.integers(-128, 127, (7, 9)).astype(np.int8)
    gpu.compare(text, x, y, z)


def test_casts(gpu):
    text = """func @f(%x: tensor<8xf32>) -> (tensor<8xi32>, tensor<8xbool>, tensor<8xf64>) {
  %i = kiln.cast %x {dtype = "i32"} : (tensor<8xf32>) -> tensor<8xi32>
  %b = kiln.cast %x {dtype = "bool"} : (tensor<8xf32>) -> tensor<8xbool>
  %d = kiln.cast %i {dtype = "f64"} : (tensor<8xi32>) -> tensor<8xf64>
  kiln.return %i, %b, %d : (tensor<8xi32>, tensor<8xbool>, tensor<8xf64>) -> ()
}"""
    gpu.compare(text, np.array([1.7, -1.7, 0.0, -0.0, 3e3, 0.5, -0.5, 9.99], np.float32))


def test_faults_are_execution_errors(gpu):
    import kiln
    from kiln.ir import parse

    div = """func @f(%x: tensor<5xi64>, %y: tensor<5xi64>) -> tensor<5xi64> {
  %d = kiln.div %x, %y : tensor<5xi64>
  kiln.return %d : tensor<5xi64>
}"""
    exe = kiln.compile(parse(div), "f", backend="gpu")
    x = np.arange(5, dtype=np.int64)
    np.testing.assert_array_equal(exe(x, np.full(5, 2, np.int64))[0], x // 2)
    with pytest.raises(ExecutionError, match="integer division by zero"):
        exe(x, np.array([1, 1, 0, 1, 1], np.int64))
    cast = """func @f(%x: tensor<3xf32>) -> tensor<3xi32> {
  %i = kiln.cast %x {dtype = "i32"} : (tensor<3xf32>) -> tensor<3xi32>
  kiln.return %i : tensor<3xi32>
}"""
    exe = kiln.compile(parse(cast), "f", backend="gpu")
    with pytest.raises(ExecutionError, match="non-finite"):
        exe(np.array([1, np.nan, 2], np.float32))


def test_bad_arguments_are_kiln_errors(gpu):
    import kiln
    from kiln.ir import parse

    text = """func @f(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %e = kiln.exp %x : tensor<?x4xf32>
  kiln.return %e : tensor<?x4xf32>
}"""
    exe = kiln.compile(parse(text), "f", backend="gpu")
    with pytest.raises(ExecutionError, match="wrong dtype"):
        exe(np.ones((2, 4)))
    with pytest.raises(ExecutionError, match="wrong shape"):
        exe(np.ones((2, 3), np.float32))
    with pytest.raises(ExecutionError, match="takes 1 arguments"):
        exe()


@pytest.mark.parametrize("level", [1, 2, 3])
def test_kiln_debug_lists_the_triton_kernels(gpu, monkeypatch, capsys, level):
    import kiln
    from kiln.ir import parse

    text = """func @f(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %e = kiln.exp %x : tensor<?x4xf32>
  %s = kiln.softmax %e : tensor<?x4xf32>
  kiln.return %s : tensor<?x4xf32>
}"""
    monkeypatch.setenv("KILN_DEBUG", str(level))
    exe = kiln.compile(parse(text), "f", backend="gpu")
    exe(np.ones((2, 4), np.float32))
    err = capsys.readouterr().err
    assert "@f on the GPU" in err and "fused:reduction: built in" in err
    assert re.search(r"kernel @k\d+_fused first launch, grid \[\d+\]: [\d.]+ ms", err)
    assert ("kernel form of @" in err) == (level >= 2)
    assert ("Triton source of @" in err and "@triton.jit" in err) == (level >= 3)
