"""The library's thread count is chosen at run time (runtime/aot.py OPENMP):
`<name>_set_num_threads`, else $KILN_NUM_THREADS, else OpenMP's default; the
kernels and the GEMMs split over it, with the in-process thresholds."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln
from kiln.ir import interpret, parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.runtime import aot, parallel

# a GEMM big enough to fork (gemm_kernel.PARALLEL_FLOPS) and a softmax whose
# kernels split over rows (parallel.MIN_PARALLEL_ELEMENTS) for N >= 512
WIDE = """\
func @wide(%x: tensor<Nx256xf32>, %w: tensor<256x256xf32>) -> (tensor<Nx256xf32>) {
  %0 = kiln.matmul %x, %w : (tensor<Nx256xf32>, tensor<256x256xf32>) -> tensor<Nx256xf32>
  %1 = kiln.softmax %0 {axis = 1} : tensor<Nx256xf32>
  kiln.return %1 : (tensor<Nx256xf32>) -> ()
}
"""

# calls the library once with N rows (x and w from a fixed recipe), after
# wide_set_num_threads(T) unless T is 0; writes the output's bytes to OUT and
# prints the library's thread count and this process's threads after the call
DRIVER = r"""
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "wide.h"

static int tasks(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

int main(int argc, char **argv) {
  int threads = atoi(argv[1]);
  int64_t n = atoll(argv[2]);
  float *x = malloc(sizeof(float) * n * 256), *w = malloc(sizeof(float) * 256 * 256);
  float *y = malloc(sizeof(float) * n * 256);
  for (int64_t i = 0; i < n * 256; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (int64_t i = 0; i < 256 * 256; i++) w[i] = (float)((i * 104729) % 997) / 4985.0f - 0.1f;
  if (threads) wide_set_num_threads(threads);
  int code = wide(x, w, y, n);
  if (code) { fprintf(stderr, "%s\n", wide_error(code)); return 1; }
  FILE *f = fopen(argv[3], "wb");
  fwrite(y, sizeof(float), n * 256, f);
  fclose(f);
  printf("%d %d\n", wide_num_threads(), tasks());
  return 0;
}
"""


def _inputs(n: int) -> list[np.ndarray]:
    """The driver's x and w (the same recipe, in numpy)."""
    i = np.arange(n * 256, dtype=np.int64)
    x = ((i * 7919) % 1000).astype(np.float32) / np.float32(1000) - np.float32(0.5)
    j = np.arange(256 * 256, dtype=np.int64)
    w = ((j * 104729) % 997).astype(np.float32) / np.float32(4985) - np.float32(0.1)
    return [x.reshape(n, 256), w.reshape(256, 256)]


def _build(out: Path, **options) -> aot.Library:
    module = parse(WIDE)
    run_pipeline(module, DEFAULT_PIPELINE)
    aot.build(module, "wide", out, **options)
    return kiln.load(out)


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> tuple[Path, Path]:
    """The library, built while kiln runs 2 threads (so its GEMMs' schedules say
    2), and the C driver linked to it."""
    out = tmp_path_factory.mktemp("wide")
    before = os.environ.get("KILN_NUM_THREADS")
    os.environ["KILN_NUM_THREADS"] = "2"
    try:
        _build(out)
    finally:
        os.environ.pop("KILN_NUM_THREADS")
        if before is not None:
            os.environ["KILN_NUM_THREADS"] = before
    (out / "driver.c").write_text(DRIVER)
    exe = out / "driver"
    subprocess.run(
        [aot.find_compiler(), "-O2", "-I", str(out), str(out / "driver.c"), str(out / "wide.so")]
        + [f"-Wl,-rpath,{out}", "-o", str(exe)],
        check=True,
    )
    return out, exe


def _run(driver, threads: int, n: int, tmp_path: Path, **env) -> tuple[int, int, np.ndarray]:
    _, exe = driver
    environ = {
        k: v for k, v in os.environ.items() if k not in ("KILN_NUM_THREADS", "OMP_NUM_THREADS")
    }
    result = tmp_path / f"y{threads}_{n}_{len(env)}.bin"
    proc = subprocess.run(
        [str(exe), str(threads), str(n), str(result)],
        capture_output=True,
        text=True,
        env=environ | env,
    )
    assert proc.returncode == 0, proc.stderr
    count, tasks = map(int, proc.stdout.split())
    return count, tasks, np.fromfile(result, np.float32).reshape(n, 256)


def test_the_c_program_runs_the_threads_it_asks_for(driver, tmp_path):
    """From C: the team is the count set at run time, above the build's 2 too (the
    GEMM's fork follows it), and every count gives the same bits."""
    want = interpret(parse(WIDE), "wide", *_inputs(600))[0]
    first = None
    for threads in (1, 2, 3, 4):
        count, tasks, got = _run(driver, threads, 600, tmp_path)
        assert (count, tasks) == (threads, threads)  # the caller + threads - 1 workers
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
        first = got if first is None else first
        assert np.array_equal(got, first)


def test_the_environment_chooses_the_count_unless_set(driver, tmp_path):
    assert _run(driver, 0, 600, tmp_path, KILN_NUM_THREADS="3")[:2] == (3, 3)
    assert _run(driver, 0, 600, tmp_path, OMP_NUM_THREADS="3")[:2] == (3, 3)
    assert _run(driver, 1, 600, tmp_path, KILN_NUM_THREADS="3")[:2] == (1, 1)
    assert _run(driver, 0, 600, tmp_path, KILN_NUM_THREADS="0")[:2] == (1, 1)  # as in process
    assert _run(driver, 0, 600, tmp_path, KILN_NUM_THREADS="x", OMP_NUM_THREADS="2")[:2] == (2, 2)


def test_small_work_runs_on_the_caller_alone(driver, tmp_path):
    """As in process: a kernel below the thresholds is not split, whatever the count."""
    count, tasks, got = _run(driver, 4, 3, tmp_path)
    assert (count, tasks) == (4, 1)
    np.testing.assert_allclose(got, interpret(parse(WIDE), "wide", *_inputs(3))[0], rtol=1e-5)


def test_kiln_load_sets_the_count_and_many_threads_call(tmp_path):
    """kiln.load's `num_threads`, a symbolic batch from 0 rows up, and calls from
    four Python threads while another changes the count: every result right and
    the same bits whatever the count."""
    lib = _build(tmp_path / "out")
    lib.num_threads = 3
    assert lib.num_threads == 3
    want = {n: interpret(parse(WIDE), "wide", *_inputs(n))[0] for n in (0, 1, 7, 600)}
    lib.num_threads = 1
    one = {n: lib(*_inputs(n))[0] for n in want}
    for n, e in want.items():
        assert one[n].shape == e.shape
        np.testing.assert_allclose(one[n], e, rtol=1e-5, atol=1e-7)

    def call(seed: int) -> int:
        lib.num_threads = 1 + seed % 3
        return sum(not np.array_equal(lib(*_inputs(n))[0], one[n]) for n in (600, 7, 1, 0))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(call, range(12))) == [0] * 12
    lib.num_threads = 0  # back to the environment's
    assert lib.num_threads >= 1


def test_a_serial_library_runs_one_thread(tmp_path):
    lib = _build(tmp_path / "out", threads=False)
    lib.num_threads = 4
    assert lib.num_threads == 1
    got = lib(*_inputs(600))[0]
    np.testing.assert_allclose(got, interpret(parse(WIDE), "wide", *_inputs(600))[0], rtol=1e-5)


def test_kiln_load_gives_libgomp_the_bounded_spin(driver):
    """A process that only loads the library: libgomp comes in with it, after
    kiln.load put the in-process runtime's bounded spin in the environment."""
    out, _ = driver
    script = (
        "import os, sys, kiln\n"
        "gomp = lambda: 'libgomp' in open('/proc/self/maps').read()\n"
        "before = gomp()\n"
        "kiln.load(sys.argv[1])\n"
        "print(before, gomp(), os.environ.get('GOMP_SPINCOUNT'))\n"
    )
    environ = {
        k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    }
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out)], capture_output=True, text=True, env=environ
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", parallel.SPIN_COUNT]


Q, S = "tensor<Bx4x128x64xf32>", "tensor<Bx4x128x128xf32>"
HEADS = f"""\
func @heads(%q: {Q}, %k: {Q}) -> ({S}) {{
  %0 = kiln.matmul %q, %k {{transpose_b = true}} : ({Q}, {Q}) -> {S}
  kiln.return %0 : ({S}) -> ()
}}
"""


def test_batched_small_gemms_split_over_the_calls_threads(tmp_path):
    """Attention's per-head GEMMs, each too small to fork, split over the library's
    threads by rows (as in process, CpuProgram.serial_gemms): the same bits
    whatever the count, and the interpreter's answer."""
    module = parse(HEADS)
    run_pipeline(module, DEFAULT_PIPELINE)
    aot.build(module, "heads", tmp_path / "out")
    lib = kiln.load(tmp_path / "out")
    rng = np.random.default_rng(5)
    q, k = (rng.standard_normal((3, 4, 128, 64), np.float32) for _ in range(2))
    want = interpret(parse(HEADS), "heads", q, k)[0]
    results = []
    for threads in (1, 2, 3):
        lib.num_threads = threads
        results.append(lib(q, k)[0])
        np.testing.assert_allclose(results[-1], want, rtol=1e-4, atol=1e-4)
    assert all(np.array_equal(r, results[0]) for r in results)
