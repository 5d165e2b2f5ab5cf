"""kiln.top_k's native kernel (codegen/llvm/selection.py) against the reference
interpreter: random rows with ties, NaNs and signed zeros, k of 0, 1 and the
whole row, empty and single rows, integer dtypes, index dtypes, the outer
range split across calls, and k larger than a row as an error."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import kiln
from kiln.codegen.llvm.jit import compile_module
from kiln.codegen.llvm.native import native_kernel
from kiln.ir import Builder, ExecutionError, Module, interpret
from kiln.ir.types import parse_type_body


def module(type_: str, **attrs) -> Module:
    m = Module()
    f = m.add_function("f", [parse_type_body(type_)])
    b = Builder.at_end(f.body)
    b.ret(*b.create("kiln.top_k", f.args[0], **attrs).results)
    return m.verify()


def run_native(m: Module, x: np.ndarray, parts: int):
    op = m["f"].body.ops[0]
    kernel = native_kernel(op, "k")
    compiled = compile_module(kernel.module)
    want = interpret(m, "f", x)
    dims, outer = kernel.bind([x.shape], [w.shape for w in want])
    outs = [np.full(w.shape, 3, w.dtype) for w in want]
    buffers = (ctypes.c_void_p * 3)(*(a.ctypes.data for a in [x, *outs]))
    ints = (ctypes.c_int64 * len(dims))(*dims)
    cuts = np.linspace(0, outer, parts + 1).astype(int)
    for begin, end in zip(cuts[:-1], cuts[1:]):
        assert compiled.function(kernel.name)(buffers, ints, int(begin), int(end)) == 0
    return want, outs


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32", "i64", "i8"])
@pytest.mark.parametrize("k", [0, 1, 3, 6])
@pytest.mark.parametrize("index", ["i32", "i64"])
def test_native_top_k_matches_the_reference(dtype, k, index):
    rng = np.random.default_rng(k)
    m = module(f"?x?x{dtype}", k=k, index_dtype=index)
    for shape in [(5, 6), (1, 9), (0, 7), (3, k), (4, 40)]:
        if dtype.startswith("f"):
            x = rng.integers(-3, 3, shape).astype(parse_type_body(f"1x{dtype}").dtype.numpy)
            x.reshape(-1)[::5] = np.nan
            x.reshape(-1)[1::7] = -0.0
        else:
            x = rng.integers(-4, 4, shape).astype(parse_type_body(f"1x{dtype}").dtype.numpy)
        for parts in (1, 2):
            want, got = run_native(m, x, parts)
            for w, g in zip(want, got):
                assert g.tobytes() == w.tobytes(), (shape, parts, x, w, g)


def test_compiled_top_k_runs_natively_and_checks_k():
    m = module("?x4xf32", k=2)
    exe = kiln.compile(m, "f", backend="cpu")  # no fallback: a native kernel exists
    x = np.array([[1, 5, 5, 2], [np.nan, 0, -1, 7]], np.float32)
    values, indices = exe(x)
    np.testing.assert_array_equal(values, [[5, 5], [7, 0]])
    np.testing.assert_array_equal(indices, [[1, 2], [3, 1]])
    short = module("?x?xf32", k=3)
    with pytest.raises(ExecutionError, match="top_k"):
        kiln.compile(short, "f", backend="cpu")(np.zeros((2, 2), np.float32))
