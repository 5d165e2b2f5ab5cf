"""Differential testing: random well-typed programs (elementwise, broadcasting,
reductions, matmul, reshape, transpose) through the reference interpreter and
the native CPU backend must agree (NaN where the other has NaN).

Small default example count (CI); KILN_DIFF_EXAMPLES raises it."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln
from kiln.ir import interpret, parse

UNARY = ["tanh", "exp", "neg", "abs", "sqrt", "log", "sigmoid", "square", "relu"]
BINARY = ["add", "sub", "mul", "max", "min", "div"]
REDUCE = ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]


def _t(shape, dtype="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + dtype + ">"


@st.composite
def programs(draw):
    """(IR text, input arrays, values an op refuses are avoided by construction)."""
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    args = [("%a0", shape)]
    lines = []
    cur, cur_shape = "%a0", shape
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "transpose", "reshape", "mm"]))
        new = f"%v{i}"
        if kind == "unary":
            name = draw(st.sampled_from(UNARY))
            lines.append(f"{new} = kiln.{name} {cur} : {_t(cur_shape)}")
        elif kind == "binary":
            # the other operand: the same shape, or a broadcastable suffix with 1s
            n = draw(st.integers(0, len(cur_shape)))
            other = tuple(d if draw(st.booleans()) else 1 for d in cur_shape[len(cur_shape) - n :])
            arg = f"%a{len(args)}"
            args.append((arg, other))
            name = draw(st.sampled_from(BINARY))
            lhs, rhs, ls, rs = cur, arg, cur_shape, other
            if draw(st.booleans()):
                lhs, rhs, ls, rs = rhs, lhs, rs, ls
            lines.append(
                f"{new} = kiln.{name} {lhs}, {rhs} : ({_t(ls)}, {_t(rs)}) -> {_t(cur_shape)}"
            )
        elif kind == "reduce":
            axis = draw(st.integers(0, len(cur_shape) - 1))
            keep = draw(st.booleans()) or len(cur_shape) == 1
            out = (
                tuple(1 if j == axis else d for j, d in enumerate(cur_shape))
                if keep
                else (tuple(d for j, d in enumerate(cur_shape) if j != axis))
            )
            name = draw(st.sampled_from(REDUCE))
            attrs = f"{{axes = [{axis}], keepdims = {'true' if keep else 'false'}}}"
            lines.append(f"{new} = kiln.{name} {cur} {attrs} : ({_t(cur_shape)}) -> {_t(out)}")
            cur_shape_new = out
            lines[-1] = lines[-1]
            cur, cur_shape = new, cur_shape_new
            continue
        elif kind == "transpose":
            perm = draw(st.permutations(range(len(cur_shape))))
            out = tuple(cur_shape[p] for p in perm)
            lines.append(
                f"{new} = kiln.transpose {cur} {{perm = [{', '.join(map(str, perm))}]}} : "
                f"({_t(cur_shape)}) -> {_t(out)}"
            )
            cur, cur_shape = new, out
            continue
        elif kind == "reshape":
            out = (int(np.prod(cur_shape)),)
            lines.append(
                f"{new} = kiln.reshape {cur} {{shape = [{out[0]}]}} : "
                f"({_t(cur_shape)}) -> {_t(out)}"
            )
            cur, cur_shape = new, out
            continue
        else:  # matmul against a new argument
            if len(cur_shape) != 2:
                continue
            n = draw(st.integers(1, 5))
            arg = f"%a{len(args)}"
            args.append((arg, (cur_shape[1], n)))
            out = (cur_shape[0], n)
            lines.append(
                f"{new} = kiln.matmul {cur}, {arg} : ({_t(cur_shape)}, "
                f"{_t((cur_shape[1], n))}) -> {_t(out)}"
            )
            cur, cur_shape = new, out
            continue
        cur = new
    params = ", ".join(f"{a}: {_t(s)}" for a, s in args)
    body = "\n".join(f"  {line}" for line in lines)
    text = (
        f"func @f({params}) -> {_t(cur_shape)} {{\n{body}\n"
        f"  kiln.return {cur} : {_t(cur_shape)}\n}}"
    )
    special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 3.4e38, -3.4e38, 1e-40])
    values = []
    for _, s in args:
        size = int(np.prod(s))
        xs = draw(
            st.lists(st.one_of(st.floats(-4, 4, width=32), special), min_size=size, max_size=size)
        )
        values.append(np.array(xs, np.float32).reshape(s))
    return text, values


EXAMPLES = int(os.environ.get("KILN_DIFF_EXAMPLES", "12"))


def _agree(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5, equal_nan=True)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_interpreter_and_native_cpu_agree(program):
    text, values = program
    with np.errstate(all="ignore"):
        want = interpret(parse(text), "f", *values)
    got = kiln.compile(parse(text), "f", backend="cpu")(*values)
    for g, w in zip(got, want):
        _agree(g, w)


def test_known_disagreements_are_gone():
    """reduce_prod over [3.4e38, 0, 2] (NaN natively before: a reassociated
    product overflowed first) and f32 1e30 cast to i32 (the interpreter wrapped,
    native saturated: both saturate now, XLA's convert)."""
    text = """
func @f(%x: tensor<3xf32>, %y: tensor<4xf32>) -> (tensor<f32>, tensor<4xi32>) {
  %p = kiln.reduce_prod %x {axes = [0]} : (tensor<3xf32>) -> tensor<f32>
  %c = kiln.cast %y {dtype = i32} : (tensor<4xf32>) -> tensor<4xi32>
  kiln.return %p, %c : (tensor<f32>, tensor<4xi32>) -> ()
}"""
    args = [np.array([3.4e38, 0, 2], np.float32), np.array([1e30, -1e30, 3.7, -2.9], np.float32)]
    want = [np.float32(0), np.array([2**31 - 1, -(2**31), 3, -2], np.int32)]
    for got in (interpret(parse(text), "f", *args), kiln.compile(parse(text), "f", "cpu")(*args)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
