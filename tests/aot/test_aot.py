"""Ahead-of-time compilation: `kiln compile` to a .so + .h + .json, called from C
(examples/aot/main.c) and from Python (kiln.load), against the Session and the
reference interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln
from kiln.ir import CompileError, ExecutionError, interpret, parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.runtime import aot, symbolic

EXAMPLE = Path(kiln.__file__).parent / "examples" / "aot"
ALLOWED_LIBS = ("linux-vdso", "libc.so", "libm.so", "libgomp.so", "libpthread.so", "ld-linux")


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """A compile cache of this test run's own (no stale objects from other builds)."""
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiln.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ.copy(),
    )


def _libraries(so: Path) -> list[str]:
    out = subprocess.run(["ldd", str(so)], capture_output=True, text=True, check=True).stdout
    return [Path(line.split()[0]).name for line in out.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_classifier_from_c_and_from_a_second_process(tmp_path):
    from kiln.examples.aot.train import train

    inputs = np.random.default_rng(7).random((1000, 2), dtype=np.float32)
    prefix, _, expected = train(str(tmp_path / "ckpt"), steps=600, inputs=inputs)
    assert (expected > 0.5).any() and (expected <= 0.5).any()  # both classes occur
    build = tmp_path / "build"
    proc = _cli("compile", prefix, "--fetch", "y", "--name", "classifier", "-o", str(build))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((build / "classifier.json").read_text())
    assert manifest["inputs"][0]["shape"] == ["x_input_dim0", 2]
    assert manifest["outputs"][0]["name"] == "y:0"
    libs = _libraries(build / "classifier.so")
    assert not [x for x in libs if "python" in x]
    assert all(x.startswith(ALLOWED_LIBS) for x in libs), libs

    exe = tmp_path / "classify"
    subprocess.run(
        [
            aot.find_compiler(),
            "-O2",
            "-I",
            str(build),
            str(EXAMPLE / "main.c"),
            str(build / "classifier.so"),
            f"-Wl,-rpath,{build}",
            "-o",
            str(exe),
        ],
        check=True,
    )
    data = tmp_path / "inputs.txt"
    data.write_text(
        f"{len(inputs)}\n" + "\n".join(f"{a:.9g} {b:.9g}" for a, b in inputs.astype(float)) + "\n"
    )
    run = subprocess.run([str(exe), str(data)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in run.stdout.splitlines()]
    values = np.array([float(v) for v, _ in rows], np.float32)
    classes = np.array([int(c) for _, c in rows])
    np.testing.assert_allclose(values, expected[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(classes, (expected[:, 0] > 0.5).astype(int))

    np.save(tmp_path / "x.npy", inputs)
    second = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys, numpy as np, kiln; f = kiln.load(sys.argv[1]); "
                "np.save(sys.argv[3], f(np.load(sys.argv[2]))[0])"
            ),
            str(build),
            str(tmp_path / "x.npy"),
            str(tmp_path / "y.npy"),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert second.returncode == 0, second.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-6)


DENSE = """\
func @dense(%x: tensor<Nx5xf32>, %w: tensor<7x5xf32>, %v: tensor<Nx3xf32>) -> (tensor<Nx7xf32>, tensor<7x3xf32>, tensor<Nx5xf32>) {
  %0 = kiln.matmul %x, %w {transpose_b = true} : (tensor<Nx5xf32>, tensor<7x5xf32>) -> tensor<Nx7xf32>
  %1 = kiln.tanh %0 : tensor<Nx7xf32>
  %2 = kiln.matmul %1, %v {transpose_a = true} : (tensor<Nx7xf32>, tensor<Nx3xf32>) -> tensor<7x3xf32>
  kiln.return %1, %2, %x : (tensor<Nx7xf32>, tensor<7x3xf32>, tensor<Nx5xf32>) -> ()
}
"""  # noqa: E501


def _build(text: str, func: str, out: Path, **options) -> aot.Library:
    module = parse(text)
    run_pipeline(module, DEFAULT_PIPELINE)
    aot.build(module, func, out, **options)
    return kiln.load(out)


@pytest.mark.parametrize("options", [{}, {"weights": "file", "threads": False}])
def test_library_matches_the_interpreter_over_batch_sizes(tmp_path, options):
    lib = _build(DENSE, "dense", tmp_path / "out", **options)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 5)).astype(np.float32)
    for n in (0, 1, 6, 300):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        v = rng.standard_normal((n, 3)).astype(np.float32)
        got = lib(x, w, v)
        want = interpret(parse(DENSE), "dense", x, w, v)
        for g, e in zip(got, want):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-5)
    if not options:
        assert "libgomp" in " ".join(_libraries(tmp_path / "out" / "dense.so"))
    else:
        assert "libgomp" not in " ".join(_libraries(tmp_path / "out" / "dense.so"))
        assert (tmp_path / "out" / "dense.weights").exists() or not lib.manifest["weights_bytes"]


def test_scratch_arenas_are_per_thread_and_reused(tmp_path):
    """Each calling thread keeps its scratch arena for its next call (runtime/aot.py
    ARENA): sizes that grow, shrink and grow again, from 4 threads at once, each
    call's results its own and right."""
    import concurrent.futures

    lib = _build(DENSE, "dense", tmp_path / "out")
    w = np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32)

    def call(seed):
        rng = np.random.default_rng(seed)
        wrong = 0
        for n in (3, 400, 0, 2, 401, 7, 1):
            x = rng.standard_normal((n, 5)).astype(np.float32)
            v = rng.standard_normal((n, 3)).astype(np.float32)
            got = lib(x, w, v)
            want = interpret(parse(DENSE), "dense", x, w, v)
            wrong += sum(
                g.shape != e.shape or not np.allclose(g, e, rtol=2e-5, atol=2e-5)
                for g, e in zip(got, want)
            )
        return wrong

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(call, range(8))) == [0] * 8


def _constant_mlp() -> str:
    """An MLP whose weights are constants of the function (as a frozen checkpoint's)."""
    from kiln.ir import Builder, Module, TensorType

    rng = np.random.default_rng(3)
    module = Module()
    func = module.add_function("mlp", [TensorType("f32", ["?", 64])], ["x"])
    b = Builder.at_end(func.body)
    h = b.relu(
        b.matmul(func.args[0], b.constant(rng.standard_normal((64, 200)).astype(np.float32) * 0.1))
    )
    b.ret(
        b.softmax(
            b.matmul(h, b.constant(rng.standard_normal((200, 10)).astype(np.float32) * 0.1)), axis=1
        )
    )
    return str(module)


@pytest.mark.slow
def test_weights_embedded_or_beside_give_the_same_results(tmp_path):
    x = np.random.default_rng(1).standard_normal((33, 64)).astype(np.float32)
    text = _constant_mlp()
    want = interpret(parse(text), "mlp", x)[0]
    for weights in ("embed", "file"):
        lib = _build(text, "mlp", tmp_path / weights, weights=weights)
        np.testing.assert_allclose(lib(x)[0], want, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "file" / "mlp.weights").stat().st_size >= (64 * 200 + 200 * 10) * 4
    assert (tmp_path / "embed" / "mlp.so").stat().st_size > (64 * 200) * 4
    header = (tmp_path / "file" / "mlp.h").read_text()
    assert "int mlp_load_weights(const char *path);" in header
    assert "int mlp(const float *x, float *out_result0, int64_t x_dim0);" in header


def test_argument_checks_name_what_is_wrong(tmp_path):
    lib = _build(DENSE, "dense", tmp_path / "out")
    x, w, v = (
        np.zeros((4, 5), np.float32),
        np.zeros((7, 5), np.float32),
        np.zeros((4, 3), np.float32),
    )
    with pytest.raises(ExecutionError, match="expected dtype f32, got numpy float64"):
        lib(x.astype(np.float64), w, v)
    with pytest.raises(ExecutionError, match="expected rank 2"):
        lib(x[0], w, v)
    with pytest.raises(ExecutionError, match=r"input w \(f32\[7, 5\]\): got shape \(7, 4\)"):
        lib(x, w[:, :4], v)
    with pytest.raises(ExecutionError, match="with N = 4"):
        lib(x, w, v[:3])
    with pytest.raises(ExecutionError, match="takes 3 inputs"):
        lib(x, w)


def test_kernel_fault_is_an_error_naming_the_op(tmp_path):
    text = """\
func @divide(%a: tensor<Nxi32>, %b: tensor<Nxi32>) -> tensor<Nxi32> {
  %0 = kiln.div %a, %b : (tensor<Nxi32>, tensor<Nxi32>) -> tensor<Nxi32>
  kiln.return %0 : tensor<Nxi32>
}
"""
    lib = _build(text, "divide", tmp_path / "out")
    a = np.array([6, 7, 8], np.int32)
    np.testing.assert_array_equal(lib(a, np.array([2, 7, 3], np.int32))[0], [3, 1, 2])
    with pytest.raises(ExecutionError, match="integer division by zero"):
        lib(a, np.array([2, 0, 3], np.int32))


def test_dims_that_must_agree_need_one_symbol(tmp_path):
    text = """\
func @add(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf32> {
  %0 = kiln.add %a, %b : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  kiln.return %0 : tensor<?xf32>
}
"""
    with pytest.raises(CompileError, match="cannot vary independently"):
        _build(text, "add", tmp_path / "out")


def test_shape_fit_is_exact_polynomials(tmp_path):
    module = parse(DENSE)
    run_pipeline(module, DEFAULT_PIPELINE)
    fit = symbolic.fit(aot.CpuProgram(module, "dense"))
    assert [p.name for p in fit.params] == ["N"]
    assert aot.c_expr(fit.polys[("result", 0, 0)], fit.params) == "N"
    sizes = [aot.c_expr(p, fit.params) for k, p in fit.polys.items() if k[0] == "size"]
    assert "28*N" in sizes  # the f32 [N, 7] buffer


def test_kiln_debug_lists_the_kernels_of_a_build(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KILN_DEBUG", "3")
    module = parse(DENSE)
    run_pipeline(module, DEFAULT_PIPELINE)
    capsys.readouterr()
    aot.build(module, "dense", tmp_path / "out")
    err = capsys.readouterr().err
    assert "@dense on the CPU: " in err and "object code compiled by LLVM in" in err
    assert "kernel form of @" in err and "LLVM IR of @" in err and "define i32 @" in err
