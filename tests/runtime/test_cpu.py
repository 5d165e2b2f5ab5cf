"""The CPU executable against the reference interpreter: whole functions,
new shapes without recompiling, in-place variable updates, bad arguments,
kernel faults, and the disk cache shared between processes."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import kiln
from kiln.ir import ExecutionError, interpret, parse

SOFTMAX_MODULE = """
func @f(%x: tensor<?x10xf32>, %b: tensor<10xf32>) -> (tensor<?x10xf32>, tensor<?xf32>) {
  %a = kiln.add %x, %b : (tensor<?x10xf32>, tensor<10xf32>) -> tensor<?x10xf32>
  %s = kiln.softmax %a : tensor<?x10xf32>
  %r = kiln.reshape %s {shape = [-1, 5, 2]} : (tensor<?x10xf32>) -> tensor<?x5x2xf32>
  %e = kiln.exp %r : tensor<?x5x2xf32>
  %m = kiln.reduce_sum %e {axes = [1, 2]} : (tensor<?x5x2xf32>) -> tensor<?xf32>
  kiln.return %s, %m : (tensor<?x10xf32>, tensor<?xf32>) -> ()
}
"""


def _compile(text, name="f"):
    return kiln.compile(parse(text), name, backend="cpu")


def test_whole_function_matches_interpreter_for_every_batch_size():
    exe = _compile(SOFTMAX_MODULE)
    assert exe.backend == "cpu"
    rng = np.random.default_rng(0)
    b = rng.standard_normal(10).astype(np.float32)
    for n in (1, 7, 0, 33):
        x = rng.standard_normal((n, 10)).astype(np.float32)
        want = interpret(parse(SOFTMAX_MODULE), "f", x, b)
        got = exe(x, b)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_results_are_fresh_arrays():
    exe = _compile(SOFTMAX_MODULE)
    x = np.ones((2, 10), np.float32)
    b = np.zeros(10, np.float32)
    first = exe(x, b)[0]
    second = exe(2 * x, b)[0]
    assert first is not second and not np.shares_memory(first, second)


def test_result_memory_is_reused_only_when_nothing_holds_it():
    exe = _compile(SOFTMAX_MODULE)
    b = np.zeros(10, np.float32)
    ones, twos = np.ones((3, 10), np.float32), np.full((3, 10), 2.0, np.float32)
    held = exe(ones, b)
    view = held[0][1:]  # a view keeps its base alive
    del held
    addresses = set()
    for k in range(6):  # `y = f(x)` in a loop: results dropped as the next is made
        y = exe(twos if k % 2 else ones, b)[0]
        addresses.add(y.ctypes.data)
        assert not np.shares_memory(y, view)
    assert len(addresses) <= 2  # reused, not a new allocation per call
    np.testing.assert_allclose(view, exe(ones, b)[0][1:])  # the held view is intact


def test_bad_arguments_are_kiln_errors():
    exe = _compile(SOFTMAX_MODULE)
    x = np.ones((2, 10), np.float32)
    b = np.zeros(10, np.float32)
    with pytest.raises(ExecutionError, match="wrong dtype"):
        exe(x.astype(np.float64), b)
    with pytest.raises(ExecutionError, match="wrong rank"):
        exe(x[None], b)
    with pytest.raises(ExecutionError, match="wrong shape"):
        exe(np.ones((2, 9), np.float32), b)
    with pytest.raises(ExecutionError, match="takes 2 arguments"):
        exe(x)
    transposed = np.arange(20, dtype=np.float32).reshape(10, 2).T  # not C-contiguous
    np.testing.assert_allclose(exe(transposed, b)[0], exe(np.ascontiguousarray(transposed), b)[0])


def test_named_symbols_must_agree():
    exe = _compile("""
func @f(%x: tensor<Nx3xf32>, %y: tensor<Nx3xf32>) -> tensor<Nx3xf32> {
  %a = kiln.add %x, %y : tensor<Nx3xf32>
  kiln.return %a : tensor<Nx3xf32>
}""")
    with pytest.raises(ExecutionError, match="wrong shape"):
        exe(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32))


def test_integer_division_by_zero_is_an_error_naming_the_op():
    exe = _compile("""
func @f(%x: tensor<4xi32>, %y: tensor<4xi32>) -> tensor<4xi32> {
  %a = kiln.div %x, %y : tensor<4xi32>
  kiln.return %a : tensor<4xi32>
}""")
    np.testing.assert_array_equal(
        exe(np.array([7, -7, 9, 1], np.int32), np.array([2, 2, -4, 1], np.int32))[0], [3, -3, -2, 1]
    )
    with pytest.raises(ExecutionError, match="integer division by zero"):
        exe(np.array([1, 2, 3, 4], np.int32), np.array([1, 0, 1, 1], np.int32))


def test_variable_update_is_written_in_place():
    exe = _compile(
        """
func @step(%w: tensor<4xf32>, %g: tensor<4xf32>) -> (tensor<f32>, tensor<4xf32>)
    attributes {aliases = [-1, 0]} {
  %c = kiln.constant {value = dense<0.5> : tensor<f32>} : tensor<f32>
  %d = kiln.mul %g, %c : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %w2 = kiln.sub %w, %d : tensor<4xf32>
  %s = kiln.reduce_sum %w : (tensor<4xf32>) -> tensor<f32>
  kiln.return %s, %w2 : (tensor<f32>, tensor<4xf32>) -> ()
}""",
        "step",
    )
    w = np.arange(4, dtype=np.float32)
    s, w2 = exe(w, np.ones(4, np.float32))
    assert s == 6.0 and w2 is w  # the old value was read before the update
    np.testing.assert_array_equal(w, [-0.5, 0.5, 1.5, 2.5])
    with pytest.raises(ExecutionError, match="C-contiguous"):
        exe(np.arange(8, dtype=np.float32)[::2], np.ones(4, np.float32))


def test_auto_falls_back_to_the_interpreter_with_a_warning(monkeypatch):
    from kiln.codegen.llvm import native

    monkeypatch.setitem(native.BUILDERS, "kiln.fused:reduction", _unsupported)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exe = kiln.compile(parse(SOFTMAX_MODULE), "f", backend="auto")
    assert exe.backend == "interpreter" and "no kernel" in str(caught[0].message)
    x = np.ones((2, 10), np.float32)
    np.testing.assert_allclose(
        exe(x, np.zeros(10, np.float32))[0], np.full((2, 10), 0.1), rtol=1e-6
    )
    with pytest.raises(kiln.KilnError, match="no kernel"):
        kiln.compile(parse(SOFTMAX_MODULE), "f", backend="cpu")


def _unsupported(op, name):
    raise kiln.ir.CompileError(f"{op.describe()}: no kernel (test)")


CACHED_MODULE = """
func @f(%x: tensor<?x10xf32>, %b: tensor<10xf32>, %w: tensor<10x4xf32>, %i: tensor<2x5x5x3xf64>,
        %k: tensor<3x3x3x2xf64>) -> (tensor<?x10xf32>, tensor<?x4xf32>, tensor<2x5x5x2xf64>) {
  %a = kiln.add %x, %b : (tensor<?x10xf32>, tensor<10xf32>) -> tensor<?x10xf32>
  %s = kiln.softmax %a : tensor<?x10xf32>
  %m = kiln.matmul %s, %w : (tensor<?x10xf32>, tensor<10x4xf32>) -> tensor<?x4xf32>
  %c = kiln.conv2d %i, %k {padding = "SAME"}
       : (tensor<2x5x5x3xf64>, tensor<3x3x3x2xf64>) -> tensor<2x5x5x2xf64>
  kiln.return %s, %m, %c : (tensor<?x10xf32>, tensor<?x4xf32>, tensor<2x5x5x2xf64>) -> ()
}
"""


@pytest.mark.slow
def test_second_process_loads_the_object_code_from_the_disk_cache(tmp_path):
    """The second process compiles nothing (its kernels are never rendered) and
    still links the GEMM its matmul and conv call."""
    script = (
        "import time, numpy as np, kiln\n"
        "from kiln.ir import parse, interpret\n"
        f"m = parse({CACHED_MODULE!r})\n"
        "from kiln.runtime import objects\n"
        "exe = kiln.compile(m, 'f', backend='cpu')\n"
        "rng = np.random.default_rng(0)\n"
        "args = [rng.standard_normal(s).astype(d) for s, d in [((3, 10), 'f4'), ((10,), 'f4'),"
        " ((10, 4), 'f4'), ((2, 5, 5, 3), 'f8'), ((3, 3, 3, 2), 'f8')]]\n"
        f"want = interpret(parse({CACHED_MODULE!r}), 'f', *args)\n"
        "for g, w in zip(exe(*args), want): np.testing.assert_allclose(g, w, rtol=1e-5)\n"
        "hit = exe.compiled.from_cache and objects.stats['compiled'] == 0\n"
        "print('hit' if hit else 'miss')\n"
    )
    env = {"KILN_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    runs, entries = [], []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        runs.append(done.stdout.strip())
        entries.append(sorted(p.name for p in tmp_path.glob("*.o")))
    assert runs == ["miss", "hit"]
    # the program's entry, one per kernel (softmax, matmul, conv), the shared GEMM
    # of each float dtype (codegen/llvm/gemm.py: f32, f64) and the f64 conv's shared
    # implicit GEMM (codegen/llvm/conv_gemm.py), the optimised module
    # (runtime/optimised.py), none added by the hit
    assert len(entries[0]) == 8 and entries[1] == entries[0]


def test_threads_split_big_kernels_and_give_the_same_results(monkeypatch):
    from kiln.runtime import parallel

    text = """
func @f(%x: tensor<?x1000xf32>) -> tensor<?x1000xf32> {
  %t = kiln.tanh %x : tensor<?x1000xf32>
  %s = kiln.softmax %t : tensor<?x1000xf32>
  kiln.return %s : tensor<?x1000xf32>
}"""
    x = np.random.default_rng(1).standard_normal((300, 1000)).astype(np.float32)
    results = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("KILN_NUM_THREADS", threads)
        exe = _compile(text)
        plan_threads = exe.compiled.plan([x.shape]).threads
        results[threads] = exe(x)[0]
        if threads == "2" and parallel.openmp_available():
            assert plan_threads.max() == 2  # the big kernel is split
    np.testing.assert_array_equal(results["1"], results["2"])
    np.testing.assert_allclose(
        results["2"], interpret(parse(text), "f", x)[0], rtol=1e-5, atol=1e-7
    )


def test_large_full_reductions_are_split_across_rows():
    """split-reductions turns a full reduction of >= 2^20 elements into per-row
    partials then one reduction (so threads can share it): same results."""
    n = 3 * (1 << 20)
    text = f"""
func @f(%x: tensor<{n}xf32>, %a: tensor<f32>) -> (tensor<f32>, tensor<1xf32>, tensor<f32>) {{
  %q = kiln.mul %x, %x : tensor<{n}xf32>
  %s = kiln.add %q, %a : (tensor<{n}xf32>, tensor<f32>) -> tensor<{n}xf32>
  %t = kiln.reduce_sum %s : (tensor<{n}xf32>) -> tensor<f32>
  %m = kiln.reduce_max %x {{keepdims = true}} : (tensor<{n}xf32>) -> tensor<1xf32>
  %p = kiln.reduce_min %q : (tensor<{n}xf32>) -> tensor<f32>
  kiln.return %t, %m, %p : (tensor<f32>, tensor<1xf32>, tensor<f32>) -> ()
}}"""
    exe = _compile(text)
    assert exe.report.stat("reductions split") == 3
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    total, top, low = exe(x, np.float32(0.5))
    exact = float(np.dot(x.astype(np.float64), x)) + 0.5 * n
    assert abs(float(total) - exact) / exact < 1e-6
    assert top.shape == (1,) and top[0] == x.max() and low == (x * x).min()
