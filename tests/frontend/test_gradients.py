"""kl.gradients against central finite differences (float64), second
derivatives, grad_ys, unconnected inputs and stop_gradient."""

import numpy as np
import pytest

import kiln as kl


@pytest.fixture(autouse=True)
def fresh_graph():
    with kl.Graph().as_default() as g:
        yield g


def _check(build, shapes, seed=0, positive=False):
    """d reduce_sum(build(*xs)) / d xs by kl.gradients vs finite differences."""
    rng = np.random.default_rng(seed)
    values = [rng.uniform(0.5, 2.0, s) if positive else rng.standard_normal(s) for s in shapes]
    xs = [kl.placeholder(kl.float64, s) for s in shapes]
    y = kl.reduce_sum(build(*xs))
    grads = kl.gradients(y, xs)
    with kl.Session() as s:
        got = s.run(grads, dict(zip(xs, values)))
        eps = 1e-6
        for i, v in enumerate(values):
            want = np.zeros_like(v)
            for idx in np.ndindex(v.shape):
                hi, lo = [a.copy() for a in values], [a.copy() for a in values]
                hi[i][idx] += eps
                lo[i][idx] -= eps
                want[idx] = (s.run(y, dict(zip(xs, hi))) - s.run(y, dict(zip(xs, lo)))) / (2 * eps)
            np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-7)


CASES = {
    "dense": (lambda x, w, b: kl.nn.relu(kl.matmul(x, w) + b) * 1.0, [(3, 4), (4, 2), (2,)], False),
    "softmax_xent": (
        lambda x, z: kl.nn.softmax_cross_entropy_with_logits_v2(labels=kl.nn.softmax(z), logits=x),
        [(3, 5), (3, 5)],
        False,
    ),
    "sigmoid_xent": (
        lambda x, z: kl.nn.sigmoid_cross_entropy_with_logits(labels=kl.sigmoid(z), logits=x),
        [(4,), (4,)],
        False,
    ),
    "log_sqrt_div": (lambda x, y: kl.log(x) * kl.sqrt(y) / (x + y), [(5,), (5,)], True),
    "reductions": (
        lambda x: (
            kl.reduce_max(x, axis=1, keepdims=True) * kl.reduce_mean(x, axis=0, keepdims=True)
            + kl.reduce_min(x)
        ),
        [(3, 4)],
        False,
    ),
    "shapes": (
        lambda x: (
            kl.transpose(kl.reshape(x, [4, 3]))[1:, ::2]
            * kl.concat([x[:, :1], x[:, 1:2]], axis=1)[:1, :1]
        ),
        [(3, 4)],
        False,
    ),
    "conv_pool": (
        lambda x, w: kl.nn.avg_pool(kl.nn.conv2d(x, w, 1, "SAME"), 2, 2, "VALID"),
        [(1, 4, 4, 2), (3, 3, 2, 2)],
        False,
    ),
    "tanh_elu_square": (
        lambda x: kl.tanh(x) + kl.nn.elu(x) * kl.square(x) - kl.abs(x + 10.0),
        [(6,)],
        False,
    ),
    "maximum_where": (
        lambda x, y: kl.maximum(x, y * 3.0) + kl.where(x > y, x, -y),
        [(6,), (6,)],
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_finite_differences(case):
    build, shapes, positive = CASES[case]
    _check(build, shapes, positive=positive)


def test_second_derivatives():
    x = kl.placeholder(kl.float64, ())
    for f, d2 in [
        (lambda x: kl.tanh(x), lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
        (lambda x: x * x * x, lambda v: 6 * v),
    ]:
        (g1,) = kl.gradients(f(x), x)
        (g2,) = kl.gradients(g1, x)
        with kl.Session() as s:
            for v in (-1.3, 0.2, 0.9):
                np.testing.assert_allclose(s.run(g2, {x: v}), d2(v), rtol=1e-10)


def test_second_derivative_of_softmax_cross_entropy():
    logits = kl.placeholder(kl.float64, (1, 3))
    labels = np.array([[0.2, 0.3, 0.5]])
    loss = kl.reduce_sum(kl.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
    (g,) = kl.gradients(loss, logits)
    # the Hessian of softmax CE is diag(p) - p p^T: its row sums vanish
    (h0,) = kl.gradients(g[0, 0], logits)
    v = np.array([[0.1, -0.4, 0.7]])
    p = np.exp(v) / np.exp(v).sum()
    with kl.Session() as s:
        np.testing.assert_allclose(s.run(g, {logits: v}), p - labels, rtol=1e-10)
        np.testing.assert_allclose(
            s.run(h0, {logits: v})[0], p[0, 0] * (np.eye(3)[0] - p[0]), rtol=1e-9, atol=1e-12
        )


def test_grad_ys_unconnected_and_stop_gradient():
    x = kl.placeholder(kl.float32, (3,))
    w = kl.Variable([1.0, 2.0, 3.0])
    unused = kl.Variable(1.0)
    y = x * w
    gx, gw, gu = kl.gradients(y, [x, w, unused], grad_ys=[kl.constant([1.0, 0.0, 2.0])])
    assert gu is None
    (gs,) = kl.gradients(kl.stop_gradient(y) * w, x)
    assert gs is None
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        a, b = s.run([gx, gw], {x: [4.0, 5.0, 6.0]})
    np.testing.assert_allclose(a, [1.0, 0.0, 6.0])
    np.testing.assert_allclose(b, [4.0, 0.0, 12.0])


def test_gradient_of_integer_is_an_error():
    with pytest.raises(kl.GraphError, match="only floating-point"):
        kl.gradients(kl.constant(3) * 2, kl.constant(1))


@pytest.mark.slow
def test_deep_graph_has_no_recursion_limit():
    x = kl.placeholder(kl.float32, ())
    y = x
    for _ in range(3000):
        y = y * 1.0001
    (g,) = kl.gradients(y, x)
    with kl.Session() as s:
        np.testing.assert_allclose(s.run(g, {x: 1.0}), 1.0001**3000, rtol=1e-3)


def test_register_gradient_and_override_map():
    @kl.RegisterGradient("ReverseGrad_test")
    def _reverse(op, grad):
        return [-grad * 3.0]

    @kl.RegisterGradient("SquareTimesX_test")
    def _square(op, grad):
        x = op.inputs[0]
        return [grad * 2.0 * x + op.outputs[0] * 0.0]

    with pytest.raises(kl.GraphError, match="already registered"):
        kl.RegisterGradient("ReverseGrad_test")(_reverse)
    g = kl.get_default_graph()
    x = kl.placeholder(kl.float32, (None, 2))
    with g.gradient_override_map({"Identity": "ReverseGrad_test", "Square": "SquareTimesX_test"}):
        r = kl.identity(x)
        s = kl.square(x)
    plain = kl.identity(x)
    (gr,) = kl.gradients(kl.reduce_sum(r * 2.0), x)
    (gs,) = kl.gradients(kl.reduce_sum(s), x)
    (gp,) = kl.gradients(kl.reduce_sum(plain * 2.0), x)
    v = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    with kl.Session() as sess:
        np.testing.assert_allclose(sess.run(gr, {x: v}), np.full((2, 2), -6.0))
        np.testing.assert_allclose(sess.run(gs, {x: v}), 2 * v)
        np.testing.assert_allclose(sess.run(gp, {x: v}), np.full((2, 2), 2.0))
