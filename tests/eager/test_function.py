"""kl.function: one trace per signature (symbolic batch), variables captured by
reference and updated in place, the same training trajectory as a Session."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError


def test_traces_once_per_signature_with_a_symbolic_batch():
    traces = []

    @kl.function
    def f(x, scale):
        traces.append(1)  # Python side effects run at trace time only
        return kl.reduce_sum(x * scale, axis=1)

    with kl.eager_mode():
        a = f(np.ones((2, 3), np.float32), 2.0)
        b = f(np.ones((5, 3), np.float32), 2.0)  # new batch: same executable
        np.testing.assert_allclose(a.numpy(), [6.0, 6.0])
        np.testing.assert_allclose(b.numpy(), [6.0] * 5)
        assert f.trace_count == 1 and len(traces) == 1
        f(np.ones((2, 4), np.float32), 2.0)  # another inner dim
        f(np.ones((2, 3), np.float32), 3.0)  # another Python value
        f(np.ones((2, 3), np.float64), 2.0)  # another dtype
        assert f.trace_count == 4


def test_python_control_flow_unrolls_and_structures_come_back():
    @kl.function
    def f(inputs, n):
        x = inputs["x"]
        for _ in range(n):
            x = x * 2.0
        return {"doubled": x, "pair": (x, inputs["y"] + 1)}

    out = f({"x": np.float32(1.5), "y": np.int32(4)}, 3)
    assert float(out["doubled"]) == 12.0
    assert int(out["pair"][1]) == 5 and out["pair"][1].dtype is kl.int32


def test_variables_are_captured_by_reference_and_updated_in_place():
    with kl.eager_mode():
        v = kl.Variable([1.0, 2.0])
        counter = kl.Variable(0, trainable=False)

        @kl.function
        def step(x):
            counter.assign_add(1)
            v.assign(v * x)
            return v + 0.0  # a read after the assign sees the new value

        out = step(np.float32(3.0))
        np.testing.assert_allclose(out.numpy(), [3.0, 6.0])
        np.testing.assert_allclose(v.numpy(), [3.0, 6.0])
        v.assign([1.0, 1.0])  # an eager update is seen by the next call
        step(np.float32(2.0))
        np.testing.assert_allclose(v.numpy(), [2.0, 2.0])
        assert int(counter.read_value()) == 2 and step.trace_count == 1


def test_input_signature_and_jit_compile():
    @kl.function(input_signature=[kl.TensorSpec([None, 2], kl.float32)], jit_compile=True)
    def f(x):
        return kl.matmul(x, kl.constant([[1.0], [2.0]]))

    np.testing.assert_allclose(f([[1.0, 1.0]]).numpy(), [[3.0]])
    np.testing.assert_allclose(f(np.ones((3, 2))).numpy(), [[3.0]] * 3)
    assert f.trace_count == 1
    assert f.get_concrete_function(np.ones((1, 2))).executable.backend == "cpu"
    with pytest.raises(GraphError, match="TensorSpec"):
        f(np.ones((2, 3)))


def test_eager_tensors_are_captured_as_constants():
    with kl.eager_mode():
        c = kl.constant([1.0, 2.0])

        @kl.function
        def f(x):
            return x + c

        np.testing.assert_allclose(f(np.float32(1.0)).numpy(), [2.0, 3.0])


def _mlp_params(rng):
    return [
        rng.standard_normal((4, 8)).astype(np.float32) * 0.5,
        np.zeros(8, np.float32),
        rng.standard_normal((8, 3)).astype(np.float32) * 0.5,
        np.zeros(3, np.float32),
    ]


def _mlp_loss(x, y, w1, b1, w2, b2):
    h = kl.nn.relu(kl.matmul(x, w1) + b1)
    return kl.reduce_mean(
        kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=kl.matmul(h, w2) + b2)
    )


@pytest.mark.slow
def test_a_traced_training_step_follows_the_session_trajectory():
    rng = np.random.default_rng(3)
    init = _mlp_params(rng)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    graph = kl.Graph()
    with graph.as_default():
        xp, yp = kl.placeholder(kl.float32, (None, 4)), kl.placeholder(kl.float32, (None, 3))
        gvars = [kl.Variable(p) for p in init]
        loss = _mlp_loss(xp, yp, *gvars)
        train = kl.train.GradientDescentOptimizer(0.1).minimize(loss)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            graph_losses = [s.run([loss, train], {xp: x, yp: y})[0] for _ in range(20)]
    with kl.eager_mode():
        evars = [kl.Variable(p) for p in init]
        opt = kl.optimizers.SGD(0.1)

        @kl.function
        def step(x, y):
            with kl.GradientTape() as tape:
                value = _mlp_loss(x, y, *evars)
            opt.apply_gradients(zip(tape.gradient(value, evars), evars))
            return value

        losses = [float(step(x, y)) for _ in range(20)]
    np.testing.assert_allclose(losses, graph_losses, rtol=1e-5)
    assert losses[-1] < losses[0] * 0.7 and int(opt.iterations.read_value()) == 20


def test_calls_with_arrays_reuse_the_trace_their_specs_pick():
    """Calls whose arguments are all arrays or eager tensors take the short path:
    the batch dim varies without a retrace; a dtype, a rank or a trailing dim
    retraces, exactly as the general path would."""
    traces = []

    @kl.function
    def f(a, b):
        traces.append(a.dtype)
        return kl.reduce_sum(a * 2.0, axis=-1) + kl.cast(b, a.dtype)

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    one, zero = np.array(1, np.float32), np.array(0, np.float32)
    with kl.eager_mode():
        for _ in range(3):
            np.testing.assert_allclose(f(x, one).numpy(), [7.0, 25.0])
        np.testing.assert_allclose(f(x[:1], zero).numpy(), [6.0])  # the batch: same trace
        np.testing.assert_allclose(f(kl.constant(x), zero).numpy(), [6.0, 24.0])
        assert f.trace_count == 1
        np.testing.assert_allclose(f(x.astype(np.float64), zero).numpy(), [6.0, 24.0])
        np.testing.assert_allclose(f(x.reshape(3, 2), zero).numpy(), [2.0, 10.0, 18.0])
        np.testing.assert_allclose(f(x[None], zero).numpy(), [[6.0, 24.0]])
        assert f.trace_count == 4
    assert traces == [kl.float32, kl.float64, kl.float32, kl.float32]
