"""One pool, and it yields (runtime/parallel.py): libgomp's idle workers get a
bounded spin unless the user chose one, and the OpenBLAS kiln calls is capped at
one thread while kiln's pool splits BLAS steps' rows (or, with
KILN_BLAS_THREADS=n, BLAS keeps n threads and kiln's pool leaves its steps
whole). Both are process-wide and read once, so each case runs in a fresh
process. Only configuration and results are checked, never speed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.runtime import parallel

ROOT = str(Path(__file__).resolve().parents[3])

PROBE = r"""
import json, os
import numpy as np
import threadpoolctl
import kiln
from kiln.ir import Interpreter, parse
from kiln.runtime import parallel
src = '''
func @f(%x: tensor<?x256xf32>, %w: tensor<256x64xf32>) -> tensor<?x64xf32> {
  %h = kiln.matmul %x, %w : (tensor<?x256xf32>, tensor<256x64xf32>) -> tensor<?x64xf32>
  %t = kiln.tanh %h : tensor<?x64xf32>
  kiln.return %t : tensor<?x64xf32>
}'''
exe = kiln.compile(parse(src), "f", backend="cpu")
rng = np.random.default_rng(0)
x = rng.standard_normal((4099, 256), np.float32)
w = rng.standard_normal((256, 64), np.float32) / 16
(t,) = exe(x, w)
ok = bool(np.allclose(t, np.tanh(x @ w), rtol=1e-4, atol=1e-5))
(plan,) = [p for _, p in exe.compiled.all_plans()]
T = 'tensor<?x32x32x32xf32>'
K = 'tensor<3x3x32x32xf32>'
conv = (f'func @g(%x: {T}, %k: {K}) -> {T} {{\n'
        f'  %c = kiln.conv2d %x, %k {{strides = [1, 1], padding = "SAME"}} : ({T}, {K}) -> {T}\n'
        f'  %r = kiln.relu %c : {T}\n  kiln.return %r : {T}\n}}')
cexe = kiln.compile(parse(conv), 'g', backend='cpu')
cx = rng.standard_normal((4, 32, 32, 32), np.float32)
ck = rng.standard_normal((3, 3, 32, 32), np.float32) / 16
(cy,) = cexe(cx, ck)
(want,) = Interpreter(parse(conv)).call('g', [cx, ck])
conv_ok = bool(np.allclose(cy, want, rtol=1e-4, atol=1e-4))
(cplan,) = [p for _, p in cexe.compiled.all_plans()]
import llvmlite.binding as llvm
from kiln.codegen.llvm.gemm import blas_symbol
from kiln.ir import DType
mine = parallel._blas_library(llvm.address_of_symbol(blas_symbol(DType.f32)))
libs = threadpoolctl.ThreadpoolController().lib_controllers
blas = [c.num_threads for c in libs if os.path.realpath(c.filepath) == mine]
other = [c.num_threads for c in libs
         if c.internal_api == "openblas" and os.path.realpath(c.filepath) != mine]
print(json.dumps({"ok": ok, "conv_ok": conv_ok, "conv_threads": cplan.threads.tolist(),
                  "spin": os.environ.get("GOMP_SPINCOUNT"),
                  "threads": plan.threads.tolist(), "blas": blas, "other": other,
                  "openmp": parallel.openmp_available()}))
"""


def _probe(**env) -> dict:
    full = {**os.environ, "PYTHONPATH": ROOT, "KILN_NO_CACHE": "1", "KILN_NUM_THREADS": "2"}
    for k in (
        "GOMP_SPINCOUNT",
        "OMP_WAIT_POLICY",
        "KILN_BLAS_THREADS",
        "OPENBLAS_NUM_THREADS",
        "KILN_GEMM",
    ):
        full.pop(k, None)
    full.update(env)
    run = subprocess.run(
        [sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_bounded_spin_unless_the_user_chose(monkeypatch):
    for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(k, raising=False)
    parallel.bounded_spin()
    assert os.environ["GOMP_SPINCOUNT"] == parallel.SPIN_COUNT
    monkeypatch.setenv("GOMP_SPINCOUNT", "77")
    parallel.bounded_spin()
    assert os.environ["GOMP_SPINCOUNT"] == "77"
    monkeypatch.delenv("GOMP_SPINCOUNT")
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    parallel.bounded_spin()
    assert "GOMP_SPINCOUNT" not in os.environ


def test_kilns_gemm_threads_itself_and_loads_no_blas():
    """By default the GEMM is kiln's own (codegen/llvm/gemm_kernel.py): it splits
    its work over kiln's pool itself, so the runtime gives its steps no threads of
    their own, and no BLAS library of kiln's is there to cap."""
    got = _probe()
    assert got["ok"] and got["conv_ok"]
    assert got["spin"] == parallel.SPIN_COUNT
    assert got["blas"] == []
    assert got["threads"][0] == 0 and got["conv_threads"][0] == 0


def test_blas_is_capped_and_its_steps_split_over_kilns_pool():
    """With KILN_GEMM=blas the OpenBLAS kiln's GEMM lives in runs one thread
    (numpy's own OpenBLAS, another library, keeps its threads), the spin is
    bounded before libgomp loads, and the matmul step's 4,099 rows go to kiln's
    threads."""
    got = _probe(KILN_GEMM="blas")
    assert got["ok"] and got["conv_ok"]  # each thread its own rows (and im2col scratch)
    assert got["spin"] == parallel.SPIN_COUNT
    assert got["blas"] == [1]
    if (os.cpu_count() or 1) > 1:  # numpy's own OpenBLAS is left as it was
        assert all(n > 1 for n in got["other"])
    if got["openmp"]:
        assert got["threads"][0] == 2  # the matmul step (with its tanh epilogue)
        assert got["conv_threads"][0] == 2


def test_blas_threads_given_to_blas_leave_its_steps_whole():
    got = _probe(KILN_GEMM="blas", KILN_BLAS_THREADS="2", GOMP_SPINCOUNT="5")
    assert got["ok"] and got["conv_ok"]
    assert got["spin"] == "5"  # the user's own choice stays
    assert got["blas"] == [2]
    assert got["threads"][0] == 0  # BLAS's threads, not kiln's, run the step
    assert got["conv_threads"][0] == 0


def test_blas_threads_setting(monkeypatch):
    monkeypatch.setenv("KILN_GEMM", "blas")
    for value, want in [("1", 1), ("3", 3), ("0", 1), ("x", 1)]:
        monkeypatch.setenv("KILN_BLAS_THREADS", value)
        assert parallel.blas_threads() == want
        assert parallel.blas_steps_split() == (want == 1 and parallel.openmp_available())
    monkeypatch.delenv("KILN_GEMM")  # kiln's own GEMM is never split again
    assert not parallel.blas_steps_split()


FIRST_LOAD = """
import json, os
from kiln.codegen.llvm import gemm_schedule
def mapped():
    return any("libgomp" in line for line in open("/proc/self/maps"))
before = mapped()
gemm_schedule.gemm_threads()  # renders before any entry: loads libgomp first
print(json.dumps([before, mapped(), os.environ.get("GOMP_SPINCOUNT")]))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads /proc/self/maps")
def test_the_first_libgomp_load_is_bounded():
    """libgomp reads GOMP_SPINCOUNT once, when loaded: the GEMM's schedule, which
    loads it before the runtime's entries do, must set the bound first."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    run = subprocess.run(
        [sys.executable, "-c", FIRST_LOAD], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    before, after, spin = json.loads(run.stdout.strip().splitlines()[-1])
    if after:  # libgomp is on this machine
        assert not before and spin == parallel.SPIN_COUNT
