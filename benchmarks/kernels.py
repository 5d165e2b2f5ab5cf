"""Pointwise and reduction kernels against numpy, run by hand (not a test):

    python benchmarks/kernels.py [--repeat N] [--scale S]

Each workload is IR text fused by `run_pipeline(module, "fuse")` into one
`kiln.fused` op, compiled by `codegen.llvm.compiled_kernel`, checked once
against numpy through `run_kernel`, then timed as a bare call of the native
kernel on preallocated outputs (no allocation, no argument checks: the
kernel alone). numpy allocates its results, as numpy does. Times are
medians in ms; `--scale` divides the sizes (for a quick look).
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kiln.codegen.arguments import bind
from kiln.codegen.llvm import compiled_kernel, run_kernel
from kiln.ir import parse
from kiln.passes import run_pipeline


@dataclass
class Workload:
    name: str
    ir: str
    inputs: Callable[[np.random.Generator], list[np.ndarray]]
    numpy: Callable[..., np.ndarray]
    rtol: float = 1e-5


def workloads(scale: int) -> list[Workload]:
    n = 10_000_000 // scale
    rows, cols = 4096 // scale, 1024
    flat, matrix = f"tensor<{n}xf32>", f"tensor<{rows}x{cols}xf32>"
    row, column = f"tensor<{rows}x1xf32>", f"tensor<{cols}xf32>"

    def normal(*shape):
        return lambda rng: [rng.standard_normal(shape, dtype=np.float32)]

    return [
        Workload(
            f"exp/sigmoid/tanh chain {n}",
            f"""
func @f(%x: {flat}) -> {flat} {{
  %s = kiln.sigmoid %x : {flat}
  %t = kiln.tanh %x : {flat}
  %q = kiln.square %x : {flat}
  %nq = kiln.neg %q : {flat}
  %e = kiln.exp %nq : {flat}
  %st = kiln.mul %s, %t : ({flat}, {flat}) -> {flat}
  %r = kiln.add %st, %e : ({flat}, {flat}) -> {flat}
  kiln.return %r : {flat}
}}""",
            normal(n),
            lambda x: np.tanh(x) / (1 + np.exp(-x)) + np.exp(-x * x),
        ),
        Workload(
            f"sigmoid(relu(2x+1)) {n}",
            f"""
func @f(%x: {flat}) -> {flat} {{
  %c2 = kiln.constant {{value = dense<2.0> : tensor<f32>}} : tensor<f32>
  %c1 = kiln.constant {{value = dense<1.0> : tensor<f32>}} : tensor<f32>
  %a = kiln.mul %x, %c2 : ({flat}, tensor<f32>) -> {flat}
  %b = kiln.add %a, %c1 : ({flat}, tensor<f32>) -> {flat}
  %r = kiln.relu %b : {flat}
  %s = kiln.sigmoid %r : {flat}
  kiln.return %s : {flat}
}}""",
            normal(n),
            lambda x: 1 / (1 + np.exp(-np.maximum(2 * x + 1, 0))),
        ),
        Workload(
            f"softmax {rows}x{cols}",
            f"""
func @f(%x: {matrix}) -> {matrix} {{
  %m = kiln.reduce_max %x {{axes = [-1], keepdims = true}} : ({matrix}) -> {row}
  %s = kiln.sub %x, %m : ({matrix}, {row}) -> {matrix}
  %e = kiln.exp %s : {matrix}
  %z = kiln.reduce_sum %e {{axes = [-1], keepdims = true}} : ({matrix}) -> {row}
  %p = kiln.div %e, %z : ({matrix}, {row}) -> {matrix}
  kiln.return %p : {matrix}
}}""",
            normal(rows, cols),
            lambda x: (lambda e: e / e.sum(1, keepdims=True))(np.exp(x - x.max(1, keepdims=True))),
        ),
        Workload(
            f"sum of squares {n}",
            f"""
func @f(%x: {flat}) -> tensor<f32> {{
  %q = kiln.square %x : {flat}
  %s = kiln.reduce_sum %q : ({flat}) -> tensor<f32>
  kiln.return %s : tensor<f32>
}}""",
            normal(n),
            lambda x: np.dot(x, x),
            rtol=1e-4,
        ),
        Workload(
            f"column sum {rows}x{cols}",
            f"""
func @f(%x: {matrix}) -> {column} {{
  %s = kiln.reduce_sum %x {{axes = [0]}} : ({matrix}) -> {column}
  kiln.return %s : {column}
}}""",
            normal(rows, cols),
            lambda x: x.sum(axis=0),
            rtol=1e-3,
        ),  # numpy: row by row in f32
    ]


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def kernel_call(fused, inputs: list[np.ndarray]) -> Callable[[], int]:
    """The native kernel bound to `inputs` and preallocated outputs."""
    kernel, native = compiled_kernel(fused)
    binding = bind(kernel, inputs)
    outputs = [
        np.empty(shape, p.dtype.numpy) for shape, p in zip(binding.output_shapes, kernel.outputs)
    ]
    arrays = inputs + outputs
    buffers = (ctypes.c_void_p * len(arrays))(*(a.ctypes.data for a in arrays))
    dims = (ctypes.c_int64 * max(1, len(binding.dims)))(*binding.dims)
    fn = native.function(kernel.name)

    def call() -> int:
        assert arrays  # keeps the outputs alive while the kernel writes them
        return fn(buffers, dims, 0, binding.outer)

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'workload':<34} {'kiln ms':>9} {'numpy ms':>9} {'numpy/kiln':>11}")
    for w in workloads(args.scale):
        module = parse(w.ir)
        run_pipeline(module, "fuse")
        fused = [op for f in module for op in f.walk() if op.name == "kiln.fused"]
        assert len(fused) == 1, f"{w.name}: {len(fused)} fused ops"
        inputs = w.inputs(rng)
        got = run_kernel(fused[0], *inputs)[0]
        np.testing.assert_allclose(got, w.numpy(*inputs), rtol=w.rtol, atol=1e-6)
        t_kiln = median_ms(kernel_call(fused[0], inputs), args.repeat)
        t_numpy = median_ms(lambda w=w, inputs=inputs: w.numpy(*inputs), args.repeat)
        print(f"{w.name:<34} {t_kiln:9.3f} {t_numpy:9.3f} {t_numpy / t_kiln:11.2f}")


if __name__ == "__main__":
    main()
