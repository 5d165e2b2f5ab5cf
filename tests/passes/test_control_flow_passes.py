"""Passes inside the regions of kiln.if / kiln.while / kiln.scan: canonical
patterns (a constant predicate, a loop that never runs, the residual scan of
a gradient merged into the forward one), fold, CSE and DCE in nested
blocks, loop-invariant code motion; each result checked against the
reference interpreter on the module before the pass."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.ir import (
    Builder,
    Module,
    TensorType,
    build_if,
    build_scan,
    build_while,
    interpret,
    parse,
)
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.passes.autodiff import differentiate

rng = np.random.default_rng(7)
F = TensorType("f64", [2, 3])
W = TensorType("f64", [3, 3])


def names(func):
    return [op.name for op in func.walk()]


def module(types, body):
    m = Module()
    f = m.add_function("f", types, [f"a{i}" for i in range(len(types))])
    b = Builder.at_end(f.body)
    b.ret(*body(b, *f.args))
    return m.verify()


def same_results(before: Module, after: Module, *args, name="f"):
    for want, got in zip(interpret(before, name, *args), interpret(after, name, *args)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("value", [True, False])
def test_if_on_a_constant_predicate_folds_to_its_branch(value):
    def body(b, x):
        p = b.constant(value, "bool")
        return build_if(b, p, [x], lambda b, x: [b.tanh(x)], lambda b, x: [b.exp(x)])

    m = module([F], body)
    before = parse(str(m))
    run_pipeline(m, "canonicalize")
    assert "kiln.if" not in names(m["f"])
    assert ("kiln.tanh" if value else "kiln.exp") in names(m["f"])
    same_results(before, m, rng.standard_normal((2, 3)))


def test_while_that_never_runs_is_its_init():
    def body(b, x):
        return build_while(
            b, [x], lambda b, x: [b.constant(False, "bool")], lambda b, x: [b.exp(x)]
        )

    m = module([F], body)
    run_pipeline(m, "canonicalize")
    assert "kiln.while" not in names(m["f"])


def scan_with_waste(b, xs, h0, w):
    """A scan body with a duplicate (CSE), a dead op (DCE), a constant expression
    (fold), an x*1 (canonicalize) and a loop-invariant w @ w (LICM)."""

    def step(b, h, w, x):
        ww = b.matmul(w, w)
        a = b.tanh(b.add(b.matmul(h, ww), x))
        a2 = b.tanh(b.add(b.matmul(h, ww), x))
        b.exp(a)  # dead
        two = b.add(b.constant(1.0, "f64"), b.constant(1.0, "f64"))
        y = b.mul(b.mul(a, two), b.constant(1.0, "f64"))
        return [b.add(a, a2), w, y]

    return build_scan(b, [h0, w], [xs], step)


def test_fold_cse_dce_inside_a_scan_body():
    m = module([TensorType("f64", ["T", 2, 3]), F, W], scan_with_waste)
    before = parse(str(m))
    run_pipeline(m, "canonicalize,fold,cse,dce")
    body = [op for op in m["f"].walk() if op.name == "kiln.scan"][0].body
    inner = [op.name for op in body.ops]
    assert inner.count("kiln.tanh") == 1  # CSE
    assert "kiln.exp" not in inner  # DCE
    assert inner.count("kiln.matmul") == 2  # the duplicate h @ ww merged
    consts = [op for op in body.ops if op.name == "kiln.constant"]
    assert len(consts) == 1  # 1 + 1 folded to one constant 2; the * 1 is gone
    m.verify()
    xs, h0, w = (
        rng.standard_normal((4, 2, 3)),
        rng.standard_normal((2, 3)),
        rng.standard_normal((3, 3)),
    )
    same_results(before, m, xs * 0.3, h0, w * 0.3)


def test_licm_hoists_the_invariant_matmul():
    m = module([TensorType("f64", ["T", 2, 3]), F, W], scan_with_waste)
    before = parse(str(m))
    report = run_pipeline(m, "licm")
    m.verify()
    scan = [op for op in m["f"].ops if op.name == "kiln.scan"][0]
    outside = [op.name for op in m["f"].ops]
    assert outside.count("kiln.matmul") == 1  # w @ w, once, before the loop
    assert [op.name for op in scan.body.ops].count("kiln.matmul") == 2  # h @ ww twice
    assert scan.num_carried == 3
    assert "ops hoisted" in str(report)
    for T in (1, 5):
        xs = rng.standard_normal((T, 2, 3)) * 0.3
        same_results(before, m, xs, rng.standard_normal((2, 3)), rng.standard_normal((3, 3)) * 0.3)
    assert parse(str(m)) == m


def test_licm_in_a_while_body():
    def body(b, n, x, w):
        def cond(b, i, n, x, w):
            return [b.less(i, n)]

        def step(b, i, n, x, w):
            scale = b.exp(b.reduce_sum(w))
            return [b.add(i, b.constant(1, "i32")), n, b.tanh(b.mul(x, scale)), w]

        return build_while(b, [b.constant(0, "i32"), n, x, w], cond, step)[2:3]

    m = module([TensorType("i32", []), F, F], body)
    before = parse(str(m))
    run_pipeline(m, "licm,dce")
    m.verify()
    loop = [op for op in m["f"].ops if op.name == "kiln.while"][0]
    assert "kiln.exp" not in [op.name for op in loop.body_block.ops]
    assert "kiln.exp" in [op.name for op in m["f"].ops]
    for n in (0, 3):
        same_results(
            before, m, np.int32(n), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)) * 0.1
        )


def test_gradient_residual_scan_merges_into_the_forward_scan():
    """The scan VJP builds a second forward scan that stacks the carried inputs;
    canonicalize merges it into the forward scan: one loop forward, one back."""

    def body(b, xs, h0, w):
        def step(b, h, w, x):
            h2 = b.tanh(b.add(b.matmul(h, w), x))
            return [h2, w, h2]

        return build_scan(b, [h0, w], [xs], step)

    m = module([TensorType("f64", ["T", 2, 3]), F, W], body)
    grad = differentiate(m, "f", [0, 1, 2], of=[0, 2], seeds=True)
    before = parse(str(m))
    assert names(grad).count("kiln.scan") == 3
    run_pipeline(m, "canonicalize,cse,dce")
    m.verify()
    assert [op.name for op in grad.ops].count("kiln.scan") == 2
    xs, h0, w = (
        rng.standard_normal((5, 2, 3)),
        rng.standard_normal((2, 3)),
        rng.standard_normal((3, 3)),
    )
    same_results(
        before,
        m,
        xs,
        h0,
        w,
        rng.standard_normal((2, 3)),
        rng.standard_normal((5, 2, 3)),
        name=grad.name,
    )


def test_default_pipeline_with_control_flow():
    """The whole default pipeline (fuse and plan included) on functions with
    loops and conditionals leaves them verified and computing the same."""

    def body(b, p, xs, h0, w):
        h, w2, ys = scan_with_waste(b, xs, h0, w)
        return build_if(
            b, p, [h, ys], lambda b, h, ys: [b.relu(h), ys], lambda b, h, ys: [b.neg(h), b.exp(ys)]
        )

    m = module([TensorType("bool", []), TensorType("f64", ["T", 2, 3]), F, W], body)
    before = parse(str(m))
    run_pipeline(m, DEFAULT_PIPELINE)
    m.verify()
    for p in (True, False):
        xs, h0, w = (
            rng.standard_normal((3, 2, 3)) * 0.3,
            rng.standard_normal((2, 3)),
            rng.standard_normal((3, 3)) * 0.3,
        )
        same_results(before, m, np.bool_(p), xs, h0, w)


def test_fuse_groups_ops_inside_loop_bodies():
    def body(b, xs, h0, w):
        def step(b, h, w, x):
            h2 = b.tanh(b.add(b.matmul(h, w), x))
            return [h2, w, b.mul(b.sigmoid(h2), b.exp(x))]

        return build_scan(b, [h0, w], [xs], step)

    m = module([TensorType("f64", ["T", 2, 3]), F, W], body)
    before = parse(str(m))
    run_pipeline(m, "fuse")
    m.verify()
    scan = [op for op in m["f"].ops if op.name == "kiln.scan"][0]
    inner = [op.name for op in scan.body.ops]
    assert inner == ["kiln.fused", "kiln.yield"]  # the matmul with its whole epilogue
    assert scan.body.first.kind == "matmul"
    xs, h0, w = (
        rng.standard_normal((4, 2, 3)),
        rng.standard_normal((2, 3)),
        rng.standard_normal((3, 3)),
    )
    same_results(before, m, xs, h0, w)
