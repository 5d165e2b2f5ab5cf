"""kl.cond, kl.case, kl.while_loop, kl.scan, kl.map_fn, kl.foldl/foldr.

Graph mode traces each branch and body into a region of an If / While / Scan
node lowered to kiln.if / kiln.while / kiln.scan; eager mode is plain Python;
kl.function traces to the region ops. Every result is checked against numpy,
gradients against finite differences, and the building-time errors name the
op and the variable.
"""

import collections

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError

pytestmark = pytest.mark.filterwarnings("ignore:kiln. running")

X = np.array([1.0, -2.0, 3.0], np.float32)


def run(fetches, feeds=None):
    with kl.Session() as s:
        return s.run(fetches, feeds)


def ops_of(kind):
    return [op for op in kl.get_default_graph().get_operations() if op.type == kind]


# ------------------------------------------------------------------ cond / case


@pytest.mark.parametrize("v", [X, -X])
def test_cond_picks_the_branch_and_closes_over_outer_tensors(v):
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, [3])
        w = kl.constant(2.0)
        y = kl.cond(kl.reduce_sum(x) > 0, true_fn=lambda: x * w, false_fn=lambda: x - w)
        assert [op.type for op in ops_of("If")] == ["If"]
        assert y.shape == [3]
        got = run(y, {x: v})
    np.testing.assert_allclose(got, v * 2 if v.sum() > 0 else v - 2)


def test_cond_nested_structures_and_strict():
    Pair = collections.namedtuple("Pair", "a b")
    with kl.Graph().as_default():
        p = kl.placeholder(kl.bool, [])
        x = kl.constant(X)
        out = kl.cond(
            p,
            lambda: {"s": Pair(x + 1, kl.reduce_sum(x)), "t": [x]},
            lambda: {"s": Pair(x - 1, kl.reduce_max(x)), "t": [x * 0]},
        )
        single = kl.cond(p, lambda: [x], lambda: [x * 3])
        kept = kl.cond(p, lambda: [x], lambda: [x * 3], strict=True)
        assert isinstance(out["s"], Pair) and isinstance(single, kl.Tensor)
        assert isinstance(kept, list)
        for pv in (True, False):
            got = run([out["s"].a, out["s"].b, out["t"][0], single], {p: pv})
            want = [X + 1, X.sum(), X, X] if pv else [X - 1, X.max(), 0 * X, 3 * X]
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w)


def test_case_takes_the_first_true_predicate_and_the_default():
    with kl.Graph().as_default():
        n = kl.placeholder(kl.int32, [])
        r = kl.case(
            [(n < 0, lambda: kl.constant(-1)), (n < 10, lambda: kl.constant(1))],
            default=lambda: kl.constant(100),
        )
        last = kl.case({n > 5: lambda: n * 2, n > 2: lambda: n * 3})  # last pair: the default
        assert [run(r, {n: v}) for v in (-5, 5, 50)] == [-1, 1, 100]
        assert [run(last, {n: v}) for v in (7, 3, 0)] == [14, 9, 0]


def test_cond_errors_name_the_op_and_the_output():
    with kl.Graph().as_default():
        x = kl.constant(X)
        with pytest.raises(GraphError, match=r"kl.cond \(pick\): output 0 is float32\(3,\).*"
                           r"int32\(\) .*in false_fn"):  # fmt: skip
            kl.cond(x[0] > 0, lambda: x, lambda: kl.constant(1), name="pick")
        with pytest.raises(GraphError, match=r"kl.cond \(cond\): the predicate .* is float32, "):
            kl.cond(x[0], lambda: x, lambda: x)
        with pytest.raises(GraphError, match=r"predicate .* has shape \(3,\), expected a scalar"):
            kl.cond(x > 0, lambda: x, lambda: x)
        with pytest.raises(GraphError, match="true_fn yields 2 tensors and false_fn 1"):
            kl.cond(x[0] > 0, lambda: (x, x), lambda: x)


# ------------------------------------------------------------------ while_loop


def test_while_loop_with_closure_and_maximum_iterations():
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, [3])
        i, acc = kl.while_loop(
            lambda i, a: i < 5, lambda i, a: (i + 1, a * 1.5 + x), [0, kl.zeros([3])]
        )
        capped = kl.while_loop(
            lambda v: kl.reduce_sum(v) < 1e9, lambda v: v * 2, [x], maximum_iterations=3
        )
        got = run([i, acc, capped], {x: np.abs(X)})
    want = np.zeros(3, np.float32)
    for _ in range(5):
        want = want * 1.5 + np.abs(X)
    assert got[0] == 5
    np.testing.assert_allclose(got[1], want, rtol=1e-6)
    np.testing.assert_allclose(got[2], np.abs(X) * 8)


def test_nested_loops_and_a_loop_inside_cond():
    with kl.Graph().as_default():
        n = kl.placeholder(kl.int32, [])

        def outer_body(i, total):
            inner = kl.while_loop(lambda j, s: j < i, lambda j, s: (j + 1, s + j), [0, 0])[1]
            return i + 1, total + inner

        _, tri = kl.while_loop(lambda i, t: i < n, outer_body, [0, 0])
        picked = kl.cond(
            n > 3,
            lambda: kl.while_loop(lambda k: k < 100, lambda k: k * n, [1]),
            lambda: -n,
        )
        for v in (2, 5):
            got = run([tri, picked], {n: v})
            assert got[0] == sum(j for i in range(v) for j in range(i))
            want = -v
            if v > 3:
                want = 1
                while want < 100:
                    want *= v
            assert got[1] == want


def test_while_loop_errors_name_the_loop_variable():
    with kl.Graph().as_default():
        x = kl.constant(X)
        grow = r"kl.while_loop \(grow\): loop variable 0 .*shape \(3,\) on entry but shape \(6,\) "
        with pytest.raises(GraphError, match=grow + "after one iteration"):
            kl.while_loop(lambda v: v[0] < 9, lambda v: kl.concat([v, v], 0), [x], name="grow")
        with pytest.raises(GraphError, match=r"loop variable 1 .* enters the loop as int32 but "):
            kl.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, kl.cast(v, kl.float32)),
                          [0, kl.constant([1, 2])])  # fmt: skip
        with pytest.raises(GraphError, match="not within its shape invariant"):
            kl.while_loop(lambda v: v[0] < 9, lambda v: v, [x], shape_invariants=[[4]])
        with pytest.raises(GraphError, match=r"the predicate .* has shape \(3,\)"):
            kl.while_loop(lambda v: v > 0, lambda v: v, [x])


# ------------------------------------------------------------------ scan and folds


def test_scan_map_fn_and_folds_agree_with_numpy():
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, [None])  # the trip count is known at run time
        m = kl.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
        cums = kl.scan(lambda a, e: a + e, x)
        rev = kl.scan(lambda a, e: a * 0.5 + e, x, initializer=kl.constant(0.0), reverse=True)
        pairs = kl.scan(lambda a, e: (a[0] + e, a[1] * e), x, initializer=(0.0, 1.0))
        rows = kl.map_fn(lambda r: kl.reduce_sum(r) * kl.reduce_max(x), m)
        fl = kl.foldl(lambda a, e: a * 2 + e, x)
        fr = kl.foldr(lambda a, e: a * 2 + e, x, initializer=kl.constant(1.0))
        for v in (X, np.array([0.5, 1.0, 2.0, -1.0, 4.0], np.float32)):
            got = run([cums, rev, pairs[0], pairs[1], rows, fl, fr], {x: v})
            want_rev, acc = np.zeros_like(v), 0.0
            for t in range(len(v) - 1, -1, -1):
                acc = acc * 0.5 + v[t]
                want_rev[t] = acc
            want_fl = v[0]
            for e in v[1:]:
                want_fl = want_fl * 2 + e
            want_fr = 1.0
            for e in v[::-1]:
                want_fr = want_fr * 2 + e
            np.testing.assert_allclose(got[0], np.cumsum(v), rtol=1e-6)
            np.testing.assert_allclose(got[1], want_rev, rtol=1e-6)
            np.testing.assert_allclose(got[2], np.cumsum(v), rtol=1e-6)
            np.testing.assert_allclose(got[3], np.cumprod(v), rtol=1e-6)
            np.testing.assert_allclose(got[4], np.arange(6).reshape(3, 2).sum(1) * v.max())
            np.testing.assert_allclose(got[5], want_fl, rtol=1e-6)
            np.testing.assert_allclose(got[6], want_fr, rtol=1e-6)


# ------------------------------------------------------------------ eager and kl.function


def test_eager_mode_is_plain_python_and_kl_function_traces_region_ops():
    def program(v):
        y = kl.cond(v[0] > 0, lambda: v * 2.0, lambda: -v)
        _, acc = kl.while_loop(lambda i, a: i < 4, lambda i, a: (i + 1, a + y), [0, kl.zeros([3])])
        return kl.scan(lambda a, e: a + e, acc), kl.foldl(lambda a, e: a + e * e, v)

    with kl.eager_mode():
        e1, e2 = program(kl.constant(X))
        traced = kl.function(program)
        f1, f2 = traced(kl.constant(X))
        graph = traced.get_concrete_function(kl.constant(X)).graph
        kinds = {op.type for op in graph.get_operations()}
    want = np.cumsum(4 * 2 * X)
    np.testing.assert_allclose(e1.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(f1.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(e2.numpy(), X[0] + (X[1:] ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(f2.numpy(), e2.numpy(), rtol=1e-6)
    assert {"If", "While", "Scan"} <= kinds


# ------------------------------------------------------------------ gradients


def _fd(sess, loss, x, v, eps=1e-6):
    num = np.zeros_like(v)
    for i in np.ndindex(*v.shape):
        d = np.zeros_like(v)
        d[i] = eps
        num[i] = (sess.run(loss, {x: v + d}) - sess.run(loss, {x: v - d})) / (2 * eps)
    return num


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_gradients_through_cond_scan_and_bounded_while(sign):
    v = sign * np.array([0.3, -0.7, 0.5], np.float64)
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float64, [3])
        y = kl.cond(kl.reduce_sum(x) > 0, lambda: kl.square(x) * x, lambda: kl.exp(x))
        h = kl.scan(lambda a, e: kl.tanh(a * 0.7 + e), x, initializer=kl.constant(0.1, kl.float64))
        w = kl.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, kl.tanh(a) * 0.5 + x * a),
                          [0, x], maximum_iterations=3)[1]  # fmt: skip
        loss = kl.reduce_sum(y) + kl.reduce_sum(h * h) + kl.reduce_sum(w)
        (g,) = kl.gradients(loss, [x])
        with kl.Session() as s:
            np.testing.assert_allclose(s.run(g, {x: v}), _fd(s, loss, x, v), rtol=1e-6, atol=1e-8)


def test_while_loop_nested_loop_vars_and_region_errors():
    State = collections.namedtuple("State", "step total")
    with kl.Graph().as_default():
        v = kl.Variable(np.float32(2.0))
        out = kl.while_loop(
            lambda s: s.step < 4,
            lambda s: State(s.step + 1, {"a": s.total["a"] * v, "b": s.total["b"] + 1.0}),
            [State(0, {"a": kl.constant(1.0), "b": kl.constant(0.0)})],
        )
        assert isinstance(out, State)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            got = s.run([out.step, out.total["a"], out.total["b"]])
        assert got == [4, 16.0, 4.0]
        with pytest.raises(GraphError, match=r"updates variable .* inside the region"):
            kl.cond(kl.constant(True) & (v > 0), lambda: v.assign(1.0), lambda: v + 0.0)
        with pytest.raises(GraphError, match="body yields 1 tensors for 2 loop variables"):
            kl.while_loop(lambda i, x: i < 2, lambda i, x: [i + 1], [0, 1.0])


def test_the_regions_lower_to_kiln_region_ops():
    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, [None])
        y = kl.cond(x[0] > 0, lambda: x, lambda: -x)
        z = kl.while_loop(lambda i: i < 3, lambda i: i + 1, [0])
        w = kl.map_fn(lambda e: e * 2.0, y)
        text = str(kl.export_ir([y, z, w], feeds=[x]))
    for name in ("kiln.if", "kiln.while", "kiln.scan", "kiln.yield"):
        assert name in text
