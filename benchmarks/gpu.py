# ruff: noqa: E501  (IR text)
"""GPU backend benchmarks: kiln's Triton kernels against PyTorch eager and
torch.compile, in the same run, on the CPU issue's workloads at GPU sizes.

    python -m kiln.benchmarks.gpu             # full sizes, on an NVIDIA GPU
    python -m kiln.benchmarks.gpu --quick     # small sizes (also runs under TRITON_INTERPRET=1)
    python -m kiln.benchmarks.gpu --no-compile   # skip torch.compile

Each workload is one IR function compiled with `kiln.compile(..., backend="gpu")`
and run with `run_device` on arguments already in device memory (no host
copies in the timing); results are checked against torch first. Times are
medians of repeated calls after a warm-up, each ended by a device sync.
Ratios > 1 mean kiln is faster. Achieved rates are set against ceilings
measured in the same run: the device copy bandwidth (a torch tensor copy,
read + write counted) and torch.matmul's FLOP/s.

The MLP training step (784-512-512-10, softmax cross-entropy, SGD) runs
through `kl.Session` on the GPU, variables resident on the device, against
the same step written in torch (forward, backward, SGD update); so does the
control-flow issue's 2-layer LSTM (hidden 256, sequence 50, batch 32: the
program of benchmarks/lstm.py, its scans run on the launcher's host side)
against torch's nn.LSTM on the device, training step and inference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import kiln
from kiln.ir import parse


@dataclass
class Workload:
    name: str
    ir: str
    args: Callable[[np.random.Generator], list[np.ndarray]]
    torch: Callable[..., object]
    nbytes: int = 0  # memory traffic (for bandwidth)
    flops: int = 0  # arithmetic (for FLOP/s)


def workloads(quick: bool) -> list[Workload]:
    n = 4096 if quick else 1 << 26
    rows, cols = (64, 128) if quick else (8192, 4096)
    mm = 64 if quick else 4096
    b, hw, c, o = (2, 8, 16, 16) if quick else (64, 56, 64, 64)
    f32 = np.float32
    return [
        Workload(
            f"elementwise chain, {n}",
            f"""func @f(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{
  %c2 = kiln.constant {{value = dense<2.0> : tensor<f32>}} : tensor<f32>
  %c1 = kiln.constant {{value = dense<1.0> : tensor<f32>}} : tensor<f32>
  %a = kiln.mul %x, %c2 : (tensor<{n}xf32>, tensor<f32>) -> tensor<{n}xf32>
  %b = kiln.add %a, %c1 : (tensor<{n}xf32>, tensor<f32>) -> tensor<{n}xf32>
  %r = kiln.relu %b : tensor<{n}xf32>
  %s = kiln.sigmoid %r : tensor<{n}xf32>
  kiln.return %s : tensor<{n}xf32>
}}""",
            lambda rng: [rng.standard_normal(n, dtype=f32)],
            lambda t, x: t.sigmoid(t.relu(2 * x + 1)),
            nbytes=8 * n,
        ),
        Workload(
            f"sum of squares, {n}",
            f"""func @f(%x: tensor<{n}xf32>) -> tensor<f32> {{
  %q = kiln.square %x : tensor<{n}xf32>
  %s = kiln.reduce_sum %q : (tensor<{n}xf32>) -> tensor<f32>
  kiln.return %s : tensor<f32>
}}""",
            lambda rng: [rng.standard_normal(n, dtype=f32)],
            lambda t, x: (x * x).sum(),
            nbytes=4 * n,
        ),
        Workload(
            f"softmax {rows}x{cols}",
            f"""func @f(%x: tensor<{rows}x{cols}xf32>) -> tensor<{rows}x{cols}xf32> {{
  %s = kiln.softmax %x : tensor<{rows}x{cols}xf32>
  kiln.return %s : tensor<{rows}x{cols}xf32>
}}""",
            lambda rng: [rng.standard_normal((rows, cols), dtype=f32)],
            lambda t, x: t.softmax(x, 1),
            nbytes=8 * rows * cols,
        ),
        Workload(
            f"matmul {mm}^3",
            f"""func @f(%a: tensor<{mm}x{mm}xf32>, %b: tensor<{mm}x{mm}xf32>) -> tensor<{mm}x{mm}xf32> {{
  %m = kiln.matmul %a, %b : (tensor<{mm}x{mm}xf32>, tensor<{mm}x{mm}xf32>) -> tensor<{mm}x{mm}xf32>
  kiln.return %m : tensor<{mm}x{mm}xf32>
}}""",
            lambda rng: [rng.standard_normal((mm, mm), dtype=f32) for _ in range(2)],
            lambda t, a, b: a @ b,
            flops=2 * mm**3,
        ),
        Workload(
            f"conv2d {b}x{hw}x{hw}x{c}, 3x3x{o}",
            f"""func @f(%x: tensor<{b}x{hw}x{hw}x{c}xf32>, %k: tensor<3x3x{c}x{o}xf32>) -> tensor<{b}x{hw}x{hw}x{o}xf32> {{
  %y = kiln.conv2d %x, %k {{strides = [1, 1], padding = "SAME"}} : (tensor<{b}x{hw}x{hw}x{c}xf32>, tensor<3x3x{c}x{o}xf32>) -> tensor<{b}x{hw}x{hw}x{o}xf32>
  kiln.return %y : tensor<{b}x{hw}x{hw}x{o}xf32>
}}""",
            lambda rng: [
                rng.standard_normal((b, hw, hw, c), dtype=f32),
                rng.standard_normal((3, 3, c, o), dtype=f32) * 0.1,
            ],
            lambda t, x, k: t.nn.functional.conv2d(
                x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), padding=1
            ).permute(0, 2, 3, 1),
            flops=2 * b * hw * hw * o * 9 * c,
        ),
    ]


def _time(fn: Callable[[], object], sync: Callable[[], None], repeat: int) -> float:
    fn()
    sync()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _ceilings(torch, device: str, quick: bool) -> dict[str, float]:
    """Copy bandwidth (GB/s, read + write) and torch.matmul f32 FLOP/s."""
    if device != "cuda":
        return {}
    sync = torch.cuda.synchronize
    x = torch.empty(1 << 28, dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    t = _time(lambda: y.copy_(x), sync, 20)
    n = 4096
    a = torch.randn(n, n, device=device)
    mt = _time(lambda: a @ a, sync, 10)
    return {"copy_GBps": 2 * x.numel() / t / 1e9, "matmul_TFLOPs": 2 * n**3 / mt / 1e12}


def _mlp(kl, torch, device: str, quick: bool, repeat: int) -> dict:
    batch = 32 if quick else 256
    sizes = (64, 32, 32, 10) if quick else (784, 512, 512, 10)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    graph = kl.Graph()
    with graph.as_default():
        x = kl.placeholder(kl.float32, (None, sizes[0]))
        y = kl.placeholder(kl.float32, (None, sizes[-1]))
        h = x
        for i, width in enumerate(sizes[1:]):
            h = kl.layers.dense(h, width, activation=kl.nn.relu if i < 2 else None)
        loss = kl.reduce_mean(kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=h))
        step = kl.train.GradientDescentOptimizer(0.01).minimize(loss)
        init = kl.global_variables_initializer()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with kl.Session(graph=graph, device="/gpu:0") as sess:
        sess.run(init)
        feed = {x: data, y: labels}
        t_kiln = _time(lambda: sess.run(step, feed), sync, repeat)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [
            torch.randn(n_in, n_out, device=device).mul_(n_in**-0.5).requires_grad_(),
            torch.zeros(n_out, device=device, requires_grad=True),
        ]
    tx, ty = torch.from_numpy(data).to(device), torch.from_numpy(labels).to(device)

    def torch_step():
        h = tx
        for i in range(3):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < 2:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, ty)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(0.01 * g)

    t_torch = _time(torch_step, sync, repeat)
    return {
        "workload": f"MLP {'-'.join(map(str, sizes))} step, b{batch}",
        "kiln_ms": t_kiln * 1e3,
        "eager_ms": t_torch * 1e3,
        "vs_eager": t_torch / t_kiln,
    }


def _lstm(torch, device: str, quick: bool, repeat: int) -> list[dict]:
    """benchmarks/lstm.py's LSTM on the device: kiln's Session against nn.LSTM,
    from the same weights (the same first loss), train step and inference."""
    from . import lstm

    hidden, seq, batch = (16, 4, 4) if quick else (256, 50, 32)
    x, y, layers = lstm.problem(hidden, seq, batch, hidden)
    first, kiln_train, kiln_infer = lstm.kiln_runner(x, y, layers, hidden, device="/gpu:0")
    want, torch_train, torch_infer = lstm.torch_runner(x, y, layers, hidden, device=device)
    np.testing.assert_allclose(first, want, rtol=1e-3)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    for what, ours, theirs in (
        ("train", kiln_train, torch_train),
        ("infer", kiln_infer, torch_infer),
    ):
        t_kiln, t_torch = _time(ours, sync, repeat), _time(theirs, sync, repeat)
        rows.append({
            "workload": f"LSTM 2x{hidden} seq {seq} b{batch} {what}",
            "kiln_ms": t_kiln * 1e3,
            "eager_ms": t_torch * 1e3,
            "vs_eager": t_torch / t_kiln,
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = parser.parse_args(argv)
    import torch

    from kiln.runtime.gpu import DeviceArray, device_memory, gpu_available, interpreting

    if not gpu_available():
        raise SystemExit("no GPU: run on an NVIDIA GPU, or with TRITON_INTERPRET=1 --quick")
    device = "cpu" if interpreting() else "cuda"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    repeat = args.repeat or (3 if args.quick else 20)
    memory = device_memory()
    ceilings = _ceilings(torch, device, args.quick)
    print(
        f"device: {memory.name}; ceilings: "
        + (", ".join(f"{k} {v:.1f}" for k, v in ceilings.items()) or "not measured")
    )
    compile_ok = not args.no_compile and device == "cuda"
    rng = np.random.default_rng(0)
    rows = []
    print(
        f"{'workload':<34} {'kiln ms':>9} {'eager ms':>9} {'vs eager':>9} "
        f"{'compile ms':>10} {'vs compile':>10} {'achieved':>16}"
    )
    for w in workloads(args.quick):
        exe = kiln.compile(parse(w.ir), "f", backend="gpu")
        inputs = w.args(rng)
        resident = [DeviceArray(memory.upload(a), a.shape, a.dtype) for a in inputs]
        tensors = [torch.from_numpy(a).to(device) for a in inputs]
        with torch.no_grad():
            want = w.torch(torch, *tensors).cpu().numpy()
        got = np.asarray(exe.run_resident(*resident)[0])
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)
        t_kiln = _time(lambda e=exe, r=resident: e.run_resident(*r), sync, repeat)
        with torch.no_grad():
            t_eager = _time(lambda f=w.torch, t=tensors: f(torch, *t), sync, repeat)
        row = {
            "workload": w.name,
            "kiln_ms": t_kiln * 1e3,
            "eager_ms": t_eager * 1e3,
            "vs_eager": t_eager / t_kiln,
        }
        text = f"{w.name:<34} {t_kiln * 1e3:9.3f} {t_eager * 1e3:9.3f} {t_eager / t_kiln:9.2f}"
        if compile_ok:
            compiled = torch.compile(lambda *t, f=w.torch: f(torch, *t))
            with torch.no_grad():
                t_comp = _time(lambda c=compiled, t=tensors: c(*t), sync, repeat)
            row.update(compile_ms=t_comp * 1e3, vs_compile=t_comp / t_kiln)
            text += f" {t_comp * 1e3:10.3f} {t_comp / t_kiln:10.2f}"
        else:
            text += f" {'-':>10} {'-':>10}"
        if w.nbytes:
            row["GBps"] = w.nbytes / t_kiln / 1e9
            share = f" ({row['GBps'] / ceilings['copy_GBps']:.0%})" if ceilings else ""
            text += f" {row['GBps']:8.1f} GB/s{share}"
        if w.flops:
            row["TFLOPs"] = w.flops / t_kiln / 1e12
            share = f" ({row['TFLOPs'] / ceilings['matmul_TFLOPs']:.0%})" if ceilings else ""
            text += f" {row['TFLOPs']:6.2f} TFLOP/s{share}"
        print(text)
        rows.append(row)
    for row in [
        _mlp(kiln, torch, device, args.quick, repeat),
        *_lstm(torch, device, args.quick, repeat),
    ]:
        print(
            f"{row['workload']:<34} {row['kiln_ms']:9.3f} {row['eager_ms']:9.3f} "
            f"{row['vs_eager']:9.2f}   (kl.Session.run, feeds copied in)"
        )
        rows.append(row)
    return rows


if __name__ == "__main__":
    if "--quick" in sys.argv and not os.environ.get("TRITON_INTERPRET"):
        try:
            import torch as _torch

            if not _torch.cuda.is_available():
                os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported
        except ImportError:
            pass
    main()
