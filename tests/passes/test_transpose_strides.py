"""Transposes read as strides by kiln.matmul (`lhs_perm` / `rhs_perm`): the
canonicalize patterns that move transposes to where matmul absorbs them
(passes/canonicalize.py: transpose_into_matmul, transpose_after_matmul,
reshape_before_transpose, gather_before_transpose), and the native kernels
of the permuted operands against the reference interpreter on the unfolded
module: random permutations, odd shapes, size 1 and 0 dims, symbolic batch
dims, an epilogue, in process and in an AOT library; gradients through a
permuted matmul against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import kiln
from kiln.ir import ANY, Symbol, interpret, parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.passes.autodiff import differentiate
from kiln.passes.canonicalize import split_axes
from kiln.runtime import aot

rng = np.random.default_rng(11)


def _t(shape, dtype="f32") -> str:
    return f"tensor<{'x'.join(str(d) for d in shape)}x{dtype}>"


def _dims(shape) -> list:
    return [d if isinstance(d, int) else "?" for d in shape]


# torch's multi-head attention with batch_first (S = 6, D = 8, H = 2 heads of
# 4): [B, S, D] -> [S, B, D] -> [S, B*H, Dh] -> [B*H, S, Dh] -> [B, H, S, Dh]
ATTENTION = """func @f(%x: tensor<Bx6x8xf32>, %y: tensor<Bx6x8xf32>) -> tensor<?x2x6x6xf32> {
  %xt = kiln.transpose %x {perm = [1, 0, 2]} : (tensor<Bx6x8xf32>) -> tensor<6xBx8xf32>
  %xr = kiln.reshape %xt {shape = [6, -1, 4]} : (tensor<6xBx8xf32>) -> tensor<6x?x4xf32>
  %xh = kiln.transpose %xr {perm = [1, 0, 2]} : (tensor<6x?x4xf32>) -> tensor<?x6x4xf32>
  %q = kiln.reshape %xh {shape = [-1, 2, 6, 4]} : (tensor<?x6x4xf32>) -> tensor<?x2x6x4xf32>
  %yt = kiln.transpose %y {perm = [1, 0, 2]} : (tensor<Bx6x8xf32>) -> tensor<6xBx8xf32>
  %yr = kiln.reshape %yt {shape = [6, -1, 4]} : (tensor<6xBx8xf32>) -> tensor<6x?x4xf32>
  %yh = kiln.transpose %yr {perm = [1, 0, 2]} : (tensor<6x?x4xf32>) -> tensor<?x6x4xf32>
  %k = kiln.reshape %yh {shape = [-1, 2, 6, 4]} : (tensor<?x6x4xf32>) -> tensor<?x2x6x4xf32>
  %s = kiln.matmul %q, %k {transpose_b = true} : (tensor<?x2x6x4xf32>, tensor<?x2x6x4xf32>) -> tensor<?x2x6x6xf32>
  kiln.return %s : tensor<?x2x6x6xf32>
}"""  # noqa: E501


def test_the_head_split_becomes_strides_of_the_matmul():
    module = parse(ATTENTION)
    run_pipeline(module, "canonicalize")
    names = [op.name for op in module["f"].body.ops]
    assert "kiln.transpose" not in names
    (mm,) = [op for op in module["f"].body.ops if op.name == "kiln.matmul"]
    assert mm.lhs_perm == mm.rhs_perm == (0, 2, 1, 3) and mm.transpose_b
    assert str(mm.lhs.type) == "tensor<?x6x2x4xf32>"  # [B, S, H, Dh]: a view of x
    assert str(mm.result.type) == "tensor<?x2x6x6xf32>"


@pytest.mark.parametrize("batch", [1, 3])
def test_the_head_split_runs_as_the_interpreter_says(batch, tmp_path):
    x, y = (rng.standard_normal((batch, 6, 8)).astype(np.float32) for _ in range(2))
    want = interpret(parse(ATTENTION), "f", x, y)[0]
    got = kiln.compile(parse(ATTENTION), "f", backend="cpu")(x, y)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    module = parse(ATTENTION)
    run_pipeline(module, DEFAULT_PIPELINE)
    assert "kiln.transpose" not in str(module)
    aot.build(module, "f", tmp_path / "lib")
    np.testing.assert_allclose(kiln.load(tmp_path / "lib")(x, y)[0], want, rtol=1e-5, atol=1e-6)


def _random_perm(rank: int) -> tuple[int, ...]:
    """A permutation that keeps the last axis among the last two (foldable)."""
    while True:
        perm = tuple(int(i) for i in rng.permutation(rank))
        if perm.index(rank - 1) >= rank - 2:
            return perm


def _case_module(a_logical, b_logical, pa, pb, ta, tb, dtype, epilogue, symbolic):
    """A module computing matmul(transpose(a, pa), transpose(b, pb)) (flags ta, tb)
    on stored operands, its batch dim symbolic when asked; with a bias and tanh
    epilogue when asked."""
    a_stored = [a_logical[i] for i in np.argsort(pa)]
    b_stored = [b_logical[i] for i in np.argsort(pb)]
    a_mat = list(a_logical)
    b_mat = list(b_logical)
    if ta:
        a_mat[-2:] = a_mat[-1], a_mat[-2]
    if tb:
        b_mat[-2:] = b_mat[-1], b_mat[-2]
    out = [*np.broadcast_shapes(tuple(a_mat[:-2]), tuple(b_mat[:-2])), a_mat[-2], b_mat[-1]]

    def sym(shape, stored_perm=None):
        shape = list(shape)
        if symbolic:
            # the batch dim of the logical operand is named B wherever it is stored
            axis = 0 if stored_perm is None else list(stored_perm).index(0)
            shape[axis] = "B"
        return shape

    tas, tbs = _t(sym(a_stored, np.argsort(pa)), dtype), _t(sym(b_stored, np.argsort(pb)), dtype)
    tal, tbl = _t(sym(a_logical), dtype), _t(sym(b_logical), dtype)
    to = _t(sym(out), dtype)
    flags = []
    if ta:
        flags.append("transpose_a = true")
    if tb:
        flags.append("transpose_b = true")
    attrs = f" {{{', '.join(flags)}}}" if flags else ""
    lines = [
        f"func @f(%a: {tas}, %b: {tbs}, %bias: {_t([out[-1]], dtype)}) -> {to} {{",
        f"  %at = kiln.transpose %a {{perm = {list(pa)}}} : ({tas}) -> {tal}",
        f"  %bt = kiln.transpose %b {{perm = {list(pb)}}} : ({tbs}) -> {tbl}",
        f"  %c = kiln.matmul %at, %bt{attrs} : ({tal}, {tbl}) -> {to}",
    ]
    result = "%c"
    if epilogue:
        lines += [
            f"  %d = kiln.add %c, %bias : ({to}, {_t([out[-1]], dtype)}) -> {to}",
            f"  %e = kiln.tanh %d : {to}",
        ]
        result = "%e"
    lines += [f"  kiln.return {result} : {to}", "}"]
    return "\n".join(lines), a_stored, b_stored, out[-1]


CASES = [
    # (a logical, b logical, ta, tb, dtype, epilogue, symbolic)
    ((3, 2, 5, 7), (3, 2, 7, 4), False, False, "f64", False, False),
    ((2, 3, 9, 5), (2, 3, 6, 5), False, True, "f32", True, False),
    ((4, 1, 5, 3), (4, 1, 5, 6), True, False, "f64", True, True),
    ((1, 1, 1, 1), (1, 1, 1, 1), False, False, "f32", False, False),
    ((2, 5, 1, 7), (2, 5, 7, 1), False, False, "f64", True, False),
    ((3, 2, 0, 4), (3, 2, 4, 5), False, False, "f32", False, True),
    ((3, 2, 4, 0), (3, 2, 0, 5), False, False, "f64", True, False),
    ((5, 17, 33), (5, 33, 9), False, False, "f32", True, True),
    ((6, 3, 8), (6, 5, 3), True, True, "f64", False, True),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("trial", range(2))
def test_permuted_operands_match_the_interpreter(case, trial):
    """Random foldable perms of both operands, every flag, odd and degenerate
    shapes: the compiled module (its transposes folded into the matmul) gives
    the interpreter's answer on the module as written."""
    a_logical, b_logical, ta, tb, dtype, epilogue, symbolic = CASES[case]
    rank = len(a_logical)
    pa, pb = _random_perm(rank), _random_perm(rank)
    text, a_shape, b_shape, n = _case_module(
        a_logical, b_logical, pa, pb, ta, tb, dtype, epilogue, symbolic
    )
    np_dtype = np.float64 if dtype == "f64" else np.float32
    a = rng.standard_normal(a_shape).astype(np_dtype)
    b = rng.standard_normal(b_shape).astype(np_dtype)
    bias = rng.standard_normal(n).astype(np_dtype)
    want = interpret(parse(text), "f", a, b, bias)[0]
    module = parse(text)
    run_pipeline(module, "canonicalize")
    assert "kiln.transpose" not in str(module)  # every perm here folds
    got = kiln.compile(parse(text), "f", backend="cpu")(a, b, bias)[0]
    tol = 1e-12 if dtype == "f64" else 2e-5
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_a_permuted_matmul_written_as_text_runs():
    """The attribute itself, as the printer writes it (round trip), lowered."""
    text = """func @f(%a: tensor<5x2x3x4xf64>, %b: tensor<2x5x4x6xf64>) -> tensor<2x5x3x6xf64> {
  %c = kiln.matmul %a, %b {lhs_perm = [1, 0, 2, 3]} : (tensor<5x2x3x4xf64>, tensor<2x5x4x6xf64>) -> tensor<2x5x3x6xf64>
  kiln.return %c : tensor<2x5x3x6xf64>
}"""  # noqa: E501
    module = parse(text)
    assert str(parse(str(module))) == str(module)
    assert "lhs_perm = [1, 0, 2, 3]" in str(module)
    a, b = rng.standard_normal((5, 2, 3, 4)), rng.standard_normal((2, 5, 4, 6))
    got = kiln.compile(module, "f", backend="cpu")(a, b)[0]
    np.testing.assert_allclose(got, np.matmul(a.transpose(1, 0, 2, 3), b), rtol=1e-12)


def test_a_perm_that_leaves_no_unit_stride_is_refused():
    text = """func @f(%a: tensor<5x2x3x4xf64>, %b: tensor<4x2x5x6xf64>) -> tensor<4x2x3x6xf64> {
  %c = kiln.matmul %a, %b {lhs_perm = [3, 1, 2, 0]} : (tensor<5x2x3x4xf64>, tensor<4x2x5x6xf64>) -> tensor<4x2x3x6xf64>
  kiln.return %c : tensor<4x2x3x6xf64>
}"""  # noqa: E501
    with pytest.raises(kiln.KilnError, match="moves the last axis"):
        parse(text)


def test_gradients_through_a_permuted_matmul_match_central_differences(central_differences):
    text = """func @f(%a: tensor<3x2x4x5xf64>, %b: tensor<2x3x6x5xf64>) -> tensor<2x3x4x6xf64> {
  %c = kiln.matmul %a, %b {transpose_b = true, lhs_perm = [1, 0, 2, 3]} : (tensor<3x2x4x5xf64>, tensor<2x3x6x5xf64>) -> tensor<2x3x4x6xf64>
  kiln.return %c : tensor<2x3x4x6xf64>
}"""  # noqa: E501
    a, b = rng.standard_normal((3, 2, 4, 5)), rng.standard_normal((2, 3, 6, 5))
    seed = rng.standard_normal((2, 3, 4, 6))
    module = parse(text)
    differentiate(module, "f", [0, 1], seeds=True)
    got = kiln.compile(module, "f_grad", backend="cpu")(a, b, seed)[1:]

    def loss(a_, b_):
        return float(np.sum(seed * interpret(parse(text), "f", a_, b_)[0]))

    for i in range(2):
        numeric = central_differences(loss, [a, b], i)
        np.testing.assert_allclose(got[i], numeric, rtol=1e-6, atol=1e-7)


def test_the_transpose_before_a_shared_weight_moves_after_the_product():
    """[B, S, D] -> [S, B, D] @ w[D, N]: the product of x's rows as stored (one
    GEMM), then the transpose on the result (transpose_after_matmul)."""
    text = """func @f(%x: tensor<Bx5x4xf32>, %w: tensor<4x3xf32>) -> tensor<5xBx3x1xf32> {
  %t = kiln.transpose %x {perm = [1, 0, 2]} : (tensor<Bx5x4xf32>) -> tensor<5xBx4xf32>
  %c = kiln.matmul %t, %w : (tensor<5xBx4xf32>, tensor<4x3xf32>) -> tensor<5xBx3xf32>
  %r = kiln.reshape %c {shape = [5, -1, 3, 1]} : (tensor<5xBx3xf32>) -> tensor<5xBx3x1xf32>
  kiln.return %r : tensor<5xBx3x1xf32>
}"""
    module = parse(text)
    run_pipeline(module, "canonicalize")
    names = [op.name for op in module["f"].body.ops]
    assert names == ["kiln.matmul", "kiln.reshape", "kiln.transpose", "kiln.return"]
    # before a bias it stays where it is (it would split the bias from the GEMM)
    biased = text.replace("kiln.reshape %c {shape = [5, -1, 3, 1]}", "kiln.add %c, %c")
    biased = biased.replace("5xBx3x1xf32", "5xBx3xf32")
    biased = biased.replace(
        "(tensor<5xBx3xf32>) -> tensor<5xBx3xf32>\n  kiln.return",
        "(tensor<5xBx3xf32>, tensor<5xBx3xf32>) -> tensor<5xBx3xf32>\n  kiln.return",
    )
    module = parse(biased)
    run_pipeline(module, "canonicalize")
    assert [op.name for op in module["f"].body.ops][0] == "kiln.transpose"
    x, w = rng.standard_normal((3, 5, 4)).astype(np.float32), rng.standard_normal((4, 3))
    w = w.astype(np.float32)
    got = kiln.compile(parse(text), "f", backend="cpu")(x, w)[0]
    np.testing.assert_allclose(got, interpret(parse(text), "f", x, w)[0], rtol=1e-5)


def test_a_gather_of_a_transpose_gathers_first():
    text = """func @f(%x: tensor<2x3x4xf32>) -> tensor<4x2xf32> {
  %t = kiln.transpose %x {perm = [2, 1, 0]} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  %i = kiln.constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %g = kiln.gather %t, %i {axis = 1} : (tensor<4x3x2xf32>, tensor<i64>) -> tensor<4x2xf32>
  kiln.return %g : tensor<4x2xf32>
}"""
    module = parse(text)
    run_pipeline(module, "canonicalize")
    ops = [op for op in module["f"].body.ops if op.name != "kiln.constant"]
    assert [op.name for op in ops] == ["kiln.gather", "kiln.transpose", "kiln.return"]
    assert ops[0].axis == 1 and ops[1].perm == (1, 0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(interpret(module, "f", x)[0], x[:, 2, :].T)


B = Symbol("B")


@pytest.mark.parametrize(
    "source,target,groups",
    [
        ((6, 8), (6, 2, 4), {0: [0], 1: [1, 2]}),
        ((6, B, 8), (1, 6, B, 2, 4), {0: [1], 1: [2], 2: [3, 4]}),
        ((3, 6, B, 1, 8), (3, 6, B, 8), {0: [0], 1: [1], 2: [2], 4: [3]}),
        ((6, B, 8), (6, ANY, 4, 2), {0: [0], 1: [1], 2: [2, 3]}),
        ((ANY, 6, 4), (ANY, 2, 6, 4), {0: [0, 1], 1: [2], 2: [3]}),
        ((6, 8), (48,), None),  # a merge
        ((2, 3, 4), (3, 2, 4), None),
        ((6, B, 8), (6, ANY, 2), None),  # B * 4 axes merged
    ],
)
def test_split_axes(source, target, groups):
    assert split_axes(source, target) == groups
