"""Per-kernel profiles of CPU executables (runtime/profile.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import kiln
import kiln as kl
from kiln.frontend.lowering import lower
from kiln.ir import KilnError, parse
from kiln.runtime.profile import machine_ceilings, profile


def mlp_training_step(batch: int):
    """The 784-512-512-10 MLP training step (softmax cross-entropy, SGD), lowered."""
    with kl.Graph().as_default() as g:
        x = kl.placeholder(kl.float32, (None, 784), name="x")
        y = kl.placeholder(kl.float32, (None, 10), name="y")
        h = kl.layers.dense(x, 512, activation=kl.nn.relu, name="dense1")
        h = kl.layers.dense(h, 512, activation=kl.nn.relu, name="dense2")
        logits = kl.layers.dense(h, 10, name="dense3")
        with kl.name_scope("loss"):
            loss = kl.reduce_mean(
                kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits)
            )
        train = kl.train.GradientDescentOptimizer(0.01).minimize(loss)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((batch, 784)).astype(np.float32)
        Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
        lowered = lower(g, [train, loss], {x: X, y: Y}, name="step")
    params = [
        (rng.standard_normal(a.type.shape) * 0.05).astype(np.float32)
        for a in lowered.module["step"].args[2:]
    ]
    return lowered.module, [X, Y, *params]


@pytest.mark.slow
def test_mlp_step_profile_lists_every_kernel_and_adds_up():
    module, args = mlp_training_step(128)
    exe = kiln.compile(module, "step", backend="cpu")
    assert exe.backend == "cpu"
    result = profile(exe, *args, repeat=15, warmup=3)
    steps = exe.compiled.steps
    assert [r.name for r in result.rows] == [s.kernel.name for s in steps]
    assert len(result.rows) == len(steps) >= 10
    kinds = {r.kind for r in result.rows}
    assert {"fused:matmul", "fused:reduction"} <= kinds
    assert all(r.seconds > 0 and r.bytes > 0 for r in result.rows)
    # the kernel times add up to the step's time, measured around the same calls
    assert 0.9 <= result.coverage <= 1.0 + 1e-9, result.table()
    # the forward matmuls: 2*M*N*K FLOPs (+ bias and relu per element)
    first = next(r for r in result.rows if r.where == "dense1/Relu")
    assert first.flops >= 2 * 128 * 784 * 512
    assert first.bytes >= (128 * 784 + 784 * 512 + 128 * 512) * 4
    text = result.table()
    for r in result.rows:
        assert r.name in text
    assert "GFLOP/s" in text and "ceilings (measured)" in text


def test_costs_of_a_single_matmul():
    m = parse("""func @f(%a: tensor<64x32xf32>, %b: tensor<32x16xf32>) -> tensor<64x16xf32> {
  %c = kiln.matmul %a, %b : (tensor<64x32xf32>, tensor<32x16xf32>) -> tensor<64x16xf32>
  kiln.return %c : tensor<64x16xf32>
}""")
    exe = kiln.compile(m, "f", backend="cpu")
    a, b = np.ones((64, 32), np.float32), np.ones((32, 16), np.float32)
    (row,) = profile(exe, a, b, repeat=3, warmup=1).rows
    assert row.flops == 2 * 64 * 32 * 16
    assert row.bytes == (64 * 32 + 32 * 16 + 64 * 16) * 4
    assert row.gflops == pytest.approx(row.flops / row.seconds / 1e9)


def test_ceilings_are_measured_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path))
    ceilings = machine_ceilings(refresh=True)
    assert ceilings["copy_gbps"] > 0.5 and ceilings["matmul_gflops"] > 0.5
    assert (tmp_path / "ceilings.json").exists()


def test_profile_needs_the_cpu_backend():
    m = parse("""func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %b = kiln.neg %a : tensor<4xf32>
  kiln.return %b : tensor<4xf32>
}""")
    exe = kiln.compile(m, "f", backend="interpreter")
    with pytest.raises(KilnError, match="CPU backend"):
        profile(exe, np.ones(4, np.float32))


@pytest.mark.slow
def test_kiln_profile_env_prints_the_table_at_exit(tmp_path):
    script = """
import numpy as np, kiln
from kiln.ir import parse
m = parse('''func @f(%x: tensor<4096xf32>) -> tensor<f32> {
  %a = kiln.mul %x, %x : tensor<4096xf32>
  %b = kiln.exp %a : tensor<4096xf32>
  %s = kiln.reduce_sum %b : (tensor<4096xf32>) -> tensor<f32>
  kiln.return %s : tensor<f32>
}''')
f = kiln.compile(m, "f", backend="cpu")
for _ in range(5):
    f(np.ones(4096, np.float32))
"""
    env = dict(os.environ, KILN_PROFILE="1", KILN_CACHE_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "kiln profile: @f(4096); means of 5 calls" in done.stderr
    assert "fused:reduction" in done.stderr and "GFLOP/s" in done.stderr


def test_a_loop_kernel_counts_every_iteration():
    """A scan body's kernels are timed on every trip, not only the last: their
    runs are the trip count and their bytes and FLOPs the trips' sum."""
    text = """func @f(%c0: H, %xs: XS) -> H {
  %c, %ys = kiln.scan %c0, %xs {num_carried = 1} : (H, XS) -> (H, XS) ({
  ^bb0(%h: H, %x: H):
    %a = kiln.mul %h, %x : H
    %b = kiln.tanh %a : H
    kiln.yield %b, %b : (H, H) -> ()
  })
  kiln.return %c : H
}"""
    m = parse(text.replace("XS", "tensor<?x4x16xf32>").replace("H", "tensor<4x16xf32>"))
    exe = kiln.compile(m, "f", backend="cpu")
    c0 = np.ones((4, 16), np.float32)
    rows = {}
    for trips in (3, 7):
        xs = np.full((trips, 4, 16), 0.5, np.float32)
        rows[trips] = profile(exe, c0, xs, repeat=3, warmup=1).rows
    body = [r for r in rows[7] if r.runs > 1]
    assert body and all(r.runs == 7 for r in body)
    for r3, r7 in zip(rows[3], rows[7]):
        if r7.runs > 1:
            assert r3.runs == 3 and r7.flops * 3 == r3.flops * 7 and r7.flops > 0
