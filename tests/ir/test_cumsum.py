"""kiln.cumsum's native kernel (codegen/llvm/scan.py, for integers and symbolic
axes) against the reference: every axis, exclusive and reverse, sizes 0 and
1, integer wrap-around as numpy's, and a compiled function that uses it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import kiln
from kiln.ir import Builder, Module, interpret
from kiln.ir.types import parse_type_body


def module(type_: str, **attrs) -> Module:
    m = Module()
    f = m.add_function("f", [parse_type_body(type_)])
    b = Builder.at_end(f.body)
    b.ret(b.cumsum(f.args[0], **attrs))
    return m.verify()


@pytest.mark.parametrize("dtype", ["i8", "i32", "i64", "f32", "f64"])
@pytest.mark.parametrize("exclusive, reverse", list(itertools.product([False, True], repeat=2)))
def test_native_cumsum_matches_the_reference(dtype, exclusive, reverse):
    rng = np.random.default_rng(1)
    numpy_dtype = parse_type_body(f"1x{dtype}").dtype.numpy
    for axis in (0, 1, -1):
        m = module(f"?x?x?x{dtype}", axis=axis, exclusive=exclusive, reverse=reverse)
        exe = kiln.compile(m, "f", backend="cpu")  # symbolic dims: the op stays, natively
        for shape in [(3, 5, 4), (1, 1, 1), (0, 2, 3), (2, 0, 3), (2, 7, 1)]:
            x = rng.integers(-100, 100, shape) if dtype[0] == "i" else rng.standard_normal(shape)
            x = x.astype(numpy_dtype)
            want = interpret(m, "f", x)[0]
            got = np.asarray(exe(x)[0])
            if dtype[0] == "i":  # i8 wraps around as numpy's does
                np.testing.assert_array_equal(got, want)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
