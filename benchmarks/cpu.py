"""CPU backend benchmarks: kiln against numpy (and PyTorch when installed),
in the same run, on the workloads of shared/FACTS.md.

    python -m kiln.benchmarks.cpu            # the full sizes (for people)
    python -m kiln.benchmarks.cpu --quick    # small sizes (CI runs this so it cannot rot)

Each workload is one IR function compiled with `kiln.compile(..., backend="cpu")`;
times are medians of repeated calls after a warm-up, arguments allocated
once. Ratios > 1 mean kiln is faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import kiln
from kiln.ir import parse


@dataclass
class Workload:
    name: str
    kiln_ir: str
    args: Callable[[np.random.Generator], list[np.ndarray]]
    numpy: Callable[..., object]
    torch: Callable[..., object] | None = None


def _time(fn: Callable[..., object], args: list, repeat: int) -> float:
    fn(*args)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def workloads(quick: bool) -> list[Workload]:
    n = 100_000 if quick else 10_000_000
    rows, cols = (256, 128) if quick else (4096, 1024)
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
            lambda rng: [rng.standard_normal(n, dtype=np.float32)],
            lambda x: 1 / (1 + np.exp(-np.maximum(2 * x + 1, 0))),
            lambda t, x: t.sigmoid(t.relu(2 * x + 1)),
        ),
        Workload(
            f"sum of squares, {n}",
            f"""func @f(%x: tensor<{n}xf32>) -> tensor<f32> {{
  %q = kiln.square %x : tensor<{n}xf32>
  %s = kiln.reduce_sum %q : (tensor<{n}xf32>) -> tensor<f32>
  kiln.return %s : tensor<f32>
}}""",
            lambda rng: [rng.standard_normal(n, dtype=np.float32)],
            lambda x: np.dot(x, x),
            lambda t, x: (x * x).sum(),
        ),
        Workload(
            f"softmax {rows}x{cols}",
            f"""func @f(%x: tensor<{rows}x{cols}xf32>) -> tensor<{rows}x{cols}xf32> {{
  %s = kiln.softmax %x : tensor<{rows}x{cols}xf32>
  kiln.return %s : tensor<{rows}x{cols}xf32>
}}""",
            lambda rng: [rng.standard_normal((rows, cols), dtype=np.float32)],
            lambda x: (lambda e: e / e.sum(1, keepdims=True))(np.exp(x - x.max(1, keepdims=True))),
            lambda t, x: t.softmax(x, 1),
        ),
    ]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 20)
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'workload':<28} {'kiln ms':>9} {'numpy ms':>9} {'vs numpy':>9} "
          f"{'torch ms':>9} {'vs torch':>9}")
    for w in workloads(args.quick):
        exe = kiln.compile(parse(w.kiln_ir), "f", backend="cpu")
        inputs = w.args(rng)
        got = exe(*inputs)[0]
        np.testing.assert_allclose(got, w.numpy(*inputs), rtol=2e-3, atol=1e-3)
        t_kiln = _time(exe, inputs, repeat)
        t_numpy = _time(w.numpy, inputs, repeat)
        row = {"workload": w.name, "kiln_ms": t_kiln * 1e3, "numpy_ms": t_numpy * 1e3,
               "vs_numpy": t_numpy / t_kiln}
        text = f"{w.name:<28} {t_kiln * 1e3:9.3f} {t_numpy * 1e3:9.3f} {t_numpy / t_kiln:9.2f}"
        if torch is not None and w.torch is not None:
            tensors = [torch.from_numpy(a) for a in inputs]
            with torch.no_grad():
                t_torch = _time(w.torch, [torch, *tensors], repeat)
            row.update(torch_ms=t_torch * 1e3, vs_torch=t_torch / t_kiln)
            text += f" {t_torch * 1e3:9.3f} {t_torch / t_kiln:9.2f}"
        print(text)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
