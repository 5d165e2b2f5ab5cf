"""Differential testing: random well-typed programs (elementwise, broadcasting,
reductions, matmul, reshape, transpose) through the reference interpreter and
the native CPU backend must agree (NaN where the other has NaN).

Small default example count (CI); KILN_DIFF_EXAMPLES raises it."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings

import kiln
from kiln.benchmarks.fuzz import agree, programs
from kiln.ir import interpret, parse

EXAMPLES = int(os.environ.get("KILN_DIFF_EXAMPLES", "12"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_interpreter_and_native_cpu_agree(program):
    text, values = program
    with np.errstate(all="ignore"):
        want = interpret(parse(text), "f", *values)
    got = kiln.compile(parse(text), "f", backend="cpu")(*values)
    for g, w in zip(got, want):
        agree(g, w)


def test_known_disagreements_are_gone():
    """reduce_prod over [3.4e38, 0, 2] (NaN natively before: a reassociated
    product overflowed first) and f32 1e30 cast to i32 (the interpreter wrapped,
    native saturated: both saturate now, XLA's convert)."""
    text = """
func @f(%x: tensor<3xf32>, %y: tensor<4xf32>) -> (tensor<f32>, tensor<4xi32>) {
  %p = kiln.reduce_prod %x {axes = [0]} : (tensor<3xf32>) -> tensor<f32>
  %c = kiln.cast %y {dtype = i32} : (tensor<4xf32>) -> tensor<4xi32>
  kiln.return %p, %c : (tensor<f32>, tensor<4xi32>) -> ()
}"""
    args = [np.array([3.4e38, 0, 2], np.float32), np.array([1e30, -1e30, 3.7, -2.9], np.float32)]
    want = [np.float32(0), np.array([2**31 - 1, -(2**31), 3, -2], np.int32)]
    for got in (interpret(parse(text), "f", *args), kiln.compile(parse(text), "f", "cpu")(*args)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
