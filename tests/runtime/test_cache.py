"""The disk compile cache checks what it loads: a truncated, byte-flipped or
foreign entry is discarded and recompiled, never executed; the directory is
private to the user; the size is capped; writers never expose half an entry."""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import kiln
from kiln.ir import parse
from kiln.runtime import cache, executable, objects

# Compiles one graph, then corrupts its cache entry in each way and compiles it
# again in the same process (a crash fails the test: it runs in a subprocess).
SCRIPT = r"""
import os, pathlib, numpy as np, kiln
from kiln.ir import parse
from kiln.runtime import objects
src = '''
func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %t = kiln.tanh %x : tensor<?x8xf32>
  %e = kiln.exp %t : tensor<?x8xf32>
  kiln.return %e : tensor<?x8xf32>
}'''
x = np.linspace(-2, 2, 48, dtype=np.float32).reshape(6, 8)
want = np.exp(np.tanh(x))
d = pathlib.Path(os.environ["KILN_CACHE_DIR"])
kiln.compile(parse(src), "f", backend="cpu")
entries = sorted(d.glob("*.o"))  # the program's, its kernel's, the optimised module's
count = 0
for entry in entries:
    good = entry.read_bytes()
    n = len(good)
    variants = [good[:k] for k in (0, 5, 20, 46, n // 2, n - 1)]
    for pos in (0, 15, 30, 47, 200, n // 2, n - 1):
        flipped = bytearray(good)
        flipped[pos] ^= 0x41
        variants.append(bytes(flipped))
    variants.append(good + b"junk")
    for i, blob in enumerate(variants):
        entry.write_bytes(blob)
        objects.forget()  # read the kernels from the disk, not from this process
        got = kiln.compile(parse(src), "f", backend="cpu")(x)[0]
        assert np.allclose(got, want, rtol=1e-5), i
        assert entry.read_bytes() == good, i  # the bad entry was replaced by a sound one
        count += 1
print("ok", len(entries), count)
"""


@pytest.mark.slow
def test_corrupted_entries_are_recompiled_not_run(tmp_path):
    env = {**os.environ, "KILN_CACHE_DIR": str(tmp_path / "c")}
    env.pop("KILN_NO_CACHE", None)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["ok", "3", "42"]


@pytest.fixture
def cache_at(tmp_path, monkeypatch):
    d = tmp_path / "kiln-cache"
    monkeypatch.setenv("KILN_CACHE_DIR", str(d))
    monkeypatch.delenv("KILN_NO_CACHE", raising=False)
    return d


def test_directory_is_created_private(cache_at):
    cache.store_object("k", b"code")
    assert stat.S_IMODE(cache_at.stat().st_mode) == 0o700
    assert cache.load_object("k") == b"code"


def test_entry_under_another_key_is_refused(cache_at):
    cache.store_object("a", b"code of a")
    os.replace(cache_at / "a.o", cache_at / "b.o")  # a sound entry, renamed
    assert cache.load_object("b") is None
    assert not (cache_at / "b.o").exists()


def test_a_directory_others_can_write_is_not_used(cache_at):
    cache.store_object("k", b"code")
    cache_at.chmod(0o777)
    assert cache.load_object("k") is None
    cache.store_object("j", b"more")
    assert not (cache_at / "j.o").exists()


def test_size_cap_evicts_least_recently_used(cache_at, monkeypatch):
    monkeypatch.setenv("KILN_CACHE_MAX_BYTES", "2500")
    for i, key in enumerate("abc"):
        cache.store_object(key, bytes(1000))
        os.utime(cache_at / f"{key}.o", (1000 + i, 1000 + i))
    assert cache.load_object("a") is None  # evicted when c came
    assert cache.load_object("b") == bytes(1000)
    assert cache.load_object("c") == bytes(1000)


def test_stale_temporary_files_are_removed(cache_at):
    cache.store_object("k", b"code")
    tmp = cache_at / ".k.dead"
    tmp.write_bytes(b"half")
    os.utime(tmp, (0, 0))
    os.utime(cache_at / cache.STAMP, (0, 0))  # the last scan is an hour old: scan again
    cache.store_object("j", b"code")
    assert not tmp.exists()


# Two functions whose tanh-exp chains are the same kernel (an f32 row of 8),
# the second with a transpose and a chain of its own besides.
SHARED = """
func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %t = kiln.tanh %x : tensor<?x8xf32>
  %e = kiln.exp %t : tensor<?x8xf32>
  kiln.return %e : tensor<?x8xf32>
}

func @g(%x: tensor<?x8xf32>, %y: tensor<8x4xf32>) -> (tensor<?x8xf32>, tensor<4x8xf32>) {
  %t = kiln.tanh %x : tensor<?x8xf32>
  %e = kiln.exp %t : tensor<?x8xf32>
  %z = kiln.transpose %y {perm = [1, 0]} : (tensor<8x4xf32>) -> tensor<4x8xf32>
  %s = kiln.sigmoid %z : tensor<4x8xf32>
  kiln.return %e, %s : (tensor<?x8xf32>, tensor<4x8xf32>) -> ()
}
"""


def _compile(name: str, src: str = SHARED):
    return kiln.compile(parse(src), name, backend="cpu")


@pytest.fixture
def fresh(cache_at):
    objects.forget()
    before = dict(objects.stats)
    yield lambda: {k: objects.stats[k] - before[k] for k in before}
    objects.forget()


def test_a_kernel_shared_between_two_modules_compiles_once(fresh):
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(3, 8)
    y = np.arange(32, dtype=np.float32).reshape(8, 4)
    np.testing.assert_allclose(_compile("f")(x)[0], np.exp(np.tanh(x)), rtol=1e-5)
    assert fresh() == {"compiled": 1, "from_memory": 0, "from_disk": 0}
    e, s = _compile("g")(x, y)
    np.testing.assert_allclose(e, np.exp(np.tanh(x)), rtol=1e-5)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-y.T)), rtol=1e-5)
    # g's tanh-exp is f's kernel: only its transpose and sigmoid are compiled
    assert fresh() == {"compiled": 3, "from_memory": 1, "from_disk": 0}


def test_identical_kernels_of_one_function_compile_once(fresh):
    src = """
func @h(%x: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %a = kiln.tanh %x : tensor<8x8xf32>
  %b = kiln.transpose %a {perm = [1, 0]} : tensor<8x8xf32>
  %c = kiln.tanh %b : tensor<8x8xf32>
  %d = kiln.transpose %c {perm = [1, 0]} : tensor<8x8xf32>
  kiln.return %d : tensor<8x8xf32>
}"""
    exe = _compile("h", src)
    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(8, 8)
    np.testing.assert_allclose(exe(x)[0], np.tanh(np.tanh(x).T).T, rtol=1e-5)
    assert len(exe.compiled.steps) == 4
    assert fresh()["compiled"] == 2  # one tanh kernel, one transpose kernel


def test_a_corrupted_kernel_entry_is_recompiled_not_run(fresh, cache_at):
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(3, 8)
    _compile("f")
    program, kernel = _entries(cache_at)
    good = kernel.read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10  # in the object code, past the header
    kernel.write_bytes(bytes(flipped))
    objects.forget()
    np.testing.assert_allclose(_compile("f")(x)[0], np.exp(np.tanh(x)), rtol=1e-5)
    assert fresh()["compiled"] == 2  # compiled again, not loaded
    assert kernel.read_bytes() == good


def _optimised(path) -> bool:
    from kiln.runtime import optimised

    return (cache.load_object(path.stem) or b"").startswith(optimised.MAGIC)


def _entries(directory):
    """(the program's entry, its kernel's): the program's names its kernel's key
    (the optimised module's entry, runtime/optimised.py's, is neither)."""
    entries = sorted(directory.glob("*.o"))
    programs = [p for p in entries if objects.unpack_program(cache.load_object(p.stem) or b"")]
    [program] = programs
    [kernel] = [p for p in entries if p != program and not _optimised(p)]
    return program, kernel


# A matmul in a fresh process: the shared GEMM it calls is compiled (on a pool
# thread) or, when the disk cache holds it, loaded by its name without rendering
# it; `compiles` tells which (gemm._compile counted).
GEMM_SCRIPT = r"""
import os, sys, numpy as np, kiln
from kiln.ir import parse
from kiln.codegen.llvm import gemm, jit
from kiln.runtime import cache
compiled, rendered = [], []
compile, definition = gemm._compile, gemm._definition
gemm._compile = lambda name, text: compiled.append(name) or compile(name, text)
gemm._definition = lambda name: rendered.append(name) or definition(name)
src = '''
func @f(%a: tensor<37x70xf32>, %b: tensor<70x29xf32>) -> tensor<37x29xf32> {
  %c = kiln.matmul %a, %b : (tensor<37x70xf32>, tensor<70x29xf32>) -> tensor<37x29xf32>
  kiln.return %c : tensor<37x29xf32>
}'''
rng = np.random.default_rng(0)
a, b = rng.standard_normal((37, 70), np.float32), rng.standard_normal((70, 29), np.float32)
got = kiln.compile(parse(src), "f", backend="cpu")(a, b)[0]
np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-4)
assert not jit._before_link and not gemm._compiling  # nothing left pending
[name] = gemm._engines
key = cache.cache_key(gemm._object_key(name), [])
print(len(compiled), len(rendered), key)
"""


@pytest.mark.slow
def test_the_shared_gemm_is_cached_by_name_and_a_bad_entry_recompiled(tmp_path):
    env = {**os.environ, "KILN_CACHE_DIR": str(tmp_path / "c"), "KILN_GEMM": "kiln"}
    env.pop("KILN_NO_CACHE", None)

    def run() -> tuple[int, int, str]:
        done = subprocess.run(
            [sys.executable, "-c", GEMM_SCRIPT], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        compiled, rendered, key = done.stdout.split()
        return int(compiled), int(rendered), key

    compiled, rendered, key = run()
    assert (compiled, rendered) == (1, 1)  # cold: rendered and compiled once
    entry = tmp_path / "c" / f"{key}.o"
    good = entry.read_bytes()
    assert run() == (0, 0, key)  # cached: loaded by name, neither rendered nor compiled
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    entry.write_bytes(bytes(flipped))
    assert run() == (1, 1, key)  # a bad entry is compiled again, never run
    assert entry.read_bytes() == good


def _passes_run(monkeypatch) -> list[str]:
    """The pipelines the CPU compile runs from now on (runtime/optimised.py's)."""
    from kiln.runtime import optimised

    ran = []
    run = optimised.run_pipeline

    def counted(module, pipeline, **options):
        ran.append(pipeline)
        return run(module, pipeline, **options)

    monkeypatch.setattr(optimised, "run_pipeline", counted)
    return ran


def test_a_compiled_module_skips_the_passes_the_second_time(fresh, monkeypatch):
    ran = _passes_run(monkeypatch)
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(3, 8)
    y = np.arange(32, dtype=np.float32).reshape(8, 4)
    first = _compile("g")
    assert len(ran) == 1
    module = parse(SHARED)
    again = kiln.compile(module, "g", backend="cpu")
    assert len(ran) == 1  # the optimised functions came from the cache
    assert str(module) == str(first.module)  # the caller's module holds them, as after passes
    assert again.report.stat("kernels") == first.report.stat("kernels") > 0
    for a, b in zip(first(x, y), again(x, y)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(again(x, y)[1], 1 / (1 + np.exp(-y.T)), rtol=1e-5)
    # another module, another pipeline: the passes run
    kiln.compile(parse(SHARED.replace("kiln.sigmoid", "kiln.tanh")), "g", backend="cpu")
    kiln.compile(parse(SHARED), "g", backend="cpu", pipeline=executable.CPU_PIPELINE + ",dce")
    assert len(ran) == 3


def test_a_bad_optimised_entry_is_ignored(fresh, cache_at, monkeypatch):
    import pickle

    from kiln.runtime import optimised

    ran = _passes_run(monkeypatch)
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(3, 8)
    optimised_text = str(_compile("f").module)
    key = cache.cache_key(f"optimised by {executable.CPU_PIPELINE}\0{parse(SHARED)}", [])
    entry = cache_at / f"{key}.o"
    good = entry.read_bytes()
    # each written through the cache (a sound digest) but for the first, a truncated file
    bad = [
        optimised.MAGIC + b"\x80\x05junk",  # not a pickle
        optimised.MAGIC + pickle.dumps(("not functions", "no report")),
        b"kiln-program-1\n",  # another kind of entry
    ]
    for i, payload in enumerate([None, *bad]):
        if payload is None:
            entry.write_bytes(good[: len(good) // 2])
        else:
            cache.store_object(key, payload)
        before = len(ran)
        exe = kiln.compile(parse(SHARED), "f", backend="cpu")
        assert len(ran) == before + 1, i  # the passes ran again
        np.testing.assert_allclose(exe(x)[0], np.exp(np.tanh(x)), rtol=1e-5)
        assert str(exe.module) == optimised_text
        functions, _ = optimised._load(key)  # a sound entry stored again
        assert "\n\n".join(map(str, functions)) in optimised_text, i


def test_stores_scan_the_directory_only_when_the_cap_may_be_passed(cache_at, monkeypatch):
    """A scan stats every entry (0.3 s for 15,000 kernels): a store under the cap, by the
    total the last scan kept in the directory plus this process's writes, does not scan."""
    monkeypatch.setenv("KILN_CACHE_MAX_BYTES", "5000")
    scans = []
    real = cache.evict
    monkeypatch.setattr(cache, "evict", lambda d, limit: scans.append(1) or real(d, limit))
    for key in "abc":
        cache.store_object(key, bytes(1000))
    assert len(scans) == 1  # the first store: no kept total yet
    assert int((cache_at / cache.STAMP).read_text()) > 1000
    for key in "defg":
        cache.store_object(key, bytes(1000))
    assert len(scans) >= 2  # past 5000 bytes: scanned, and evicted down to the cap
    assert sum(f.stat().st_size for f in cache_at.glob("*.o")) <= 5000
    assert cache.load_object("g") == bytes(1000)
