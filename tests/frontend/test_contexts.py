"""The frontend's seams between its layers: the default-context stacks graph.py
owns, kl.Variable as a factory, the stores a Graph declares, the one place
that installs operators, and the Session run hooks of summaries and kl.data."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend import graph as graph_module
from kiln.frontend.eager import EagerVariable
from kiln.frontend.graph import GraphError, Tensor
from kiln.frontend.variables import GraphVariable


def test_contexts_nest_and_must_close_in_order():
    g1, g2 = kl.Graph(), kl.Graph()
    outside = kl.get_default_graph()
    with g1.as_default():
        with g2.as_default():
            assert kl.get_default_graph() is g2
            with kl.eager_mode():
                assert kl.executing_eagerly()
            assert kl.get_default_graph() is g2 and not kl.executing_eagerly()
        assert kl.get_default_graph() is g1
    assert kl.get_default_graph() is outside
    graph_module.push_default_graph(g1)
    try:
        with pytest.raises(GraphError, match="out of order"):
            graph_module.pop_default_graph(g2)
    finally:
        graph_module.pop_default_graph(g1)


def test_reset_default_graph_keeps_eager_execution_on():
    kl.enable_eager_execution()
    try:
        kl.enable_eager_execution()  # twice is once
        kl.reset_default_graph()
        assert kl.executing_eagerly()
    finally:
        kl.disable_eager_execution()
    assert not kl.executing_eagerly()
    assert isinstance(kl.constant(1.0), Tensor) and not isinstance(kl.constant(1.0), kl.EagerTensor)


def test_variable_is_a_factory_of_both_kinds():
    with kl.Graph().as_default():
        graph_variable = kl.Variable(1.0)
    with kl.eager_mode():
        eager_variable = kl.Variable(1.0)
    traced = []

    @kl.function
    def f(x):
        traced.append(kl.Variable(2.0))  # made once, at trace time: captured by reference
        return x * traced[0]

    with kl.eager_mode():
        assert float(f(kl.constant(3.0))) == 6.0
    assert type(graph_variable) is GraphVariable
    assert type(eager_variable) is EagerVariable and type(traced[0]) is EagerVariable
    for v in (graph_variable, eager_variable, traced[0]):
        assert isinstance(v, kl.Variable)


def test_a_graph_has_only_the_stores_it_declares():
    declared = set(vars(kl.Graph()))
    g = kl.Graph()
    with g.as_default():
        with kl.variable_scope("scope"):
            w = kl.get_variable("w", [2], initializer=kl.zeros_initializer())
        with kl.device("/cpu:0"):
            v = kl.Variable([1.0, 2.0])
        batch = (
            kl.data.Dataset.from_tensor_slices(np.ones((4, 2), np.float32))
            .batch(2)
            .make_one_shot_iterator()
            .get_next()
        )
        kl.summary.scalar("total", kl.reduce_sum(batch + w + v))
    assert set(vars(g)) == declared
    assert g.variable_store == {"scope/w": w} and list(g.variables.values()) == [w, v]
    assert len(g.iterators) == 1


def test_operators_come_from_one_table():
    for name in Tensor.OVERLOADABLE_OPERATORS:
        assert name in vars(Tensor) and name in vars(kl.Variable)
    with pytest.raises(GraphError, match="not an overloadable"):
        Tensor._override_operator("__call__", lambda self: None)
    with kl.Graph().as_default():
        v = kl.Variable(np.arange(4.0, dtype=np.float32))
        out = [2.0 * v - 1.0, -v[1:], v @ v, abs(v - 3.0)]
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            values = s.run(out)
    np.testing.assert_allclose(values[0], [-1, 1, 3, 5])
    np.testing.assert_allclose(values[1], [-1, -2, -3])
    assert float(values[2]) == 14.0
    np.testing.assert_allclose(values[3], [3, 2, 1, 0])


def test_summary_of_an_iterator_tensor_runs_in_one_step():
    """Both run hooks in one run: the summary hook adds its input (which needs
    the iterator) and the iterator hook then feeds it once."""
    summary_pb2 = pytest.importorskip("tensorboard.compat.proto.summary_pb2")
    with kl.Graph().as_default():
        batch = (
            kl.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.float32))
            .batch(2)
            .make_one_shot_iterator()
            .get_next()
        )
        mean = kl.reduce_mean(batch)
        summary = kl.summary.scalar("batch_mean", mean)
        with kl.Session() as s:
            runs = [s.run({"summary": summary, "mean": mean}) for _ in range(3)]
            with pytest.raises(kl.data.OutOfRangeError):
                s.run(summary)  # the summary alone needs the iterator too
    assert [float(r["mean"]) for r in runs] == [0.5, 2.5, 4.5]
    for r in runs:
        proto = summary_pb2.Summary.FromString(r["summary"])
        assert proto.value[0].tag == "batch_mean"
        assert proto.value[0].simple_value == float(r["mean"])
