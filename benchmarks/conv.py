"""Convolution benchmarks: kiln's conv2d, depthwise conv and conv2d_transpose
against PyTorch eager (oneDNN) in the same run, run by hand (not a test):

    python -m kiln.benchmarks.conv [--repeat N] [--only depthwise,conv2d,transpose]

Each workload is one op in a function compiled with `kiln.compile(...,
backend="cpu")`, checked against PyTorch once, then timed: the median wall
time and the median CPU time (this process's, both threads counted) of
repeated calls, so a loaded machine shows as wall >> CPU / threads. The
depthwise rows also time the form kiln used before (a conv2d with a
block-diagonal filter), the conv2d rows the explicit im2col + GEMM form, and
the transpose rows the zero-spread form (a conv2d over the stride-spread
value), built in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

import kiln
from kiln.ir import Builder, Module, TensorType


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of `fn()` after two warm-up calls."""
    fn(), fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3


def compiled(arrays: list[np.ndarray], body: Callable) -> Callable[[], np.ndarray]:
    """@f(arrays...) = body(builder, *args) compiled for the CPU, bound to `arrays`."""
    m = Module()
    f = m.add_function("f", [TensorType("f32", a.shape) for a in arrays])
    b = Builder.at_end(f.body)
    b.ret(body(b, *f.args))
    exe = kiln.compile(m.verify(), "f", backend="cpu")
    return lambda: exe(*arrays)[0]


def block_diagonal(w: np.ndarray) -> np.ndarray:
    kh, kw, c, m = w.shape
    full = np.zeros((kh, kw, c, c, m), w.dtype)
    for k in range(c):
        full[:, :, k, k, :] = w[:, :, k, :]
    return full.reshape(kh, kw, c, c * m)


def row(name: str, flops: float, times: dict[str, tuple[float, float]]) -> str:
    cells = [
        f"{k} {w:.2f} ms (cpu {c:.2f}, {flops / w / 1e6:.1f} GFLOP/s)"
        for k, (w, c) in times.items()
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def depthwise(torch, rng, repeat: int) -> list[str]:
    """MobileNetV2's depthwise layers (3x3, multiplier 1), batch 1, and one
    with multiplier 2."""
    out = []
    for n, size, c, stride, m in [
        (1, 112, 32, 1, 1),
        (1, 56, 144, 2, 1),
        (1, 28, 192, 1, 1),
        (1, 14, 576, 1, 1),
        (1, 7, 960, 1, 1),
        (8, 28, 64, 1, 2),
    ]:
        x = rng.standard_normal((n, size, size, c), np.float32)
        w = (rng.standard_normal((3, 3, c, m)) * 0.3).astype(np.float32)
        attrs = {"strides": [stride, stride], "padding": "SAME"}
        new = compiled([x, w], lambda b, a, f, attrs=attrs: b.depthwise_conv2d(a, f, **attrs))
        old = compiled([x, block_diagonal(w)], lambda b, a, f, attrs=attrs: b.conv2d(a, f, **attrs))
        tx = torch.from_numpy(x).permute(0, 3, 1, 2)
        tw = torch.from_numpy(w).permute(2, 3, 0, 1).reshape(c * m, 1, 3, 3).contiguous()

        def peer(tx=tx, tw=tw, stride=stride, c=c):
            if stride == 1:
                return torch.nn.functional.conv2d(tx, tw, padding=1, groups=c)
            # TensorFlow's SAME at stride 2 on an even size pads (0, 1), torch's 1 pads (1, 1)
            padded = torch.nn.functional.pad(tx, (0, 1, 0, 1))
            return torch.nn.functional.conv2d(padded, tw, stride=stride, groups=c)

        want = peer().permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(new(), want, rtol=1e-3, atol=1e-4)
        flops = 2 * want.size * 9
        times = {
            "kiln": measure(new, repeat),
            "block-diagonal conv2d": measure(old, max(3, repeat // 4)),
        }
        times["torch"] = measure(peer, repeat)
        out.append(row(f"depthwise {n}x{size}x{size}x{c} m{m} s{stride}", flops, times))
    return out


RESNET18 = [(56, 64), (28, 128), (14, 256), (7, 512)]


def conv2d(torch, rng, repeat: int) -> list[str]:
    """conv2d 3x3 SAME: the issue's 32x32x32x64 and ResNet-18's layer set; kiln's
    implicit GEMM beside its explicit im2col + GEMM form, built in the same run."""
    from kiln.codegen.llvm import conv as conv_module

    out = []
    shapes = [(32, 32, 64, 64)] + [(n, s, c, c) for n in (1, 16) for s, c in RESNET18]
    for n, size, c, o in shapes:
        x = rng.standard_normal((n, size, size, c), np.float32)
        w = (rng.standard_normal((3, 3, c, o)) * 0.1).astype(np.float32)
        kiln_fn = compiled([x, w], lambda b, a, f: b.conv2d(a, f, padding="SAME"))
        saved = conv_module._implicit
        conv_module._implicit = lambda group: False  # the explicit im2col form, for comparison
        try:
            im2col_fn = compiled([x, w], lambda b, a, f: b.conv2d(a, f, padding="SAME"))
        finally:
            conv_module._implicit = saved
        tx = torch.from_numpy(x).permute(0, 3, 1, 2)  # channels-last NCHW: no copy
        tw = torch.from_numpy(w).permute(3, 2, 0, 1)

        def peer(tx=tx, tw=tw):
            return torch.nn.functional.conv2d(tx, tw, padding=1)

        want = peer().permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(kiln_fn(), want, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(im2col_fn(), want, rtol=1e-3, atol=1e-3)
        flops = 2 * n * size * size * o * 9 * c
        times = {
            "kiln": measure(kiln_fn, repeat),
            "im2col + GEMM": measure(im2col_fn, repeat),
            "torch": measure(peer, repeat),
        }
        out.append(row(f"conv2d {n}x{size}x{size}x{c} 3x3x{o}", flops, times))
    return out


def transpose(torch, rng, repeat: int) -> list[str]:
    """The DCGAN generator's conv2d_transpose layers (5x5, stride 2, SAME)."""
    from kiln.ir.ops import conv as conv_ops

    out = []
    for n, size, cin, cout in [(128, 7, 128, 64), (128, 14, 64, 1)]:
        v = rng.standard_normal((n, size, size, cin), np.float32)
        w = (rng.standard_normal((5, 5, cout, cin)) * 0.1).astype(np.float32)
        attrs = {"strides": [2, 2], "padding": "SAME", "output_size": [2 * size, 2 * size]}

        def build(b, a, f, attrs=attrs):
            return b.conv2d_transpose(a, f, **attrs)

        phased = compiled([v, w], build)
        saved = conv_ops._by_phases
        conv_ops._by_phases = lambda op, b: None  # the zero-spread form, for comparison
        try:
            spread = compiled([v, w], build)
        finally:
            conv_ops._by_phases = saved
        tv = torch.from_numpy(v).permute(0, 3, 1, 2)
        tw = torch.from_numpy(w).permute(3, 2, 0, 1)  # [in, out, kh, kw]

        def peer(tv=tv, tw=tw, size=size):  # TF's SAME takes 1 off the top, 2 off the bottom
            full = torch.nn.functional.conv_transpose2d(tv, tw, stride=2)
            return full[:, :, 1 : 1 + 2 * size, 1 : 1 + 2 * size]

        want = peer().permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(phased(), want, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(spread(), want, rtol=1e-3, atol=1e-3)
        flops = 2 * v.size * 25 * cout
        times = {
            "kiln": measure(phased, repeat),
            "zero-spread": measure(spread, repeat),
            "torch": measure(peer, repeat),
        }
        out.append(row(f"conv2d_transpose {n}x{size}x{size}x{cin} 5x5x{cout} s2", flops, times))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--only", default="depthwise,conv2d,transpose")
    ap.add_argument(
        "--threads", type=int, default=0, help="kiln's and torch's threads (0: their defaults)"
    )
    args = ap.parse_args(argv)
    import torch

    if args.threads:  # fixed before kiln plans its first executable
        os.environ["KILN_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for part in args.only.split(","):
        for line in {"depthwise": depthwise, "conv2d": conv2d, "transpose": transpose}[part](
            torch, rng, args.repeat
        ):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
