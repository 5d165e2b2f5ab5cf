"""kl.GradientTape: the SPEC program, agreement with graph-mode kl.gradients
(the same autodiff), finite differences, nesting, persistence, structures."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError

FUNCTIONS = {
    "poly": (lambda x: kl.reduce_sum(x * x * x - 2.0 * x), (3,)),
    "tanh_sigmoid": (lambda x: kl.reduce_sum(kl.tanh(x) * kl.sigmoid(x)), (2, 3)),
    "softmax_ce": (
        lambda x: kl.reduce_mean(
            kl.nn.softmax_cross_entropy_with_logits_v2(labels=np.eye(3)[[0, 2]], logits=x)
        ),
        (2, 3),
    ),
    "matmul_relu": (lambda x: kl.reduce_sum(kl.nn.relu(kl.matmul(x, kl.transpose(x)))), (3, 2)),
    "slices_concat": (lambda x: kl.reduce_max(kl.concat([x[:, :1] * 3.0, kl.exp(x)], 1)), (2, 3)),
    "broadcast": (
        lambda x: kl.reduce_sum(kl.log(1.0 + x * x) / (1.0 + kl.reduce_mean(x, 0))),
        (4, 2),
    ),
}


def test_the_spec_program():
    with kl.eager_mode():
        x = kl.constant(3.0)
        with kl.GradientTape() as g:
            g.watch(x)
            y = x * x
        assert g.gradient(y, x) == 6.0


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_tape_equals_graph_gradients_and_finite_differences(name):
    f, shape = FUNCTIONS[name]
    value = np.random.default_rng(1).uniform(0.2, 1.5, shape)
    graph = kl.Graph()
    with graph.as_default():
        x = kl.placeholder(kl.float64, shape)
        (graph_grad,) = kl.gradients(f(x), x)
        with kl.Session() as s:
            expected = s.run(graph_grad, {x: value})
    with kl.eager_mode():
        xe = kl.constant(value)
        with kl.GradientTape() as tape:
            tape.watch(xe)
            y = f(xe)
        got = tape.gradient(y, xe).numpy()
        eps, numeric = 1e-6, np.zeros_like(value)
        for i in np.ndindex(shape):
            d = np.zeros_like(value)
            d[i] = eps
            numeric[i] = (float(f(kl.constant(value + d))) - float(f(kl.constant(value - d)))) / (
                2 * eps
            )
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-7)


def test_second_derivatives_by_nesting():
    with kl.eager_mode():
        for v in (-1.3, 0.2, 0.9):
            x = kl.constant(v, kl.float64)
            with kl.GradientTape() as outer:
                outer.watch(x)
                with kl.GradientTape() as inner:
                    inner.watch(x)
                    y = kl.tanh(x) * x
                dy = inner.gradient(y, x)
            d2 = outer.gradient(dy, x)
            t = np.tanh(v)
            np.testing.assert_allclose(float(dy), t + v * (1 - t * t), rtol=1e-12)
            np.testing.assert_allclose(
                float(d2), 2 * (1 - t * t) - 2 * v * t * (1 - t * t), rtol=1e-10
            )


def test_third_derivative_and_persistent_tapes():
    with kl.eager_mode():
        x = kl.constant(2.0, kl.float64)
        with kl.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x * x * x * x
            d1 = t.gradient(y, x)
            d2 = t.gradient(d1, x)
        assert float(d1) == 32.0 and float(d2) == 48.0
        assert float(t.gradient(d2, x)) == 48.0  # 24 x
        assert float(t.gradient(y, x)) == 32.0  # a persistent tape answers again
        with kl.GradientTape() as once:
            once.watch(x)
            z = x * 2.0
        once.gradient(z, x)
        with pytest.raises(GraphError, match="persistent"):
            once.gradient(z, x)


def test_variables_are_watched_automatically():
    with kl.eager_mode():
        w = kl.Variable([[1.0, 2.0], [3.0, 4.0]])
        frozen = kl.Variable([1.0, 1.0], trainable=False)
        x = kl.constant([[1.0, -1.0]])
        with kl.GradientTape() as tape:
            y = kl.reduce_sum(kl.matmul(x, w) * frozen) + kl.reduce_sum(w * w)  # w read twice
        gw, gf = tape.gradient(y, [w, frozen])
        np.testing.assert_allclose(gw.numpy(), [[3.0, 5.0], [5.0, 7.0]])
        assert gf is None
        assert tape.watched_variables() == [w]
        with kl.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(frozen)
            y = kl.reduce_sum(w * frozen)
        gw, gf = tape.gradient(y, [w, frozen])
        assert gw is None
        np.testing.assert_allclose(gf.numpy(), [4.0, 6.0])


def test_structures_output_gradients_and_unconnected():
    with kl.eager_mode():
        a, b = kl.constant([1.0, 2.0]), kl.constant(3.0)
        c = kl.constant(5.0)
        with kl.GradientTape(persistent=True) as t:
            t.watch([a, b, c])
            y1, y2 = a * b, b * b
        grads = t.gradient({"p": y1, "q": y2}, {"a": a, "bc": (b, c)})
        np.testing.assert_allclose(grads["a"].numpy(), [3.0, 3.0])
        assert float(grads["bc"][0]) == 3.0 + 6.0 and grads["bc"][1] is None
        zero = t.gradient(y1, c, unconnected_gradients=kl.UnconnectedGradients.ZERO)
        assert float(zero) == 0.0
        weighted = t.gradient(y1, a, output_gradients=kl.constant([1.0, 10.0]))
        np.testing.assert_allclose(weighted.numpy(), [3.0, 30.0])


def test_stop_recording_and_stop_gradient():
    with kl.eager_mode():
        x = kl.constant(2.0)
        with kl.GradientTape() as t:
            t.watch(x)
            y = x * x
            with t.stop_recording():
                z = y * 100.0  # not recorded: a constant to the tape
            w = y * kl.stop_gradient(x) + z
        assert float(t.gradient(w, x)) == 2.0 * 2.0 * 2.0 + 0.0
        with kl.GradientTape() as t:
            y = x * x  # x not watched
        assert t.gradient(y, x) is None


def test_integer_targets_are_refused():
    with kl.eager_mode():
        x = kl.constant(2.0)
        with kl.GradientTape() as t:
            t.watch(x)
            y = kl.cast(x, kl.int32)
        with pytest.raises(GraphError, match="floating"):
            t.gradient(y, x)
