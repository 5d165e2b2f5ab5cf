"""runtime/parallel.py's chunked split: workers take chunks of rows from a
shared counter. Any thread count (more threads than cores, than chunks, an
extent that no chunk size divides) computes every row once: the same bits as
one thread, and the interpreter's values."""

import numpy as np
import pytest

import kiln
from kiln.ir import interpret, parse
from kiln.runtime import parallel

CHAIN = """
func @f(%x: tensor<?xf32>, %a: tensor<f32>) -> tensor<?xf32> {
  %xa = kiln.mul %x, %a : (tensor<?xf32>, tensor<f32>) -> tensor<?xf32>
  %r = kiln.relu %xa : tensor<?xf32>
  %g = kiln.sigmoid %x : tensor<?xf32>
  %y = kiln.mul %r, %g : tensor<?xf32>
  kiln.return %y : tensor<?xf32>
}"""
ROWS = """
func @f(%x: tensor<?x777xf32>) -> tensor<?x777xf32> {
  %s = kiln.softmax %x : tensor<?x777xf32>
  kiln.return %s : tensor<?x777xf32>
}"""


def run(text, threads, monkeypatch, *args):
    monkeypatch.setenv("KILN_NUM_THREADS", str(threads))
    exe = kiln.compile(parse(text), "f", backend="cpu")
    plan = exe.compiled.plan([np.shape(a) for a in args]).threads
    return exe(*args)[0], int(plan.max())


@pytest.mark.parametrize(
    "text, shape", [(CHAIN, ((1 << 18) + 12_345,)), (CHAIN, (1 << 19,)), (ROWS, (347, 777))]
)
def test_every_thread_count_gives_one_threads_bits(text, shape, monkeypatch):
    rng = np.random.default_rng(5)
    args = [rng.standard_normal(shape).astype(np.float32)]
    if text is CHAIN:
        args.append(np.float32(1.25))
    one, _ = run(text, 1, monkeypatch, *args)
    for threads in (2, 3, 7):
        got, split = run(text, threads, monkeypatch, *args)
        if parallel.openmp_available():
            assert split == threads  # the kernel was split
        np.testing.assert_array_equal(got, one)
    want = interpret(parse(text), "f", *args)[0]
    np.testing.assert_allclose(one, want, rtol=2e-6, atol=1e-7)
