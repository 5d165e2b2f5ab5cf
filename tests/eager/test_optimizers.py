"""kl.optimizers (SGD, Adam, RMSprop) against their Keras formulas written in
numpy, eagerly and inside kl.function."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError


def _numpy_steps(name, w, grads_fn, steps, **kw):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        g = grads_fn(w)
        if name == "sgd":
            m = kw["momentum"] * m - kw["lr"] * g
            w = w + kw["momentum"] * m - kw["lr"] * g if kw["nesterov"] else w + m
        elif name == "adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            lr = kw["lr"] * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            w = w - lr * m / (np.sqrt(v) + 1e-7)
        else:
            v = 0.9 * v + 0.1 * g * g
            w = w - kw["lr"] * g / (np.sqrt(v) + 1e-7)
    return w


CASES = {
    "sgd": (
        lambda: kl.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    ),
    "adam": (lambda: kl.optimizers.Adam(0.05), {"lr": 0.05}),
    "rmsprop": (lambda: kl.optimizers.RMSprop(0.01), {"lr": 0.01}),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("traced", [False, True])
def test_updates_match_the_formulas(name, traced):
    make, kw = CASES[name]
    w0 = np.array([1.0, -2.0, 0.5])
    target = np.array([0.3, 0.1, -0.2])
    expected = _numpy_steps(name, w0.copy(), lambda w: 2 * (w - target), 5, **kw)
    with kl.eager_mode():
        w = kl.Variable(w0)
        opt = make()

        def step():
            with kl.GradientTape() as tape:
                loss = kl.reduce_sum(kl.square(w - target))
            opt.apply_gradients(zip([tape.gradient(loss, w)], [w]))

        run = kl.function(step) if traced else step
        for _ in range(5):
            run()
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-10)
    assert int(opt.iterations.read_value()) == 5


def test_minimize_a_callable_and_bad_arguments():
    with kl.eager_mode():
        w = kl.Variable(3.0)
        opt = kl.optimizers.get("sgd")
        opt.learning_rate = 0.1
        for _ in range(50):
            opt.minimize(lambda: (w - 1.0) * (w - 1.0), [w])
        assert abs(float(w.read_value()) - 1.0) < 1e-3
        with pytest.raises(GraphError, match="no gradients"):
            opt.apply_gradients([(None, w)])
        with pytest.raises(GraphError, match="unknown optimizer"):
            kl.optimizers.get("adadelta-ish")
