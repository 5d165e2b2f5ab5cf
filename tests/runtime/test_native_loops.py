"""Native control flow (runtime/control.py): kiln.if / kiln.while / kiln.scan
compiled by the CPU backend against the reference interpreter on random
inputs (nested loops, loops in if, data-dependent trip counts, reverse
scans, zero trips, symbolic lengths), gradients of loops natively against
finite differences, the plan inside regions, and AOT libraries with loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln
from kiln.ir import Builder, Module, TensorType, interpret, parse
from kiln.ir.control_flow import build_if, build_scan, build_while
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.passes.plan import check_plan


def compiled(m: Module, name: str):
    """(native executable, interpreter oracle module) of one function."""
    oracle = parse(str(m))
    exe = kiln.compile(m, name, backend="cpu")
    assert exe.backend == "cpu"
    check_plan(m[name])  # the plan inside every region, replayed
    return exe, oracle


def agree(exe, oracle, name, *args, rtol=1e-5):
    got = exe(*args)
    want = interpret(oracle, name, *args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == np.shape(w) and g.dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)
    return got


# ------------------------------------------------------------------ while


def collatz():
    """Steps of the Collatz map until 1: a data-dependent trip count (int carried)."""
    m = Module()
    f = m.add_function("collatz", [TensorType("i32", [])], ["n"])
    b = Builder.at_end(f.body)

    def cond(b, k, x):
        return [b.less(b.constant(1, "i32"), x)]

    def body(b, k, x):
        half = b.div(x, b.constant(2, "i32"))
        even = b.equal(b.mul(half, b.constant(2, "i32")), x)
        up = b.add(b.mul(x, b.constant(3, "i32")), b.constant(1, "i32"))
        return [b.add(k, b.constant(1, "i32")), b.select(even, half, up)]

    k, x = build_while(b, [b.constant(0, "i32"), f.args[0]], cond, body)
    b.ret(k, x)
    return m.verify()


def test_while_with_a_data_dependent_trip_count():
    exe, oracle = compiled(collatz(), "collatz")
    for n in (1, 2, 6, 7, 27, 97):
        (k, x) = agree(exe, oracle, "collatz", np.int32(n))
        assert x == 1
    assert exe(np.int32(27))[0] == 111  # the known count for 27


def swap_loop(bound=-1):
    """Carried values that swap each trip (the yields read other carried buffers)."""
    m = Module()
    f = m.add_function(
        "swap", [TensorType("i32", []), TensorType("f32", [3]), TensorType("f32", [3])]
    )
    b = Builder.at_end(f.body)

    def cond(b, i, n, x, y):
        return [b.less(i, n)]

    def body(b, i, n, x, y):
        return [b.add(i, b.constant(1, "i32")), n, b.add(y, b.constant(1.0)), x]

    out = build_while(b, [b.constant(0, "i32"), *f.args], cond, body, bound)
    b.ret(*out)
    return m.verify()


@pytest.mark.parametrize("bound", [-1, 4])
def test_while_swapping_carried_values_and_max_iterations(bound):
    exe, oracle = compiled(swap_loop(bound), "swap")
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 5, 9):
        x, y = rng.standard_normal((2, 3)).astype(np.float32)
        i = agree(exe, oracle, "swap", np.int32(n), x, y)[0]
        assert i == (min(n, bound) if bound >= 0 else n)


def nested_while():
    """A while over rows whose body runs an inner while (a nested loop)."""
    m = Module()
    f = m.add_function("nest", [TensorType("i32", []), TensorType("f32", [4])])
    b = Builder.at_end(f.body)
    one = b.constant(1, "i32")

    def inner_cond(b, j, acc):
        return [b.less(j, b.constant(3, "i32"))]

    def inner_body(b, j, acc):
        return [b.add(j, b.constant(1, "i32")), b.add(b.mul(acc, b.constant(0.5)), b.tanh(acc))]

    def cond(b, i, n, acc):
        return [b.less(i, n)]

    def body(b, i, n, acc):
        _, acc2 = build_while(b, [b.constant(0, "i32"), acc], inner_cond, inner_body)
        return [b.add(i, b.constant(1, "i32")), n, b.add(acc2, b.cast(i, dtype="f32"))]

    _, _, acc = build_while(b, [b.sub(one, one), *f.args], cond, body)
    b.ret(acc)
    return m.verify()


def test_nested_while_loops():
    exe, oracle = compiled(nested_while(), "nest")
    rng = np.random.default_rng(1)
    for n in (0, 1, 4):
        agree(exe, oracle, "nest", np.int32(n), rng.standard_normal(4).astype(np.float32))


# ------------------------------------------------------------------ scan and if


def rnn(reverse=False, batch=2, hidden=4):
    """An RNN scan over xs of symbolic length T with an if inside the body and a
    while inside the if's then branch (loops in if), then an if after it."""
    m = Module()
    f = m.add_function(
        "rnn",
        [
            TensorType("f32", ["T", batch, hidden]),
            TensorType("f32", [hidden, hidden]),
            TensorType("bool", []),
        ],
        ["xs", "w", "p"],
    )
    b = Builder.at_end(f.body)
    xs, w, p = f.args

    def halve_until_small(b, h):
        def cond(b, h):
            return [b.less(b.constant(1.0), b.reduce_max(b.abs(h), axes=[0, 1]))]

        return build_while(b, [h], cond, lambda b, h: [b.mul(h, b.constant(0.5))])

    def step(b, h, w, p, x):
        pre = b.add(b.matmul(h, w), x)
        big = b.less(b.constant(0.0), b.reduce_sum(pre, axes=[0, 1]))
        (h2,) = build_if(b, big, [pre], halve_until_small, lambda b, v: [b.tanh(v)])
        return [h2, w, p, b.relu(h2), b.reduce_sum(h2, axes=[1])]

    h0 = b.broadcast_to(b.constant(0.1), shape=[batch, hidden])
    h, _, _, ys, sums = build_scan(b, [h0, w, p], [xs], step, reverse=reverse)
    (out,) = build_if(b, p, [h], lambda b, h: [b.neg(h)], lambda b, h: [b.exp(h)])
    b.ret(out, ys, sums)
    return m.verify()


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_with_if_and_while_inside_for_every_length(reverse):
    exe, oracle = compiled(rnn(reverse), "rnn")
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    for T, p in ((0, True), (1, False), (5, True), (13, False)):
        xs = (rng.standard_normal((T, 2, 4)) * 2).astype(np.float32)
        got = agree(exe, oracle, "rnn", xs, w, np.bool_(p))
        assert got[1].shape == (T, 2, 4) and got[2].shape == (T, 2)
    assert len(exe.compiled.plans) == 4  # compiled once, planned per length


def nested_scan():
    """A scan over rows whose body scans over the row's columns (nested scans),
    one of them reversed, with stacked outputs of both."""
    m = Module()
    f = m.add_function("grid", [TensorType("f32", ["R", "C", 3])])
    b = Builder.at_end(f.body)

    def row(b, acc, r):
        def col(b, c, x):
            c2 = b.add(b.mul(c, b.constant(0.9)), x)
            return [c2, b.mul(c2, c2)]

        c, sq = build_scan(b, [acc], [r], col, reverse=True)
        return [c, sq, b.tanh(c)]

    acc, squares, sines = build_scan(
        b, [b.broadcast_to(b.constant(0.0), shape=[3])], [f.args[0]], row
    )
    b.ret(acc, squares, sines)
    return m.verify()


def test_nested_scans():
    exe, oracle = compiled(nested_scan(), "grid")
    rng = np.random.default_rng(4)
    for r, c in ((1, 1), (3, 4), (0, 2), (2, 0)):
        agree(exe, oracle, "grid", rng.standard_normal((r, c, 3)).astype(np.float32))


def test_the_plan_inside_regions_gives_each_region_its_own_buffers():
    m = rnn()
    run_pipeline(m, DEFAULT_PIPELINE)
    func = m["rnn"]
    check_plan(func)

    def region_buffers(op):
        ids = set(op.attrs["plan.args"])
        for region in op.regions:
            for inner in region.blocks[0].ops:
                ids |= set(inner.attrs.get("plan.buffers", ()))
                if inner.regions and "plan.args" in inner.attrs:
                    ids |= region_buffers(inner)
        return ids

    top = {b for op in func.ops for b in op.attrs.get("plan.buffers", ())}
    (scan,) = [op for op in func.ops if op.name == "kiln.scan"]
    inside = region_buffers(scan) - set(scan.attrs["plan.buffers"])
    assert inside and not inside & top
    assert max(top | inside) < func.attrs["plan.buffers"]


# ------------------------------------------------------------------ gradients


def loss_program(kind: str):
    m = Module()
    f = m.add_function("loss", [TensorType("f64", [5, 3]), TensorType("f64", [3, 3])])
    b = Builder.at_end(f.body)
    xs, w = f.args
    if kind == "scan":

        def step(b, h, w, x):
            h2 = b.tanh(b.add(b.matmul(b.expand_dims(h, axis=0), w), b.expand_dims(x, axis=0)))
            h2 = b.reshape(h2, shape=[3])
            return [h2, w, b.mul(h2, h2)]

        h0 = b.broadcast_to(b.constant(0.2, "f64"), shape=[3])
        h, _, ys = build_scan(b, [h0, w], [xs], step, reverse=False)
        loss = b.add(b.reduce_sum(h, axes=[0]), b.reduce_sum(ys, axes=[0, 1]))
    else:
        x0 = b.reduce_sum(xs, axes=[0])

        def cond(b, i, x, w):
            return [b.less(b.reduce_sum(b.abs(x), axes=[0]), b.constant(50.0, "f64"))]

        def body(b, i, x, w):
            y = b.reshape(b.matmul(b.expand_dims(x, axis=0), w), shape=[3])
            return [
                b.add(i, b.constant(1, "i32")),
                b.add(b.tanh(y), b.mul(x, b.constant(1.3, "f64"))),
                w,
            ]

        _, x, _ = build_while(b, [b.constant(0, "i32"), x0, w], cond, body, max_iterations=6)
        loss = b.reduce_sum(b.mul(x, x), axes=[0])
    b.ret(loss)
    return m.verify()


def finite_differences(fn, args, k, eps=1e-6):
    x = args[k]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = [a.copy() for a in args], [a.copy() for a in args]
        up[k][i] += eps
        down[k][i] -= eps
        grad[i] = (fn(*up)[0] - fn(*down)[0]) / (2 * eps)
    return grad


@pytest.mark.parametrize("kind", ["scan", pytest.param("while", marks=pytest.mark.slow)])
def test_gradients_of_loops_natively_match_finite_differences(kind):
    from kiln.passes.autodiff import differentiate

    m = loss_program(kind)
    differentiate(m, "loss", wrt=[0, 1], name="dloss")
    forward = kiln.compile(parse(str(m)), "loss", backend="cpu")
    backward = kiln.compile(m, "dloss", backend="cpu")
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((5, 3)) * 0.5
    w = rng.standard_normal((3, 3)) * 0.5
    got = backward(xs, w)
    for k in (0, 1):
        want = finite_differences(forward, [xs, w], k)
        np.testing.assert_allclose(got[-2 + k], want, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ AOT


def test_an_aot_library_runs_the_loops(tmp_path):
    from kiln.runtime import aot

    m = rnn()
    oracle = parse(str(m))
    run_pipeline(m, DEFAULT_PIPELINE)
    aot.build(m, "rnn", tmp_path / "lib")
    lib = kiln.load(tmp_path / "lib")
    rng = np.random.default_rng(6)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    for T, p in ((0, False), (3, True), (8, False)):
        xs = (rng.standard_normal((T, 2, 4)) * 2).astype(np.float32)
        got = lib(xs, w, np.bool_(p))
        want = interpret(oracle, "rnn", xs, w, np.bool_(p))
        for g, v in zip(got, want):
            np.testing.assert_allclose(g, v, rtol=1e-5, atol=1e-6)


def test_an_aot_library_of_a_while_loop(tmp_path):
    from kiln.runtime import aot

    m = collatz()
    run_pipeline(m, DEFAULT_PIPELINE)
    aot.build(m, "collatz", tmp_path / "lib")
    lib = kiln.load(tmp_path / "lib")
    assert [int(v) for v in lib(np.int32(27))] == [111, 1]


# ------------------------------------------------------------------ the benchmarks' programs


def test_the_while_benchmark_runs_natively():
    from kiln.benchmarks import while_loop

    m = while_loop.build()
    exe, oracle = compiled(m, "loop")
    for n in (0, 1, 300):
        agree(exe, oracle, "loop", np.int32(n), np.float32(1.0), rtol=1e-4)


@pytest.mark.slow
def test_a_dynamic_rnn_training_step_runs_natively():
    import warnings

    from kiln import frontend as kl

    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no function falls back to the interpreter
        with kl.Graph().as_default():
            xp = kl.placeholder(kl.float32, [3, None, 4])
            cell = kl.nn.rnn_cell.MultiRNNCell([kl.nn.rnn_cell.BasicLSTMCell(6) for _ in range(2)])
            out, _ = kl.nn.dynamic_rnn(cell, xp, dtype=kl.float32)
            loss = kl.reduce_mean(kl.square(out))
            train = kl.train.GradientDescentOptimizer(0.5).minimize(loss)
            with kl.Session(backend="cpu") as s:
                s.run(kl.global_variables_initializer())
                losses = []
                for _ in range(3):
                    losses.append(float(s.run(loss, {xp: x})))
                    s.run(train, {xp: x})
                s.run(out, {xp: x[:, :2]})  # another length T, the same program
    assert losses[2] < losses[1] < losses[0]


# ------------------------------------------------------------------ random programs

UNARY = ["tanh", "neg", "abs", "sigmoid", "relu"]
BINARY = ["add", "sub", "mul", "max", "min"]


@st.composite
def loop_programs(draw):
    """A scan over xs[T, B] whose body is a random chain of ops on its carried
    value, the slice and the chain so far, then a kiln.if on the final carried
    value whose branches are random chains: (module, xs, h0)."""
    chain = draw(
        st.lists(st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 2)), max_size=5)
    )
    picks = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))  # what the step yields
    branches = [draw(st.lists(st.sampled_from(UNARY), max_size=3)) for _ in range(2)]
    reverse = draw(st.booleans())
    T, B = draw(st.integers(0, 4)), draw(st.integers(1, 4))

    m = Module()
    f = m.add_function("f", [TensorType("f32", ["T", B]), TensorType("f32", [B])])
    b = Builder.at_end(f.body)

    def step(b, h, x):
        values = [h, x, h]
        for name, k in chain:
            cur = values[-1]
            cur = getattr(b, name)(cur) if name in UNARY else getattr(b, name)(cur, values[k])
            values.append(cur)
        out = values[-1]
        return [out, values[picks[0]] if picks[0] < 2 else out, values[picks[1]]]

    h, ys, zs = build_scan(b, [f.args[1]], [f.args[0]], step, reverse=reverse)

    def branch(names):
        def build(b, h):
            for name in names:
                h = getattr(b, name)(h)
            return [h]

        return build

    positive = b.less(b.constant(0.0), b.reduce_sum(h, axes=[0]))
    (out,) = build_if(b, positive, [h], branch(branches[0]), branch(branches[1]))
    b.ret(out, ys, zs)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    xs = rng.uniform(-2, 2, (T, B)).astype(np.float32)
    h0 = rng.uniform(-2, 2, B).astype(np.float32)
    return m.verify(), xs, h0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loop_programs())
def test_random_programs_with_scans_and_ifs_agree(program):
    m, xs, h0 = program
    exe, oracle = compiled(m, "f")
    agree(exe, oracle, "f", xs, h0)


def test_a_hoisted_weight_gradient_for_every_length_and_zero_trips():
    """The weight's cotangent summed after the backward scan as one matmul over
    the T*B rows (ir/ops/control.py's _matmul_term), T = 0 included."""
    from kiln.passes.autodiff import differentiate

    m = Module()
    f = m.add_function("loss", [TensorType("f64", ["T", 2, 3]), TensorType("f64", [3, 3])])
    b = Builder.at_end(f.body)
    xs, w = f.args

    def step(b, h, w, x):
        h2 = b.tanh(b.add(b.matmul(h, w), x))
        return [h2, w, b.mul(h2, h2)]

    h0 = b.broadcast_to(b.constant(0.3, "f64"), shape=[2, 3])
    h, _, ys = build_scan(b, [h0, w], [xs], step)
    b.ret(b.add(b.reduce_sum(h, axes=[0, 1]), b.reduce_sum(ys, axes=[0, 1, 2])))
    m.verify()
    differentiate(m, "loss", wrt=[0, 1], name="dloss")
    text = str(m)
    backward = kiln.compile(m, "dloss", backend="cpu")
    assert "transpose_a = true" in str(m["dloss"])  # the matmul after the loop
    forward = kiln.compile(parse(text), "loss", backend="cpu")
    rng = np.random.default_rng(8)
    w_ = rng.standard_normal((3, 3)) * 0.5
    for T in (0, 1, 4):
        xs_ = rng.standard_normal((T, 2, 3)) * 0.5
        got = backward(xs_, w_)
        np.testing.assert_allclose(got[-1], finite_differences(forward, [xs_, w_], 1), atol=1e-7)
        if T:
            np.testing.assert_allclose(
                got[-2], finite_differences(forward, [xs_, w_], 0), atol=1e-7
            )
        else:
            assert not got[-1].any()


def _copies_in_loops(nodes, inside=False):
    """The Copy nodes of a runtime/control.py tree that run inside a while loop."""
    from kiln.runtime.control import Copy, While

    for n in nodes:
        if isinstance(n, Copy) and inside:
            yield n
        for part in ("cond", "body", "then", "other"):
            yield from _copies_in_loops(getattr(n, part, []), inside or isinstance(n, While))


def test_a_while_gradient_stores_each_trip_in_its_slot_in_place():
    """The forward loop of a while's gradient writes trip t's values into slot t of
    its M-slot buffers in place (the scatter_add's result planned in its carried
    buffer: no copy of the M slots per trip), and the gradient still matches
    finite differences when the loop runs to its bound, stops early, or runs no trip."""
    from kiln.passes.autodiff import differentiate

    m = loss_program("while")
    differentiate(m, "loss", wrt=[0, 1], name="dloss")
    forward = kiln.compile(parse(str(m)), "loss", backend="cpu")
    backward = kiln.compile(m, "dloss", backend="cpu")
    assert backward.report.stat("slot updates in place") >= 2  # x's and w's slots
    check_plan(m["dloss"])
    tree = backward.compiled.tree
    slots = {ids[-1] for _, op, ids in tree.kernels if op.name == "kiln.scatter_add"}
    assert slots
    assert not [c for c in _copies_in_loops(tree.nodes) if c.dst in slots]
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 3)) * 0.5
    for scale in (0.01, 3.0, 200.0):  # 6 trips (the bound), a few, none
        xs = rng.standard_normal((5, 3)) * scale
        got = backward(xs, w)
        for k in (0, 1):
            want = finite_differences(forward, [xs, w], k)
            np.testing.assert_allclose(got[-2 + k], want, rtol=1e-5, atol=1e-7)


def _loop_nodes(nodes):
    from kiln.runtime.control import Scan, While

    for n in nodes:
        if isinstance(n, (Scan, While)):
            yield n
        for part in ("cond", "body", "then", "other"):
            yield from _loop_nodes(getattr(n, part, []))


@pytest.mark.parametrize("program,name", [(swap_loop, "swap"), (nested_while, "nest")])
def test_carried_values_swap_memory_instead_of_a_copy_per_trip(program, name):
    """A body's next carried value, computed into a buffer of its own, swaps memory
    with the carried buffer (no copy per trip); after an odd or even number of
    trips, nested or not, the results are the interpreter's."""
    from kiln.runtime.control import Swap

    exe, oracle = compiled(program(), name)
    loops = list(_loop_nodes(exe.compiled.tree.nodes))
    assert any(loop.swaps for loop in loops)
    for loop in loops:
        assert loop.swaps == [n for n in loop.body if isinstance(n, Swap)]
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 3, 6):
        args = [np.int32(n), *rng.standard_normal((2, 3 if name == "swap" else 4))]
        args = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args]
        agree(exe, oracle, name, *args[: 3 if name == "swap" else 2])


def test_a_scan_swaps_its_carried_state():
    """A scan (an if and a while in its body) whose next h is the if's result swaps
    memory with the carried h each step, for odd and even lengths and none."""
    m = rnn()
    exe, oracle = compiled(m, "rnn")
    scans = [n for n in _loop_nodes(exe.compiled.tree.nodes) if hasattr(n, "length")]
    rng = np.random.default_rng(8)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    for T in (0, 1, 2, 7):
        xs = rng.standard_normal((T, 2, 4)).astype(np.float32)
        agree(exe, oracle, "rnn", xs, w, np.bool_(T % 2))
    assert any(scan.swaps for scan in scans)
