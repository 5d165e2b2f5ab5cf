"""ONNX models exported by torch, run by kiln and by ONNX Runtime in one run.

    python -m kiln.benchmarks.onnx                       # resnet18, mobilenet_v2, bert4; b1, b16
    python -m kiln.benchmarks.onnx --quick               # small inputs, batch 1, one model
    python -m kiln.benchmarks.onnx --models resnet18 --batches 1,16 --repeat 20

The models are defined here (no downloads) and written with
`torch.onnx.export(..., dynamo=False, opset_version=17)` with a dynamic batch
dim. For each: import + compile time (cold: a fresh compile cache; then from
the cache), the median latency of kiln (in process) and of onnxruntime (CPU
provider, default threads) per batch size, their ratio, and that the outputs
agree. Needs torch and onnxruntime (the `peers` and `test` extras).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np


def _models(quick: bool):
    import torch
    from torch import nn

    class Block(nn.Module):  # a ResNet basic block
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = self.b2(self.c2(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, 64, 7, 2, 3, bias=False),
                nn.BatchNorm2d(64),
                nn.ReLU(),
                nn.MaxPool2d(3, 2, 1),
            )
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            return self.fc(
                torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1)
            )

    class Inverted(nn.Module):  # a MobileNetV2 inverted residual
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            mid = cin * expand
            self.use_res = stride == 1 and cin == cout
            self.body = nn.Sequential(
                nn.Conv2d(cin, mid, 1, bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU6(),
                nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU6(),
                nn.Conv2d(mid, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            )

        def forward(self, x):
            return x + self.body(x) if self.use_res else self.body(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            spec = [
                (1, 16, 1, 1),
                (6, 24, 2, 2),
                (6, 32, 3, 2),
                (6, 64, 4, 2),
                (6, 96, 3, 1),
                (6, 160, 3, 2),
                (6, 320, 1, 1),
            ]
            layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()]
            cin = 32
            for t, c, n, s in spec:
                for i in range(n):
                    layers.append(Inverted(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6()]
            self.features = nn.Sequential(*layers)
            self.fc = nn.Linear(1280, 1000)

        def forward(self, x):
            return self.fc(self.features(x).mean((2, 3)))

    class Bert(nn.Module):  # a BERT-style encoder: 4 post-norm layers, GELU
        def __init__(self, d=256, heads=4, layers=4, vocab=1000):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.randn(1, 128, d) * 0.02)
            layer = nn.TransformerEncoderLayer(
                d, heads, 4 * d, dropout=0.0, activation="gelu", batch_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)

        def forward(self, ids):
            x = self.emb(ids) + self.pos[:, : ids.shape[1]]
            return self.norm(self.encoder(x))

    size = 64 if quick else 224
    seq = 32 if quick else 128
    return {
        "resnet18": (ResNet18, lambda n: torch.randn(n, 3, size, size)),
        "mobilenet_v2": (MobileNetV2, lambda n: torch.randn(n, 3, size, size)),
        "bert4": (Bert, lambda n: torch.randint(0, 1000, (n, seq))),
    }


def export(name: str, quick: bool, directory: str) -> str:
    import torch

    cls, example = _models(quick)[name]
    torch.manual_seed(0)
    model = cls().eval()
    path = os.path.join(directory, f"{name}.onnx")
    torch.backends.mha.set_fastpath_enabled(False)  # export the encoder's ops, not its kernel
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example(1),),
            path,
            dynamo=False,
            opset_version=17,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    return path


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def bench_model(name: str, args, directory: str) -> list[dict]:
    import onnxruntime as ort

    import kiln
    from kiln.onnx import import_model

    path = export(name, args.quick, directory)
    _, example = _models(args.quick)[name]
    start = time.perf_counter()
    run = kiln.compile(import_model(path), "main")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    run = kiln.compile(import_model(path), "main")
    cached = time.perf_counter() - start
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rows = []
    for batch in args.batches:
        x = example(batch).numpy()
        ours = run(x)[0]
        theirs = session.run(None, {"input": x})[0]
        err = float(np.max(np.abs(ours - theirs)) / (np.max(np.abs(theirs)) + 1e-12))
        kiln_ms = _median_ms(lambda x=x: run(x), args.repeat)
        ort_ms = _median_ms(lambda x=x: session.run(None, {"input": x}), args.repeat)
        row = dict(
            model=name,
            batch=batch,
            kiln_ms=kiln_ms,
            ort_ms=ort_ms,
            ratio=kiln_ms / ort_ms,
            rel_err=err,
            compile_cold_s=cold,
            compile_cached_s=cached,
            backend=run.backend,
        )
        print(
            f"{name:14s} b{batch:<3d} kiln {kiln_ms:9.2f} ms  onnxruntime {ort_ms:9.2f} ms  "
            f"kiln/ort {row['ratio']:5.2f}  max rel err {err:.1e}  "
            f"import+compile {cold:.1f} s cold, {cached:.2f} s cached ({run.backend})",
            flush=True,
        )
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="default: resnet18,mobilenet_v2,bert4")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small inputs, batch 1, resnet18")
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = "resnet18" if args.quick else "resnet18,mobilenet_v2,bert4"
    args.batches = [1] if args.quick else [int(b) for b in args.batches.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        os.environ.setdefault("KILN_CACHE_DIR", os.path.join(directory, "cache"))
        for name in args.models.split(","):
            rows += bench_model(name, args, directory)
    for batch in args.batches:
        ratios = [r["ratio"] for r in rows if r["batch"] == batch]
        if ratios:
            geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            print(f"geometric mean kiln/onnxruntime at batch {batch}: {geo:.2f}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
