"""Native matmul and conv kernels (codegen/llvm/matmul.py, conv.py) against the
reference interpreter: every matmul form (transposes, vectors, broadcast batch
dims, symbolic dims, f32/f64/ints), conv strides/dilations/paddings on odd
sizes, fused epilogues, and sub-ranges of [begin, end) as threads would call."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from kiln.codegen.llvm import conv as conv_module
from kiln.codegen.llvm.jit import compile_module
from kiln.codegen.llvm.native import native_kernel
from kiln.ir import CompileError, ExecutionError, Interpreter, parse
from kiln.passes import run_pipeline

TOLERANCE = {np.float32: 1e-4, np.float64: 1e-11}


# ------------------------------------------------------------------ helpers


def result_type(op: str, a: str, b: str, attrs: str = "") -> str:
    """The type of `op`'s result on operands typed `a` and `b`, by its type rule
    (parsed unverified with a stand-in result type, then inferred)."""
    m = parse(
        f"func @g(%a: {a}, %b: {b}) {{\n  %c = {op} %a, %b {attrs} : ({a}, {b}) -> "
        f"tensor<f32>\n  kiln.return : () -> ()\n}}",
        verify=False,
    )
    return str(m["g"].ops[0].infer_types()[0])


def single(op: str, a: str, b: str, attrs: str = "") -> str:
    """A function computing one `op` of two arguments typed `a` and `b`."""
    t = result_type(op, a, b, attrs)
    return (
        f"func @f(%a: {a}, %b: {b}) -> {t} {{\n"
        f"  %c = {op} %a, %b {attrs} : ({a}, {b}) -> {t}\n"
        f"  kiln.return %c : {t}\n}}"
    )


def compiled(text: str):
    """The module, its one matmul/conv group, the group's kernel and its native
    entry (which holds its compiled module: the engine must outlive the calls)."""
    m = parse(text)
    run_pipeline(m, "fuse")
    [op] = [
        op
        for f in m
        for op in f.walk()
        if op.name == "kiln.fused" and op.kind in ("matmul", "conv")
    ]
    kernel = native_kernel(op, "k")
    native = compile_module(kernel.module)
    entry = native.function("k")
    entry.native = native
    return m, op, kernel, entry


def call(kernel, entry, arrays, outputs, ranges=None) -> list[np.ndarray]:
    """Run the kernel on `arrays` into fresh copies of `outputs` (arrays whose
    shapes and dtypes are the results'), over `ranges` of [0, outer)."""
    outs = [np.full_like(o, 7) for o in outputs]  # not zero: unwritten elements show
    dims, outer = kernel.bind([a.shape for a in arrays], [o.shape for o in outs])
    pointers = (ctypes.c_void_p * (len(arrays) + len(outs)))(
        *(a.ctypes.data for a in [*arrays, *outs])
    )
    ints = (ctypes.c_int64 * max(1, len(dims)))(*dims)
    for begin, end in ranges or [(0, outer)]:
        fault = entry(pointers, ints, begin, min(end, outer))
        assert fault == 0, fault
    return outs


def check(text: str, *args: np.ndarray) -> list[np.ndarray]:
    """Run the group of `text` on the function's arguments `args` natively (whole,
    in two halves and in thirds) and in the interpreter; assert all agree."""
    m, op, kernel, entry = compiled(text)
    func_args = m["f"].args
    arrays = [args[func_args.index(v)] for v in op.operands]  # the group's input order
    want = Interpreter(m).run_block(op.body, list(arrays))
    got = call(kernel, entry, arrays, want)
    _, outer = kernel.bind([a.shape for a in arrays], [w.shape for w in want])
    half, third = outer // 2, max(1, outer // 3)
    halves = call(kernel, entry, arrays, want, [(half, outer), (0, half)])
    thirds = call(kernel, entry, arrays, want, [(i, i + third) for i in range(0, outer, third)])
    for g, w, h, t in zip(got, want, halves, thirds):
        assert g.shape == w.shape and g.dtype == w.dtype
        if g.dtype.kind == "f":
            scale = max(1.0, float(np.abs(w).max(initial=0)))
            tol = TOLERANCE[g.dtype.type]
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale)
            np.testing.assert_allclose(h, g, rtol=1e-6, atol=1e-6 * scale)
            np.testing.assert_allclose(t, g, rtol=1e-6, atol=1e-6 * scale)
        else:
            np.testing.assert_array_equal(g, w)
            np.testing.assert_array_equal(h, g)
            np.testing.assert_array_equal(t, g)
    return got


def normal(rng, shape, dtype="f32") -> np.ndarray:
    if dtype.startswith("i"):
        return rng.integers(-9, 9, shape).astype(
            {"i8": np.int8, "i32": np.int32, "i64": np.int64}[dtype]
        )
    return rng.standard_normal(shape).astype({"f32": np.float32, "f64": np.float64}[dtype])


def tensor(shape: tuple, dtype: str = "f32") -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + f"{dtype}>"


# ------------------------------------------------------------------ matmul forms

# (lhs type dims, rhs type dims, attributes, lhs shape, rhs shape)
FORMS = [
    ((13, 17), (17, 9), "", (13, 17), (17, 9)),
    (("?", 7), (7, 3), "", (5, 7), (7, 3)),
    (("?", 7), (7, 3), "", (1, 7), (7, 3)),
    ((1, 1), (1, 1), "", (1, 1), (1, 1)),
    ((9, 5), (11, 9), "{transpose_a = true, transpose_b = true}", (9, 5), (11, 9)),
    ((9, 5), (9, 11), "{transpose_a = true}", (9, 5), (9, 11)),
    ((5, 9), (11, 9), "{transpose_b = true}", (5, 9), (11, 9)),
    (("N", "K"), ("K", "M"), "", (6, 10), (10, 1)),
    ((7,), (7, 3), "", (7,), (7, 3)),
    ((3, 7), (7,), "", (3, 7), (7,)),
    ((7,), (7,), "", (7,), (7,)),
    ((2, 3, 7), (7,), "", (2, 3, 7), (7,)),
    ((7,), (2, 7, 3), "", (7,), (2, 7, 3)),
    ((7,), (2, 3, 7), "{transpose_b = true}", (7,), (2, 3, 7)),
    (("?", 3, 7), (7, 5), "", (4, 3, 7), (7, 5)),  # batch folded into M
    (("?", 7, 3), (7, 5), "{transpose_a = true}", (4, 7, 3), (7, 5)),
    ((4, 3, 7), (4, 7, 5), "", (4, 3, 7), (4, 7, 5)),
    ((3, 7), (4, 7, 5), "", (3, 7), (4, 7, 5)),
    ((2, 1, 3, 7), (3, 5, 7), "{transpose_b = true}", (2, 1, 3, 7), (3, 5, 7)),
    (("?", 1, 3, 7), (1, "?", 7, 5), "", (2, 1, 3, 7), (1, 3, 7, 5)),
    (("B", 3, 4), ("B", 4, 6), "{transpose_a = false}", (1, 3, 4), (1, 4, 6)),
]


@pytest.mark.parametrize("lhs, rhs, attrs, a_shape, b_shape", FORMS)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_matmul_forms(rng, lhs, rhs, attrs, a_shape, b_shape, dtype):
    text = single("kiln.matmul", tensor(lhs, dtype), tensor(rhs, dtype), attrs)
    check(text, normal(rng, a_shape, dtype), normal(rng, b_shape, dtype))


@pytest.mark.parametrize("dtype", ["i8", "i32", "i64"])
@pytest.mark.parametrize("attrs", ["", "{transpose_a = true}", "{transpose_b = true}"])
def test_integer_matmul(rng, dtype, attrs):
    a = (9, 13) if "transpose_a" in attrs else (13, 9)
    b = (5, 9) if "transpose_b" in attrs else (9, 5)
    check(
        single("kiln.matmul", tensor(("?", a[1]), dtype), tensor(b, dtype), attrs),
        normal(rng, a, dtype),
        normal(rng, b, dtype),
    )


def test_integer_batched_and_vectors(rng):
    check(
        single("kiln.matmul", tensor((2, 1, 3, 4), "i32"), tensor((3, 4, 5), "i32")),
        normal(rng, (2, 1, 3, 4), "i32"),
        normal(rng, (3, 4, 5), "i32"),
    )
    check(
        single("kiln.matmul", tensor((4,), "i64"), tensor((4,), "i64")),
        normal(rng, (4,), "i64"),
        normal(rng, (4,), "i64"),
    )


@pytest.mark.parametrize("a_shape, b_shape", [((0, 7), (7, 3)), ((5, 0), (0, 3)), ((5, 7), (7, 0))])
def test_empty_matmul(rng, a_shape, b_shape):
    text = single("kiln.matmul", tensor(("?", "?")), tensor(("?", "?")))
    got = check(text, normal(rng, a_shape), normal(rng, b_shape))[0]
    assert got.shape == (a_shape[0], b_shape[1])


def test_large_matmul_matches_numpy(rng):
    a, b = normal(rng, (300, 257)), normal(rng, (257, 129))
    check(single("kiln.matmul", tensor(("?", 257)), tensor((257, 129))), a, b)


# ------------------------------------------------------------------ epilogues

DENSE = """func @f(%x: tensor<?x{k}x{t}>, %w: tensor<{k}x{n}x{t}>, %b: tensor<{n}x{t}>)
    -> tensor<?x{n}x{t}> {{
  %h = kiln.matmul %x, %w : (tensor<?x{k}x{t}>, tensor<{k}x{n}x{t}>) -> tensor<?x{n}x{t}>
  %z = kiln.add %h, %b : (tensor<?x{n}x{t}>, tensor<{n}x{t}>) -> tensor<?x{n}x{t}>
  %r = kiln.relu %z : tensor<?x{n}x{t}>
  kiln.return %r : tensor<?x{n}x{t}>
}}"""


@pytest.mark.parametrize("rows", [1, 7, 64, 131])
@pytest.mark.parametrize("dtype", ["f32", "f64", "i32"])
def test_dense_bias_relu(rng, rows, dtype):
    _, _, kernel, _ = compiled(DENSE.format(k=19, n=23, t=dtype))
    assert "epilogue" in kernel.text and "in place" in kernel.text
    got = check(
        DENSE.format(k=19, n=23, t=dtype),
        normal(rng, (rows, 19), dtype),
        normal(rng, (19, 23), dtype),
        normal(rng, 23, dtype),
    )[0]
    assert (got >= 0).all() and (got == 0).any()


def test_epilogue_yields_the_product_too(rng):
    """%h is used outside the group: the GEMM writes it, the epilogue reads it back."""
    text = """func @f(%x: tensor<?x6xf32>, %w: tensor<6x5xf32>, %r: tensor<?x5xf32>)
        -> (tensor<?x5xf32>, tensor<?x5xf32>, tensor<5xf32>) {
  %h = kiln.matmul %x, %w : (tensor<?x6xf32>, tensor<6x5xf32>) -> tensor<?x5xf32>
  %s = kiln.add %h, %r : tensor<?x5xf32>
  %t = kiln.tanh %s : tensor<?x5xf32>
  %u = kiln.reduce_sum %h {axes = [0]} : (tensor<?x5xf32>) -> tensor<5xf32>
  kiln.return %h, %t, %u : (tensor<?x5xf32>, tensor<?x5xf32>, tensor<5xf32>) -> ()
}"""
    check(text, normal(rng, (9, 6)), normal(rng, (6, 5)), normal(rng, (9, 5)))


def test_sibling_ops_merged_before_the_contraction(rng):
    """The fuse pass merges exp(%y) into the group, before the matmul: the epilogue
    is everything but the contraction, wherever it stands."""
    text = """func @f(%x: tensor<4x6xf32>, %w: tensor<6x5xf32>, %y: tensor<4x5xf32>)
        -> (tensor<4x5xf32>, tensor<4x5xf32>) {
  %e = kiln.exp %y : tensor<4x5xf32>
  %h = kiln.matmul %x, %w : (tensor<4x6xf32>, tensor<6x5xf32>) -> tensor<4x5xf32>
  %s = kiln.add %h, %e : tensor<4x5xf32>
  kiln.return %s, %e : (tensor<4x5xf32>, tensor<4x5xf32>) -> ()
}"""
    _, op, _, _ = compiled(text)
    assert [o.name for o in op.body.ops][:2] == ["kiln.exp", "kiln.matmul"]
    check(text, normal(rng, (4, 6)), normal(rng, (6, 5)), normal(rng, (4, 5)))


def test_epilogue_without_a_result_of_its_dtype_uses_scratch(rng):
    text = """func @f(%x: tensor<?x6xf32>, %w: tensor<6x5xf32>, %t: tensor<5xf32>)
        -> (tensor<?x5xbool>, tensor<?x5xi32>) {
  %h = kiln.matmul %x, %w : (tensor<?x6xf32>, tensor<6x5xf32>) -> tensor<?x5xf32>
  %g = kiln.greater %h, %t : (tensor<?x5xf32>, tensor<5xf32>) -> tensor<?x5xbool>
  %c = kiln.cast %h {dtype = i32} : (tensor<?x5xf32>) -> tensor<?x5xi32>
  kiln.return %g, %c : (tensor<?x5xbool>, tensor<?x5xi32>) -> ()
}"""
    _, _, kernel, _ = compiled(text)
    assert "-> scratch" in kernel.text
    check(text, normal(rng, (11, 6)) * 4, normal(rng, (6, 5)), normal(rng, 5))


def test_batched_epilogue_broadcasts_over_batch_and_rows(rng):
    """A [M, N] residual and a [B, 1, 1] scale on a batched product, split by rows
    that cross batch boundaries."""
    text = """func @f(%x: tensor<Bx5x6xf32>, %w: tensor<Bx6x7xf32>, %r: tensor<5x7xf32>,
                   %s: tensor<Bx1x1xf32>) -> tensor<Bx5x7xf32> {
  %h = kiln.matmul %x, %w : (tensor<Bx5x6xf32>, tensor<Bx6x7xf32>) -> tensor<Bx5x7xf32>
  %a = kiln.add %h, %r : (tensor<Bx5x7xf32>, tensor<5x7xf32>) -> tensor<Bx5x7xf32>
  %m = kiln.mul %a, %s : (tensor<Bx5x7xf32>, tensor<Bx1x1xf32>) -> tensor<Bx5x7xf32>
  %e = kiln.elu %m : tensor<Bx5x7xf32>
  kiln.return %e : tensor<Bx5x7xf32>
}"""
    check(
        text,
        normal(rng, (3, 5, 6)),
        normal(rng, (3, 6, 7)),
        normal(rng, (5, 7)),
        normal(rng, (3, 1, 1)),
    )


def test_vector_result_epilogue(rng):
    text = """func @f(%x: tensor<?x6xf64>, %v: tensor<6xf64>, %b: tensor<f64>) -> tensor<?xf64> {
  %h = kiln.matmul %x, %v : (tensor<?x6xf64>, tensor<6xf64>) -> tensor<?xf64>
  %s = kiln.sub %h, %b : (tensor<?xf64>, tensor<f64>) -> tensor<?xf64>
  %y = kiln.sigmoid %s : tensor<?xf64>
  kiln.return %y : tensor<?xf64>
}"""
    check(text, normal(rng, (9, 6), "f64"), normal(rng, 6, "f64"), normal(rng, (), "f64"))


def test_splat_constant_operand_and_epilogue(rng):
    text = """func @f(%x: tensor<?x6xf32>) -> tensor<?x3xf32> {
  %w = kiln.constant {value = dense<0.5> : tensor<6x3xf32>} : tensor<6x3xf32>
  %two = kiln.constant {value = dense<2.0> : tensor<f32>} : tensor<f32>
  %h = kiln.matmul %x, %w : (tensor<?x6xf32>, tensor<6x3xf32>) -> tensor<?x3xf32>
  %y = kiln.mul %h, %two : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xf32>
  kiln.return %y : tensor<?x3xf32>
}"""
    check(text, normal(rng, (4, 6)))


def test_epilogue_faults_are_reported(rng):
    text = """func @f(%x: tensor<3x4xi32>, %w: tensor<4x2xi32>, %d: tensor<3x2xi32>)
        -> tensor<3x2xi32> {
  %h = kiln.matmul %x, %w : (tensor<3x4xi32>, tensor<4x2xi32>) -> tensor<3x2xi32>
  %q = kiln.div %h, %d : tensor<3x2xi32>
  kiln.return %q : tensor<3x2xi32>
}"""
    _, _, kernel, entry = compiled(text)
    arrays = [normal(rng, (3, 4), "i32"), normal(rng, (4, 2), "i32"), np.zeros((3, 2), np.int32)]
    dims, outer = kernel.bind([a.shape for a in arrays], [(3, 2)])
    out = np.empty((3, 2), np.int32)
    pointers = (ctypes.c_void_p * 4)(*(a.ctypes.data for a in [*arrays, out]))
    assert entry(pointers, (ctypes.c_int64 * len(dims))(*dims), 0, outer) == 1  # division


# ------------------------------------------------------------------ conv

# (input dims, filter dims, attributes)
CONVS = [
    ((2, 9, 11, 3), (3, 3, 3, 5), '{padding = "SAME"}'),
    ((2, 9, 11, 3), (3, 3, 3, 5), '{padding = "VALID"}'),
    ((1, 10, 7, 4), (3, 2, 4, 6), '{strides = [2, 3], padding = "SAME"}'),
    ((1, 10, 7, 4), (3, 2, 4, 6), '{strides = [2, 3], padding = "VALID"}'),
    ((2, 13, 12, 2), (3, 3, 2, 3), '{dilations = [2, 3], padding = "SAME"}'),
    ((1, 8, 9, 3), (2, 3, 3, 2), '{padding = "EXPLICIT", explicit_padding = [1, 0, 2, 3]}'),
    ((3, 5, 5, 7), (1, 1, 7, 4), '{padding = "SAME"}'),  # a GEMM on the input
    ((3, 5, 5, 7), (1, 1, 7, 4), '{strides = [2, 2], padding = "VALID"}'),
    ((1, 1, 1, 1), (1, 1, 1, 1), '{padding = "VALID"}'),
    ((1, 4, 4, 3), (5, 5, 3, 2), '{padding = "SAME"}'),  # wider than the image
    (("?", 7, 6, 3), (3, 3, 3, 4), '{strides = [2, 2], padding = "SAME"}'),
    (("?", "?", "?", 3), (3, 3, 3, 4), '{padding = "SAME"}'),
    (("?", 6, 6, "?"), (3, 3, "?", 4), '{padding = "VALID"}'),  # channels at run time
    ((0, 5, 5, 2), (3, 3, 2, 2), '{padding = "SAME"}'),
]


def conv_text(x: str, f: str, attrs: str) -> str:
    """A function computing one kiln.conv2d of %x (typed `x`) and %w (typed `f`)."""
    t = result_type("kiln.conv2d", x, f, attrs)
    return (
        f"func @f(%x: {x}, %w: {f}) -> {t} {{\n"
        f"  %c = kiln.conv2d %x, %w {attrs} : ({x}, {f}) -> {t}\n"
        f"  kiln.return %c : {t}\n}}"
    )


@pytest.mark.parametrize("x, f, attrs", CONVS)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_conv(rng, x, f, attrs, dtype):
    x_shape = tuple(d if isinstance(d, int) else 5 for d in x)  # symbolic dims: 5
    f_shape = tuple(d if isinstance(d, int) else 5 for d in f)
    text = conv_text(tensor(x, dtype), tensor(f, dtype), attrs)
    check(text, normal(rng, x_shape, dtype), normal(rng, f_shape, dtype))


CONV_BIAS_RELU = """func @f(%x: tensor<?x11x9x5xf32>, %w: tensor<3x3x5x6xf32>,
                            %b: tensor<6xf32>, %r: tensor<?x6x5x6xf32>) -> tensor<?x6x5x6xf32> {
  %c = kiln.conv2d %x, %w {strides = [2, 2], padding = "SAME"}
      : (tensor<?x11x9x5xf32>, tensor<3x3x5x6xf32>) -> tensor<?x6x5x6xf32>
  %z = kiln.add %c, %b : (tensor<?x6x5x6xf32>, tensor<6xf32>) -> tensor<?x6x5x6xf32>
  %s = kiln.add %z, %r : tensor<?x6x5x6xf32>
  %y = kiln.relu %s : tensor<?x6x5x6xf32>
  kiln.return %y : tensor<?x6x5x6xf32>
}"""


@pytest.mark.parametrize("block_bytes", [conv_module.BLOCK_BYTES, 1, 700])
def test_conv_bias_residual_relu_in_blocks(rng, monkeypatch, block_bytes):
    """Blocks of one row, of a few rows (a partial last block), and one block,
    of the explicit im2col path (the implicit GEMM's: test_conv_gemm.py)."""
    monkeypatch.setattr(conv_module, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(conv_module, "_implicit", lambda group: False)
    got = check(
        CONV_BIAS_RELU,
        normal(rng, (3, 11, 9, 5)),
        normal(rng, (3, 3, 5, 6)),
        normal(rng, 6),
        normal(rng, (3, 6, 5, 6)),
    )[0]
    assert (got == 0).any() and (got > 0).any()


# ------------------------------------------------------------------ binding and errors


def test_unsupported_dtype_is_a_compile_error():
    with pytest.raises(CompileError, match=r"kiln.matmul.*f16 is not supported"):
        compiled(single("kiln.matmul", tensor((2, 3), "f16"), tensor((3, 4), "f16")))


def test_bind_rejects_misfits():
    _, op, kernel, _ = compiled(single("kiln.matmul", tensor(("?", "?")), tensor(("?", 4))))
    assert kernel.bind([(3, 5), (5, 4)], [(3, 4)]) == ((3, 4, 5, 5, 4), 3)  # M N K lda ldb
    with pytest.raises(ExecutionError, match=r"kiln.matmul.*contraction dims differ"):
        kernel.bind([(3, 5), (6, 4)], [(3, 4)])
    with pytest.raises(ExecutionError, match=r"input 1 \(.*\): got shape \(5, 3\)"):
        kernel.bind([(3, 5), (5, 3)], [(3, 3)])
    with pytest.raises(ExecutionError, match=r"result 0 has shape \(3, 5\)"):
        kernel.bind([(3, 5), (5, 4)], [(3, 5)])
    _, _, batched, _ = compiled(single("kiln.matmul", tensor(("?", 2, 3)), tensor(("?", 3, 4))))
    with pytest.raises(ExecutionError, match=r"batch dims .* do not broadcast"):
        batched.bind([(2, 2, 3), (3, 3, 4)], [(3, 2, 4)])
    _, _, dense, _ = compiled(DENSE.format(k=3, n=4, t="f32"))
    with pytest.raises(ExecutionError, match=r"input 2 \(.*\): got shape \(5,\)"):
        dense.bind([(2, 3), (3, 4), (5,)], [(2, 4)])


def test_conv_bind_rejects_misfits():
    text = conv_text(tensor(("?", "?", "?", "?")), tensor((3, 3, "?", 2)), '{padding = "VALID"}')
    _, _, kernel, _ = compiled(text)
    dims, outer = kernel.bind([(1, 5, 6, 2), (3, 3, 2, 2)], [(1, 3, 4, 2)])
    assert outer == 12 and dims[:6] == (5, 6, 2, 3, 4, 2)
    with pytest.raises(ExecutionError, match=r"input channels 2 differ from the filter's 3"):
        kernel.bind([(1, 5, 6, 2), (3, 3, 3, 2)], [(1, 3, 4, 2)])
    with pytest.raises(ExecutionError, match=r"kiln.conv2d.*window 3 is larger"):
        kernel.bind([(1, 2, 6, 2), (3, 3, 2, 2)], [(1, 0, 4, 2)])


def test_matmul_batch_folds_into_rows():
    """x[B, S, K] @ w[K, N]: one GEMM over B * S rows (M = B * S, batch extents 1)."""
    _, _, kernel, _ = compiled(single("kiln.matmul", tensor(("?", "?", 8)), tensor((8, 3))))
    assert kernel.bind([(4, 5, 8), (8, 3)], [(4, 5, 3)]) == ((20, 3, 8, 8, 3, 1, 0, 0), 20)
    _, _, shared_lhs, _ = compiled(single("kiln.matmul", tensor((5, 8)), tensor((4, 8, 3))))
    assert shared_lhs.bind([(5, 8), (4, 8, 3)], [(4, 5, 3)]) == ((5, 3, 8, 8, 3, 4, 0, 24), 20)
