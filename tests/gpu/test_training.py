"""The MLP training step through the GPU backend matches the reference
interpreter; device selection (kl.device, Session(device=), KILN_DEVICE);
variables stay in device memory between runs."""

import warnings

import numpy as np
import pytest

import kiln as kl
from kiln.runtime.gpu import DeviceArray


def _mlp(seed: int = 0):
    """A 12-16-16-4 MLP with softmax cross-entropy and Adam (TensorFlow 1.x style)."""
    graph = kl.Graph()
    with graph.as_default():
        kl.set_random_seed(seed)
        x = kl.placeholder(kl.float32, (None, 12), name="x")
        y = kl.placeholder(kl.float32, (None, 4), name="y")
        h = kl.layers.dense(x, 16, activation=kl.nn.relu)
        h = kl.layers.dense(h, 16, activation=kl.nn.tanh)
        logits = kl.layers.dense(h, 4)
        loss = kl.reduce_mean(kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
        train = kl.train.AdamOptimizer(0.01).minimize(loss)
        init = kl.global_variables_initializer()
    return graph, x, y, loss, train, init


def _train(session_kwargs, steps=3):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((10, 12)).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 10)]
    graph, x, y, loss, train, init = _mlp()
    with kl.Session(graph=graph, **session_kwargs) as sess:
        sess.run(init)
        losses = [float(sess.run([train, loss], {x: data, y: labels})[1]) for _ in range(steps)]
        weights = [sess.variable_value(v) for v in graph.get_collection("trainable_variables")]
        return losses, weights, sess.backends


def test_mlp_training_step_matches_interpreter():
    want_losses, want_weights, _ = _train({"backend": "interpreter"})
    with pytest.warns(UserWarning, match="kiln.random"):  # the initializers run on the host
        losses, weights, backends = _train({"device": "/gpu:0"})
    assert backends == {"gpu": 2}  # the initializer and the training step
    np.testing.assert_allclose(losses, want_losses, rtol=1e-4)
    for w, v in zip(weights, want_weights):
        np.testing.assert_allclose(w, v, rtol=1e-4, atol=1e-5)


def test_variables_stay_on_the_device():
    graph = kl.Graph()
    with graph.as_default():
        v = kl.Variable(np.ones(3, np.float32), name="v")
        step = v.assign_add(kl.constant(np.full(3, 2.0, np.float32)))
        init = kl.global_variables_initializer()
    with kl.device("/gpu:0"), kl.Session(graph=graph) as sess:
        sess.run(init)
        sess.run(step)
        sess.run(step)
        assert isinstance(sess._values[v.op], DeviceArray)
        np.testing.assert_array_equal(sess.variable_value(v), [5, 5, 5])


@pytest.mark.slow
def test_kiln_device_env_and_fallback_without_gpu(monkeypatch):
    from kiln.ir import parse

    text = """func @f(%x: tensor<3xf32>) -> tensor<3xf32> {
  %e = kiln.exp %x : tensor<3xf32>
  kiln.return %e : tensor<3xf32>
}"""
    monkeypatch.setenv("KILN_DEVICE", "gpu")
    assert kl.compile(parse(text), "f").backend == "gpu"
    monkeypatch.setenv("TRITON_INTERPRET", "")  # as on a machine without a GPU
    import kiln.runtime.gpu as gpu

    monkeypatch.setattr(gpu, "gpu_available", lambda: False)
    with pytest.warns(UserWarning, match="no GPU"):
        exe = kl.compile(parse(text), "f", backend="gpu")
    assert exe.backend in ("cpu", "interpreter")
    np.testing.assert_allclose(exe(np.zeros(3, np.float32))[0], np.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(kl.GraphError, match="unknown device"):
            with kl.device("/tpu:0"):
                pass
