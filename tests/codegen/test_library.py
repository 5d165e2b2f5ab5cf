"""The library's native kernels (ops outside fused groups) against the reference
interpreter: every op on random inputs, shapes with sizes 0 and 1, symbolic
dims (one compiled kernel serves many shapes), the outer range split in two
calls, and faults for out-of-range indices."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from itertools import permutations

import numpy as np
import pytest

import kiln
from kiln.codegen.kernel import Fault
from kiln.codegen.llvm.frame import INDEX_OUT_OF_RANGE
from kiln.codegen.llvm.jit import Compiled, compile_module
from kiln.codegen.llvm.native import NativeKernel, native_kernel
from kiln.ir import (
    Builder,
    CompileError,
    ExecutionError,
    Module,
    Operation,
    TensorType,
    dtype_of,
    interpret,
    parse,
)
from kiln.ir.types import parse_type_body
from kiln.runtime.shapes import concrete_shapes


@dataclass
class Native:
    """One op alone in a function @f, with its native kernel compiled."""

    module: Module
    op: Operation
    kernel: NativeKernel
    compiled: Compiled

    def __call__(self, *arrays: np.ndarray, parts: int = 1) -> tuple[list[np.ndarray], int]:
        """The results and the fault bits, with [0, outer) run in `parts` calls."""
        shapes = concrete_shapes(self.module["f"], [a.shape for a in arrays])
        result_shapes = [shapes[r] for r in self.op.results]
        dims, outer = self.kernel.bind([a.shape for a in arrays], result_shapes)
        outputs = [_garbage(s, r.type.dtype.numpy) for s, r in zip(result_shapes, self.op.results)]
        buffers = (ctypes.c_void_p * (len(arrays) + len(outputs)))(
            *(a.ctypes.data for a in [*arrays, *outputs])
        )
        ints = (ctypes.c_int64 * max(1, len(dims)))(*dims)
        cuts = np.linspace(0, outer, parts + 1).astype(int)
        faults = 0
        for begin, end in zip(cuts[:-1], cuts[1:]):
            faults |= self.compiled.function(self.kernel.name)(buffers, ints, int(begin), int(end))
        return outputs, faults


def _garbage(shape, dtype) -> np.ndarray:
    """An array of arbitrary bytes: an element the kernel forgets shows up."""
    a = np.empty(shape, dtype)
    a.reshape(-1).view(np.uint8)[:] = 0x5A if dtype != np.bool_ else 1
    return a


_compiled: dict[str, Native] = {}


def native(op_name: str, *types: str, **attrs) -> Native:
    """The op `kiln.<op_name>` on operands of `types` ("?x3xf32"), compiled once."""
    m = Module()
    f = m.add_function("f", [parse_type_body(t) for t in types])
    b = Builder.at_end(f.body)
    result = getattr(b, op_name)(*f.args, **attrs)
    b.ret(result)
    key = str(m)
    if key not in _compiled:
        op = f.body.ops[0]
        kernel = native_kernel(op, "k")
        _compiled[key] = Native(m, op, kernel, compile_module(kernel.module))
    return _compiled[key]


def check(n: Native, *arrays, exact: bool = True) -> list[np.ndarray]:
    """Run `n` whole and split in three; both must equal the interpreter (bit
    for bit, or allclose when not `exact`)."""
    arrays = [np.array(a, order="C") for a in arrays]  # (ascontiguousarray makes 0-d 1-d)
    want = interpret(n.module, "f", *arrays)
    for parts in (1, 3):
        got, faults = n(*arrays, parts=parts)
        assert faults == 0, Fault(faults)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
            if exact:
                assert g.tobytes() == w.tobytes(), (g, w)
            else:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    return got


def data(rng, shape, dtype: str = "f32") -> np.ndarray:
    """Random values of a kiln dtype (bools included), NaN among the floats."""
    numpy_dtype = parse_type_body(f"1x{dtype}").dtype.numpy
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("i"):
        return rng.integers(-100, 100, shape).astype(numpy_dtype)
    if dtype.startswith("u"):
        return rng.integers(0, 200, shape).astype(numpy_dtype)
    x = rng.standard_normal(shape).astype(numpy_dtype)
    x.reshape(-1)[::7] = np.nan
    x.reshape(-1)[3::7] = -0.0
    return x


DTYPES = ["f32", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


# ------------------------------------------------------------------ transpose


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_2d_is_tiled_and_exact(rng, dtype):
    n = native("transpose", f"?x?x{dtype}", perm=[1, 0])
    assert "tiled" in n.kernel.text
    for shape in [(0, 3), (1, 1), (3, 0), (33, 70), (64, 32), (5, 97)]:
        check(n, data(rng, shape, dtype))


@pytest.mark.parametrize("perm", list(permutations(range(3))))
def test_transpose_every_3d_permutation(rng, perm):
    n = native("transpose", "?x?x?xf32", perm=list(perm))
    for shape in [(2, 3, 4), (1, 35, 33), (4, 0, 2), (7, 1, 5)]:
        check(n, data(rng, shape))


def test_transpose_merges_adjacent_axes(rng):
    nhwc = native("transpose", "?x3x?x?xi32", perm=[0, 2, 3, 1])  # NCHW -> NHWC
    assert "merged" in nhwc.kernel.text or "tiled" in nhwc.kernel.text
    assert "[(0,), (2, 3), (1,)]" in nhwc.kernel.text
    for shape in [(2, 3, 5, 7), (1, 3, 40, 1), (0, 3, 2, 2)]:
        check(nhwc, data(rng, shape, "i32"))
    check(native("transpose", "1x?x1x4xf64", perm=[3, 2, 1, 0]), data(rng, (1, 6, 1, 4), "f64"))
    check(native("transpose", "2x3x4x5xf32", perm=[3, 1, 2, 0]), data(rng, (2, 3, 4, 5)))
    check(native("transpose", "f32", perm=[]), np.float32(2.5))


PERMUTATIONS_MOVING_THE_LAST_AXIS = [  # the first shape's result rows are 2048 elements apart
    ((1, 0), [(2048, 3), (64, 64), (33, 70), (1, 9)]),
    ((2, 1, 0), [(64, 32, 5), (32, 4, 16), (35, 3, 66), (0, 2, 3)]),
    ((2, 0, 1), [(64, 32, 5), (16, 8, 32), (5, 7, 67)]),
    ((1, 2, 0), [(2048, 2, 3), (64, 2, 16), (65, 3, 17)]),
    ((0, 2, 1), [(2, 2048, 3), (2, 128, 16), (3, 33, 65)]),
    ((0, 3, 1, 2), [(2, 32, 64, 3), (2, 8, 8, 64), (3, 5, 7, 33)]),  # NHWC -> NCHW
    ((3, 2, 1, 0), [(16, 8, 16, 3), (16, 4, 4, 32), (3, 5, 6, 7)]),
    ((1, 3, 0, 2), [(32, 3, 64, 2), (4, 16, 3, 32), (2, 17, 3, 5)]),
    ((4, 0, 2, 1, 3), [(8, 4, 8, 8, 3), (2, 3, 4, 5, 64), (2, 1, 3, 2, 35)]),
    ((0, 4, 1, 3, 2), [(2, 16, 8, 16, 3), (2, 16, 2, 4, 32), (1, 3, 2, 5, 9)]),
]


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32", "u8", "bool"])
@pytest.mark.parametrize(("perm", "shapes"), PERMUTATIONS_MOVING_THE_LAST_AXIS)
def test_permutations_moving_the_last_axis_are_tiled(rng, perm, shapes, dtype):
    """Result rows a multiple of CONFLICT_BYTES apart go through the tile
    buffer; odd sizes leave tails of tiles and of register blocks."""
    rank = len(perm)
    n = native("transpose", "x".join(["?"] * rank) + f"x{dtype}", perm=list(perm))
    assert "tiled permutation" in n.kernel.text
    for shape in shapes:
        x = data(rng, shape, dtype)
        got = check(n, x)[0]
        assert got.tobytes() == np.ascontiguousarray(x.transpose(perm)).tobytes()


# ------------------------------------------------------------------ slice, pad, concat

SLICES = [
    dict(axes=[0, 1], starts=[1, 0], stops=[5, 100], steps=[2, -1]),
    dict(axes=[1], starts=[-1], stops=[-100], steps=[-3]),
    dict(axes=[0], starts=[4], stops=[2]),  # empty
    dict(axes=[-1, 0], starts=[2, -2], stops=[100, 100]),
]


@pytest.mark.parametrize("attrs", SLICES, ids=range(len(SLICES)))
def test_slice(rng, attrs):
    n = native("slice", "?x?xf32", **attrs)
    for shape in [(6, 7), (1, 1), (0, 5), (9, 0), (3, 33)]:
        check(n, data(rng, shape))


def test_slice_other_ranks(rng):
    check(
        native("slice", "?x4x?xi8", axes=[2], starts=[1], stops=[9], steps=[3]),
        data(rng, (3, 4, 10), "i8"),
    )
    check(native("slice", "bool", axes=[], starts=[], stops=[]), np.array(True))


@pytest.mark.parametrize("dtype, value", [("f32", 0.5), ("i32", -7.9), ("bool", 1.0)])
def test_pad(rng, dtype, value):
    n = native("pad", f"?x?x{dtype}", low=[1, 0], high=[2, 3], value=value)
    for shape in [(3, 4), (0, 2), (2, 0), (1, 1)]:
        check(n, data(rng, shape, dtype))


def test_pad_other_ranks(rng):
    n = native("pad", "?xf64", low=[3], high=[0], value=-1.0)
    for size in (0, 1, 5):
        check(n, data(rng, (size,), "f64"))
    check(native("pad", "2x?x3xi64", low=[0, 2, 1], high=[1, 0, 1]), data(rng, (2, 4, 3), "i64"))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(rng, axis):
    n = native("concat", "?x?x?xf32", "?x?x?xf32", "?x?x?xf32", axis=axis)
    for sizes in [(2, 3, 1), (0, 4, 0), (1, 1, 1)]:
        shapes = [[3, 2, 4] for _ in sizes]
        for shape, size in zip(shapes, sizes):
            shape[axis] = size
        check(n, *[data(rng, s) for s in shapes])


def test_concat_bools_and_one_operand(rng):
    check(
        native("concat", "?x2xbool", "3x2xbool", axis=0),
        data(rng, (4, 2), "bool"),
        data(rng, (3, 2), "bool"),
    )
    check(native("concat", "?xi8", axis=0), data(rng, (5,), "i8"))


# ------------------------------------------------------------------ gather, scatter_add


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("index", ["i32", "i64", "u8"])
def test_gather(rng, axis, index):
    n = native("gather", "?x?x?xf32", f"?x?x{index}", axis=axis)
    for shape, indices in [
        ((4, 5, 6), (3, 2)),
        ((2, 1, 3), (0, 4)),
        ((1, 3, 1), (1, 1)),
        ((0, 3, 3), (2, 2)),
    ]:
        if shape[axis] == 0:
            indices = (0, 2)  # nothing to pick from
        idx = rng.integers(0, max(shape[axis], 1), indices).astype(dtype_of(index).numpy)
        check(n, data(rng, shape), idx)


@pytest.mark.parametrize("bad", [-1, 5, 2**40])
def test_gather_out_of_range_is_a_fault(rng, bad):
    n = native("gather", "?x3xi32", "?xi64", axis=0)
    indices = np.array([0, bad, 4], np.int64)
    got, faults = n(data(rng, (5, 3), "i32"), indices, parts=2)
    assert faults == INDEX_OUT_OF_RANGE
    assert (got[0][1] == 0).all()
    with pytest.raises(ExecutionError, match="out of range"):
        interpret(n.module, "f", data(rng, (5, 3), "i32"), indices)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", ["f32", "i64", "bool"])
def test_scatter_add(rng, axis, dtype):
    n = native("scatter_add", f"?x?x{dtype}", "?xi32", f"?x?x{dtype}", axis=axis)
    for shape, count in [((5, 4), 9), ((3, 1), 2), ((2, 3), 0), ((0, 4), 3)]:
        x = data(rng, shape, dtype)
        top = shape[axis]
        indices = rng.integers(0, top, count).astype(np.int32) if top else np.zeros(0, np.int32)
        updates = list(shape)
        updates[axis] = len(indices)
        check(n, x, indices, data(rng, updates, dtype))


def test_scatter_add_out_of_range_is_a_fault(rng):
    n = native("scatter_add", "?x2xf32", "?xi32", "?x2xf32", axis=0)
    x, updates = np.zeros((3, 2), np.float32), np.ones((2, 2), np.float32)
    got, faults = n(x, np.array([1, 3], np.int32), updates)
    assert faults == INDEX_OUT_OF_RANGE
    assert got[0].tolist() == [[0, 0], [1, 1], [0, 0]]  # the good index still added


# ------------------------------------------------------------------ broadcasts, copies


def test_broadcast_to_and_like(rng):
    n = native("broadcast_to", "3x1xi8", shape=[2, 3, 4])
    check(n, data(rng, (3, 1), "i8"))
    like = native("broadcast_like", "?x1xf32", "?x?x?xf32")
    for x, target in [((4, 1), (2, 4, 3)), ((1, 1), (3, 5, 0)), ((1, 1), (2, 1, 1))]:
        check(like, data(rng, x), data(rng, target))
    check(native("broadcast_like", "f64", "?xf64"), np.float64(2), data(rng, (5,), "f64"))


def test_stop_gradient_copies(rng):
    n = native("stop_gradient", "?x?xf32")
    for shape in [(3, 5), (0, 2), (1, 1)]:
        check(n, data(rng, shape))


# ------------------------------------------------------------------ iota, random


@pytest.mark.parametrize("dtype, dimension", [("i32", 0), ("f32", 1), ("i64", -1)])
def test_iota(dtype, dimension):
    check(native("iota", shape=[4, 3, 5], dtype=dtype, dimension=dimension))


def test_random_uniform_is_bit_exact(rng):
    check(native("random", distribution="uniform", seed=7, shape=[3, 1000]))
    check(native("random", distribution="uniform", seed=-3, shape=[10], dtype="f64"))
    like = native("random", "?x5xi32", distribution="uniform", seed=2**40 + 3)
    for rows in (0, 1, 301):
        check(like, np.zeros((rows, 5), np.int32))


def test_random_normal_agrees_with_the_reference(rng):
    n = native("random", "?xf32", distribution="normal", seed=11)
    x = np.zeros(20000, np.float32)
    got, _ = n(x, parts=2)
    want = interpret(n.module, "f", x)[0]
    np.testing.assert_allclose(got[0], want, rtol=2e-6, atol=2e-6)
    assert abs(float(got[0].mean())) < 0.05 and abs(float(got[0].std()) - 1) < 0.05


# ------------------------------------------------------------------ pools

POOLS = [
    dict(ksize=[3, 3], strides=[2, 2], padding="SAME"),
    dict(ksize=[2, 3], strides=[1, 2], padding="VALID"),
    dict(ksize=[3, 2], strides=[2, 1], padding="EXPLICIT", explicit_padding=[1, 2, 0, 3]),
]
IMAGES = [(2, 7, 5, 3), (1, 1, 1, 1), (3, 4, 6, 17), (0, 5, 5, 2)]


@pytest.mark.parametrize("attrs", POOLS, ids=["same", "valid", "explicit"])
@pytest.mark.parametrize("pool", ["max_pool", "avg_pool"])
def test_pools(rng, pool, attrs):
    n = native(pool, "?x?x?x?xf32", **attrs)
    for shape in IMAGES:
        if attrs["padding"] == "VALID" and min(shape[1:3]) < 3:
            continue
        check(n, data(rng, shape), exact=pool == "max_pool")


def test_max_pool_of_integers_and_empty_windows(rng):
    check(
        native("max_pool", "?x?x?x2xi32", ksize=[2, 2], strides=[2, 2], padding="SAME"),
        data(rng, (2, 5, 3, 2), "i32"),
    )
    lost = dict(ksize=[1, 1], strides=[1, 1], padding="EXPLICIT", explicit_padding=[1, 0, 0, 1])
    check(native("max_pool", "1x2x2x1xf64", **lost), data(rng, (1, 2, 2, 1), "f64"))


@pytest.mark.parametrize("attrs", POOLS, ids=["same", "valid", "explicit"])
@pytest.mark.parametrize("grad", ["max_pool_grad", "avg_pool_grad", "max_pool_grad_grad"])
def test_pool_gradients_are_bit_exact(rng, grad, attrs):
    n = native(grad, "?x?x?x?xf32", "?x?x?x?xf32", **attrs)
    pool = native("max_pool", "?x?x?x?xf32", **attrs)
    for shape in IMAGES:
        if attrs["padding"] == "VALID" and min(shape[1:3]) < 3:
            continue
        x = rng.integers(-3, 3, shape).astype(np.float32)  # ties: the first maximum wins
        if x.size > 5:
            x.reshape(-1)[::5] = [np.nan, -np.inf][x.size % 2]
        pooled = interpret(pool.module, "f", x)[0].shape
        other = shape if grad == "max_pool_grad_grad" else pooled
        check(n, x, data(rng, other))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("window", [2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_max_pool_grad_of_many_channels_is_bit_exact(rng, dtype, padding, window, stride):
    """The vector path (whole vectors of channels) and its scalar tail: ties,
    NaN and -inf in x, windows that overlap (stride 1) or not, padding."""
    attrs = dict(ksize=[window, window], strides=[stride, stride], padding=padding)
    types = f"?x?x?x?x{dtype}"
    n = native("max_pool_grad", types, types, **attrs)
    pool = native("max_pool", types, **attrs)
    for channels in (1, 3, 8, 32, 37, 64):
        shape = (2, 7, 6, channels)
        x = rng.integers(-2, 2, shape).astype(n.op.operands[0].type.dtype.numpy)  # ties
        x.reshape(-1)[::11] = np.nan
        x.reshape(-1)[5::13] = -np.inf
        x[1, :3, :3, ::2] = -np.inf  # windows whose maximum is -inf (SAME: in the padding)
        grad = data(rng, interpret(pool.module, "f", x)[0].shape, dtype)
        check(n, x, grad)


# ------------------------------------------------------------------ errors and the runtime


def test_bind_rejects_shapes_that_do_not_fit():
    n = native("transpose", "?x4xf32", perm=[1, 0])
    with pytest.raises(ExecutionError, match="kiln.transpose"):
        n.kernel.bind([(3, 5)], [(5, 3)])
    with pytest.raises(ExecutionError, match="kiln.transpose"):
        n.kernel.bind([(3, 4)], [(3, 4)])


def test_unsupported_ops_and_dtypes_are_compile_errors():
    m = Module()
    f = m.add_function("f", [TensorType("f16", [3, 2]), TensorType("f32", [2])])
    b = Builder.at_end(f.body)
    b.ret(b.transpose(f.args[0], perm=[1, 0]), b.print(f.args[1], message="x"))
    transpose, print_ = f.body.ops[:2]
    with pytest.raises(CompileError, match="f16"):
        native_kernel(transpose, "k")
    with pytest.raises(CompileError, match="kiln.print is not supported by the CPU backend"):
        native_kernel(print_, "k")


def test_whole_function_on_the_cpu_backend():
    text = """
    func @f(%x: tensor<?x3xf32>, %i: tensor<4xi32>) -> (tensor<3x?xf32>, tensor<4x3xf32>) {
      %t = kiln.transpose %x {perm = [1, 0]} : (tensor<?x3xf32>) -> tensor<3x?xf32>
      %g = kiln.gather %x, %i {axis = 0} : (tensor<?x3xf32>, tensor<4xi32>) -> tensor<4x3xf32>
      kiln.return %t, %g : (tensor<3x?xf32>, tensor<4x3xf32>) -> ()
    }"""
    run = kiln.compile(parse(text), "f", backend="cpu")
    x, i = np.arange(15, dtype=np.float32).reshape(5, 3), np.array([4, 0, 0, 2], np.int32)
    for got, want in zip(run(x, i), interpret(parse(text), "f", x, i)):
        assert np.array_equal(got, want)
    with pytest.raises(ExecutionError, match="kiln.gather"):
        run(x, np.array([0, 5, 0, 0], np.int32))
