"""canonicalize folds kiln.transpose into kiln.matmul where it swaps the last
two axes (passes/canonicalize.py's transpose_into_matmul, transposed_matmul):
the IR it gives, what it must leave alone, the native kernels of the folded
form against the reference interpreter on the unfolded one (odd shapes, size
0 and 1, symbolic batch dims), and gradients through folded matmuls against
central differences."""

from __future__ import annotations

import numpy as np
import pytest

import kiln
from kiln.ir import interpret, parse
from kiln.passes import run_pipeline
from kiln.passes.autodiff import differentiate

rng = np.random.default_rng(3)


def transposes(t: str, rank: int) -> str:
    """`%name = kiln.transpose ...` swapping the last two axes of a rank-`rank` value."""
    perm = [*range(rank - 2), rank - 1, rank - 2]
    return f"kiln.transpose {t} {{perm = {perm}}}"


# a[B, K, M]^T @ b[B, N, K]^T, the transposes as ops; c^T at the end
FOLDABLE = """func @f(%a: tensor<{B}x{K}x{M}xf64>, %b: tensor<{B}x{N}x{K}xf64>) -> tensor<{B}x{N}x{M}xf64> {{
  %at = {ta} : (tensor<{B}x{K}x{M}xf64>) -> tensor<{B}x{M}x{K}xf64>
  %bt = {tb} : (tensor<{B}x{N}x{K}xf64>) -> tensor<{B}x{K}x{N}xf64>
  %c = kiln.matmul %at, %bt : (tensor<{B}x{M}x{K}xf64>, tensor<{B}x{K}x{N}xf64>) -> tensor<{B}x{M}x{N}xf64>
  %ct = {tc} : (tensor<{B}x{M}x{N}xf64>) -> tensor<{B}x{N}x{M}xf64>
  kiln.return %ct : tensor<{B}x{N}x{M}xf64>
}}"""  # noqa: E501


def foldable(batch: str, m: int, n: int, k: int):
    text = FOLDABLE.format(
        B=batch, M=m, N=n, K=k, ta=transposes("%a", 3), tb=transposes("%b", 3),
        tc=transposes("%c", 3),
    )  # fmt: skip
    return parse(text)


def canonical_ops(module) -> list:
    run_pipeline(module, "canonicalize")
    return module["f"].body.ops


def test_every_transpose_folds_into_the_matmul():
    ops = canonical_ops(foldable("2", 3, 5, 4))
    assert [op.name for op in ops] == ["kiln.matmul", "kiln.return"]
    mm = ops[0]
    # ((a^T)^T-read ... ): c^T = (a^T b^T)^T = b a, read with no transpose at all
    assert (mm.lhs.name, mm.rhs.name) == ("b", "a")
    assert not mm.transpose_a and not mm.transpose_b
    assert str(mm.result.type) == "tensor<2x5x3xf64>"


def test_operand_transposes_become_flags():
    text = """func @f(%a: tensor<4x3xf32>, %b: tensor<5x4xf32>) -> tensor<3x5xf32> {
  %at = kiln.transpose %a {perm = [1, 0]} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %bt = kiln.transpose %b {perm = [1, 0]} : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %c = kiln.matmul %at, %bt {transpose_a = false} : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  kiln.return %c : tensor<3x5xf32>
}"""  # noqa: E501
    ops = canonical_ops(parse(text))
    assert [op.name for op in ops] == ["kiln.matmul", "kiln.return"]
    assert ops[0].transpose_a and ops[0].transpose_b


NOT_FOLDED = {
    # a batch permutation of a shared operand's partner: folding it would make
    # a GEMM call per batch element (transpose_after_matmul moves it instead)
    "batch perm, shared rhs": """func @f(%a: tensor<2x3x4x5xf32>, %b: tensor<5x6xf32>) -> tensor<3x2x4x6xf32> {
  %at = kiln.transpose %a {perm = [1, 0, 2, 3]} : (tensor<2x3x4x5xf32>) -> tensor<3x2x4x5xf32>
  %c = kiln.matmul %at, %b : (tensor<3x2x4x5xf32>, tensor<5x6xf32>) -> tensor<3x2x4x6xf32>
  kiln.return %c : tensor<3x2x4x6xf32>
}""",  # noqa: E501
    # the stored last axis would leave the matrix: no unit stride for the GEMM
    "last axis to batch": """func @f(%a: tensor<2x3x4x5xf32>, %b: tensor<5x3x6x2xf32>) -> tensor<5x3x4x6xf32> {
  %at = kiln.transpose %a {perm = [3, 1, 2, 0]} : (tensor<2x3x4x5xf32>) -> tensor<5x3x4x2xf32>
  %c = kiln.matmul %at, %b {transpose_b = true} : (tensor<5x3x4x2xf32>, tensor<5x3x6x2xf32>) -> tensor<5x3x4x6xf32>
  kiln.return %c : tensor<5x3x4x6xf32>
}""",  # noqa: E501
    # the product has another use: swapping it would compute it twice
    "shared product": """func @f(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>) -> (tensor<5x3xf32>, tensor<3x5xf32>) {
  %c = kiln.matmul %a, %b : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %ct = kiln.transpose %c {perm = [1, 0]} : (tensor<3x5xf32>) -> tensor<5x3xf32>
  kiln.return %ct, %c : (tensor<5x3xf32>, tensor<3x5xf32>) -> ()
}""",  # noqa: E501
    # a vector operand has no transpose flag to swap into
    "vector rhs": """func @f(%a: tensor<2x3x4xf32>, %v: tensor<4xf32>) -> tensor<3x2xf32> {
  %c = kiln.matmul %a, %v : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  %ct = kiln.transpose %c {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  kiln.return %ct : tensor<3x2xf32>
}""",
}


@pytest.mark.parametrize("case", NOT_FOLDED)
def test_what_is_not_folded(case):
    ops = canonical_ops(parse(NOT_FOLDED[case]))
    assert "kiln.transpose" in [op.name for op in ops]


@pytest.mark.parametrize(
    "batch,m,n,k", [("3", 5, 7, 9), ("1", 1, 1, 1), ("2", 0, 3, 4), ("2", 3, 4, 0), ("?", 6, 5, 3)]
)
def test_native_folded_matches_interpreter_unfolded(batch, m, n, k):
    b = 4 if batch == "?" else int(batch)
    a = rng.standard_normal((b, k, m))
    w = rng.standard_normal((b, n, k))
    want = interpret(foldable(batch, m, n, k), "f", a, w)[0]
    module = foldable(batch, m, n, k)
    run = kiln.compile(module, "f", backend="cpu")  # the default pipeline folds
    assert "kiln.transpose" not in str(module)
    np.testing.assert_allclose(run(a, w)[0], want, rtol=1e-12, atol=1e-12)


def test_gradients_through_folded_matmuls_match_central_differences(central_differences):
    a = rng.standard_normal((2, 4, 3))
    w = rng.standard_normal((2, 5, 4))
    seed = rng.standard_normal((2, 5, 3))
    module = foldable("2", 3, 5, 4)
    run_pipeline(module, "canonicalize")
    differentiate(module, "f", [0, 1], seeds=True)
    run_pipeline(module, "canonicalize")
    got = kiln.compile(module, "f_grad", backend="cpu")(a, w, seed)[1:]

    def loss(a_, w_):
        return float(np.sum(seed * interpret(foldable("2", 3, 5, 4), "f", a_, w_)[0]))

    for i in range(2):
        numeric = central_differences(loss, [a, w], i)
        np.testing.assert_allclose(got[i], numeric, rtol=1e-6, atol=1e-7)
