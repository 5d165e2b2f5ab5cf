"""CPU backend benchmarks: kiln against numpy, PyTorch eager, torch.compile and
jax.jit (those installed), all measured in the same run, on the workloads of
issue 5 and shared/FACTS.md.

    python -m kiln.benchmarks.cpu                 # full sizes (for people; minutes)
    python -m kiln.benchmarks.cpu --quick         # small sizes (CI runs this so it cannot rot)
    python -m kiln.benchmarks.cpu --peers numpy,torch --out table.md

Every figure is the median of repeated runs after a warm-up, arguments
allocated once; each result is checked against numpy before it is timed.
kiln runs each workload as one function compiled with `kiln.compile(...,
backend="cpu")`, except the MLP training step, which runs through the graph
frontend's `Session.run` as a user writes it. "kiln 1 thread" is the same
executable planned with KILN_NUM_THREADS=1: the parallel speed-up.

The machine's ceilings are measured in the same run: a large array copy
(bytes read + written per second) and numpy's matmul GFLOP/s. The
memory-bound workloads report their achieved bandwidth against that copy.
The compile time of the MLP training step is measured in fresh processes:
cold (an empty disk cache) and warm (loaded from the disk cache).

The table is printed and written to `--out` (Markdown).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import kiln
from kiln.ir import parse

PEERS = ("numpy", "torch", "torch.compile", "jax")


# ------------------------------------------------------------------ timing


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 2) -> float:
    """Median seconds of `fn()` over `repeat` runs after `warmup` runs.

    It starts with a pause: OpenBLAS's threads spin for a while after a call,
    and the last program's (numpy's BLAS, say) would steal the cores from the
    next one's (kiln's, from scipy) on a small machine."""
    time.sleep(0.05)
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@contextlib.contextmanager
def environment(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------ workloads


@dataclass
class Workload:
    """One benchmark: inputs, the kiln program and what each peer runs.

    `kiln` builds a callable from the inputs (its one-time work, not timed);
    `numpy(*inputs)` is the reference result too; `torch(t, *tensors)` and
    `jax(jnp, *arrays)` are the peers' programs. `bytes` (moved) and `flops`
    turn a time into GB/s and GFLOP/s."""

    name: str
    inputs: Callable[[np.random.Generator], list[np.ndarray]]
    kiln: Callable[[list[np.ndarray], int | None], Callable[[], object]]
    numpy: Callable[..., object]
    torch: Callable[..., object] | None = None
    jax: Callable[..., object] | None = None
    bytes: int = 0
    flops: int = 0
    rtol: float = 2e-3
    compare: bool = True  # check kiln's result against numpy's
    thread_column: bool = True


def _compiled(ir: str) -> Callable[[list[np.ndarray], int | None], Callable[[], object]]:
    """A `Workload.kiln`: the IR's @f compiled for the CPU, called on the inputs."""

    def build(inputs: list[np.ndarray], threads: int | None) -> Callable[[], object]:
        exe = kiln.compile(parse(ir), "f", backend="cpu")
        if threads is not None:  # thread counts are fixed when a shape is first planned
            with environment(KILN_NUM_THREADS=str(threads)):
                exe(*inputs)
        return lambda: exe(*inputs)[0]

    return build


def _t(n: int | tuple[int, ...], dtype: str = "f32") -> str:
    dims = n if isinstance(n, tuple) else (n,)
    return "tensor<" + "x".join(map(str, dims)) + (f"x{dtype}>" if dims else f"{dtype}>")


def elementwise_chain(n: int) -> Workload:
    v, s = _t(n), _t(())
    ir = f"""func @f(%x: {v}, %a: {s}, %b: {s}) -> {v} {{
  %half = kiln.constant {{value = dense<0.5> : {s}}} : {s}
  %xa = kiln.mul %x, %a : ({v}, {s}) -> {v}
  %xab = kiln.add %xa, %b : ({v}, {s}) -> {v}
  %r = kiln.relu %xab : {v}
  %g = kiln.sigmoid %x : {v}
  %p = kiln.mul %r, %g : {v}
  %h = kiln.mul %x, %half : ({v}, {s}) -> {v}
  %y = kiln.sub %p, %h : {v}
  kiln.return %y : {v}
}}"""
    return Workload(
        f"elementwise chain {n}",
        lambda rng: [rng.standard_normal(n, dtype=np.float32), np.float32(1.5), np.float32(0.25)],
        _compiled(ir),
        lambda x, a, b: np.maximum(x * a + b, 0) * (1 / (1 + np.exp(-x))) - 0.5 * x,
        lambda t, x, a, b: t.relu(x * a + b) * t.sigmoid(x) - 0.5 * x,
        lambda jnp, x, a, b: jnp.maximum(x * a + b, 0) * (1 / (1 + jnp.exp(-x))) - 0.5 * x,
        bytes=8 * n,
        flops=8 * n,
    )


def sum_of_squares(n: int) -> Workload:
    v = _t(n)
    ir = f"""func @f(%x: {v}) -> tensor<f32> {{
  %q = kiln.square %x : {v}
  %s = kiln.reduce_sum %q : ({v}) -> tensor<f32>
  kiln.return %s : tensor<f32>
}}"""
    return Workload(
        f"sum of squares {n}",
        lambda rng: [rng.standard_normal(n, dtype=np.float32)],
        _compiled(ir),
        lambda x: np.dot(x, x),
        lambda t, x: (x * x).sum(),
        lambda jnp, x: (x * x).sum(),
        bytes=4 * n,
        flops=2 * n,
    )


def bias_gradient(batch: int, size: int, channels: int) -> Workload:
    """A conv layer's bias gradient: the sum of an NHWC tensor over N, H and W (a
    reduction over the leading axes, its few columns blocked; runtime/parallel.py)."""
    shape = (batch, size, size, channels)
    x, c = _t(shape), _t(channels)
    ir = f"""func @f(%x: {x}) -> {c} {{
  %s = kiln.reduce_sum %x {{axes = [0, 1, 2]}} : ({x}) -> {c}
  kiln.return %s : {c}
}}"""
    return Workload(
        f"bias gradient {batch}x{size}x{size}x{channels}",
        lambda rng: [rng.standard_normal(shape, dtype=np.float32)],
        _compiled(ir),
        lambda a: a.sum(axis=(0, 1, 2)),
        lambda t, a: a.sum(dim=(0, 1, 2)),
        lambda jnp, a: a.sum(axis=(0, 1, 2)),
        bytes=4 * batch * size * size * channels,
        flops=batch * size * size * channels,
    )


def softmax(rows: int, cols: int) -> Workload:
    m = _t((rows, cols))
    ir = f"""func @f(%x: {m}) -> {m} {{
  %s = kiln.softmax %x : {m}
  kiln.return %s : {m}
}}"""

    def numpy(x):
        e = np.exp(x - x.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def jax(jnp, x):
        e = jnp.exp(x - x.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    return Workload(
        f"softmax {rows}x{cols}",
        lambda rng: [rng.standard_normal((rows, cols), np.float32)],
        _compiled(ir),
        numpy,
        lambda t, x: t.softmax(x, 1),
        jax,
        bytes=8 * rows * cols,
        flops=5 * rows * cols,
    )


def matmul(n: int) -> Workload:
    m = _t((n, n))
    ir = f"""func @f(%a: {m}, %b: {m}) -> {m} {{
  %c = kiln.matmul %a, %b : ({m}, {m}) -> {m}
  kiln.return %c : {m}
}}"""
    return Workload(
        f"matmul {n}^3",
        lambda rng: [rng.standard_normal((n, n), np.float32) for _ in range(2)],
        _compiled(ir),
        np.matmul,
        lambda t, a, b: a @ b,
        lambda jnp, a, b: a @ b,
        flops=2 * n**3,
        rtol=1e-3,
        thread_column=False,
    )


def conv2d(batch: int, size: int, channels: int, filters: int) -> Workload:
    x, w = (batch, size, size, channels), (3, 3, channels, filters)
    out = (batch, size, size, filters)
    ir = f"""func @f(%x: {_t(x)}, %w: {_t(w)}) -> {_t(out)} {{
  %c = kiln.conv2d %x, %w {{padding = "SAME"}} : ({_t(x)}, {_t(w)}) -> {_t(out)}
  kiln.return %c : {_t(out)}
}}"""

    def numpy(x, w):  # im2col with a strided view, then one matmul
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
        cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 9 * channels)
        return (cols @ w.reshape(9 * channels, filters)).reshape(out)

    def torch(t, x, w):  # NHWC data seen as a channels-last NCHW tensor: no copy
        y = t.nn.functional.conv2d(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), padding=1)
        return y.permute(0, 2, 3, 1)

    def jax(jnp, x, w):
        import jax

        return jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )

    return Workload(
        f"conv2d {batch}x{size}x{size}x{channels}, 3x3x{filters} SAME",
        lambda rng: [
            rng.standard_normal(x, np.float32),
            (rng.standard_normal(w) * 0.1).astype(np.float32),
        ],
        _compiled(ir),
        numpy,
        torch,
        jax,
        flops=2 * batch * size * size * filters * 9 * channels,
        rtol=1e-3,
        thread_column=False,
    )


# ------------------------------------------------------------------ the MLP training step

MLP_SIZES = (784, 512, 512, 10)


def mlp_graph(batch: int, lr: float = 0.01):
    """The 784-512-512-10 classifier's SGD training step written with kiln's
    TensorFlow-1.x API: (graph, x, y, loss, train, variables in order)."""
    import kiln as kl

    graph = kl.Graph()
    with graph.as_default():
        x = kl.placeholder(kl.float32, (None, MLP_SIZES[0]), name="x")
        y = kl.placeholder(kl.float32, (None, MLP_SIZES[-1]), name="y")
        h, params = x, []
        for i, (n_in, n_out) in enumerate(zip(MLP_SIZES, MLP_SIZES[1:])):
            w = kl.Variable(kl.random_normal([n_in, n_out], stddev=0.05, seed=i), name=f"w{i}")
            b = kl.Variable(kl.zeros([n_out]), name=f"b{i}")
            params += [w, b]
            h = kl.matmul(h, w) + b
            if i < len(MLP_SIZES) - 2:
                h = kl.nn.relu(h)
        loss = kl.reduce_mean(kl.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=h))
        train = kl.train.GradientDescentOptimizer(lr).minimize(loss)
    return graph, x, y, loss, train, params


def _mlp_data(rng: np.random.Generator, batch: int) -> list[np.ndarray]:
    x = rng.standard_normal((batch, MLP_SIZES[0]), np.float32)
    y = np.eye(MLP_SIZES[-1], dtype=np.float32)[rng.integers(0, MLP_SIZES[-1], batch)]
    return [x, y]


def _mlp_params(sess, params) -> list[np.ndarray]:
    return [np.array(sess.run(p)) for p in params]


def mlp_step(batch: int, lr: float = 0.01) -> Workload:
    """One SGD step; every program returns the loss and updates its own
    parameters (started from kiln's initial values)."""
    import kiln as kl

    state: dict = {}

    def build(inputs, threads):
        graph, x, y, loss, train, params = mlp_graph(batch, lr)
        sess = kl.Session(graph=graph, backend="cpu")
        with graph.as_default():
            sess.run(kl.global_variables_initializer())
        state["initial"] = _mlp_params(sess, params)
        feed = {x: inputs[0], y: inputs[1]}
        return lambda: sess.run([loss, train], feed)[0]

    def weights():
        return [w.copy() for w in state["initial"]]

    numpy_params: list = []

    def numpy(x, y):
        if not numpy_params:
            numpy_params.extend(weights())
        w0, b0, w1, b1, w2, b2 = numpy_params
        h0 = np.maximum(x @ w0 + b0, 0)
        h1 = np.maximum(h0 @ w1 + b1, 0)
        z = h1 @ w2 + b2
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        s = e.sum(1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - (z * y).sum(1))
        dz = (e / s - y) / len(x)
        dh1 = (dz @ w2.T) * (h1 > 0)
        dh0 = (dh1 @ w1.T) * (h0 > 0)
        for p, g in zip(
            numpy_params, (x.T @ dh0, dh0.sum(0), h0.T @ dh1, dh1.sum(0), h1.T @ dz, dz.sum(0))
        ):
            p -= lr * g
        return np.float32(loss)

    torch_state: dict = {}

    def torch(t, x, y):
        if "params" not in torch_state:
            torch_state["params"] = [t.tensor(w, requires_grad=True) for w in weights()]
        params = torch_state["params"]
        w0, b0, w1, b1, w2, b2 = params
        h = t.relu(x @ w0 + b0)
        h = t.relu(h @ w1 + b1)
        loss = t.nn.functional.cross_entropy(h @ w2 + b2, y)
        grads = t.autograd.grad(loss, params)
        with t.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
        return loss.detach()

    jax_state: dict = {}

    def jax(jnp, x, y):
        import jax as jx

        if "step" not in jax_state:

            def loss_fn(params, x, y):
                w0, b0, w1, b1, w2, b2 = params
                h = jnp.maximum(x @ w0 + b0, 0)
                h = jnp.maximum(h @ w1 + b1, 0)
                z = h @ w2 + b2
                return jnp.mean(jx.nn.logsumexp(z, axis=1) - (z * y).sum(1))

            def step(params, x, y):
                loss, grads = jx.value_and_grad(loss_fn)(params, x, y)
                return loss, [p - lr * g for p, g in zip(params, grads)]

            jax_state["step"] = jx.jit(step)
            jax_state["params"] = [jnp.asarray(w) for w in weights()]
        loss, jax_state["params"] = jax_state["step"](jax_state["params"], x, y)
        return loss.block_until_ready()

    return Workload(
        f"MLP 784-512-512-10 SGD step, batch {batch}",
        lambda rng: _mlp_data(rng, batch),
        build,
        numpy,
        torch,
        jax,
        flops=6 * batch * sum(a * b for a, b in zip(MLP_SIZES, MLP_SIZES[1:])),
        compare=False,
        thread_column=False,
    )


_COMPILE_CHILD = """
import json, time
import numpy as np
import kiln
from kiln.benchmarks.cpu import mlp_graph, _mlp_data
from kiln.frontend.lowering import lower
graph, x, y, loss, train, params = mlp_graph({batch})
xs, ys = _mlp_data(np.random.default_rng(0), {batch})
lowered = lower(graph, [loss, train], {{x: xs, y: ys}})
start = time.perf_counter()
kiln.compile(lowered.module, lowered.name, backend="cpu")
print(json.dumps({{"compile": time.perf_counter() - start}}))
"""


def compile_times(batch: int) -> dict[str, float]:
    """Seconds `kiln.compile` takes for the MLP training step (the IR function a
    Session builds for it), each in a fresh process (imports done first): with
    an empty disk cache, then with the object code in it."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold", "disk cache"):
            env = dict(os.environ, KILN_CACHE_DIR=cache)
            env.pop("KILN_NO_CACHE", None)
            # as installed: modules imported lazily by the compiler load their bytecode
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            done = subprocess.run(
                [sys.executable, "-c", _COMPILE_CHILD.format(batch=batch)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            out[label] = json.loads(done.stdout.strip().splitlines()[-1])["compile"]
    return out


# ------------------------------------------------------------------ ceilings


def copy_bandwidth(n: int, repeat: int) -> float:
    """Bytes read + written per second by a large array copy."""
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    return 2 * src.nbytes / median_time(lambda: np.copyto(dst, src), repeat)


def numpy_matmul_gflops(n: int, repeat: int) -> float:
    a = np.ones((n, n), np.float32)
    return 2 * n**3 / median_time(lambda: a @ a, repeat) / 1e9


# ------------------------------------------------------------------ peers


@dataclass
class Peers:
    """The peers importable here, and how each runs a workload."""

    wanted: tuple[str, ...]
    torch: object = None
    jax: object = None
    jnp: object = None
    available: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.available = ["numpy"]
        if {"torch", "torch.compile"} & set(self.wanted):
            try:
                import torch

                self.torch = torch
                self.available += [p for p in ("torch", "torch.compile") if p in self.wanted]
            except ImportError:
                pass
        if "jax" in self.wanted:
            try:
                import jax
                import jax.numpy as jnp

                self.jax, self.jnp = jax, jnp
                self.available.append("jax")
            except ImportError:
                pass

    def program(self, peer: str, w: Workload, inputs: list[np.ndarray]) -> Callable | None:
        """A no-argument callable running `w` on `peer` (one-time work done here)."""
        if peer == "numpy":
            return lambda: w.numpy(*inputs)
        if peer in ("torch", "torch.compile") and w.torch is not None:
            t = self.torch
            tensors = [
                t.from_numpy(np.asarray(a)) if np.ndim(a) else t.tensor(float(a)) for a in inputs
            ]
            fn = lambda *a: w.torch(t, *a)  # noqa: E731
            if peer == "torch.compile":
                fn = t.compile(fn)
            run = lambda: fn(*tensors)  # noqa: E731
            if w.compare:  # autograd inside the MLP step; inference elsewhere

                def guarded():
                    with t.no_grad():
                        return run()

                return guarded
            return run
        if peer == "jax" and w.jax is not None:
            arrays = [self.jnp.asarray(a) for a in inputs]
            if w.compare:
                fn = self.jax.jit(lambda *a: w.jax(self.jnp, *a))
                return lambda: fn(*arrays).block_until_ready()
            return lambda: w.jax(self.jnp, *arrays)
        return None


# ------------------------------------------------------------------ main


def workloads(quick: bool) -> list[Workload]:
    if quick:
        return [
            elementwise_chain(100_000),
            sum_of_squares(100_000),
            softmax(256, 128),
            bias_gradient(8, 16, 32),
            matmul(128),
            mlp_step(32),
            conv2d(2, 8, 8, 8),
        ]
    return [
        elementwise_chain(10_000_000),
        sum_of_squares(10_000_000),
        softmax(4096, 1024),
        bias_gradient(128, 60, 32),
        bias_gradient(256, 14, 256),
        matmul(1024),
        matmul(2048),
        mlp_step(256),
        conv2d(32, 32, 64, 64),
    ]


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per figure")
    parser.add_argument(
        "--peers",
        default=None,
        help=f"comma-separated, from {', '.join(PEERS)} (default: all; --quick: numpy,torch,jax)",
    )
    parser.add_argument("--out", default="kiln-benchmark-cpu.md", help="Markdown table file")
    parser.add_argument(
        "--no-compile-time",
        action="store_true",
        help="skip the MLP compile-time measurement (two subprocesses)",
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 20)
    wanted = tuple(
        (args.peers or ("numpy,torch,jax" if args.quick else ",".join(PEERS))).split(",")
    )
    unknown = set(wanted) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; kiln knows {', '.join(PEERS)}")
    peers = Peers(wanted)
    rng = np.random.default_rng(0)

    bandwidth = copy_bandwidth(1_000_000 if args.quick else 100_000_000, repeat)
    blas = numpy_matmul_gflops(256 if args.quick else 2048, max(3, repeat // 4))
    rows = []
    for w in workloads(args.quick):
        inputs = w.inputs(rng)
        run = w.kiln(inputs, None)
        if w.compare:
            np.testing.assert_allclose(run(), w.numpy(*inputs), rtol=w.rtol, atol=w.rtol)
        row = {"workload": w.name, "kiln_ms": median_time(run, repeat) * 1e3}
        if w.thread_column:
            row["kiln_1_thread_ms"] = median_time(w.kiln(inputs, 1), repeat) * 1e3
        for peer in peers.available:
            program = peers.program(peer, w, inputs)
            if program is not None:
                row[f"{peer}_ms"] = median_time(program, repeat) * 1e3
        seconds = row["kiln_ms"] / 1e3
        if w.bytes:
            row["kiln_GBps"] = w.bytes / seconds / 1e9
            row["of_copy_bandwidth"] = w.bytes / seconds / bandwidth
        if w.flops:
            row["kiln_GFLOPs"] = w.flops / seconds / 1e9
        rows.append(row)
        print(_row_text(row, peers.available), flush=True)

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "copy_GBps": bandwidth / 1e9,
        "numpy_matmul_GFLOPs": blas,
        "rows": rows,
        "peers": peers.available,
    }
    if not args.no_compile_time:
        result["compile_s"] = compile_times(32 if args.quick else 256)
    text = report(result)
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    return result


def _row_text(row: dict, peers: list[str]) -> str:
    parts = [f"{row['workload']:<44} kiln {row['kiln_ms']:9.3f} ms"]
    for peer in peers:
        if f"{peer}_ms" in row:
            parts.append(f"{peer} {row[peer + '_ms'] / row['kiln_ms']:6.2f}x")
    return "  ".join(parts)


def report(result: dict) -> str:
    """The Markdown table: times in ms, then each peer's time / kiln's (> 1: kiln is faster)."""
    peers = result["peers"]
    head = [
        "workload",
        "kiln ms",
        "kiln 1 thread ms",
        *(f"{p} ms" for p in peers),
        *(f"{p}/kiln" for p in peers),
        "kiln GB/s (of copy)",
        "kiln GFLOP/s",
    ]
    lines = [
        f"# kiln CPU benchmark ({result['machine']})",
        "",
        f"Ceilings measured in this run: copy {result['copy_GBps']:.1f} GB/s "
        f"(read + written), numpy matmul {result['numpy_matmul_GFLOPs']:.0f} GFLOP/s.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in result["rows"]:
        cells = [r["workload"], _fmt(r["kiln_ms"]), _fmt(r.get("kiln_1_thread_ms"))]
        cells += [_fmt(r.get(f"{p}_ms")) for p in peers]
        cells += [_fmt(r[f"{p}_ms"] / r["kiln_ms"], 2) if f"{p}_ms" in r else "–" for p in peers]
        cells.append(
            f"{r['kiln_GBps']:.1f} ({100 * r['of_copy_bandwidth']:.0f}%)"
            if "kiln_GBps" in r
            else "–"
        )
        cells.append(_fmt(r.get("kiln_GFLOPs"), 1))
        lines.append("| " + " | ".join(cells) + " |")
    if "compile_s" in result:
        c = result["compile_s"]
        lines += [
            "",
            f"MLP training step compile time: cold {c['cold'] * 1e3:.0f} ms, "
            f"from the disk cache {c['disk cache'] * 1e3:.0f} ms.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
