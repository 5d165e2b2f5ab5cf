"""The reliability probes of issue 21 at their target sizes (docs/reliability.md):
each returns its counts and whether they meet the target. Run them through
`python -m kiln.benchmarks.fuzz --probe NAME` (benchmarks/fuzz.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

SOURCE = """
func @f(%x: tensor<?x256xf32>, %w: tensor<256x64xf32>) -> (tensor<?x64xf32>, tensor<?xf32>) {
  %h = kiln.matmul %x, %w : (tensor<?x256xf32>, tensor<256x64xf32>) -> tensor<?x64xf32>
  %t = kiln.tanh %h : tensor<?x64xf32>
  %s = kiln.reduce_sum %t {axes = [1]} : (tensor<?x64xf32>) -> tensor<?xf32>
  kiln.return %t, %s : (tensor<?x64xf32>, tensor<?xf32>) -> ()
}
"""


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(sizes: int = 10_000) -> dict:
    """RSS growth over `sizes` distinct batch sizes on one graph (warmed up with
    the first 50), and how much of it one call at the largest size alone costs
    (its buffers, and OpenBLAS's threads and their buffers: not per-shape state)."""
    import kiln
    from kiln.ir import parse

    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.ones((256, 64), np.float32) / 256
    xs = np.ones((sizes + 1, 256), np.float32)
    for b in range(1, 50):
        exe(xs[:b], w)
    start = _rss_mb()
    exe(xs[:sizes], w)  # the largest first: what one call of that size costs (BLAS threads)
    largest = _rss_mb() - start
    wrong = 0
    for b in range(1, sizes + 1):
        t, s = exe(xs[:b], w)
        wrong += t.shape != (b, 64) or not np.allclose(s[:1], np.tanh(1.0) * 64, rtol=1e-5)
    grown = _rss_mb() - start
    compiled = exe.compiled
    layouts, from_symbolic = compiled.layouts, compiled.from_symbolic
    # CPU time to plan a new set of shapes: from the symbolic layout, and computed
    fresh = [[(b, 256), (256, 64)] for b in range(sizes + 1, sizes + 201)]
    t0 = time.process_time()
    for shapes in fresh:
        compiled.plan(shapes)
    t1 = time.process_time()
    for shapes in fresh:
        compiled._plan(compiled.layout(shapes))
    t2 = time.process_time()
    return {
        "sizes": sizes,
        "rss_growth_mb": round(grown, 1),
        "of_which_the_largest_call_mb": round(largest, 1),
        # the layouts computed (the first call's, the fit's samples, the checks) and
        # the plans evaluated from the symbolic layout instead (runtime/shapes.py)
        "layouts_computed": layouts,
        "plans_from_symbolic_layout": from_symbolic,
        "plan_us_symbolic": round((t1 - t0) / len(fresh) * 1e6),
        "plan_us_computed": round((t2 - t1) / len(fresh) * 1e6),
        "wrong": wrong,
        "ok": grown < 20 and wrong == 0,
    }


def threads(calls: int = 100_000, n_threads: int = 8, steps: int = 400) -> dict:
    """`calls` calls of one compiled function from `n_threads` threads, each result
    checked against numpy; then `n_threads` threads of SGD steps on one variable
    with 2 readers (no torn read, no lost update)."""
    import kiln
    import kiln as kl
    from kiln.ir import parse

    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.random.default_rng(10**6).standard_normal((256, 64), np.float32) / 16
    per = calls // n_threads

    def work(thread: int) -> int:
        rng = np.random.default_rng(thread)
        xs = [rng.standard_normal((b, 256), np.float32) for b in (1, 2, 3, 5, 8)]
        wants = [np.tanh(x @ w) for x in xs]
        bad = 0
        for i in range(per):
            k = i % len(xs)
            t, s = exe(xs[k], w)
            bad += not np.allclose(t, wants[k], rtol=1e-4, atol=1e-4)
            bad += not np.allclose(s, wants[k].sum(1), rtol=1e-4, atol=1e-3)
        return bad

    with ThreadPoolExecutor(n_threads) as pool:
        wrong = sum(pool.map(work, range(n_threads)))
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.full(1 << 16, 1e6, np.float32), name="v")
        step = kl.train.GradientDescentOptimizer(1.0).minimize(kl.reduce_sum(v))
        read = v * 1.0
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())

    def train(_):
        for _ in range(steps):
            sess.run(step)
        return 0

    def watch(_):
        torn = 0
        for _ in range(steps):
            value = sess.run(read)
            torn += not np.all(value == value[0])
        return torn

    with ThreadPoolExecutor(n_threads + 2) as pool:
        jobs = [pool.submit(train, i) for i in range(n_threads)]
        readers = [pool.submit(watch, i) for i in range(2)]
        [j.result() for j in jobs]
        torn = sum(r.result() for r in readers)
    lost = int(np.sum(sess.run(v) != 1e6 - n_threads * steps))
    return {
        "calls": per * n_threads,
        "threads": n_threads,
        "wrong": wrong,
        "training_steps": n_threads * steps,
        "torn_reads": torn,
        "lost_update_elements": lost,
        "ok": wrong == 0 and torn == 0 and lost == 0,
    }


def saving_graph():
    """A Session with one 4 MB variable, a Saver keeping 2, and `put(k)` that sets
    every element to k (so a checkpoint is one step's values or it is torn)."""
    import kiln as kl

    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.zeros(1_000_000, np.float32), name="v")
        session = kl.Session(graph=g, backend="cpu")
        session.run(kl.global_variables_initializer())
        mark = kl.placeholder(kl.float32, (), name="mark")
        assign = v.assign(kl.zeros_like(v) + mark)
    return (
        session,
        kl.train.Saver(var_list=[v], max_to_keep=2),
        v,
        lambda k: session.run(assign, {mark: float(k)}),
    )


SAVING = r"""
import sys
from kiln.benchmarks.probes import saving_graph
session, saver, _, put = saving_graph()
print("ready", flush=True)
for k in range(int(sys.argv[2]), 10**9):
    put(k)
    saver.save(session, sys.argv[1], global_step=k)
"""


def kills(n: int = 100, seed: int = 0) -> dict:
    """`n` saving processes killed (SIGKILL) at random points of a save; after
    each, the latest checkpoint restores old-or-new exactly (one whole step's
    values), and the next save leaves no temporary file."""
    import kiln as kl
    from kiln.ir import KilnError

    rng = random.Random(seed)
    directory = Path(tempfile.mkdtemp(prefix="kiln-kills-"))
    prefix = str(directory / "m")
    sess, saver, v, put = saving_graph()
    mixed = debris = unreadable = 0
    for i in range(n):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVING, prefix, str(i * 10_000)], stdout=subprocess.PIPE
        )
        proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        latest = kl.train.latest_checkpoint(str(directory))
        if latest is not None:
            try:
                saver.restore(sess, latest)
                value = sess.run(v)
                step = int(latest.rsplit("-", 1)[1])
                mixed += not np.all(value == np.float32(step))
            except KilnError:
                unreadable += 1
        put(10**6 + i)  # every checkpoint: its step's values
        saver.save(sess, prefix, global_step=10**6 + i)  # the next save ...
        left = [p.name for p in directory.iterdir() if p.name.startswith(".")]
        debris += bool(left)  # ... leaves no temporary file
    return {
        "kills": n,
        "not_old_or_new": mixed,
        "unrestorable": unreadable,
        "debris_after_next_save": debris,
        "ok": mixed == debris == unreadable == 0,
    }


def _flips(blob: bytes, rng: random.Random) -> bytes:
    b = bytearray(blob)
    kind = rng.randrange(4)
    if kind == 0 or not b:
        return bytes(b[: rng.randrange(len(b) + 1)])
    if kind == 1:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 2:
        i = rng.randrange(len(b))
        return bytes(b[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + b[i:])
    i = rng.randrange(len(b))
    return bytes(b[:i] + b[i + rng.randint(1, 64) :])


def _mutate_json(value, rng: random.Random):
    """A random structural change somewhere in a JSON value: an entry of an
    object or array deleted, duplicated (arrays), replaced by junk, or changed
    further down; anything else replaced by junk."""
    junk = [None, 7, -1, 2**70, "x", [], {}, [1, {"y": 2}], 1.5, True]
    if not (isinstance(value, (dict, list)) and value and rng.random() < 0.8):
        return rng.choice(junk)
    out = dict(value) if isinstance(value, dict) else list(value)
    key = rng.choice(list(out) if isinstance(out, dict) else range(len(out)))
    r = rng.random()
    if r < 0.2:
        del out[key]
    elif r < 0.3 and isinstance(out, list):
        out.insert(key, out[key])
    elif r < 0.5:
        out[key] = rng.choice(junk)
    else:
        out[key] = _mutate_json(value[key], rng)
    return out


def checkpoints(n: int = 1000, seed: int = 0) -> dict:
    """`n` corrupted checkpoints, `n` corrupted .meta files (bytes and JSON
    structure) and `n` mutated AOT manifests: every outcome a kiln error or a
    correct result."""
    import kiln
    import kiln as kl
    from kiln.ir import KilnError, parse
    from kiln.passes import DEFAULT_PIPELINE, run_pipeline
    from kiln.runtime import aot

    rng = random.Random(seed)
    directory = Path(tempfile.mkdtemp(prefix="kiln-corrupt-"))
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v")
        kl.Variable(np.ones(1 << 15, np.float32), name="big")  # a referenced initial value
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())
        saver = kl.train.Saver()
        prefix = saver.save(sess, str(directory / "model"), global_step=1)
    counts = {"kiln_errors": 0, "correct": 0, "other_exceptions": 0, "wrong": 0}
    others: list[str] = []

    def outcome(fn) -> None:
        try:
            fn()
            counts["correct"] += 1
        except KilnError:
            counts["kiln_errors"] += 1
        except AssertionError:
            counts["wrong"] += 1
        except Exception as e:  # noqa: BLE001 - counting what escapes is the probe
            counts["other_exceptions"] += 1
            others.append(f"{type(e).__name__}: {e}"[:200])

    npz, meta = Path(prefix + ".npz"), Path(prefix + ".meta")
    good_npz, good_meta = npz.read_bytes(), meta.read_bytes()

    def restore():
        saver.restore(sess, prefix)
        assert np.array_equal(sess.run(v), np.arange(6).reshape(2, 3))

    for _ in range(n):
        npz.write_bytes(_flips(good_npz, rng))
        outcome(restore)
    npz.write_bytes(good_npz)
    parsed = json.loads(good_meta)

    def import_meta():
        with kl.Graph().as_default():
            s = kl.train.import_meta_graph(str(meta))
            sess2 = kl.Session(backend="cpu")
            s.restore(sess2, prefix)
            sess2.run(kl.global_variables_initializer())

    for i in range(n):
        blob = _flips(good_meta, rng) if i % 2 else json.dumps(_mutate_json(parsed, rng)).encode()
        meta.write_bytes(blob)
        outcome(import_meta)
    module = parse(
        "func @wide(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {\n"
        "  %t = kiln.tanh %x : tensor<?x?xf32>\n  kiln.return %t : tensor<?x?xf32>\n}"
    )
    run_pipeline(module, DEFAULT_PIPELINE)
    built = directory / "wide"
    aot.build(module, "wide", built)
    manifest_path = built / "wide.json"
    good_manifest = json.loads(manifest_path.read_text())
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)

    def load():
        out = kiln.load(built)(x)[0]
        assert np.allclose(out, np.tanh(x), rtol=1e-6)

    manifests = 0
    for _ in range(n):
        mutated = _mutate_json(good_manifest, rng)
        if mutated == good_manifest:
            continue
        manifest_path.write_text(json.dumps(mutated))
        outcome(load)
        manifests += 1
    manifest_path.write_text(json.dumps(good_manifest))
    return {
        "checkpoints": n,
        "meta_files": n,
        "manifests": manifests,
        **counts,
        "first_others": others[:5],
        "ok": counts["other_exceptions"] == 0 and counts["wrong"] == 0,
    }


CACHE = r"""
import os, pathlib, random, sys, numpy as np, kiln
from kiln.ir import parse
src = '''
func @g(%x: tensor<?x5xf32>, %y: tensor<5xf32>) -> tensor<?xf32> {
  %m = kiln.mul %x, %y : (tensor<?x5xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %s = kiln.sigmoid %m : tensor<?x5xf32>
  %r = kiln.reduce_max %s {axes = [1]} : (tensor<?x5xf32>) -> tensor<?xf32>
  kiln.return %r : tensor<?xf32>
}'''
x = np.linspace(-3, 3, 35, dtype=np.float32).reshape(7, 5)
y = np.array([1, -2, 0.5, 3, -1], np.float32)
want = (1 / (1 + np.exp(-x * y))).max(1)
d = pathlib.Path(os.environ["KILN_CACHE_DIR"])
kiln.compile(parse(src), "g", backend="cpu")
# every object the compile wrote (the kernels' and the entry's): each variant
# corrupts one of them, the others restored
goods = {e: e.read_bytes() for e in sorted(d.glob("*.o"))}
assert goods, "the compile wrote no cache entry"
rng = random.Random(int(sys.argv[2]))
wrong = 0
for i in range(int(sys.argv[1])):
    entry = list(goods)[i % len(goods)]
    for e, data in goods.items():
        e.write_bytes(data)
    b = bytearray(goods[entry])
    kind = i % 3
    if kind == 0:
        b = b[: rng.randrange(len(b))]
    elif kind == 1:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    else:
        b[rng.randrange(len(b)):] = bytes(rng.randrange(256) for _ in range(64))
    entry.write_bytes(bytes(b))
    got = kiln.compile(parse(src), "g", backend="cpu")(x, y)[0]
    wrong += not np.allclose(got, want, rtol=1e-5)
print("wrong", wrong, flush=True)
"""


def cache(n: int = 300, seed: int = 0) -> dict:
    """`n` corrupted compile-cache entries (truncated, bit-flipped, tail overwritten)
    loaded by a later compile in a child process: 0 crashes, 0 wrong answers."""
    env = {**os.environ, "KILN_CACHE_DIR": tempfile.mkdtemp(prefix="kiln-cache-")}
    env.pop("KILN_NO_CACHE", None)
    run = subprocess.run(
        [sys.executable, "-c", CACHE, str(n), str(seed)], env=env, capture_output=True, text=True
    )
    crashed = run.returncode != 0
    wrong = int(run.stdout.split()[-1]) if not crashed and run.stdout.split() else -1
    return {
        "entries": n,
        "crashes": int(crashed),
        "wrong": wrong,
        "tail": run.stderr[-500:] if crashed else "",
        "ok": not crashed and wrong == 0,
    }


TIMED = r"""
import json, sys, time
import numpy as np
from kiln.benchmarks import cpu as B
peer, work, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
w = {"mlp": lambda: B.mlp_step(256), "conv": lambda: B.conv2d(32, 32, 32, 64)}[work]()
inputs = w.inputs(np.random.default_rng(0))
fn = w.kiln(inputs, None)  # torch's MLP starts from kiln's initial weights too
if peer == "torch":
    fn = B.Peers(("torch",)).program("torch", w, inputs)
for _ in range(3):
    fn()
walls, cpus = [], []
end = time.time() + seconds
while time.time() < end or len(walls) < 5:
    t, c = time.perf_counter(), time.process_time()
    fn()
    walls.append(time.perf_counter() - t)
    cpus.append(time.process_time() - c)
print(json.dumps([1e3 * float(np.median(walls)), 1e3 * float(np.median(cpus))]))
"""

# the settings compared by `cores`: the behaviour before kiln's pool yielded and
# capped BLAS (BLAS's own threads, libgomp's default spin), and kiln's defaults
CORES_VARIANTS = {
    "before": {"KILN_BLAS_THREADS": "2", "GOMP_SPINCOUNT": "300000"},
    "now": {},
}


def cores(seconds: float = 3.0, workloads=("mlp", "conv")) -> dict:
    """The MLP step and a conv2d (benchmarks/cpu.py's workloads), each in a fresh
    process, with the settings of `CORES_VARIANTS` and torch eager in the same run,
    first as the machine is, then beside one busy competing process: median wall
    and CPU ms of each (docs/reliability.md, "Threads and cores")."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.pop("KILN_BLAS_THREADS", None)
    rows = []
    for load in ("as is", "busy"):
        busy = None
        if load == "busy":
            busy = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
        try:
            for work in workloads:
                for who, extra in [*CORES_VARIANTS.items(), ("torch", {})]:
                    peer = "torch" if who == "torch" else "kiln"
                    run = subprocess.run(
                        [sys.executable, "-c", TIMED, peer, work, str(seconds)],
                        env={**env, **extra},
                        capture_output=True,
                        text=True,
                    )
                    if run.returncode != 0:
                        rows.append(
                            {"load": load, "work": work, "who": who, "error": run.stderr[-300:]}
                        )
                        continue
                    wall, cpu = json.loads(run.stdout.strip().splitlines()[-1])
                    rows.append(
                        {
                            "load": load,
                            "work": work,
                            "who": who,
                            "wall_ms": round(wall, 1),
                            "cpu_ms": round(cpu, 1),
                            "loadavg": os.getloadavg()[0],
                        }
                    )
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    return {"rows": rows, "ok": all("error" not in r for r in rows)}


if __name__ == "__main__":  # python -m kiln.benchmarks.probes cores [SECONDS]
    if sys.argv[1:2] != ["cores"]:
        sys.exit("usage: python -m kiln.benchmarks.probes cores [SECONDS]")
    for row in cores(float(sys.argv[2]) if len(sys.argv) > 2 else 3.0)["rows"]:
        print(json.dumps(row))
