"""Eager execution: ops run at once, values convert to numpy, Python control
flow, the kernel cache, variables, and how eager mode is entered."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend import eager
from kiln.frontend.graph import GraphError


def test_ops_run_at_once_and_convert_to_numpy():
    with kl.eager_mode():
        a = kl.constant([[1.0, 2.0], [3.0, 4.0]])
        b = kl.matmul(a, a) + 1.0
        assert isinstance(b, kl.EagerTensor)
        np.testing.assert_allclose(b.numpy(), [[8.0, 11.0], [16.0, 23.0]])
        np.testing.assert_allclose(
            np.asarray(kl.nn.softmax(a)),
            np.exp([[1, 2], [3, 4]]) / np.exp([[1, 2], [3, 4]]).sum(1, keepdims=True),
            rtol=1e-6,
        )
        assert b.shape == [2, 2] and b.dtype is kl.float32
        assert "kl.Tensor([[ 8., 11.]" in repr(b) and "shape=(2, 2)" in str(b)
        assert [float(r[0]) for r in b] == [8.0, 16.0]


def test_python_control_flow_on_scalars():
    with kl.eager_mode():
        x = kl.constant(5)
        steps = 0
        while x > 1:  # Collatz
            x = x // 2 if int(x) % 2 == 0 else 3 * x + 1
            steps += 1
        assert steps == 5 and int(x) == 1
        assert f"{kl.constant(0.25):.2f}" == "0.25"
        assert [10, 20, 30][kl.constant(1)] == 20
        with pytest.raises(ValueError):
            bool(kl.constant([1.0, 2.0]))


def test_kernel_cache_keys_on_op_attributes_and_shapes():
    with kl.eager_mode():
        x = kl.constant(np.ones((3, 4), np.float32))
        before = len(eager._KERNELS)
        for _ in range(3):
            kl.reduce_sum(x, axis=1)
        assert len(eager._KERNELS) == before + 1
        kl.reduce_sum(x, axis=0)  # another attribute
        kl.reduce_sum(kl.constant(np.ones((2, 4), np.float32)), axis=1)  # another shape
        assert len(eager._KERNELS) == before + 3


def test_compiled_kernels_agree_with_the_reference():
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((8, 5)).astype(np.float32)
    w_np = rng.standard_normal((5, 3)).astype(np.float32)
    results = {}
    try:
        for backend in ("reference", "compiled"):
            eager.set_eager_backend(backend)
            with kl.eager_mode():
                y = kl.nn.relu(kl.matmul(kl.constant(a_np), kl.constant(w_np)) - 0.1)
                results[backend] = kl.reduce_mean(y, axis=0).numpy()
        assert eager.kernel_cache_info()["compiled"] > 0
    finally:
        eager.set_eager_backend("auto")
    np.testing.assert_allclose(results["compiled"], results["reference"], rtol=1e-5)
    np.testing.assert_allclose(
        results["reference"], np.maximum(a_np @ w_np - 0.1, 0).mean(0), rtol=1e-5
    )


def test_eager_errors_name_the_op():
    with kl.eager_mode():
        with pytest.raises(GraphError, match="MatMul"):
            kl.matmul(kl.constant(np.ones((2, 3))), kl.constant(np.ones((2, 3))))
        with pytest.raises(GraphError, match="placeholder"):
            kl.placeholder(kl.float32, (None, 2))
        with pytest.raises(GraphError, match="already a tensor"):
            kl.constant(kl.constant(1.0))


def test_enable_and_disable_eager_execution():
    assert not kl.executing_eagerly()
    kl.enable_eager_execution()
    try:
        assert kl.executing_eagerly()
        assert float(kl.constant(2.0) * 3.0) == 6.0
        with kl.Graph().as_default():  # a graph context builds a graph again
            assert not kl.executing_eagerly()
            assert not isinstance(kl.constant(1.0), kl.EagerTensor)
    finally:
        kl.disable_eager_execution()
    assert not kl.executing_eagerly()
    assert not isinstance(kl.constant(1.0), kl.EagerTensor)


def test_variables_assign_in_place():
    with kl.eager_mode():
        v = kl.Variable([1.0, 2.0], name="v")
        assert isinstance(v, kl.Variable) and v.name == "v:0"
        v.assign([3.0, 4.0])
        v.assign_add(kl.constant([1.0, 1.0]))
        v.assign_sub([0.5, 0.5])
        np.testing.assert_allclose(v.numpy(), [3.5, 4.5])
        np.testing.assert_allclose((v * 2.0).numpy(), [7.0, 9.0])
        with pytest.raises(GraphError, match="shape"):
            v.assign([1.0, 2.0, 3.0])
        counter = kl.Variable(0, trainable=False)
        for _ in range(3):
            counter.assign_add(1)
        assert int(counter.read_value()) == 3 and counter.dtype is kl.int32
    # outside eager mode kl.Variable is a graph variable (a VariableV2 node) again;
    # kl.Variable is the common base of both kinds
    graph_variable = kl.Variable(1.0)
    assert isinstance(graph_variable, kl.Variable)
    assert not isinstance(graph_variable, eager.EagerVariable)
    assert graph_variable.op.type == "VariableV2"


def test_random_ops_draw_anew_each_call():
    with kl.eager_mode():
        a = kl.random_normal([4]).numpy()
        b = kl.random_normal([4]).numpy()
        assert not np.allclose(a, b)
        d = kl.nn.dropout(kl.ones([1000]), rate=0.5)
        assert 300 < int(kl.reduce_sum(kl.cast(d > 0, kl.int32))) < 700


def test_no_history_is_kept_without_a_tape():
    with kl.eager_mode():
        x = kl.constant(1.0)
        y = x + 1.0
        assert y.op.inputs == []


def test_results_nobody_holds_are_freed_at_once():
    """Eager results and kl.function results go when their last reference does,
    without the cycle collector (an op holds its outputs and a tensor its op only
    weakly), so a loop reuses memory instead of keeping each step's arrays."""
    import gc
    import weakref

    gc.disable()
    try:
        with kl.eager_mode():
            x = kl.constant(np.ones((4, 3), np.float32))
            y = kl.exp(x) * 2.0
            assert y.op.type == "Mul" and y.name.startswith("mul")
            gone = weakref.ref(y)
            del y
            assert gone() is None

            f = kl.function(lambda a: {"t": kl.transpose(a), "s": [kl.reduce_sum(a)]})
            out = f(np.ones((8, 5), np.float32))
            np.testing.assert_allclose(out["s"][0].numpy(), 40.0)
            gone = weakref.ref(out["t"])
            del out
            assert gone() is None
            z = kl.constant(3.0)  # an op asked for after it went is remade
            assert z.op.type == "Const" and float(z.op.get_attr("value")) == 3.0
    finally:
        gc.enable()
