"""Passes visit each op a bounded number of times (counted, not timed), so
their cost grows linearly with the graph."""

import numpy as np

from kiln.ir import Builder, Module, TensorType
from kiln.passes.canonicalize import CANONICAL
from kiln.passes.decompose import DECOMPOSITIONS
from kiln.passes.fuse import Fuser
from kiln.passes.rewrite import apply_patterns

T = TensorType("f32", [8])


def _chain(n: int, step) -> Module:
    m = Module()
    f = m.add_function("f", [T], ["x"])
    b = Builder.at_end(f.body)
    v = f.args[0]
    one = b.constant(np.float32(1))
    for i in range(n):
        v = step(b, v, one, i)
    b.ret(v)
    return m


def _visit_counts(m: Module, patterns) -> tuple[dict, dict]:
    visits: dict = {}
    stats = apply_patterns(m, patterns, visits=visits)
    return visits, stats


def test_canonicalize_visits_each_op_a_bounded_number_of_times():
    for n in (100, 1000):
        # x * 1 folds away; neg(neg(x)) collapses: most ops are rewritten
        m = _chain(n, lambda b, v, one, i: b.mul(v, one) if i % 3 == 0 else b.neg(v))
        ops = sum(1 for _ in m["f"].walk())
        visits, stats = _visit_counts(m, CANONICAL)
        assert stats["rewrites"] >= n // 3
        assert max(visits.values()) <= 4
        assert sum(visits.values()) <= 4 * ops
        m.verify()


def test_decompose_visits_each_op_a_bounded_number_of_times():
    n = 300
    m = _chain(n, lambda b, v, one, i: b.softmax(v, axis=0) if i % 2 else b.tanh(v))
    visits, stats = _visit_counts(m, DECOMPOSITIONS)
    assert stats["rewrites"] == n // 2
    built = len(visits)  # every op the decompositions built is visited too
    assert built > n and max(visits.values()) <= 3 and sum(visits.values()) <= 3 * built
    assert not any(op.name == "kiln.softmax" for op in m["f"].walk())
    m.verify()


def test_fuse_bounds_a_kernel_and_keeps_a_short_chain_whole():
    def step(b, v, one, i):
        return b.tanh(v)

    short = _chain(10, step)
    groups = Fuser(short["f"].body, max_ops=64).form_groups()
    assert [len(g.members) for g in groups] == [10]
    long = _chain(200, step)
    groups = Fuser(long["f"].body, max_ops=64).form_groups()
    assert [len(g.members) for g in groups] == [64, 64, 64, 8]


def test_a_large_splat_a_conv_reads_stays_an_input_not_a_kernel_global():
    """A filter filled by one value (ONNX's ConstantOfShape weights) is a matrix
    to the conv kernel: copied into the group it became a global whose every
    byte was printed into the kernel's LLVM IR (ResNet-50: 10 s of 27). It stays
    a group input, held once by the runtime; a small splat (the bias) is copied."""
    from kiln.passes import run_pipeline
    from kiln.runtime.cpu import CpuProgram

    m = Module()
    f = m.add_function("f", [TensorType("f32", [1, 8, 8, 64])], ["x"])
    b = Builder.at_end(f.body)
    w = b.constant(np.broadcast_to(np.float32(0.01), (3, 3, 64, 64)))
    bias = b.constant(np.broadcast_to(np.float32(0.5), (64,)))
    y = b.relu(b.add(b.conv2d(f.args[0], w, padding="SAME"), bias))
    b.ret(y)
    assert w.op.value.array.strides == (0, 0, 0, 0)  # kept as one element, not 147 KB
    run_pipeline(m, "fuse,plan")
    [fused] = [op for op in m["f"].ops if op.name == "kiln.fused"]
    assert w in fused.operands and bias not in fused.operands
    [step] = CpuProgram(m, "f").steps
    assert len(str(step.kernel.module)) < 20_000  # no 36,864-element global


def test_dag_agrees_with_networkx_on_random_graphs():
    """passes/dag.py replaces networkx in fuse: the same reachability, the same
    contraction and the same lexicographical topological order."""
    import networkx as nx

    from kiln.passes.dag import Dag, topological_order

    rng = np.random.default_rng(0)
    for trial in range(40):
        n = int(rng.integers(1, 30))
        edges = [(int(a), int(b)) for a, b in rng.integers(0, n, (2 * n, 2)) if a < b]
        keys = {i: int(k) for i, k in enumerate(rng.permutation(n))}
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges)
        want = list(nx.lexicographical_topological_sort(g, key=keys.__getitem__))
        assert topological_order(range(n), edges, key=keys.__getitem__) == want, trial
        d = Dag()
        for i in range(n):
            d.add_node(i)
        for a, b in edges:
            d.add_edge(a, b)
        if n > 2:
            nx.contracted_nodes(g, 0, n - 1, self_loops=False, copy=False)
            d.contract(0, n - 1)
        for a in g:
            assert sorted(d.successors(a)) == sorted(g.successors(a))
            for b in g:
                assert d.has_path(a, b) == nx.has_path(g, a, b)
