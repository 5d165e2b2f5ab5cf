# ruff: noqa: E501  (IR text)
"""The Triton gathers (codegen/triton/indexing.py), run in Triton's interpreter:
kiln.gather, kiln.gather_elements and kiln.gather_nd against the reference on
shapes with sizes 0 and 1, negative indices, every kiln dtype, the fault for
an index out of range, and a resize whose decomposition runs on them."""

from __future__ import annotations

import numpy as np
import pytest

import kiln
from kiln.ir import ExecutionError, parse


def _rand(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("i"):
        return rng.integers(-50, 50, shape).astype(
            {"i8": np.int8, "i32": np.int32, "i64": np.int64}[dtype]
        )
    return rng.standard_normal(shape).astype(np.float32 if dtype == "f32" else np.float64)


@pytest.mark.parametrize("dtype", ["f32", "f64", "i8", "i32", "i64", "bool"])
def test_gather_elements(gpu, rng, dtype):
    text = f"""func @f(%x: tensor<?x?x{dtype}>, %i: tensor<?x?xi64>) -> tensor<?x?x{dtype}> {{
  %y = kiln.gather_elements %x, %i {{axis = 1}} : (tensor<?x?x{dtype}>, tensor<?x?xi64>) -> tensor<?x?x{dtype}>
  kiln.return %y : tensor<?x?x{dtype}>
}}"""
    for shape, cols in [((3, 5), 7), ((1, 1), 1), ((2, 4), 0), ((0, 3), 2)]:
        x = _rand(rng, shape, dtype)
        i = (
            rng.integers(-shape[1], shape[1], (shape[0], cols))
            if shape[1]
            else np.zeros((0, 2), np.int64)
        )
        gpu.compare(text, x, i)


@pytest.mark.parametrize("batch_dims", [0, 1])
def test_gather_nd(gpu, rng, batch_dims):
    index, out = ("2x?x2xi32", "2x?x5xf32") if batch_dims else ("?x2xi32", "?x4x5xf32")
    text = f"""func @f(%x: tensor<2x3x4x5xf32>, %i: tensor<{index}>) -> tensor<{out}> {{
  %y = kiln.gather_nd %x, %i {{batch_dims = {batch_dims}}} : (tensor<2x3x4x5xf32>, tensor<{index}>) -> tensor<{out}>
  kiln.return %y : tensor<{out}>
}}"""
    x = _rand(rng, (2, 3, 4, 5), "f32")
    sizes, lead = ((3, 4), (2, 6)) if batch_dims else ((2, 3), (7,))
    i = np.stack([rng.integers(-n, n, lead) for n in sizes], -1).astype(np.int32)
    gpu.compare(text, x, i)


def test_gather(gpu, rng):
    text = """func @f(%x: tensor<4x?x3xf32>, %i: tensor<?xi32>) -> tensor<4x?x3xf32> {
  %y = kiln.gather %x, %i {axis = 1} : (tensor<4x?x3xf32>, tensor<?xi32>) -> tensor<4x?x3xf32>
  kiln.return %y : tensor<4x?x3xf32>
}"""
    for n, m in [(5, 8), (1, 1), (3, 0)]:
        gpu.compare(text, _rand(rng, (4, n, 3), "f32"), rng.integers(0, n, m).astype(np.int32))


def test_out_of_range_is_an_execution_error(gpu):
    text = """func @f(%x: tensor<3x2xf32>, %i: tensor<1x2xi64>) -> tensor<1x2xf32> {
  %y = kiln.gather_elements %x, %i : (tensor<3x2xf32>, tensor<1x2xi64>) -> tensor<1x2xf32>
  kiln.return %y : tensor<1x2xf32>
}"""
    exe = kiln.compile(parse(text), "f", backend="gpu")
    with pytest.raises(ExecutionError, match="out of range"):
        exe(np.zeros((3, 2), np.float32), np.array([[0, 3]]))


def test_resize_runs_on_the_gathers(gpu, rng):
    text = """func @f(%x: tensor<?x2x3x4xf32>) -> tensor<?x2x6x5xf32> {
  %y = kiln.resize %x {sizes = [-1, -1, 6, 5], mode = "linear"} : (tensor<?x2x3x4xf32>) -> tensor<?x2x6x5xf32>
  kiln.return %y : tensor<?x2x6x5xf32>
}"""
    exe = gpu.compare(text, _rand(rng, (2, 2, 3, 4), "f32"))
    assert exe.compiled.host_ops == []  # every gather ran as a Triton kernel


PTX_SCRIPT = r"""
import json, sys
from kiln.ir import parse
from kiln.codegen.triton import compile_ptx, triton_kernel

text = '''func @f(%x: tensor<4x5x6xf32>, %i: tensor<4x2x6xi64>, %j: tensor<3x2xi32>, %k: tensor<7xi32>) -> (tensor<4x2x6xf32>, tensor<3x6xf32>, tensor<4x7x6xf32>) {
  %a = kiln.gather_elements %x, %i {axis = 1} : (tensor<4x5x6xf32>, tensor<4x2x6xi64>) -> tensor<4x2x6xf32>
  %b = kiln.gather_nd %x, %j : (tensor<4x5x6xf32>, tensor<3x2xi32>) -> tensor<3x6xf32>
  %c = kiln.gather %x, %k {axis = 1} : (tensor<4x5x6xf32>, tensor<7xi32>) -> tensor<4x7x6xf32>
  kiln.return %a, %b, %c : (tensor<4x2x6xf32>, tensor<3x6xf32>, tensor<4x7x6xf32>) -> ()
}'''
f = parse(text)["f"]
out = {}
for n, op in enumerate(f.body.ops[:3]):
    kernel = triton_kernel(op, f"k{n}")
    config = kernel.configs([v.type.shape for v in op.operands], [op.results[0].type.shape])[0]
    out[op.name] = compile_ptx(kernel, config)
json.dump(out, sys.stdout)
"""


@pytest.mark.slow
def test_the_gathers_compile_to_sm90_ptx(tmp_path):
    """The real Triton compiler (not the interpreter) accepts the generated source."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PTX_SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ptx = json.loads(done.stdout)
    assert set(ptx) == {"kiln.gather", "kiln.gather_elements", "kiln.gather_nd"}
    for text in ptx.values():
        assert ".target sm_90" in text and "atom.global" in text  # the fault word
