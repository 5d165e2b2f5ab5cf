"""Calls from several threads at once get their own answers: a compiled function
and a Session serve a thread pool (as TensorFlow's Session does). Every thread
checks each of its results against numpy, with inputs no other thread uses."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import kiln
import kiln as kl
from kiln.benchmarks.probes import SOURCE
from kiln.ir import parse


def _hammer(call, want, threads=8, calls=12):
    """Run `call(seed)` from `threads` threads; return the seeds whose result
    differs from `want(seed)`."""

    def work(thread):
        bad = []
        for i in range(calls):
            seed = thread * calls + i
            for got, expected in zip(call(seed), want(seed)):
                if not np.allclose(got, expected, rtol=1e-4, atol=1e-4):
                    bad.append(seed)
        return bad

    with ThreadPoolExecutor(threads) as pool:
        return [s for bad in pool.map(work, range(threads)) for s in bad]


def _inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((64, 256), np.float32)


def test_compiled_function_from_threads():
    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.random.default_rng(10**6).standard_normal((256, 64), np.float32) / 16

    def want(seed):
        t = np.tanh(_inputs(seed) @ w)
        return t, t.sum(1)

    assert _hammer(lambda seed: exe(_inputs(seed), w), want) == []


def test_session_inference_from_threads():
    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(kl.float32, (None, 256), name="x")
        w0 = np.random.default_rng(10**6 + 1).standard_normal((256, 64), np.float32) / 16
        w = kl.Variable(w0, name="w")
        y = kl.reduce_sum(kl.tanh(kl.matmul(x, w)), axis=1)
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())

    def want(seed):
        return [np.tanh(_inputs(seed) @ w0).sum(1)]

    assert _hammer(lambda seed: [sess.run(y, {x: _inputs(seed)})], want) == []


def test_concurrent_training_steps_neither_tear_nor_lose_updates():
    """8 threads run SGD steps on one variable while 2 more read it: each step
    subtracts exactly 1 from every element (float32 integers are exact), so the
    end value counts the steps (no lost update) and every value read is one
    vector of equal elements (no torn update)."""
    g = kl.Graph()
    with g.as_default():
        v = kl.Variable(np.full(1 << 18, 10_000.0, np.float32), name="v")
        loss = kl.reduce_sum(v)  # d loss / d v = 1
        step = kl.train.GradientDescentOptimizer(1.0).minimize(loss)
        read = v * 1.0
        sess = kl.Session(graph=g, backend="cpu")
        sess.run(kl.global_variables_initializer())
    threads, steps = 8, 25

    def train(_):
        for _ in range(steps):
            sess.run(step)
        return []

    def watch(_):
        torn = []
        for _ in range(steps):
            value = sess.run(read)
            if not np.all(value == value[0]):
                torn.append(value)
        return torn

    with ThreadPoolExecutor(threads + 2) as pool:
        jobs = [pool.submit(train, i) for i in range(threads)]
        jobs += [pool.submit(watch, i) for i in range(2)]
        torn = [t for j in jobs for t in j.result()]
    assert torn == []
    np.testing.assert_array_equal(sess.run(v), np.full(1 << 18, 10_000.0 - threads * steps))


def test_plans_are_bounded_per_executable(monkeypatch):
    """Every batch size gets a plan (integers only), but only the most recent
    PLANS_KEPT stay; memory is in workspaces shared by every shape, grown to the
    largest call (benchmarks/fuzz.py --probe memory: 10,000 sizes)."""
    from kiln.runtime import cpu

    monkeypatch.setattr(cpu, "PLANS_KEPT", 16)
    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.ones((256, 64), np.float32) / 256
    xs = np.ones((cpu.PLANS_KEPT + 40, 256), np.float32)
    for b in range(1, len(xs) + 1):
        t, s = exe(xs[:b], w)
        assert t.shape == (b, 64)
        np.testing.assert_allclose(s, np.full(b, np.tanh(1.0) * 64), rtol=1e-5)
    plans = exe.compiled.plans
    assert len(plans) == cpu.PLANS_KEPT
    assert next(reversed(plans)) == ((len(xs), 256), (256, 64))
    assert all(p.nbytes < 4096 for p in plans.values())
    (ws,) = exe.compiled._idle  # one caller: one workspace, of about the largest call
    largest = len(xs) * 64 * 4
    assert ws.nbytes < 8 * largest
    # an evicted shape is planned again, and still right
    t, s = exe(xs[:1], w)
    np.testing.assert_allclose(s, np.tanh(np.ones(64) * 1.0).sum(keepdims=True) * 1, rtol=1e-5)


def test_results_held_by_the_caller_are_never_reused():
    """A result array still referenced is never handed out again (recycling
    takes only arrays nobody holds), whatever sizes come between."""
    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.eye(256, 64, dtype=np.float32)
    held = []
    for b in [5, 3, 5, 9, 4, 5, 1, 5]:
        x = np.full((b, 256), float(len(held)) / 10, np.float32)
        held.append((len(held), exe(x, w)))
    for k, (t, _) in held:
        np.testing.assert_allclose(t, np.tanh(np.full(t.shape, k / 10)), rtol=1e-5)


def test_a_dropped_result_array_is_recycled():
    """A result nobody holds any more gives its memory to the next call's result
    (no fresh pages per call); one still held never does."""
    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.eye(256, 64, dtype=np.float32)
    x = np.full((8, 256), 0.5, np.float32)
    first = exe(x, w)[0]
    address = first.__array_interface__["data"][0]
    del first
    again = exe(x, w)[0]
    assert again.__array_interface__["data"][0] == address
    held = exe(x, w)[0]
    assert held.__array_interface__["data"][0] != again.__array_interface__["data"][0]
    np.testing.assert_allclose(held, np.tanh(x @ w), rtol=1e-6)


def test_blas_steps_split_over_the_pool_from_threads(monkeypatch):
    """Matmul steps large enough to be split over kiln's pool (BLAS capped at one
    thread: runtime/parallel.py), called from 4 threads at once: each call's rows,
    each thread's single-threaded GEMM, all right."""
    monkeypatch.setenv("KILN_GEMM", "blas")
    exe = kiln.compile(parse(SOURCE), "f", backend="cpu")
    w = np.random.default_rng(99).standard_normal((256, 64), np.float32) / 16

    def x_of(seed):
        return np.random.default_rng(seed).standard_normal((1500 + seed % 7, 256), np.float32)

    def want(seed):
        t = np.tanh(x_of(seed) @ w)
        return t, t.sum(1)

    assert _hammer(lambda seed: exe(x_of(seed), w), want, threads=4, calls=6) == []
    from kiln.runtime import parallel

    if parallel.blas_steps_split() and parallel.max_threads() > 1:
        assert all(p.threads[0] > 1 for _, p in exe.compiled.all_plans())


Q, S = "tensor<?x4x128x64xf32>", "tensor<?x4x128x128xf32>"
HEADS = f"""
func @attention(%q: {Q}, %k: {Q}) -> {S} {{
  %s = kiln.matmul %q, %k {{transpose_b = true}} : ({Q}, {Q}) -> {S}
  kiln.return %s : {S}
}}
"""


def test_batched_small_gemms_are_split_over_the_pool():
    """A batched matmul whose GEMM calls are each too small to fork (attention's
    per-head [128, 64] x [64, 128]: under gemm_kernel.PARALLEL_FLOPS) gets the
    pool's threads over its rows."""
    from kiln.codegen.llvm.gemm import uses_blas
    from kiln.ir import interpret
    from kiln.runtime import parallel

    exe = kiln.compile(parse(HEADS), "attention", backend="cpu")
    rng = np.random.default_rng(3)
    for batch in (1, 3):
        q, k = (rng.standard_normal((batch, 4, 128, 64), np.float32) for _ in range(2))
        (got,) = exe(q, k)
        (want,) = interpret(parse(HEADS), "attention", q, k)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        plan = exe.compiled.plan([q.shape, k.shape])
        pool = parallel.openmp_available() and parallel.max_threads() > 1 and not uses_blas()
        if batch == 3 and pool:  # (batch 1 reads and writes too few elements to split)
            assert plan.threads[0] > 1
