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
    return _typed(PROGRAM)


def _typed(text: str):
    """`text` parsed with its type names (TYPES) spelled out."""
    return parse(re.sub(r"\b(YS|XS|H|W|U|X)\b", lambda m: TYPES[m.group(1)], text))


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
    return _typed(REUSE)


@pytest.mark.parametrize("T", [0, 1, 4])
def test_a_product_the_body_computes_is_stacked_not_recomputed(T):
    m = reuse_program()
    report = run_pipeline(m, "scan-hoist")
    assert report.stat("products reused") == 1
    func = m["g"]
    assert not _matmuls(func.body)  # the outside matmul is a stacked output now
    _agrees(reuse_program, m, "g", T, seed=10)


def _agrees(make, transformed, name: str, T: int, seed: int) -> None:
    """`transformed` (interpreted) and make() compiled for the CPU agree with
    the interpreter on make(), on random (h0 [2, 4], u [4, 4], xs [T, 2, 4])."""
    rng = np.random.default_rng(seed + T)
    args = [
        rng.standard_normal((2, 4)).astype(np.float32),
        (rng.standard_normal((4, 4)) * 0.5).astype(np.float32),
        rng.standard_normal((T, 2, 4)).astype(np.float32),
    ]
    want = interpret(make(), name, *args)
    native = kiln.compile(make(), name, backend="cpu")
    for got in (interpret(transformed, name, *args), native(*args)):
        for g, w in zip(got, want):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


TRANSPOSED = """func @b(%h0: H, %w: U, %xs: YS) -> (H, YS) {
  %h, %v, %ys = kiln.scan %h0, %w, %xs {num_carried = 2} : (H, U, YS) -> (H, U, YS) ({
  ^bb0(%c: H, %wa: U, %x: H):
    %p = kiln.matmul %c, %wa {transpose_b = true} : (H, U) -> H
    %t = kiln.tanh %p : H
    %q = kiln.matmul %t, %wa {transpose_b = true} : (H, U) -> H
    %s = kiln.add %q, %x : H
    %n = kiln.tanh %s : H
    kiln.yield %n, %wa, %n : (H, U, H) -> ()
  })
  kiln.return %h, %ys : (H, YS) -> ()
}"""


def transposed_program():
    """A scan whose body reads its invariant w transposed twice (as autodiff's
    backward step reads a weight: dG W^T)."""
    return _typed(TRANSPOSED)


@pytest.mark.parametrize("T", [0, 1, 5])
def test_an_invariant_read_transposed_is_transposed_once_before_the_scan(T):
    m = transposed_program()
    report = run_pipeline(m, "scan-hoist")
    assert report.stat("operands transposed once") == 2
    func = m["b"]
    (transpose,) = [op for op in func.body.ops if op.name == "kiln.transpose"]
    assert transpose.operands[0] is func.body.args[1] and tuple(transpose.perm) == (1, 0)
    scan = next(op for op in func.body.ops if op.name == "kiln.scan")
    assert transpose.result in scan.operands[: scan.num_carried]
    inside = _matmuls(scan.body)
    assert len(inside) == 2 and not any(op.transpose_b for op in inside)
    assert len({op.operands[1] for op in inside}) == 1  # both read the one transpose
    assert str(parse(str(m))) == str(m)
    _agrees(transposed_program, m, "b", T, seed=20)


CONSTANT = """func @k(%h0: H, %xs: YS) -> (H, YS) {
  %h, %ys = kiln.scan %h0, %xs {num_carried = 1} : (H, YS) -> (H, YS) ({
  ^bb0(%c: H, %x: H):
    %r = kiln.constant {value = dense<[[0.5, -1.0, 0.25, 2.0], [1.5, 0.0, -0.5, 1.0],
      [0.0, 0.75, 1.0, -2.0], [1.0, 1.0, -1.0, 0.5]]> : tensor<4x4xf32>} : () -> U
    %p = kiln.matmul %c, %r {transpose_b = true} : (H, U) -> H
    %s = kiln.add %p, %x : H
    %n = kiln.tanh %s : H
    kiln.yield %n, %n : (H, H) -> ()
  })
  kiln.return %h, %ys : (H, YS) -> ()
}"""


def test_a_constant_read_transposed_becomes_its_transpose():
    """An ONNX scan body holds its weights as constants: h R^T reads R's transpose."""
    m = _typed(CONSTANT)
    report = run_pipeline(m, "scan-hoist")
    assert report.stat("operands transposed once") == 1
    scan = next(op for op in m["k"].body.ops if op.name == "kiln.scan")
    (inside,) = _matmuls(scan.body)
    assert not inside.transpose_b
    (r,) = [op for op in scan.body.ops if op.name == "kiln.constant"]  # the original is gone
    want = _typed(CONSTANT)
    original = next(op for f in want for op in f.walk() if op.name == "kiln.constant")
    np.testing.assert_array_equal(r.value.array, original.value.array.T)
    rng = np.random.default_rng(30)
    for T in (0, 3):
        args = [rng.standard_normal((2, 4)).astype(np.float32)]
        args.append(rng.standard_normal((T, 2, 4)).astype(np.float32))
        expected = interpret(want, "k", *args)
        native = kiln.compile(_typed(CONSTANT), "k", backend="cpu")
        for got in (interpret(m, "k", *args), native(*args)):
            for g, w in zip(got, expected):
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
