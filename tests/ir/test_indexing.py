"""kiln.gather_elements, kiln.scatter_elements, kiln.gather_nd, kiln.scatter_nd
(ir/ops/indexing.py): the references against loops written from ONNX's
definitions, negative indices, every reduction, the out-of-range errors, the
native kernels (codegen/llvm/coordinates.py) against the reference
interpreter on random shapes with sizes 0 and 1, and the gradients against
central differences."""

from __future__ import annotations

import ctypes
import itertools

import numpy as np
import pytest

import kiln
from kiln.codegen.llvm.frame import INDEX_OUT_OF_RANGE
from kiln.codegen.llvm.jit import compile_module
from kiln.codegen.llvm.native import native_kernel
from kiln.ir import Builder, ExecutionError, Module, ShapeError, interpret, parse
from kiln.ir.types import parse_type_body
from kiln.passes.autodiff import differentiate

REDUCE = {
    "none": lambda old, new: new,
    "add": lambda old, new: old + new,
    "mul": lambda old, new: old * new,
    "max": max,
    "min": min,
}


@pytest.fixture
def rng():
    return np.random.default_rng(20)


def module(op_name: str, *types: str, **attrs) -> Module:
    """@f: the op `kiln.<op_name>` alone on arguments of `types` ("?x3xf32")."""
    m = Module()
    f = m.add_function("f", [parse_type_body(t) for t in types])
    b = Builder.at_end(f.body)
    b.ret(getattr(b, op_name)(*f.args, **attrs))
    return m.verify()


def run_native(m: Module, *arrays, parts: int = 1):
    """The op's native kernel on `arrays`, its outer range cut in `parts`:
    (result, fault bits)."""
    op = m["f"].body.ops[0]
    kernel = native_kernel(op, "k")
    compiled = compile_module(kernel.module)
    want = interpret(m, "f", *arrays)[0] if len(arrays) else None
    dims, outer = kernel.bind([a.shape for a in arrays], [want.shape])
    out = np.full(want.shape, 7, want.dtype)
    buffers = (ctypes.c_void_p * (len(arrays) + 1))(*(a.ctypes.data for a in [*arrays, out]))
    ints = (ctypes.c_int64 * max(1, len(dims)))(*dims)
    cuts = np.linspace(0, outer, parts + 1).astype(int)
    faults = 0
    for begin, end in zip(cuts[:-1], cuts[1:]):
        faults |= compiled.function(kernel.name)(buffers, ints, int(begin), int(end))
    return out, faults


def data(rng, shape, dtype="f32"):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("i"):
        return rng.integers(-9, 9, shape).astype(np.dtype(dtype.replace("i", "int")))
    return rng.standard_normal(shape).astype(np.float32 if dtype == "f32" else np.float64)


def indices_into(rng, size: int, shape, dtype=np.int64):
    """Random indices in [-size, size) (negative ones count from the end)."""
    if size == 0:
        return np.zeros(shape, dtype)
    return rng.integers(-size, size, shape).astype(dtype)


# ------------------------------------------------------------------ references


def test_gather_elements_reference_is_onnx_definition(rng):
    x = data(rng, (3, 4, 5))
    for axis in range(3):
        shape = [2, 3, 4]
        idx = indices_into(rng, x.shape[axis], shape)
        got = interpret(module("gather_elements", "3x4x5xf32", "2x3x4xi64", axis=axis), "f", x, idx)
        want = np.empty(shape, np.float32)
        for pos in itertools.product(*map(range, shape)):
            src = list(pos)
            src[axis] = idx[pos] % x.shape[axis]
            want[pos] = x[tuple(src)]
        np.testing.assert_array_equal(got[0], want)


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_scatter_elements_reference_is_onnx_definition(rng, reduction):
    x, axis = data(rng, (4, 3)), 0
    idx = np.array([[1, -1, 0], [-3, 3, 0]])  # -3 is 1, -1 is 3: repeats combine
    updates = data(rng, (2, 3))
    m = module("scatter_elements", "4x3xf32", "2x3xi64", "2x3xf32", axis=axis, reduction=reduction)
    want = x.copy()
    for pos in np.ndindex(idx.shape):
        dst = (idx[pos] % 4, pos[1])
        want[dst] = REDUCE[reduction](want[dst], updates[pos])
    np.testing.assert_allclose(interpret(m, "f", x, idx, updates)[0], want, rtol=1e-6)


def test_gather_nd_reference_with_batch_dims(rng):
    x = data(rng, (2, 3, 4, 5))
    idx = np.stack([rng.integers(-3, 3, (2, 6)), rng.integers(0, 4, (2, 6))], -1)
    m = module("gather_nd", "2x3x4x5xf32", "2x6x2xi64", batch_dims=1)
    got = interpret(m, "f", x, idx)[0]
    assert got.shape == (2, 6, 5)
    for b, j in np.ndindex(2, 6):
        np.testing.assert_array_equal(got[b, j], x[b, idx[b, j, 0] % 3, idx[b, j, 1]])


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_scatter_nd_reference_is_onnx_definition(rng, reduction):
    x = data(rng, (4, 2, 3))
    idx = np.array([[1, 0], [-3, -2], [3, 1]])  # rows 0 and 1 address the same slice
    updates = data(rng, (3, 3))
    m = module("scatter_nd", "4x2x3xf32", "3x2xi64", "3x3xf32", reduction=reduction)
    want = x.copy()
    for r in range(3):
        at = (idx[r, 0] % 4, idx[r, 1] % 2)
        for k in range(3):
            want[at][k] = REDUCE[reduction](want[at][k], updates[r, k])
    np.testing.assert_allclose(interpret(m, "f", x, idx, updates)[0], want, rtol=1e-6)


@pytest.mark.parametrize(
    "op_name, types, args",
    [
        ("gather_elements", ["3x2xf32", "1x2xi64"], lambda: [np.zeros((3, 2)), [[0, 3]]]),
        ("gather_elements", ["3x2xf32", "1x2xi64"], lambda: [np.zeros((3, 2)), [[-4, 0]]]),
        (
            "scatter_elements",
            ["3x2xf32", "1x2xi64", "1x2xf32"],
            lambda: [np.zeros((3, 2)), [[0, 5]], np.ones((1, 2))],
        ),
        ("gather_nd", ["3x2xf32", "1x2xi64"], lambda: [np.zeros((3, 2)), [[2, 2]]]),
        (
            "scatter_nd",
            ["3x2xf32", "1x1xi64", "1x2xf32"],
            lambda: [np.zeros((3, 2)), [[-4]], np.ones((1, 2))],
        ),
    ],
)
def test_out_of_range_is_an_error_naming_the_op(op_name, types, args):
    m = module(op_name, *types)
    arrays = [np.asarray(a, parse_type_body(t).dtype.numpy) for a, t in zip(args(), types)]
    with pytest.raises(ExecutionError, match=rf"kiln\.{op_name}.*out of range"):
        interpret(m, "f", *arrays)
    exe = kiln.compile(m, "f", backend="cpu")  # the native kernel's fault, raised
    with pytest.raises(ExecutionError, match="out of range"):
        exe(*arrays)


def test_type_errors():
    with pytest.raises(ShapeError, match="larger than x"):
        module("gather_elements", "3x2xf32", "1x4xi64")
    with pytest.raises(ShapeError, match="integers"):
        module("gather_nd", "3x2xf32", "1x2xf32")
    with pytest.raises(ShapeError, match="updates must be"):
        module("scatter_nd", "3x2xf32", "4x1xi64", "4x3xf32")
    with pytest.raises(ShapeError, match="static last dim"):
        module("gather_nd", "3x2xf32", "4x?xi64")


def test_text_round_trip():
    m = module("scatter_elements", "?x3xf32", "?x3xi32", "?x3xf32", axis=1, reduction="max")
    assert "reduction" in str(m) and parse(str(m)) == m
    m = module("gather_nd", "2x3x4xf32", "2x5x1xi64", batch_dims=1)
    assert parse(str(m)) == m


# ------------------------------------------------------------------ native kernels

SHAPES = [(4, 5, 3), (1, 1, 1), (0, 3, 2), (3, 0, 2), (2, 6, 1)]


@pytest.mark.parametrize("dtype", ["f32", "i64", "bool"])
@pytest.mark.parametrize("index", ["i32", "i64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements_native(rng, dtype, index, axis):
    m = module("gather_elements", f"?x?x?x{dtype}", f"?x?x?x{index}", axis=axis)
    for shape in SHAPES:
        x = data(rng, shape, dtype)
        ishape = [max(0, n - 1) if d != axis % 3 else 4 for d, n in enumerate(shape)]
        idx = indices_into(rng, shape[axis], ishape, np.dtype(index.replace("i", "int")))
        if shape[axis] == 0:
            ishape[axis % 3] = 0
            idx = np.zeros(ishape, idx.dtype)
        want = interpret(m, "f", x, idx)[0]
        for parts in (1, 3):
            got, faults = run_native(m, x, idx, parts=parts)
            assert faults == 0 and got.tobytes() == want.tobytes(), (shape, parts)


@pytest.mark.parametrize("dtype", ["f32", "i32", "bool"])
@pytest.mark.parametrize("reduction", list(REDUCE))
@pytest.mark.parametrize("axis", [0, 2])
def test_scatter_elements_native(rng, dtype, reduction, axis):
    m = module(
        "scatter_elements",
        f"?x?x?x{dtype}",
        "?x?x?xi64",
        f"?x?x?x{dtype}",
        axis=axis,
        reduction=reduction,
    )
    for shape in SHAPES:
        x = data(rng, shape, dtype)
        ishape = list(shape)
        ishape[axis] = 3 if shape[axis] else 0
        idx = indices_into(rng, shape[axis], ishape)
        updates = data(rng, ishape, dtype)
        want = interpret(m, "f", x, idx, updates)[0]
        got, faults = run_native(m, x, idx, updates)
        assert faults == 0
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=str(shape))


@pytest.mark.parametrize("dtype", ["f32", "i64", "bool"])
@pytest.mark.parametrize("batch_dims", [0, 1])
def test_gather_nd_native(rng, dtype, batch_dims):
    m = module("gather_nd", f"?x?x?x{dtype}", "?x?x2xi32", batch_dims=batch_dims)
    for shape in [(3, 4, 5), (1, 1, 1), (2, 3, 0), (2, 1, 3)]:
        x = data(rng, shape, dtype)
        lead = (shape[0], 4) if batch_dims else (5, 2)
        q_sizes = shape[batch_dims : batch_dims + 2]
        if 0 in q_sizes:  # nothing to address: no rows
            lead = (shape[0], 0) if batch_dims else (0, 2)
        idx = np.stack([indices_into(rng, n, lead, np.int32) for n in q_sizes], -1)
        want = interpret(m, "f", x, idx)[0]
        for parts in (1, 2):
            got, faults = run_native(m, x, idx, parts=parts)
            assert faults == 0 and got.tobytes() == want.tobytes(), (shape, parts)


@pytest.mark.parametrize("dtype", ["f64", "i64", "bool"])
@pytest.mark.parametrize("reduction", list(REDUCE))
def test_scatter_nd_native(rng, dtype, reduction):
    m = module("scatter_nd", f"?x?x{dtype}", "?x1xi64", f"?x?x{dtype}", reduction=reduction)
    for shape, rows in [((5, 3), 7), ((1, 1), 1), ((4, 0), 2), ((3, 2), 0)]:
        x = data(rng, shape, dtype)
        idx = indices_into(rng, shape[0], (rows, 1))
        updates = data(rng, (rows, shape[1]), dtype)
        want = interpret(m, "f", x, idx, updates)[0]
        got, faults = run_native(m, x, idx, updates)
        assert faults == 0
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=str(shape))


def test_native_out_of_range_is_a_fault_and_touches_nothing(rng):
    m = module("gather_nd", "4x3xf32", "2x1xi64")
    x, idx = data(rng, (4, 3)), np.array([[1], [2**40]])
    with pytest.raises(ExecutionError):
        interpret(m, "f", x, idx)
    op = m["f"].body.ops[0]
    kernel = native_kernel(op, "k")
    compiled = compile_module(kernel.module)
    out = np.full((2, 3), 7, np.float32)
    dims, outer = kernel.bind([x.shape, idx.shape], [out.shape])
    buffers = (ctypes.c_void_p * 3)(x.ctypes.data, idx.ctypes.data, out.ctypes.data)
    ints = (ctypes.c_int64 * len(dims))(*dims)
    assert compiled.function(kernel.name)(buffers, ints, 0, outer) == INDEX_OUT_OF_RANGE
    np.testing.assert_array_equal(out, [x[1], [0, 0, 0]])


def test_compiled_function_uses_the_native_kernels(rng):
    """An ONNX-style graph: gather_elements feeding scatter_nd, compiled for the CPU."""
    m = Module()
    f = m.add_function("f", [parse_type_body(t) for t in ["5x4xf32", "3x4xi64", "2x1xi64"]])
    b = Builder.at_end(f.body)
    picked = b.gather_elements(f.args[0], f.args[1], axis=0)
    b.ret(b.scatter_nd(f.args[0], f.args[2], b.slice(picked, axes=[0], starts=[0], stops=[2])))
    m.verify()
    args = [data(rng, (5, 4)), indices_into(rng, 5, (3, 4)), np.array([[4], [-5]])]
    want = interpret(m, "f", *args)[0]
    got = kiln.compile(m, "f", backend="cpu")(*args)
    np.testing.assert_array_equal(
        np.asarray(got[0] if isinstance(got, (list, tuple)) else got), want
    )


# ------------------------------------------------------------------ gradients


def numeric_vjp(m: Module, args: list, seed: np.ndarray, i: int, eps=1e-6) -> np.ndarray:
    out = np.zeros_like(args[i])
    for pos in np.ndindex(args[i].shape):
        total = []
        for sign in (1, -1):
            moved = [a.copy() for a in args]
            moved[i][pos] += sign * eps
            total.append(float(np.sum(seed * interpret(m, "f", *moved)[0])))
        out[pos] = (total[0] - total[1]) / (2 * eps)
    return out


@pytest.mark.parametrize(
    "op_name, types, make, attrs",
    [
        (
            "gather_elements",
            ["4x3xf64", "2x3xi64"],
            lambda r: [data(r, (4, 3), "f64"), np.array([[0, -1, 2], [0, 1, 2]])],
            {"axis": 0},
        ),
        (
            "scatter_elements",
            ["4x3xf64", "1x3xi64", "1x3xf64"],
            lambda r: [data(r, (4, 3), "f64"), np.array([[1, -1, 0]]), data(r, (1, 3), "f64")],
            {"axis": 0},
        ),
        (
            "scatter_elements",
            ["4x3xf64", "2x3xi64", "2x3xf64"],
            lambda r: [
                data(r, (4, 3), "f64"),
                np.array([[1, 1, 0], [1, 2, 0]]),
                data(r, (2, 3), "f64"),
            ],
            {"axis": 1, "reduction": "add"},
        ),
        (
            "gather_nd",
            ["4x3xf64", "3x1xi64"],
            lambda r: [data(r, (4, 3), "f64"), np.array([[1], [1], [-1]])],
            {},
        ),
        (
            "scatter_nd",
            ["4x3xf64", "2x2xi64", "2xf64"],
            lambda r: [data(r, (4, 3), "f64"), np.array([[1, 0], [3, 2]]), data(r, (2,), "f64")],
            {},
        ),
        (
            "scatter_nd",
            ["4x3xf64", "3x1xi64", "3x3xf64"],
            lambda r: [data(r, (4, 3), "f64"), np.array([[1], [1], [0]]), data(r, (3, 3), "f64")],
            {"reduction": "add"},
        ),
    ],
)
def test_gradient_matches_finite_differences(rng, op_name, types, make, attrs):
    m = module(op_name, *types, **attrs)
    args = make(rng)
    seed = rng.standard_normal(interpret(m, "f", *args)[0].shape)
    wrt = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    grad = differentiate(m, "f", wrt, of=[0], seeds=True)
    m.verify()
    got = interpret(m, grad.name, *args, seed)
    for k, i in enumerate(wrt):
        np.testing.assert_allclose(got[1 + k], numeric_vjp(m, args, seed, i), atol=1e-6)


def test_no_gradient_through_a_max_scatter():
    m = module("scatter_elements", "3xf64", "1xi64", "1xf64", reduction="max")
    with pytest.raises(kiln.KilnError, match="no gradient for reduction='max'"):
        differentiate(m, "f", [0], of=[0], seeds=True)
