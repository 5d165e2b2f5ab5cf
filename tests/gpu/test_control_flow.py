"""Region ops on the GPU backend (runtime/gpu.py): kiln.if / kiln.while /
kiln.scan run on the host side of the launcher, their regions' kernels as
Triton kernels (here in Triton's interpreter), against the reference
interpreter: data-dependent trip counts, swapped carried values, zero trips,
nested loops, reverse scans, symbolic lengths, an if on a computed predicate,
a dynamic_rnn LSTM forward and its gradient."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln
from kiln.ir import Builder, Module, TensorType, interpret, parse
from kiln.ir.control_flow import build_if, build_scan, build_while
from kiln.runtime.gpu import Move


def compiled(m: Module, name: str):
    """(GPU executable, interpreter oracle module); no op may fall back to the host."""
    oracle = parse(str(m))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a host fallback warns
        exe = kiln.compile(m, name, backend="gpu")
    assert exe.backend == "gpu"
    assert exe.compiled.host_ops == []
    return exe, oracle


def agree(exe, oracle, name, *args, rtol=1e-5, atol=1e-6):
    got = exe(*args)
    want = interpret(oracle, name, *args)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (i, g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"result {i}")
    return got


def nodes_of(tree_nodes):
    """Every node of a runtime/control.py tree, nested ones included."""
    for node in tree_nodes:
        yield node
        for attr in ("then", "other", "cond", "body"):
            yield from nodes_of(getattr(node, attr, ()))


# ------------------------------------------------------------------ while


def collatz():
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
    for n in (1, 6, 27):
        agree(exe, oracle, "collatz", np.int32(n))
    assert [int(v) for v in exe(np.int32(27))] == [111, 1]


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

    b.ret(*build_while(b, [b.constant(0, "i32"), *f.args], cond, body, bound))
    return m.verify()


@pytest.mark.parametrize("bound", [-1, 3])
def test_while_swapping_carried_values_zero_trips_and_max_iterations(bound):
    exe, oracle = compiled(swap_loop(bound), "swap")
    rng = np.random.default_rng(0)
    for n in (0, 1, 4):
        x, y = rng.standard_normal((2, 3)).astype(np.float32)
        i = agree(exe, oracle, "swap", np.int32(n), x, y)[0]
        assert i == (min(n, bound) if bound >= 0 else n)


def nested_while():
    m = Module()
    f = m.add_function("nest", [TensorType("i32", []), TensorType("f32", [4])])
    b = Builder.at_end(f.body)

    def inner_cond(b, j, acc):
        return [b.less(j, b.constant(3, "i32"))]

    def inner_body(b, j, acc):
        return [b.add(j, b.constant(1, "i32")), b.add(b.mul(acc, b.constant(0.5)), b.tanh(acc))]

    def cond(b, i, n, acc):
        return [b.less(i, n)]

    def body(b, i, n, acc):
        _, acc2 = build_while(b, [b.constant(0, "i32"), acc], inner_cond, inner_body)
        return [b.add(i, b.constant(1, "i32")), n, b.add(acc2, b.cast(i, dtype="f32"))]

    _, _, acc = build_while(b, [b.constant(0, "i32"), *f.args], cond, body)
    b.ret(acc)
    return m.verify()


def test_nested_while_loops_swap_the_body_results_into_the_carried_buffers():
    exe, oracle = compiled(nested_while(), "nest")
    rng = np.random.default_rng(1)
    for n in (0, 1, 3):
        agree(exe, oracle, "nest", np.int32(n), rng.standard_normal(4).astype(np.float32))
    assert any(isinstance(n, Move) for n in nodes_of(exe.compiled.tree.nodes))


# ------------------------------------------------------------------ scan and if


def rnn(reverse=False, batch=2, hidden=4):
    """A scan over xs of symbolic length T with an if inside the body and a
    while inside the if's then branch, then an if after it."""
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
    for T, p in ((0, True), (1, False), (4, True)):
        xs = (rng.standard_normal((T, 2, 4)) * 2).astype(np.float32)
        got = agree(exe, oracle, "rnn", xs, w, np.bool_(p))
        assert got[1].shape == (T, 2, 4) and got[2].shape == (T, 2)
    assert len(exe.compiled.plans) == 3  # compiled once, planned per length


def nested_scan():
    """Rows scanned, each row's columns scanned in reverse inside (nested scans)."""
    m = Module()
    f = m.add_function("grid", [TensorType("f32", ["R", "C", 3])])
    b = Builder.at_end(f.body)

    def row(b, acc, r):
        def col(b, c, x):
            c2 = b.add(b.mul(c, b.constant(0.9)), x)
            return [c2, b.mul(c2, c2)]

        c, sq = build_scan(b, [acc], [r], col, reverse=True)
        return [c, sq, b.tanh(c)]

    b.ret(*build_scan(b, [b.broadcast_to(b.constant(0.0), shape=[3])], [f.args[0]], row))
    return m.verify()


def test_nested_scans_with_stacked_outputs():
    exe, oracle = compiled(nested_scan(), "grid")
    rng = np.random.default_rng(4)
    for r, c in ((1, 1), (3, 2), (0, 2), (2, 0)):
        agree(exe, oracle, "grid", rng.standard_normal((r, c, 3)).astype(np.float32))


def test_repeated_calls_keep_the_pool_consistent_after_swaps():
    """Swaps rebind pooled memory and results: a result handed out earlier is
    never overwritten by a later call."""
    exe, oracle = compiled(nested_while(), "nest")
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((2, 4)).astype(np.float32)
    first = exe.run_resident(np.int32(3), x1)[0]  # stays in device memory
    second = exe.run_resident(np.int32(2), x2)[0]
    agree(exe, oracle, "nest", np.int32(5), x2)
    for held, (n, x) in ((first, (3, x1)), (second, (2, x2))):
        want = interpret(oracle, "nest", np.int32(n), x)[0]
        np.testing.assert_allclose(np.asarray(held), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ an LSTM


def lstm_graph(kl, layers: int):
    """One LSTM layer; or two stacked over 4 steps with `sequence_length` [4, 2]
    (the mask is a cumsum; the second sequence's state frozen after 2 steps)."""
    xp = kl.placeholder(kl.float32, [2, None, 3])
    with kl.variable_scope("rnn", initializer=kl.random_uniform_initializer(-0.5, 0.5, seed=3)):
        if layers == 1:
            out, state = kl.nn.dynamic_rnn(kl.nn.rnn_cell.BasicLSTMCell(4), xp, dtype=kl.float32)
            c = state.c
        else:
            cells = [kl.nn.rnn_cell.BasicLSTMCell(4) for _ in range(layers)]
            out, state = kl.nn.dynamic_rnn(
                kl.nn.rnn_cell.MultiRNNCell(cells), xp, sequence_length=[4, 2], dtype=kl.float32
            )
            c = state[-1].c
    loss = kl.reduce_mean(kl.square(out)) + kl.reduce_sum(c)
    grads = kl.gradients(loss, kl.trainable_variables())
    return xp, out, loss, grads


@pytest.mark.parametrize(("T", "layers"), [(1, 1), (5, 1), (4, 2)])
def test_dynamic_rnn_lstm_forward_and_gradient_against_the_interpreter(T, layers, monkeypatch):
    from kiln import frontend as kl
    from kiln.runtime import gpu
    from kiln.runtime.control import Scan, While

    made = []
    init = gpu.GpuExecutable.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(gpu.GpuExecutable, "__init__", recording)

    x = np.random.default_rng(5).standard_normal((2, T, 3)).astype(np.float32)
    results = {}
    for backend in ("interpreter", "gpu"):
        with kl.Graph().as_default():
            xp, out, loss, grads = lstm_graph(kl, layers)
            with kl.Session(backend=backend) as s:
                s.run(kl.global_variables_initializer())  # kiln.random: on the host
                with warnings.catch_warnings():
                    if backend == "gpu":
                        warnings.simplefilter("error")  # the step: nothing on the host
                    results[backend] = s.run([out, loss, *grads], {xp: x})
    for g, w in zip(results["gpu"], results["interpreter"]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    loops = [
        exe for exe in made if any(isinstance(n, (Scan, While)) for n in nodes_of(exe.tree.nodes))
    ]
    assert loops and all(not exe.host_ops for exe in loops)  # the step ran as Triton kernels


# ------------------------------------------------------------------ what a trip costs


def counting(exe, monkeypatch):
    """Counters of the host-side byte copies and predicate reads of `exe`'s calls."""
    memory = exe.compiled.memory
    counts = {"copies": 0, "reads": 0}
    copy_bytes, flag = memory.copy_bytes, memory.flag

    def counted_copy(dst, src):
        counts["copies"] += 1
        copy_bytes(dst, src)

    def counted_flag(raw):
        counts["reads"] += 1
        return flag(raw)

    monkeypatch.setattr(memory, "copy_bytes", counted_copy)
    monkeypatch.setattr(memory, "flag", counted_flag)
    return counts


def test_a_while_trip_copies_nothing_and_reads_back_only_its_condition(monkeypatch):
    exe, oracle = compiled(collatz(), "collatz")
    counts = counting(exe, monkeypatch)
    per_call = []
    for n, trips in ((1, 0), (6, 8), (27, 111)):
        counts.update(copies=0, reads=0)
        agree(exe, oracle, "collatz", np.int32(n))
        assert counts["reads"] == trips + 1  # the condition, once per test
        per_call.append(counts["copies"])
    assert len(set(per_call)) == 1  # the body's results are swapped in, never copied


def scan_rnn():
    m = Module()
    f = m.add_function("scan", [TensorType("f32", ["T", 2, 3]), TensorType("f32", [3, 3])])
    b = Builder.at_end(f.body)

    def step(b, h, w, x):
        h2 = b.tanh(b.add(b.matmul(h, w), x))
        return [h2, w, b.mul(h2, b.constant(2.0))]

    h0 = b.broadcast_to(b.constant(0.0), shape=[2, 3])
    h, _, ys = build_scan(b, [h0, f.args[1]], [f.args[0]], step)
    b.ret(h, ys)
    return m.verify()


def test_a_scan_trip_reads_slices_and_writes_rows_in_place(monkeypatch):
    exe, oracle = compiled(scan_rnn(), "scan")
    counts = counting(exe, monkeypatch)
    rng = np.random.default_rng(8)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    per_call = []
    for T in (0, 1, 6):
        counts.update(copies=0, reads=0)
        agree(exe, oracle, "scan", rng.standard_normal((T, 2, 3)).astype(np.float32), w)
        assert counts["reads"] == 0  # a counted loop reads nothing back
        per_call.append(counts["copies"])
    assert len(set(per_call)) == 1  # no copy per trip: slices, rows and carried in place


# ------------------------------------------------------------------ random programs and faults

UNARY = ["tanh", "neg", "abs", "sigmoid", "relu"]
BINARY = ["add", "sub", "mul", "max", "min"]


@st.composite
def loop_programs(draw):
    """A scan over xs[T, B] whose body is a random chain on its carried value and
    slice, then a while halving the result until small (data-dependent trips,
    bounded), then an if on its sum with random branches: (module, xs, h0)."""
    chain = draw(
        st.lists(st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 1)), max_size=4)
    )
    branches = [draw(st.lists(st.sampled_from(UNARY), max_size=2)) for _ in range(2)]
    reverse, bound = draw(st.booleans()), draw(st.sampled_from([-1, 0, 2]))
    T, B = draw(st.integers(0, 3)), draw(st.integers(1, 3))

    m = Module()
    f = m.add_function("f", [TensorType("f32", ["T", B]), TensorType("f32", [B])])
    b = Builder.at_end(f.body)

    def step(b, h, x):
        values = [h, x]
        for name, k in chain:
            cur = values[-1]
            cur = getattr(b, name)(cur) if name in UNARY else getattr(b, name)(cur, values[k])
            values.append(cur)
        return [values[-1], values[-1] if len(values) > 2 else b.neg(x)]

    h, ys = build_scan(b, [f.args[1]], [f.args[0]], step, reverse=reverse)

    def cond(b, v):
        return [b.less(b.constant(0.5), b.reduce_max(b.abs(v), axes=[0]))]

    (h,) = build_while(b, [h], cond, lambda b, v: [b.mul(v, b.constant(0.5))], bound)

    def branch(names):
        def build(b, v):
            for name in names:
                v = getattr(b, name)(v)
            return [v]

        return build

    positive = b.less(b.constant(0.0), b.reduce_sum(h, axes=[0]))
    (out,) = build_if(b, positive, [h], branch(branches[0]), branch(branches[1]))
    b.ret(out, ys)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    xs = rng.uniform(-2, 2, (T, B)).astype(np.float32)
    h0 = rng.uniform(-4, 4, B).astype(np.float32)
    return m.verify(), xs, h0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loop_programs())
def test_random_programs_with_scans_whiles_and_ifs_agree(program):
    m, xs, h0 = program
    exe, oracle = compiled(m, "f")
    agree(exe, oracle, "f", xs, h0)


def test_a_fault_inside_a_loop_body_names_the_op():
    from kiln.ir import ExecutionError

    m = Module()
    f = m.add_function("f", [TensorType("i32", ["T"]), TensorType("i32", [])])
    b = Builder.at_end(f.body)

    def step(b, acc, x):
        return [b.add(acc, b.div(b.constant(12, "i32"), x))]

    (acc,) = build_scan(b, [f.args[1]], [f.args[0]], step)
    b.ret(acc)
    exe, oracle = compiled(m.verify(), "f")
    agree(exe, oracle, "f", np.array([1, 2, 3], np.int32), np.int32(0))
    with pytest.raises(ExecutionError, match="kiln.fused: integer division by zero"):
        exe(np.array([4, 0, 2], np.int32), np.int32(0))


def test_kiln_debug_shows_a_loop_kernels_first_launch_once(monkeypatch, capsys):
    monkeypatch.setenv("KILN_DEBUG", "1")
    exe, oracle = compiled(collatz(), "collatz")
    capsys.readouterr()
    agree(exe, oracle, "collatz", np.int32(27))  # 111 trips
    shown = [line for line in capsys.readouterr().err.splitlines() if "first launch" in line]
    kernels = [s.kernel.name for s in exe.compiled.steps]
    assert sorted(line.split("@")[1].split()[0] for line in shown) == sorted(kernels)


def test_a_host_op_inside_a_scan_body_reads_and_writes_its_rows():
    """An op with no Triton kernel (top_k) inside a loop runs on the host per
    trip, on the trip's slice and into the stacked output's row."""
    m = Module()
    f = m.add_function("f", [TensorType("f32", ["T", 5]), TensorType("f32", [2])])
    b = Builder.at_end(f.body)

    def step(b, acc, x):
        values, indices = b.create("kiln.top_k", b.tanh(x), k=2).results
        return [b.add(acc, values), b.mul(values, b.constant(3.0)), indices]

    b.ret(*build_scan(b, [f.args[1]], [f.args[0]], step))
    oracle = parse(str(m.verify()))
    with pytest.warns(UserWarning, match="kiln.top_k"):
        exe = kiln.compile(m, "f", backend="gpu")
    rng = np.random.default_rng(9)
    for T in (0, 1, 4):
        agree(
            exe, oracle, "f", rng.standard_normal((T, 5)).astype(np.float32), np.ones(2, np.float32)
        )
