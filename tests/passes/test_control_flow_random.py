"""Hypothesis-generated programs with kiln.if, kiln.while and kiln.scan
(nested up to two deep, on elementwise and matmul bodies): the text form
round-trips, the default pipeline (canonicalize, fold, CSE, LICM, DCE,
fuse, plan) keeps them computing what the reference interpreter computes
before it, and so does kiln.compile (backend="auto")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln
from kiln.ir import Builder, Module, TensorType, build_if, build_scan, build_while, interpret, parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline

X = TensorType("f64", [2, 3])
UNARY = ("tanh", "sigmoid", "neg", "relu")


def program(draw, b, values, depth):
    """Append a few ops to `b` on `values` (a list of [2, 3] f64 values); returns one value."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["unary", "binary", "if", "scan", "while"][: 2 + 3 * (depth < 2)])
        )
        pick = st.integers(0, len(values) - 1)
        x = values[draw(pick)]
        if kind == "unary":
            values.append(getattr(b, draw(st.sampled_from(UNARY)))(x))
        elif kind == "binary":
            y = values[draw(pick)]
            values.append(getattr(b, draw(st.sampled_from(["add", "mul", "sub"])))(x, y))
        elif kind == "if":
            y = values[draw(pick)]
            p = b.less(b.reduce_sum(x), b.reduce_sum(y))
            (out,) = build_if(
                b,
                p,
                [x, y],
                lambda bb, u, v: [program(draw, bb, [u, v], depth + 1)],
                lambda bb, u, v: [program(draw, bb, [v, u], depth + 1)],
            )
            values.append(out)
        elif kind == "scan":
            xs = b.broadcast_to(b.expand_dims(values[draw(pick)], axis=0), shape=[4, 2, 3])
            xs = b.mul(xs, b.constant(np.arange(1, 5, dtype=np.float64).reshape(4, 1, 1) / 4))

            def step(bb, h, w, s):
                nh = bb.tanh(bb.add(bb.mul(h, w), program(draw, bb, [s, h], depth + 1)))
                return [nh, w, bb.mul(nh, s)]

            h, _, ys = build_scan(b, [x, values[draw(pick)]], [xs], step, draw(st.booleans()))
            values += [h, b.reduce_mean(ys, axes=[0])]
        else:
            n = b.constant(draw(st.integers(0, 4)), "i32")

            def body(bb, i, n, u, v):
                nu = bb.tanh(program(draw, bb, [u, v], depth + 1))
                return [bb.add(i, bb.constant(1, "i32")), n, nu, v]

            out = build_while(
                b,
                [b.constant(0, "i32"), n, x, values[draw(pick)]],
                lambda bb, i, n, u, v: [bb.less(i, n)],
                body,
                draw(st.sampled_from([-1, 3])),
            )
            values.append(out[2])
    return values[-1]


@st.composite
def modules(draw):
    m = Module()
    f = m.add_function("f", [X, X], ["a", "c"])
    b = Builder.at_end(f.body)
    b.ret(program(draw, b, list(f.args), 0))
    return m.verify()


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(), st.integers(0, 2**32 - 1))
def test_random_control_flow_programs(m, seed):
    text = str(m)
    assert str(parse(text)) == text
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((2, 3)) for _ in range(2)]
    want = interpret(m, "f", *args)
    optimised = parse(text)
    run_pipeline(optimised, DEFAULT_PIPELINE)
    optimised.verify()
    for got, w in zip(interpret(optimised, "f", *args), want):
        np.testing.assert_allclose(got, w, rtol=1e-9, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exe = kiln.compile(parse(text), "f")
    for got, w in zip(exe(*args), want):
        np.testing.assert_allclose(got, w, rtol=1e-9, atol=1e-12)
