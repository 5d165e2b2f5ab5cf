"""ONNX models run by kiln (in process, and ahead of time as a `.so`) and by
ONNX Runtime, in one run.

    python -m kiln.benchmarks.onnx                       # every model; batch 1 and 16
    python -m kiln.benchmarks.onnx --quick               # small inputs, batch 1, one model
    python -m kiln.benchmarks.onnx --models resnet18 --batches 1,16 --repeat 20

The models: a ResNet-18, a MobileNetV2, a BERT-style encoder of 4 layers and
an LSTM language model, defined here and written with
`torch.onnx.export(..., dynamo=False, opset_version=17)` with a dynamic batch
dim (no downloads), and the ResNet-50 of onnx's own model tests (the copy in
the onnx wheel, weights as ConstantOfShape; its batch dim made symbolic here).
For each: import + compile time (cold: a fresh compile cache; then from the
cache), the time to build the AOT library, and per batch size the median
latency of kiln in process, of the `.so` through `kiln.load` (those two timed
interleaved, benchmarks/aot.py `interleaved`), and of onnxruntime (CPU
provider, default threads), the ratios, and that the outputs agree. A model
kiln cannot import or compile is reported with the error and the run goes on.
Needs torch and onnxruntime (the `peers` and `test` extras).
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

    class LstmLM(nn.Module):  # a word-level language model: embedding, 2-layer LSTM, logits
        def __init__(self, vocab=1000, d=128, hidden=256, layers=2):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.lstm = nn.LSTM(d, hidden, layers, batch_first=True)
            self.out = nn.Linear(hidden, vocab)

        def forward(self, ids):
            return self.out(self.lstm(self.emb(ids))[0])

    size = 64 if quick else 224
    seq = 32 if quick else 128
    lstm_seq = 8 if quick else 35
    return {
        "resnet18": (ResNet18, lambda n: torch.randn(n, 3, size, size)),
        "mobilenet_v2": (MobileNetV2, lambda n: torch.randn(n, 3, size, size)),
        "bert4": (Bert, lambda n: torch.randint(0, 1000, (n, seq))),
        "lstm_lm": (LstmLM, lambda n: torch.randint(0, 1000, (n, lstm_seq))),
        "onnx_resnet50": (None, lambda n: torch.randn(n, 3, 224, 224)),
    }


ALL_MODELS = "resnet18,mobilenet_v2,bert4,lstm_lm,onnx_resnet50"


def onnx_resnet50(directory: str) -> str:
    """onnx's model-test ResNet-50 (onnx/backend/test/data/light), its batch dim
    made a dim_param (the input, the output and the one Reshape's [1, 2048])."""
    import onnx
    from onnx import numpy_helper

    source = os.path.join(
        os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "light_resnet50.onnx"
    )
    model = onnx.load(source)
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    for i, t in enumerate(model.graph.initializer):
        if t.name == "OC2_DUMMY_1":  # the flatten before the classifier
            shape = numpy_helper.to_array(t).copy()
            shape[0] = -1
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(shape, t.name))
    path = os.path.join(directory, "onnx_resnet50.onnx")
    onnx.save(model, path)
    return path


def export(name: str, quick: bool, directory: str) -> str:
    import torch

    if name == "onnx_resnet50":
        return onnx_resnet50(directory)
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


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _aot(path: str, directory: str, name: str):
    """The model compiled ahead of time (as `kiln compile model.onnx -o DIR`), loaded."""
    import kiln
    from kiln.onnx import import_model
    from kiln.passes import DEFAULT_PIPELINE, run_pipeline
    from kiln.runtime import aot

    module = import_model(path)
    run_pipeline(module, DEFAULT_PIPELINE)
    outdir = os.path.join(directory, f"{name}.aot")
    aot.build(module, "main", outdir, name=name)
    return kiln.load(outdir)


def _rel_err(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs)) / (np.max(np.abs(theirs)) + 1e-12))


def bench_model(name: str, args, directory: str) -> list[dict]:
    import onnxruntime as ort

    import kiln
    from kiln.onnx import import_model

    from .aot import interleaved

    path = export(name, args.quick, directory)
    _, example = _models(args.quick)[name]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    try:
        run, cold = _timed(lambda: kiln.compile(import_model(path), "main"))
        run, cached = _timed(lambda: kiln.compile(import_model(path), "main"))
    except Exception as e:  # a model kiln cannot run yet: say why and go on
        print(f"{name:14s} not run by kiln: {type(e).__name__}: {_short(e)}", flush=True)
        return [dict(model=name, error=f"{type(e).__name__}: {_short(e)}")]
    try:
        library, aot_s = _timed(lambda: _aot(path, directory, name))
        aot_error = None
    except Exception as e:
        library, aot_s, aot_error = None, None, f"{type(e).__name__}: {_short(e)}"
        print(f"{name:14s} AOT not built: {aot_error}", flush=True)
    rows = []
    for batch in args.batches:
        x = example(batch).numpy()
        theirs = session.run(None, {input_name: x})[0]
        err = _rel_err(run(x)[0], theirs)
        ort_ms = _median_ms(lambda x=x: session.run(None, {input_name: x}), args.repeat)
        so_ms = so_err = None
        if library is None:
            kiln_ms = _median_ms(lambda x=x: run(x), args.repeat)
        else:  # timed interleaved: a change of the machine's load hits both alike
            so_err = _rel_err(library(x)[0], theirs)
            t_kiln, t_so = interleaved(lambda x=x: run(x), lambda x=x: library(x), args.repeat)
            kiln_ms, so_ms = float(np.median(t_kiln) * 1e3), float(np.median(t_so) * 1e3)
        row = dict(
            model=name,
            batch=batch,
            kiln_ms=kiln_ms,
            so_ms=so_ms,
            ort_ms=ort_ms,
            ratio=kiln_ms / ort_ms,
            so_ratio=None if so_ms is None else so_ms / kiln_ms,
            rel_err=err,
            so_rel_err=so_err,
            compile_cold_s=cold,
            compile_cached_s=cached,
            aot_build_s=aot_s,
            aot_error=aot_error,
            backend=run.backend,
        )
        so = "     (none)" if so_ms is None else f"{so_ms:9.2f} ms"
        so_x = "" if so_ms is None else f" so/kiln {row['so_ratio']:4.2f}"
        print(
            f"{name:14s} b{batch:<3d} kiln {kiln_ms:9.2f} ms  .so {so}  onnxruntime "
            f"{ort_ms:9.2f} ms  kiln/ort {row['ratio']:5.2f}{so_x}  max rel err {err:.1e}  "
            f"import+compile {cold:.1f} s cold, {cached:.2f} s cached"
            + ("" if aot_s is None else f", AOT build {aot_s:.1f} s")
            + f" ({run.backend})",
            flush=True,
        )
        rows.append(row)
    return rows


def _short(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return text[:200]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help=f"default: {ALL_MODELS}")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small inputs, batch 1, resnet18")
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = "resnet18" if args.quick else ALL_MODELS
    args.batches = [1] if args.quick else [int(b) for b in args.batches.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        os.environ.setdefault("KILN_CACHE_DIR", os.path.join(directory, "cache"))
        for name in args.models.split(","):
            rows += bench_model(name, args, directory)
    for batch in args.batches:
        ran = [r for r in rows if r.get("batch") == batch]
        for key, what in (("ratio", "kiln/onnxruntime"), ("so_ratio", "AOT .so/kiln")):
            ratios = [r[key] for r in ran if r[key] is not None]
            if ratios:
                geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
                models = ",".join(r["model"] for r in ran if r[key] is not None)
                print(f"geometric mean {what} at batch {batch}: {geo:.2f} ({models})")
    return {"rows": rows}


if __name__ == "__main__":
    main()
