"""Functions with kiln.if / kiln.while / kiln.scan through kiln.compile: the
CPU entry runs them natively (codegen.llvm.CONTROL; runtime/control.py),
for every scan length T of one compiled function, and AOT libraries hold
them too (tests/runtime/test_native_loops.py has the rest)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kiln
from kiln.codegen import llvm, triton
from kiln.ir import (
    Builder,
    ExecutionError,
    Module,
    TensorType,
    build_if,
    build_scan,
    interpret,
    parse,
)


def rnn(reverse=False):
    m = Module()
    f = m.add_function(
        "rnn",
        [TensorType("bool", []), TensorType("f32", ["T", 2, 4]), TensorType("f32", [4, 4])],
        ["p", "xs", "w"],
    )
    b = Builder.at_end(f.body)
    p, xs, w = f.args

    def step(b, h, w, x):
        h2 = b.tanh(b.add(b.matmul(h, w), x))
        return [h2, w, b.relu(h2)]

    h0 = b.broadcast_to(b.constant(0.0), shape=[2, 4])
    h, _, ys = build_scan(b, [h0, w], [xs], step, reverse=reverse)
    (out,) = build_if(b, p, [h], lambda b, h: [b.neg(h)], lambda b, h: [b.exp(h)])
    b.ret(out, ys)
    return m.verify()


def test_control_flow_ops_are_declared_native():
    for name in ("kiln.if", "kiln.while", "kiln.scan"):
        assert name in llvm.CONTROL and name not in llvm.INTERPRETED
        assert name in triton.HOST_OPS


@pytest.mark.parametrize("reverse", [False, True])
def test_auto_runs_natively_for_every_length(reverse):
    m = rnn(reverse)
    oracle = parse(str(m))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        exe = kiln.compile(m, "rnn")
    assert exe.backend == "cpu"
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((4, 4)) * 0.5).astype(np.float32)
    for T, p in ((0, True), (1, True), (6, False), (11, True)):
        xs = rng.standard_normal((T, 2, 4)).astype(np.float32)
        got = exe(np.bool_(p), xs, w)
        want = interpret(oracle, "rnn", np.bool_(p), xs, w)
        assert got[1].shape == (T, 2, 4)
        for g, v in zip(got, want):
            np.testing.assert_allclose(g, v, rtol=1e-5, atol=1e-6)
    assert len(exe.compiled.plans) == 4  # one compiled function, a plan per length


def test_cpu_backend_compiles_the_regions_kernels():
    exe = kiln.compile(rnn(), "rnn", backend="cpu")
    names = [s.kernel.name for s in exe.compiled.steps]
    assert any("r0_" in n for n in names), names  # kernels inside the scan's body


def test_mismatched_lengths_are_an_execution_error():
    m = Module()
    f = m.add_function("two", [TensorType("f32", ["?", 3]), TensorType("f32", ["?", 3])])
    b = Builder.at_end(f.body)
    (ys,) = build_scan(b, [], list(f.args), lambda b, x, y: [b.add(x, y)])
    b.ret(ys)
    exe = kiln.compile(m.verify(), "two", backend="cpu")
    with pytest.raises(ExecutionError, match=r"kiln\.scan.*xs 1 has length 2, xs 0 has 3"):
        exe(np.zeros((3, 3), np.float32), np.zeros((2, 3), np.float32))
