"""The control-flow region ops kiln.if, kiln.while, kiln.scan: construction,
text round trip, verifier errors and the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.ir import (
    Block,
    Builder,
    Module,
    Region,
    TensorType,
    VerifyError,
    build_if,
    build_scan,
    build_while,
    interpret,
    parse,
)

F3 = TensorType("f32", [3])
B0 = TensorType("bool", [])
I0 = TensorType("i32", [])


def _if_module():
    m = Module()
    f = m.add_function("f", [B0, F3], ["p", "x"])
    b = Builder.at_end(f.body)
    (y,) = build_if(b, f.args[0], [f.args[1]], lambda b, x: [b.neg(x)], lambda b, x: [b.exp(x)])
    b.ret(y)
    return m.verify()


def _scan_module(reverse=False):
    m = Module()
    f = m.add_function("f", [TensorType("f32", ["T", 3]), F3], ["xs", "h0"])
    b = Builder.at_end(f.body)

    def body(b, h, x):
        h2 = b.tanh(b.add(h, x))
        return [h2, b.mul(h2, x)]

    h, ys = build_scan(b, [f.args[1]], [f.args[0]], body, reverse=reverse)
    b.ret(h, ys)
    return m.verify()


def _while_module(max_iterations=-1):
    m = Module()
    f = m.add_function("f", [I0, F3], ["n", "x"])
    b = Builder.at_end(f.body)
    i0 = b.constant(0, "i32")

    def cond(b, i, n, a):
        return [b.less(i, n)]

    def body(b, i, n, a):
        return [
            b.add(i, b.constant(1, "i32")),
            n,
            b.add(b.mul(a, b.constant(0.5)), b.constant(1.0)),
        ]

    _, _, a = build_while(b, [i0, f.args[0], f.args[1]], cond, body, max_iterations)
    b.ret(a)
    return m.verify()


def _scan_reference(xs, h, reverse=False):
    ys = np.zeros_like(xs)
    steps = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
    for t in steps:
        h = np.tanh(h + xs[t])
        ys[t] = h * xs[t]
    return h, ys


@pytest.mark.parametrize("make", [_if_module, _scan_module, _while_module])
def test_round_trip(make):
    m = make()
    text = str(m)
    again = parse(text).verify()
    assert str(again) == text
    assert again == m


def test_if_interpreter_takes_the_branch():
    m = _if_module()
    x = np.array([0.5, -1.0, 2.0], np.float32)
    np.testing.assert_allclose(interpret(m, "f", True, x)[0], -x)
    np.testing.assert_allclose(interpret(m, "f", False, x)[0], np.exp(x), rtol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T", [1, 4, 9])
def test_scan_interpreter_symbolic_length(T, reverse):
    m = _scan_module(reverse)
    rng = np.random.default_rng(T)
    xs = rng.standard_normal((T, 3)).astype(np.float32)
    h0 = rng.standard_normal(3).astype(np.float32)
    h, ys = interpret(m, "f", xs, h0)
    wh, wys = _scan_reference(xs, h0, reverse)
    np.testing.assert_allclose(h, wh, rtol=1e-5)
    np.testing.assert_allclose(ys, wys, rtol=1e-5)
    assert "tensor<Tx3xf32>" in str(m)


def test_scan_of_length_zero():
    m = _scan_module()
    h0 = np.ones(3, np.float32)
    h, ys = interpret(m, "f", np.zeros((0, 3), np.float32), h0)
    np.testing.assert_array_equal(h, h0)
    assert ys.shape == (0, 3)


@pytest.mark.parametrize("n,bound", [(0, -1), (3, -1), (7, -1), (7, 4)])
def test_while_interpreter(n, bound):
    m = _while_module(bound)
    x = np.array([1.0, 2.0, -3.0], np.float32)
    want = x.copy()
    for _ in range(n if bound < 0 else min(n, bound)):
        want = want * 0.5 + 1
    np.testing.assert_allclose(interpret(m, "f", np.int32(n), x)[0], want, rtol=1e-6)


# ------------------------------------------------------------------ verifier errors


def test_if_branches_of_different_types():
    m = Module()
    f = m.add_function("f", [B0, F3])
    b = Builder.at_end(f.body)
    with pytest.raises(VerifyError, match=r"kiln.if.*else region yields"):
        build_if(b, f.args[0], [f.args[1]], lambda b, x: [x], lambda b, x: [b.reduce_sum(x)])


def test_if_predicate_must_be_a_bool_scalar():
    m = Module()
    f = m.add_function("f", [TensorType("bool", [2]), F3])
    b = Builder.at_end(f.body)
    with pytest.raises(VerifyError, match=r"kiln.if.*predicate must be a rank-0 bool"):
        build_if(b, f.args[0], [f.args[1]], lambda b, x: [x], lambda b, x: [x])
    f2 = m.add_function("g", [TensorType("f32", []), F3])
    with pytest.raises(VerifyError, match=r"kiln.if.*predicate"):
        build_if(
            Builder.at_end(f2.body), f2.args[0], [f2.args[1]], lambda b, x: [x], lambda b, x: [x]
        )


def test_while_body_changes_a_carried_type():
    m = Module()
    f = m.add_function("f", [F3])
    b = Builder.at_end(f.body)
    with pytest.raises(VerifyError, match=r"kiln.while.*body region yields"):
        build_while(
            b,
            [f.args[0]],
            lambda b, x: [b.less(b.reduce_sum(x), b.constant(1.0))],
            lambda b, x: [b.reduce_sum(x)],
        )


def test_while_cond_must_yield_one_bool():
    m = Module()
    f = m.add_function("f", [F3])
    b = Builder.at_end(f.body)
    with pytest.raises(VerifyError, match=r"kiln.while.*cond region's yield"):
        build_while(b, [f.args[0]], lambda b, x: [b.reduce_sum(x)], lambda b, x: [x])


def test_scan_errors():
    m = Module()
    f = m.add_function("f", [F3, TensorType("f32", [4, 3]), TensorType("f32", [5, 3])])
    b = Builder.at_end(f.body)
    with pytest.raises(VerifyError, match=r"kiln.scan.*same length"):
        build_scan(b, [f.args[0]], [f.args[1], f.args[2]], lambda b, h, x, y: [h])
    with pytest.raises(VerifyError, match=r"kiln.scan.*carried values"):
        build_scan(b, [f.args[0]], [f.args[1]], lambda b, h, x: [b.reduce_sum(h)])


def test_region_argument_types_checked():
    """A hand-built kiln.if whose region takes the wrong types."""
    m = Module()
    f = m.add_function("f", [B0, F3])
    bad = Block([TensorType("f32", [4])])
    Builder.at_end(bad).create("kiln.yield", bad.args[0])
    good = Block([F3])
    Builder.at_end(good).create("kiln.yield", good.args[0])
    with pytest.raises(VerifyError, match=r"kiln.if.*then region takes"):
        Builder.at_end(f.body).create("kiln.if", *f.args, regions=[Region([bad]), Region([good])])


def test_parse_rejects_a_bad_region():
    text = str(_if_module()).replace(
        "kiln.exp %3 : tensor<3xf32>", "kiln.reduce_sum %3 : (tensor<3xf32>) -> tensor<f32>"
    )
    text = text.replace("kiln.yield %4 : tensor<3xf32>", "kiln.yield %4 : tensor<f32>")
    with pytest.raises(Exception, match=r"kiln.if"):
        parse(text).verify()
