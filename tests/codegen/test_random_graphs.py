"""Random elementwise/reduction graphs, fused by the real `fuse` pass and run
kernel by kernel natively, against the reference interpreter on the whole
function."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.codegen.llvm import run_kernel
from kiln.ir import Builder, Interpreter, Module, TensorType
from kiln.passes import run_pipeline

UNARY = ["neg", "abs", "exp", "tanh", "sigmoid", "relu", "square", "sqrt"]
BINARY = ["add", "sub", "mul", "max", "min", "div"]


def random_function(rng: np.random.Generator) -> Module:
    """@f over inputs of shape ?x12, 12 and ?x1, with ~12 random ops, some
    row reductions and their broadcasts back."""
    m = Module()
    types = [TensorType("f32", ["?", 12]), TensorType("f32", [12]), TensorType("f32", ["?", 1])]
    f = m.add_function("f", types)
    b = Builder.at_end(f.body)
    full = [f.args[0], b.add(f.args[0], f.args[1]), b.mul(f.args[0], f.args[2])]
    for _ in range(12):
        pick = rng.random()
        x = full[rng.integers(len(full))]
        if pick < 0.4:
            full.append(getattr(b, UNARY[rng.integers(len(UNARY))])(x))
        elif pick < 0.8:
            y = full[rng.integers(len(full))]
            full.append(getattr(b, BINARY[rng.integers(len(BINARY))])(x, y))
        else:
            reduce = ["reduce_sum", "reduce_max", "reduce_mean"][rng.integers(3)]
            row = getattr(b, reduce)(x, axes=[1], keepdims=True)
            full.append(b.sub(x, row))
    b.ret(full[-1], full[-2])
    return m.verify()


def run_natively(m: Module, args: list[np.ndarray]) -> list[np.ndarray]:
    """Run @f with every kiln.fused op through `run_kernel`, the rest by the interpreter."""
    interpreter = Interpreter(m)
    f = m["f"]
    env = {id(a): v for a, v in zip(f.args, args)}
    for op in f.ops:
        inputs = [env[id(v)] for v in op.operands]
        if op is f.body.terminator:
            return inputs
        outs = (
            run_kernel(op, *inputs)
            if op.name == "kiln.fused"
            else interpreter.evaluate_op(op, inputs)
        )
        env.update({id(r): v for r, v in zip(op.results, outs)})
    raise AssertionError("no return")


@pytest.mark.parametrize("seed", range(5))
def test_random_graph(seed):
    rng = np.random.default_rng(seed)
    m = random_function(rng)
    args = [
        rng.standard_normal((5, 12)).astype(np.float32),
        rng.standard_normal(12).astype(np.float32),
        rng.standard_normal((5, 1)).astype(np.float32),
    ]
    want = Interpreter(m).call("f", args)
    run_pipeline(m, "decompose,canonicalize,fold,cse,dce,fuse")
    assert any(op.name == "kiln.fused" for op in m["f"].ops)
    for got, expected in zip(run_natively(m, args), want):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, equal_nan=True)
