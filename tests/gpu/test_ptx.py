# ruff: noqa: E501  (IR text)
"""Golden: the generated Triton compiles to PTX for sm_90 with no GPU (ptxas
ships with Triton), through the listing KILN_DEBUG=4 prints. Compilation runs in a child process, as these tests run
the kernels under TRITON_INTERPRET=1, where `triton.jit` gives interpreted
functions that cannot be compiled."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r'''
import json, sys
from kiln.ir import parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.codegen.triton import triton_kernel
from kiln.codegen.triton.listing import kernel_listing
from kiln.runtime.shapes import concrete_shapes

text = """func @f(%x: tensor<64x37xf32>, %w: tensor<37x48xf32>, %b: tensor<48xf32>, %i: tensor<64x48xi32>, %c: tensor<2x8x8x3xf32>, %k: tensor<3x3x3x4xf32>) -> (tensor<64x48xf32>, tensor<64x48xi32>, tensor<2x8x8x4xf32>) {
  %m = kiln.matmul %x, %w : (tensor<64x37xf32>, tensor<37x48xf32>) -> tensor<64x48xf32>
  %a = kiln.add %m, %b : (tensor<64x48xf32>, tensor<48xf32>) -> tensor<64x48xf32>
  %s = kiln.softmax %a : tensor<64x48xf32>
  %d = kiln.div %i, %i : tensor<64x48xi32>
  %v = kiln.conv2d %c, %k {strides = [1, 1], padding = "SAME"} : (tensor<2x8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<2x8x8x4xf32>
  %t = kiln.tanh %v : tensor<2x8x8x4xf32>
  kiln.return %s, %d, %t : (tensor<64x48xf32>, tensor<64x48xi32>, tensor<2x8x8x4xf32>) -> ()
}"""
m = parse(text)
run_pipeline(m, DEFAULT_PIPELINE)
f = m["f"]
shapes = concrete_shapes(f, [a.type.shape for a in f.args])
out = {}
for n, op in enumerate(f.ops):
    if op.name != "kiln.fused":
        continue
    kernel = triton_kernel(op, f"k{n}")
    ins = [shapes[v] for v in op.operands]
    outs = [shapes[r] for r in op.results]
    config = kernel.bind(ins, outs).constants
    listing = kernel_listing(kernel, ("ptx",), config)  # what KILN_DEBUG=4 prints on a GPU
    header, ptx = listing.split("\n", 1)
    assert header.startswith(f"// kiln: PTX of @k{n} ("), header
    out[op.kind] = out.get(op.kind, []) + [ptx]
json.dump({k: [p for p in v] for k, v in out.items()}, sys.stdout)
'''


@pytest.mark.slow
def test_generated_triton_compiles_to_sm90_ptx(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ptx = json.loads(done.stdout)
    assert set(ptx) >= {"matmul", "reduction", "pointwise", "conv"}, set(ptx)
    for kind, texts in ptx.items():
        for text in texts:
            assert ".target sm_90" in text and ".visible .entry" in text, kind
    # tl.dot on f32 at ieee precision: FMA loops, not tensor-core TF32 instructions
    assert all("fma.rn.f32" in t for t in ptx["matmul"])
    # the integer division's fault bits are ORed atomically into the fault word
    assert any("atom.global" in t and "or" in t for t in ptx["pointwise"])
