"""Tensor types, symbolic dims, broadcasting and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.ir import ANY, DType, KilnError, ShapeError, Symbol, TensorType, broadcast_shapes
from kiln.ir.dtypes import round_to_bf16
from kiln.ir.types import parse_type_body


@pytest.mark.parametrize(
    "text",
    [
        "tensor<?x784xf32>",
        "tensor<f64>",
        "tensor<Nx3x1xbf16>",
        "tensor<0xi8>",
        "tensor<2xi16>",
        "tensor<28x28xu8>",
        "tensor<u16>",
        "tensor<?xu32>",
        "tensor<3xu64>",
        "tensor<BATCH_SIZExSEQxbool>",
    ],
)
def test_type_text_round_trips(text):
    t = parse_type_body(text[len("tensor<") : -1])
    assert str(t) == text


def test_scalar_has_rank_zero():
    t = TensorType("f32")
    assert t.rank == 0 and t.num_elements == 1 and str(t) == "tensor<f32>"


@pytest.mark.parametrize(
    "body, message",
    [
        ("3xf17", "unknown element type 'f17'"),
        ("3xyxf32", "bad dimension 'y'"),
        ("-1xf32", "bad dimension '-1'"),
    ],
)
def test_malformed_types_are_errors(body, message):
    with pytest.raises(KilnError, match=message):
        parse_type_body(body)


def test_symbol_names_are_upper_case():
    with pytest.raises(KilnError, match="upper-case"):
        Symbol("batch")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([1, 2, 3]), max_size=4), min_size=1, max_size=3))
def test_static_broadcasting_matches_numpy(shapes):
    try:
        expected = np.broadcast_shapes(*map(tuple, shapes))
    except ValueError:
        with pytest.raises(ShapeError, match="do not broadcast"):
            broadcast_shapes(*shapes)
    else:
        assert broadcast_shapes(*shapes) == expected


def test_symbolic_broadcasting():
    n = Symbol("N")
    assert broadcast_shapes((n, 1), (1, 5)) == (n, 5)
    assert broadcast_shapes((n, 784), (784,)) == (n, 784)
    assert broadcast_shapes((n,), (n,)) == (n,)
    assert broadcast_shapes((ANY,), (ANY,)) == (ANY,)  # two ? are not known equal: result ?
    assert broadcast_shapes((n,), (Symbol("M"),)) == (ANY,)
    assert broadcast_shapes((ANY,), (7,)) == (7,)  # ? must be 7 or 1 at run time
    with pytest.raises(ShapeError):
        broadcast_shapes((2, n), (3, n))


def test_dtypes_map_to_numpy():
    assert DType.f32.numpy == np.float32 and DType.i64.numpy == np.int64
    assert DType.bf16.numpy == np.float32 and DType.bf16.itemsize == 2
    assert DType.bool.is_bool and DType.i8.is_int and DType.f16.is_float
    assert DType.u8.numpy == np.uint8 and DType.i16.numpy == np.int16
    assert DType.u64.is_int and DType.u64.is_unsigned and not DType.i64.is_unsigned
    assert DType.u16.itemsize == 2 and not DType.u32.is_float


def test_interpreter_runs_unsigned_types():
    from kiln.ir import interpret, parse

    m = parse(
        "func @f(%x: tensor<3xu8>, %y: tensor<3xu8>) -> tensor<3xu8> {\n"
        "  %z = kiln.add %x, %y : (tensor<3xu8>, tensor<3xu8>) -> tensor<3xu8>\n"
        "  kiln.return %z : (tensor<3xu8>) -> ()\n"
        "}\n"
    )
    x, y = np.array([250, 1, 7], np.uint8), np.array([10, 2, 7], np.uint8)
    (z,) = interpret(m, "f", x, y)
    assert z.dtype == np.uint8 and z.tolist() == [4, 3, 14]  # wraps modulo 256


def test_bf16_rounds_to_nearest_even():
    x = np.array([1.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 3.14159, -2.5e-3, np.inf, np.nan], np.float32)
    r = round_to_bf16(x)
    bits = r.view(np.uint32)
    assert np.all(bits[:-1] & 0xFFFF == 0)  # only 8 mantissa bits remain
    assert r[1] == 1.0  # a tie rounds to even
    assert r[2] == 1.0 + 4 * 2**-8  # a tie rounds to even (up)
    assert abs(r[3] - 3.14159) < 2**-7 * 4
    assert np.isinf(r[5]) and np.isnan(r[6])
