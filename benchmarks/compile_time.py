"""Compile time, cold and from the disk cache, against the issue's targets:

- `import kiln` (a fresh process; wall and CPU seconds);
- ONNX ResNet-50 (onnx's light model test: `import_model` + `kiln.compile`),
  cold (an empty cache directory) and cached (a second process on that cache);
- the MLP 784-512-512-10 SGD step at batch 256 (`Session.run`'s compile of the
  step: passes, kernels, LLVM), cold and cached, against `jax.jit`'s first call
  of the same step (tracing, differentiating and compiling);
- the fitted exponent of compile time over chain lengths (compile_scaling.py).

Each measurement runs in a fresh process (imports done before the clock
starts, except for the import itself). Wall seconds are what a user waits;
CPU seconds (all threads of the process) vary far less on a loaded machine.

    python -m kiln.benchmarks.compile_time
    python -m kiln.benchmarks.compile_time --sizes 250,500,1000 --peers none
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from .compile_scaling import _KILN_CHILD, fitted_exponent, jax_available

RESNET = "onnx/backend/test/data/light/light_resnet50.onnx"

_IMPORT_CHILD = """
import json, time
start, cpu = time.perf_counter(), time.process_time()
import kiln
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds}))
"""

_RESNET_CHILD = """
import json, os, time
import numpy as np
import onnx
import kiln
from kiln.onnx import import_model
from kiln.onnx.importer import FUNCTION
import kiln.runtime.executable
from kiln.runtime import objects
proto = onnx.load(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light",
                               "light_resnet50.onnx"))
start, cpu = time.perf_counter(), time.process_time()
module = import_model(proto)
run = kiln.compile(module, FUNCTION)
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
out = run(np.random.default_rng(0).random((1, 3, 224, 224), np.float32))[0]
assert out.shape == (1, 1000) and np.isfinite(out).all()
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                  "backend": run.backend, **objects.stats}))
"""

_MLP_GRAPH = """
rng = np.random.default_rng(0)
sizes = [(784, 512), (512, 512), (512, 10)]
x0 = rng.random((256, 784), np.float32)
y0 = rng.integers(0, 10, 256)
w0 = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in sizes]
"""

_MLP_CHILD = (
    """
import json, time
import numpy as np
import kiln as kl
from kiln.runtime import executable, objects
"""
    + _MLP_GRAPH
    + """
built = []
init = executable.Executable.__init__
def timed(self, *args, **kwargs):
    start, cpu = time.perf_counter(), time.process_time()
    init(self, *args, **kwargs)
    steps = len(self.compiled.steps) if self.compiled is not None else 0
    built.append((steps, time.perf_counter() - start, time.process_time() - cpu))
executable.Executable.__init__ = timed
with kl.Graph().as_default():
    x = kl.placeholder(kl.float32, [256, 784])
    y = kl.placeholder(kl.int64, [256])
    h = x
    for i, w in enumerate(w0):
        h = kl.matmul(h, kl.Variable(w)) + kl.Variable(np.zeros(w.shape[1], np.float32))
        if i < 2:
            h = kl.nn.relu(h)
    loss = kl.reduce_mean(kl.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    step = kl.train.GradientDescentOptimizer(0.1).minimize(loss)
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        start = time.perf_counter()
        value, _ = s.run([loss, step], {x: x0, y: y0})
        first = time.perf_counter() - start
steps, seconds, cpu_seconds = max(built)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "first_run_s": first,
                  "kernels": steps, "loss": float(value), **objects.stats}))
"""
)

_JAX_MLP_CHILD = (
    """
import json, time
import numpy as np
import jax, jax.numpy as jnp
"""
    + _MLP_GRAPH
    + """
params = [(jnp.asarray(w), jnp.zeros(w.shape[1], jnp.float32)) for w in w0]
def loss_fn(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < 2:
            h = jax.nn.relu(h)
    logp = jax.nn.log_softmax(h)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
@jax.jit
def step(params, x, y):
    value, grads = jax.value_and_grad(loss_fn)(params, x, y)
    return value, jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
x, y = jnp.asarray(x0), jnp.asarray(y0)
start, cpu = time.perf_counter(), time.process_time()
value, new = step(params, x, y)
jax.block_until_ready(new)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu, "loss": float(value)}))
"""
)


def child(source: str, cache: str | None = None) -> dict:
    """One measurement in a fresh process, on the cache directory `cache` (a new
    empty one if None)."""
    with tempfile.TemporaryDirectory() as empty:
        env = dict(os.environ, KILN_CACHE_DIR=cache or empty, JAX_PLATFORMS="cpu")
        for name in ("KILN_NO_CACHE", "KILN_DEBUG", "KILN_PROFILE"):
            env.pop(name, None)
        done = subprocess.run(
            [sys.executable, "-c", source], env=env, capture_output=True, text=True
        )
    if done.returncode != 0:
        raise RuntimeError(f"a measurement failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_and_cached(source: str) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as cache:
        return child(source, cache), child(source, cache)


def resnet_available() -> bool:
    try:
        import onnx
    except ImportError:
        return False
    return os.path.exists(os.path.join(os.path.dirname(os.path.dirname(onnx.__file__)), RESNET))


def row(name: str, wall: float, cpu: float, target: str = "", note: str = "") -> None:
    print(f"{name:<34} {wall:8.3f} {cpu:8.3f}  {target:<10} {note}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250,500,1000,2000", help="chain lengths to fit")
    parser.add_argument("--peers", default="jax", choices=("jax", "none"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of `import kiln` (median)")
    parser.add_argument("--models", default="resnet50,mlp", help="which compiles to measure")
    args = parser.parse_args(argv)
    result: dict = {}
    print(f"{'':<34} {'wall s':>8} {'cpu s':>8}  {'target':<10}", flush=True)

    imports = [child(_IMPORT_CHILD) for _ in range(args.repeat)]
    wall = statistics.median(r["seconds"] for r in imports)
    cpu = statistics.median(r["cpu_seconds"] for r in imports)
    result["import"] = {"seconds": wall, "cpu_seconds": cpu}
    row("import kiln", wall, cpu, "< 0.6")

    models = args.models.split(",")
    if "resnet50" in models and resnet_available():
        cold, cached = cold_and_cached(_RESNET_CHILD)
        result["resnet50"] = {"cold": cold, "cached": cached}
        note = f"{cold['compiled']} kernels compiled ({cold['backend']})"
        row("ResNet-50 import+compile, cold", cold["seconds"], cold["cpu_seconds"], "< 10", note)
        note = f"{cached['compiled']} compiled, {cached['from_disk']} from disk"
        row(
            "ResNet-50 import+compile, cached",
            cached["seconds"],
            cached["cpu_seconds"],
            "< 0.5",
            note,
        )

    if "mlp" in models:
        mlp(args, result)
    chain(args, result)
    return result


def mlp(args, result: dict) -> None:
    cold, cached = cold_and_cached(_MLP_CHILD)
    result["mlp_step"] = {"cold": cold, "cached": cached}
    note = f"{cold['kernels']} kernels, {cold['compiled']} compiled"
    note += f"; first run {cold['first_run_s']:.3f} s"
    row("MLP step compile, cold", cold["seconds"], cold["cpu_seconds"], "< 0.4", note)
    note = f"{cached['compiled']} compiled; first run {cached['first_run_s']:.3f} s"
    row("MLP step compile, cached", cached["seconds"], cached["cpu_seconds"], "< 0.03", note)
    if args.peers == "jax" and jax_available():
        jax_run = child(_JAX_MLP_CHILD)
        result["mlp_step"]["jax"] = jax_run
        row("MLP step jax.jit first call", jax_run["seconds"], jax_run["cpu_seconds"])
        if abs(jax_run["loss"] - cold["loss"]) > 1e-3 * abs(jax_run["loss"]):
            raise RuntimeError(f"MLP losses differ: kiln {cold['loss']}, jax {jax_run['loss']}")


def chain(args, result: dict) -> None:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    runs = []
    for n in sizes:
        measured = child(_KILN_CHILD.format(n=n, width=64))
        runs.append(measured)
        row(f"chain N={n} (graph+grad+compile)", measured["seconds"], measured["cpu_seconds"])
    for clock in ("seconds", "cpu_seconds"):
        result[f"exponent_{clock}"] = fitted_exponent(sizes, [r[clock] for r in runs])
    print(
        f"fitted exponent over N={args.sizes}: wall {result['exponent_seconds']:.2f}, "
        f"cpu {result['exponent_cpu_seconds']:.2f} (1 = linear)"
    )


if __name__ == "__main__":
    main()
