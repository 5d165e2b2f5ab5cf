"""Gradients through kiln.if, kiln.scan and kiln.while against central
differences through the reference interpreter (float64), second order
through kiln.if, symbolic scan length."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.ir import (
    Builder,
    KilnError,
    Module,
    TensorType,
    build_if,
    build_scan,
    build_while,
    interpret,
    parse,
)
from kiln.passes.autodiff import differentiate

rng = np.random.default_rng(19)
F64 = "f64"


def numeric_gradient(loss, args, i, eps=1e-6):
    out = np.zeros_like(args[i])
    for index in np.ndindex(args[i].shape):
        shifted = []
        for sign in (1, -1):
            moved = [np.array(a, copy=True) for a in args]
            moved[i][index] += sign * eps
            shifted.append(loss(moved))
        out[index] = (shifted[0] - shifted[1]) / (2 * eps)
    return out


def check_gradients(m, args, wrt, name="f", tol=1e-6):
    """@<name>_grad seeded with random cotangents against central differences."""
    outs = interpret(m, name, *args)
    seeds = [rng.standard_normal(o.shape) for o in outs]
    grad = differentiate(m, name, wrt, of=range(len(outs)), seeds=True)
    m.verify()
    assert parse(str(m)) == m
    got = interpret(m, grad.name, *args, *seeds)
    for want, have in zip(outs, got):
        np.testing.assert_allclose(have, want, rtol=1e-12)

    def loss(xs):
        return sum(float(np.sum(s * o)) for s, o in zip(seeds, interpret(m, name, *xs)))

    for k, i in enumerate(wrt):
        np.testing.assert_allclose(
            got[len(outs) + k],
            numeric_gradient(loss, list(args), i),
            rtol=tol,
            atol=tol,
            err_msg=f"gradient of argument {i}",
        )
    return grad


def module(types, names, body):
    m = Module()
    f = m.add_function("f", types, names)
    b = Builder.at_end(f.body)
    out = body(b, *f.args)
    b.ret(*out)
    return m.verify()


def if_module():
    def body(b, p, x, w):
        return build_if(
            b,
            p,
            [x, w],
            lambda b, x, w: [b.mul(b.tanh(x), w), b.exp(x)],
            lambda b, x, w: [b.mul(x, b.mul(w, w)), b.neg(x)],
        )

    t = TensorType(F64, [3])
    return module([TensorType("bool", []), t, t], ["p", "x", "w"], body)


@pytest.mark.parametrize("pred", [True, False])
def test_if_gradient(pred):
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    check_gradients(if_module(), [np.bool_(pred), x, w], wrt=[1, 2])


@pytest.mark.parametrize("pred", [True, False])
def test_if_second_order(pred):
    """The gradient function holds a kiln.if of the adjoints; differentiating it
    again gives second derivatives (a Hessian-vector product here)."""
    m = if_module()
    t = TensorType(F64, [3])
    grad = differentiate(m, "f", [1, 2], of=[0, 1], seeds=True)
    # @g(p, x, w, s0, s1) = the two gradients; its gradient again by differences
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    s0, s1 = rng.standard_normal(3), rng.standard_normal(3)
    args = [np.bool_(pred), x, w, s0, s1]
    assert grad.arg_types[1:3] == [t, t]
    outs = interpret(m, grad.name, *args)
    v = [rng.standard_normal(o.shape) for o in outs]
    second = differentiate(m, grad.name, [1, 2], of=range(len(outs)), seeds=True)
    got = interpret(m, second.name, *args, *v)

    def loss(xs):
        return sum(float(np.sum(s * o)) for s, o in zip(v, interpret(m, grad.name, *xs)))

    for k, i in enumerate([1, 2]):
        np.testing.assert_allclose(
            got[len(outs) + k], numeric_gradient(loss, args, i), rtol=1e-5, atol=1e-6
        )


def rnn_module(reverse=False, length="T"):
    """h_t = tanh(h W + x_t), y_t = h_t * x_t, W carried unchanged (as a
    frontend passes a weight into the loop)."""

    def body(b, xs, h0, w):
        def step(b, h, w, x):
            h2 = b.tanh(b.add(b.matmul(h, w), x))
            return [h2, w, b.mul(h2, x)]

        return build_scan(b, [h0, w], [xs], step, reverse=reverse)

    return module(
        [TensorType(F64, [length, 2, 3]), TensorType(F64, [2, 3]), TensorType(F64, [3, 3])],
        ["xs", "h0", "w"],
        body,
    )


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T", [1, 5])
def test_scan_gradient_symbolic_length(T, reverse):
    m = rnn_module(reverse)
    xs = rng.standard_normal((T, 2, 3)) * 0.5
    h0, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)) * 0.5
    check_gradients(m, [xs, h0, w], wrt=[0, 1, 2])


def test_scan_gradient_is_one_function_for_every_length():
    m = rnn_module()
    grad = differentiate(m, "f", [0, 1, 2], of=[0, 2], seeds=True)
    m.verify()
    for T in (2, 7):
        xs = rng.standard_normal((T, 2, 3))
        h0, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
        out = interpret(m, grad.name, xs, h0, w, np.ones((2, 3)), np.ones((T, 2, 3)))
        assert out[3].shape == (T, 2, 3)


def test_scan_with_an_integer_counter_and_int_xs():
    """Integer carried values and xs carry no cotangent; the float ones do."""

    def body(b, xs, ks, h0):
        def step(b, i, h, x, k):
            scale = b.cast(b.add(i, k), dtype="f64")
            return [b.add(i, b.constant(1, "i32")), b.add(b.mul(h, scale), b.tanh(x)), h]

        out = build_scan(b, [b.constant(0, "i32"), h0], [xs, ks], step)
        return out[1:]

    m = module(
        [TensorType(F64, [4, 2]), TensorType("i32", [4]), TensorType(F64, [2])],
        ["xs", "ks", "h0"],
        body,
    )
    xs, h0 = rng.standard_normal((4, 2)), rng.standard_normal(2)
    ks = np.array([1, -1, 2, 0], np.int32)
    check_gradients(m, [xs, ks, h0], wrt=[0, 2])


def while_module(max_iterations):
    def body(b, n, x, w):
        def cond(b, i, n, x, w):
            return [b.less(i, n)]

        def step(b, i, n, x, w):
            return [b.add(i, b.constant(1, "i32")), n, b.tanh(b.add(b.mul(x, w), w)), w]

        out = build_while(b, [b.constant(0, "i32"), n, x, w], cond, step, max_iterations)
        return out[2:3]

    t = TensorType(F64, [3])
    return module([TensorType("i32", []), t, t], ["n", "x", "w"], body)


@pytest.mark.parametrize("n", [0, 1, 4, 9])
def test_while_gradient_bounded(n):
    m = while_module(6)
    x, w = rng.standard_normal(3), rng.standard_normal(3)
    check_gradients(m, [np.int32(n), x, w], wrt=[1, 2])


def test_while_gradient_needs_a_bound():
    m = while_module(-1)
    with pytest.raises(KilnError, match=r"kiln.while.*max_iterations"):
        differentiate(m, "f", [1, 2], of=[0], seeds=True)
