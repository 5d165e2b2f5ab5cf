"""The reference interpreter: argument checks, symbols, bf16 storage, calls."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.ir import Builder, ExecutionError, Module, TensorType, interpret, parse


def _scale_module(shape=("N", 3), dtype="f32") -> Module:
    m = Module()
    f = m.add_function("f", [TensorType(dtype, shape), TensorType(dtype, shape)], ["x", "y"])
    b = Builder.at_end(f.body)
    b.ret(b.mul(*f.args))
    return m.verify()


def test_runs_and_binds_named_symbols():
    m = _scale_module()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (out,) = interpret(m, "f", x, x)
    np.testing.assert_array_equal(out, x * x)
    with pytest.raises(
        ExecutionError,
        match=r"argument 1 \(%y\): expected tensor<Nx3xf32> "
        r"with N=2, got shape \(4, 3\)",
    ):
        interpret(m, "f", x, np.zeros((4, 3), np.float32))


def test_bad_arguments_are_errors():
    m = _scale_module()
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ExecutionError, match="expected dtype f32, got numpy float64"):
        interpret(m, "f", x.astype(np.float64), x)
    with pytest.raises(ExecutionError, match="expected rank 2"):
        interpret(m, "f", np.zeros(3, np.float32), x)
    with pytest.raises(ExecutionError, match="takes 2 arguments, got 1"):
        interpret(m, "f", x)
    with pytest.raises(Exception, match="no function @g"):
        interpret(m, "g", x, x)


def test_python_lists_are_converted():
    (out,) = interpret(_scale_module((3,)), "f", [1, 2, 3], [2, 2, 2])
    assert out.dtype == np.float32 and list(out) == [2, 4, 6]


def test_bf16_results_are_rounded_after_every_op():
    (out,) = interpret(_scale_module((1,), "bf16"), "f", [1.0 + 2**-7], [1.0 + 2**-7])
    exact = (1.0 + 2**-7) ** 2  # 1 + 2^-6 + 2^-14: the 2^-14 is below bf16's precision
    assert out[0] == np.float32(1.0 + 2**-6) and out[0] != np.float32(exact)


def test_run_time_shape_mismatch_names_the_op():
    m = parse("""
func @f(%x: tensor<?xf32>, %y: tensor<?xf32>) -> tensor<?xf32> {
  %0 = kiln.add %x, %y : tensor<?xf32> loc("loss/Add")
  kiln.return %0 : tensor<?xf32>
}""")
    with pytest.raises(ExecutionError, match=r"kiln.add \('loss/Add', line 3:8\)"):
        interpret(m, "f", np.zeros(2, np.float32), np.zeros(3, np.float32))


def test_integer_division_truncates_and_refuses_zero():
    m = Module()
    f = m.add_function("f", [TensorType("i32", [4])] * 2)
    b = Builder.at_end(f.body)
    b.ret(b.div(*f.args))
    (q,) = interpret(m, "f", np.array([7, -7, 7, -7], np.int32), np.array([2, 2, -2, -2], np.int32))
    assert list(q) == [3, -3, -3, 3]
    with pytest.raises(ExecutionError, match="kiln.div.*integer division by zero"):
        interpret(m, "f", np.ones(4, np.int32), np.zeros(4, np.int32))


def test_calls_run_the_callee():
    m = Module()
    sq = m.add_function("square", [TensorType("f64", [2])])
    b = Builder.at_end(sq.body)
    b.ret(b.square(sq.args[0]))
    main = m.add_function("main", [TensorType("f64", [2])])
    b = Builder.at_end(main.body)
    (y,) = b.call(sq, main.args[0])
    b.ret(b.add(y, main.args[0]))
    m.verify()
    (out,) = interpret(parse(str(m)), "main", np.array([2.0, 3.0]))
    assert list(out) == [6.0, 12.0]
