"""Functions with kiln.if / kiln.while / kiln.scan through kiln.compile: the
CPU backend declares them (codegen.llvm.INTERPRETED), so backend="auto"
runs them in the reference interpreter with a warning, for every scan
length T of one compiled function; backend="cpu" and AOT libraries refuse
them with a CompileError naming the op."""

from __future__ import annotations

import numpy as np
import pytest

import kiln
from kiln.codegen import llvm, triton
from kiln.ir import (
    Builder,
    CompileError,
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


def test_control_flow_ops_are_declared_fallbacks():
    for name in ("kiln.if", "kiln.while", "kiln.scan"):
        assert name in llvm.INTERPRETED and name in triton.HOST_OPS


@pytest.mark.parametrize("reverse", [False, True])
def test_auto_runs_the_interpreter_for_every_length(reverse):
    m = rnn(reverse)
    oracle = parse(str(m))
    with pytest.warns(UserWarning, match="kiln.scan"):
        exe = kiln.compile(m, "rnn")
    assert exe.backend == "interpreter"
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((4, 4)) * 0.5).astype(np.float32)
    for T, p in ((1, True), (6, False), (11, True)):
        xs = rng.standard_normal((T, 2, 4)).astype(np.float32)
        got = exe(np.bool_(p), xs, w)
        want = interpret(oracle, "rnn", np.bool_(p), xs, w)
        assert got[1].shape == (T, 2, 4)
        for g, v in zip(got, want):
            np.testing.assert_allclose(g, v, rtol=1e-6)


def test_cpu_backend_refuses_naming_the_op():
    with pytest.raises(CompileError, match=r"kiln\.(scan|if).*no kernel"):
        kiln.compile(rnn(), "rnn", backend="cpu")


def test_aot_refuses_naming_the_op(tmp_path):
    from kiln.passes import DEFAULT_PIPELINE, run_pipeline
    from kiln.runtime import aot

    m = rnn()
    run_pipeline(m, DEFAULT_PIPELINE)
    with pytest.raises(CompileError, match=r"kiln\.(scan|if)"):
        aot.build(m, "rnn", tmp_path)
