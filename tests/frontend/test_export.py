"""kl.export_ir: each form of model gives a module that parses back and computes
what the model computes (checked with the reference interpreter)."""

import numpy as np

import kiln as kl
from kiln.ir import interpret, parse


def _run(module, *args):
    (func,) = list(module)
    return interpret(module, func.name, *[np.asarray(a) for a in args])


def test_keras_model_forward_matches_predict(tmp_path):
    with kl.eager_mode():
        model = kl.keras.Sequential(
            [
                kl.keras.layers.Dense(5, activation="relu", input_shape=(3,)),
                kl.keras.layers.Dense(2),
            ]
        )
        x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
        want = model.predict(x)
        path = tmp_path / "model.kiln"
        module = kl.export_ir(model, path=str(path))
    text = path.read_text()
    assert str(parse(text)) == text
    (got,) = _run(module, x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_session_fetch_frozen_matches_session_run():
    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(kl.float32, (None, 2), name="x")
        w = kl.Variable(np.array([[1.0], [-2.0]], np.float32), name="w")
        y = kl.tanh(kl.matmul(x, w), name="y")
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            feed = np.array([[0.5, 0.25], [1.0, -1.0]], np.float32)
            want = sess.run(y, {x: feed})
            module = kl.export_ir(y, session=sess)
    (func,) = list(module)
    assert len(func.args) == 1  # the variable is frozen: only the feed remains
    (got,) = _run(module, feed)
    np.testing.assert_allclose(got, want, rtol=1e-6)
