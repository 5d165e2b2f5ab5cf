"""The graph API as TensorFlow 1.x users write it (SPEC.md programs 1-3 and
the programming model: names, scopes, collections, feeds, fetch structures)."""

import collections

import numpy as np
import pytest

import kiln as kl


@pytest.fixture(autouse=True)
def fresh_graph():
    with kl.Graph().as_default() as g:
        yield g


def test_program_1_constants():
    a = kl.constant(2)
    b = kl.constant(3)
    c = a + b
    with kl.Session() as s:
        assert s.run(c) == 5

    assert c.dtype == kl.int32


def test_tensor_str_and_names():
    t = kl.add(2, 3, name="Add")
    assert str(t) == 'Tensor("Add:0", shape=(), dtype=int32)'
    assert kl.add(2, 3, name="Add").name == "Add_1:0"
    with kl.name_scope("loss"):
        u = kl.add(2, 3, name="Add")
        with kl.name_scope("inner"):
            v = kl.multiply(u, 2)
    assert u.name == "loss/Add:0" and v.name == "loss/inner/Mul:0"
    with kl.name_scope("loss"):
        assert kl.constant(1).name == "loss_1/Const:0"
    g = kl.get_default_graph()
    assert g.get_tensor_by_name("loss/Add:0") is u
    assert g.get_operation_by_name("loss/inner/Mul") is v.op
    with pytest.raises(kl.GraphError, match="no operation named 'nope'"):
        g.get_operation_by_name("nope")
    x = kl.placeholder(kl.float32, shape=(None, 2), name="x")
    assert str(x) == 'Tensor("x:0", shape=(?, 2), dtype=float32)'
    assert x.shape.as_list() == [None, 2]


def test_program_2_feeding():
    a = kl.constant([5, 5, 5], kl.float32, name="A")
    b = kl.placeholder(kl.float32, shape=[3], name="B")
    c = kl.add(a, b, name="Add")
    with kl.Session() as s:
        out = s.run(c, feed_dict={b: [1, 2, 3]})
        np.testing.assert_array_equal(out, [6.0, 7.0, 8.0])
        assert out.dtype == np.float32
        with pytest.raises(kl.GraphError, match="must feed a value for placeholder tensor 'B:0'"):
            s.run(c)
        with pytest.raises(kl.GraphError, match="cannot feed value of shape"):
            s.run(c, {b: [1, 2]})


def test_program_3_affine_map():
    A = kl.Variable([[1, 0], [0, -1]])
    b = kl.Variable([1, 1])
    x = kl.placeholder(kl.int32)
    z = kl.add(kl.matmul(A, x), b)
    with kl.Session() as s:
        with pytest.raises(kl.GraphError, match="uninitialized value Variable"):
            s.run(z, {x: [1, 2]})
        s.run(kl.global_variables_initializer())
        np.testing.assert_array_equal(s.run(z, {x: [1, 2]}), [2, -1])


def test_fetch_structures_and_ops():
    a = kl.constant(1.0)
    b = a * 2
    init = kl.no_op()
    Pair = collections.namedtuple("Pair", "x y")
    with kl.Session() as s:
        out = s.run({"a": a, "rest": [b, (a, init)], "p": Pair(a, b)})
    assert out["a"] == 1.0 and out["rest"][0] == 2.0
    assert out["rest"][1][0] == 1.0 and out["rest"][1][1] is None
    assert isinstance(out["rest"][1], tuple) and out["p"].y == 2.0


def test_variables_persist_and_assign():
    v = kl.Variable(1.0, name="v")
    inc = v.assign_add(2.0)
    twice = v.assign(v * 2)
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        assert s.run(inc) == 3.0
        assert s.run(v) == 3.0
        assert s.run(twice) == 6.0
        assert v.eval() == 6.0
    assert v.name == "v:0" and v.initializer.name == "v/Assign"
    assert kl.global_variables() == [v] and kl.trainable_variables() == [v]


def test_no_recompile_for_new_batch_size():
    x = kl.placeholder(kl.float32, shape=(None, 3))
    y = kl.reduce_sum(x * 2.0, axis=1)
    with kl.Session() as s:
        for n in (1, 5, 17):
            np.testing.assert_allclose(s.run(y, {x: np.ones((n, 3))}), np.full(n, 6.0))
        assert s.compiles == 1


def test_variable_scope_and_get_variable():
    with kl.variable_scope("gen"):
        w = kl.get_variable("w", shape=[2, 3], initializer=kl.zeros_initializer())
        assert kl.add(w, 1.0).op.name.startswith("gen/")
    with kl.variable_scope("gen", reuse=True):
        assert kl.get_variable("w") is w
    with pytest.raises(kl.GraphError, match="already exists"):
        with kl.variable_scope("gen"):
            kl.get_variable("w", shape=[2, 3])
    with pytest.raises(kl.GraphError, match="does not exist"):
        with kl.variable_scope("other", reuse=True):
            kl.get_variable("w", shape=[2, 3])
    assert w.name == "gen/w:0"
    assert [v.name for v in kl.trainable_variables(scope="gen")] == ["gen/w:0"]


def test_operators_and_dtype_errors():
    x = kl.constant([1.0, -2.0])
    with kl.Session() as s:
        np.testing.assert_allclose(s.run(-x + 1 - x * 2 / 4), [-0.5, 4.0])
        np.testing.assert_array_equal(s.run(x > 0), [True, False])
        np.testing.assert_allclose(s.run(abs(x) ** 2), [1.0, 4.0])
        np.testing.assert_allclose(s.run(kl.constant(7) / 2), 3.5)
        np.testing.assert_array_equal(s.run(kl.constant([7, -7]) // 2), [3, -4])
        m = kl.constant(np.arange(12.0, dtype=np.float32).reshape(3, 4))
        np.testing.assert_array_equal(s.run(m[1:, ::2]), [[4.0, 6.0], [8.0, 10.0]])
        np.testing.assert_array_equal(s.run(m[-1]), [8, 9, 10, 11])
        np.testing.assert_array_equal(s.run(kl.ones_like(m)), np.ones((3, 4)))
    with pytest.raises(kl.GraphError, match="does not match"):
        kl.constant(1) + kl.constant(1.0)
    with pytest.raises(kl.GraphError, match="MatMul"):
        kl.matmul(
            kl.constant(np.ones((2, 3), np.float32)), kl.constant(np.ones((2, 3), np.float32))
        )


def test_random_initializers_are_reproducible():
    w = kl.Variable(kl.random_normal([200, 50], stddev=2.0, seed=1))
    t = kl.Variable(kl.truncated_normal([2000], seed=2))
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        a, tv = s.run([w, t])
        s.run(kl.global_variables_initializer())
        np.testing.assert_array_equal(s.run(w), a)
    assert abs(a.std() - 2.0) < 0.1 and abs(a.mean()) < 0.1
    assert np.all(np.abs(tv) <= 2.0) and abs(tv.std() - 0.88) < 0.05
