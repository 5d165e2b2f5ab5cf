"""scan-hoist (passes/scan_hoist.py): a scan body's matmul of a scanned slice by
an invariant carried matrix becomes one matmul over all steps before the scan."""

import re

import numpy as np
import pytest

import kiln
from kiln.ir import interpret, parse
from kiln.passes import run_pipeline

PROGRAM = """func @f(%h0: H, %w: W, %u: U, %xs: XS) -> (H, YS) {
  %h, %v, %q, %ys = kiln.scan %h0, %w, %u, %xs {num_carried = 3} : (H, W, U, XS) -> (H, W, U, YS) ({
  ^bb0(%c: H, %wa: W, %ua: U, %x: X):
    %p = kiln.matmul %x, %wa : (X, W) -> H
    %r = kiln.matmul %c, %ua : (H, U) -> H
    %s = kiln.add %p, %r : H
    %n = kiln.tanh %s : H
    kiln.yield %n, %wa, %ua, %n : (H, W, U, H) -> ()
  })
  kiln.return %h, %ys : (H, YS) -> ()
}"""
TYPES = {
    "YS": "tensor<Tx2x4xf32>",
    "XS": "tensor<Tx2x3xf32>",
    "H": "tensor<2x4xf32>",
    "W": "tensor<3x4xf32>",
    "U": "tensor<4x4xf32>",
    "X": "tensor<2x3xf32>",
}


def program():
    """A one-layer RNN scan: tanh(x_t @ w + h @ u), T symbolic."""
    return parse(re.sub(r"\b(YS|XS|H|W|U|X)\b", lambda m: TYPES[m.group(1)], PROGRAM))


def _matmuls(block):
    return [op for op in block.ops if op.name == "kiln.matmul"]


def test_the_input_matmul_leaves_the_body_and_the_recurrent_one_stays():
    m = program()
    report = run_pipeline(m, "scan-hoist")
    assert report.stat("matmuls hoisted") == 1
    func = m["f"]
    (outside,) = _matmuls(func.body)
    assert [str(v.type) for v in outside.operands] == ["tensor<Tx2x3xf32>", "tensor<3x4xf32>"]
    assert str(outside.result.type) == "tensor<Tx2x4xf32>"  # the symbol T kept
    scan = next(op for op in func.body.ops if op.name == "kiln.scan")
    (inside,) = _matmuls(scan.body)
    assert inside.operands[0] is scan.body.args[0]  # h @ u: carried, not hoistable
    assert str(parse(str(m))) == str(m)


@pytest.mark.parametrize("T", [0, 1, 5])
def test_hoisted_scan_agrees_with_the_interpreter_and_natively(T):
    rng = np.random.default_rng(T)
    args = [
        rng.standard_normal((2, 4)).astype(np.float32),
        rng.standard_normal((3, 4)).astype(np.float32),
        (rng.standard_normal((4, 4)) * 0.5).astype(np.float32),
        rng.standard_normal((T, 2, 3)).astype(np.float32),
    ]
    want = interpret(program(), "f", *args)
    hoisted = program()
    run_pipeline(hoisted, "scan-hoist")
    for got in (interpret(hoisted, "f", *args), kiln.compile(program(), "f", backend="cpu")(*args)):
        for g, w in zip(got, want):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


REUSE = """func @g(%h0: H, %u: U, %xs: YS) -> (YS, YS) {
  %h, %q, %ys, %hs = kiln.scan %h0, %u, %xs {num_carried = 2} : (H, U, YS) -> (H, U, YS, YS) ({
  ^bb0(%c: H, %ua: U, %x: H):
    %r = kiln.matmul %c, %ua : (H, U) -> H
    %s = kiln.add %r, %x : H
    %n = kiln.tanh %s : H
    kiln.yield %n, %ua, %n, %c : (H, U, H, H) -> ()
  })
  %p = kiln.matmul %hs, %u : (YS, U) -> YS
  kiln.return %ys, %p : (YS, YS) -> ()
}"""


def reuse_program():
    """A scan stacking its carried h_{t-1} (a residual) and, after it, that stack
    times the scan's invariant u: what the body's h @ u gave at every step."""
    return parse(re.sub(r"\b(YS|H|U)\b", lambda m: TYPES[m.group(1)], REUSE))


@pytest.mark.parametrize("T", [0, 1, 4])
def test_a_product_the_body_computes_is_stacked_not_recomputed(T):
    m = reuse_program()
    report = run_pipeline(m, "scan-hoist")
    assert report.stat("products reused") == 1
    func = m["g"]
    assert not _matmuls(func.body)  # the outside matmul is a stacked output now
    rng = np.random.default_rng(10 + T)
    args = [
        rng.standard_normal((2, 4)).astype(np.float32),
        (rng.standard_normal((4, 4)) * 0.5).astype(np.float32),
        rng.standard_normal((T, 2, 4)).astype(np.float32),
    ]
    want = interpret(reuse_program(), "g", *args)
    for got in (interpret(m, "g", *args), kiln.compile(reuse_program(), "g", backend="cpu")(*args)):
        for g, w in zip(got, want):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
