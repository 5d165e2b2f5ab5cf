"""The whole pipeline preserves semantics, on hypothesis-generated graphs.

A random function mixes elementwise ops with broadcasting, constants (splat
0 and 1 for canonicalize, pairs of constants for fold), repeated ops (for
cse), unused ops (for dce), reductions with and without keepdims, matmuls
and reshapes, with a static or symbolic batch dim. The reference
interpreter must give the same results before and after
"decompose,canonicalize,fold,cse,dce,fuse,plan", and the buffer plan must
replay without overwriting a live value.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.ir import Builder, KilnError, Module, TensorType, interpret, parse
from kiln.passes import DEFAULT_PIPELINE, PassManager, run_pipeline
from kiln.passes.plan import check_plan

B, F = 3, 4
UNARY = ["neg", "abs", "relu", "tanh", "sigmoid", "square"]
BINARY = ["add", "sub", "mul", "max", "min"]


def _broadcastable(a: tuple, b: tuple) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b)))


@st.composite
def graphs(draw):
    batch = draw(st.sampled_from([B, "?", "N"]))
    m = Module()
    f = m.add_function(
        "f",
        [TensorType("f32", [batch, F]), TensorType("f32", [F]), TensorType("f32", [F, F])],
        ["x", "v", "w"],
    )
    b = Builder.at_end(f.body)
    pool = list(f.args)

    def shape(v):
        return tuple(B if not isinstance(d, int) else d for d in v.type.shape)

    for _ in range(draw(st.integers(3, 14))):
        kind = draw(
            st.sampled_from(
                [
                    "unary",
                    "binary",
                    "binary",
                    "const",
                    "repeat",
                    "reduce",
                    "matmul",
                    "reshape",
                    "identity",
                ]
            )
        )
        x = draw(st.sampled_from(pool))
        if kind == "unary":
            pool.append(getattr(b, draw(st.sampled_from(UNARY)))(x))
        elif kind == "binary":
            ys = [
                y
                for y in pool
                if _broadcastable(shape(x), shape(y)) and y.type.dtype == x.type.dtype
            ]
            pool.append(getattr(b, draw(st.sampled_from(BINARY)))(x, draw(st.sampled_from(ys))))
        elif kind == "const":
            c1 = b.constant(np.float32(draw(st.sampled_from([0.0, 1.0, 2.0, -0.5]))))
            c2 = b.constant(np.arange(F, dtype=np.float32) / 4)
            pool.append(b.add(c1, c2) if draw(st.booleans()) else c1)
        elif kind == "repeat":
            pool.append(b.tanh(x))
            pool.append(b.tanh(x))
        elif kind == "identity":
            one = b.constant(np.float32(1.0))
            zero = b.constant(np.float32(0.0))
            pool.append(b.add(b.mul(x, one), zero) if x.type.rank else b.mul(x, one))
        elif kind == "reduce" and x.type.rank >= 1:
            op = draw(st.sampled_from(["reduce_sum", "reduce_max", "reduce_mean"]))
            axis = draw(st.integers(0, x.type.rank - 1))
            pool.append(getattr(b, op)(x, axes=[axis], keepdims=draw(st.booleans())))
        elif kind == "matmul" and x.type.rank == 2 and x.type.shape[1] == F:
            pool.append(b.relu(b.add(b.matmul(x, f.args[2]), f.args[1])))
        elif kind == "reshape" and x.type.rank == 2 and x.type.shape[1] == F:
            r = b.reshape(x, shape=[-1, F // 2, 2])
            pool.append(b.reshape(b.exp(r), shape=[-1, F]))
    k = draw(st.integers(1, 3))
    outs = [pool[-1]] + draw(st.lists(st.sampled_from(pool[3:] or pool), max_size=k - 1))
    b.ret(*outs)
    return m


def _args(seed: int):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(-2, 2, (B, F)).astype(np.float32),
        rng.uniform(-2, 2, F).astype(np.float32),
        rng.uniform(-1, 1, (F, F)).astype(np.float32),
    ]


PIPELINES = [DEFAULT_PIPELINE, "canonicalize,cse,plan"]  # the second plans many small ops


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**16), st.sampled_from(PIPELINES))
def test_pipeline_preserves_results(module, seed, pipeline):
    text = str(module)
    args = _args(seed)
    before = interpret(module, "f", *args)
    optimised = parse(text)
    run_pipeline(optimised, pipeline)
    check_plan(optimised["f"])
    after = interpret(optimised, "f", *args)
    assert len(before) == len(after)
    for x, y in zip(before, after):
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)
    # and the optimised text reads back to itself
    assert str(parse(str(optimised))) == str(optimised)


def test_pipeline_strings_and_errors():
    m = parse(
        "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n"
        "  %a = kiln.neg %x : tensor<2xf32>\n  %b = kiln.neg %a : tensor<2xf32>\n"
        "  kiln.return %b : tensor<2xf32>\n}\n"
    )
    report = run_pipeline(m, " canonicalize , dce ")
    assert [str(r.step) for r in report.records] == ["canonicalize", "dce"]
    assert report.stat("rewrites") == 1 and "kiln.neg" not in str(m)
    assert "canonicalize" in str(report)
    with pytest.raises(KilnError, match="unknown pass 'nope'"):
        PassManager("canonicalize,nope")
    with pytest.raises(KilnError, match="bad option 'size=3'"):
        PassManager("fold{size=3}")
    with pytest.raises(KilnError, match="--print-ir-after: unknown pass"):
        PassManager("fold", print_after=["folds"])


def test_print_ir_after(capsys):
    import io

    out = io.StringIO()
    m = parse(
        "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n"
        "  %a = kiln.exp %x : tensor<2xf32>\n  kiln.return %a : tensor<2xf32>\n}\n"
    )
    PassManager("canonicalize,fuse", print_after=["fuse"], out=out).run(m)
    assert out.getvalue().count("IR after") == 1 and "kiln.fused" in out.getvalue()


def test_a_broken_pass_is_named_by_the_verifier():
    from kiln.passes.manager import PASSES, register_pass

    @register_pass("test-break")
    def _break(module):
        func = module["f"]
        func.result_types = []  # now the return disagrees with the signature

    try:
        m = parse(
            "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  kiln.return %x : tensor<2xf32>\n}\n"
        )
        with pytest.raises(KilnError, match="after pass test-break"):
            run_pipeline(m, "test-break")
    finally:
        del PASSES["test-break"]
