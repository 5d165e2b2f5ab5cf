"""The `kiln` command: opt, run, demo, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from kiln.cli import main

MODULE = """\
func @scale(%x: tensor<?x3xf32>, %k: tensor<f32>) -> tensor<?x3xf32> {
  %0 = kiln.mul %x, %k : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xf32>
  kiln.return %0 : tensor<?x3xf32>
}
"""


@pytest.fixture
def module_file(tmp_path):
    path = tmp_path / "scale.kiln"
    path.write_text(MODULE)
    return path


def test_opt_prints_the_module(module_file, capsys):
    assert main(["opt", str(module_file)]) == 0
    assert capsys.readouterr().out == MODULE


def test_run_interprets_on_npy_inputs(module_file, tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", np.float32(2))
    out = tmp_path / "out"
    assert main(["run", str(module_file), "--func", "scale", "--input", str(tmp_path / "x.npy"),
                 "--input", str(tmp_path / "k.npy"), "--output-dir", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "result0.npy"), x * 2)


def test_errors_are_one_line_with_nonzero_exit(tmp_path):
    bad = tmp_path / "bad.kiln"
    bad.write_text("func @f(%x: tensor<3xf32>) -> tensor<3xf32> {\n"
                   "  kiln.return %y : tensor<3xf32>\n}\n")
    proc = subprocess.run([sys.executable, "-m", "kiln.cli", "opt", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "kiln opt: error: 2:15: use of undefined value %y"
    missing = subprocess.run([sys.executable, "-m", "kiln.cli", "opt", str(tmp_path / "no.kiln")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert "Traceback" not in proc.stderr + missing.stderr


def test_run_rejects_wrong_dtype_input(module_file, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.float64))
    np.save(tmp_path / "k.npy", np.float32(2))
    assert main(["run", str(module_file), "--func", "scale", "--input", str(tmp_path / "x.npy"),
                 "--input", str(tmp_path / "k.npy")]) == 1
    assert "expected dtype f32, got numpy float64" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_trains(capsys):
    from kiln.examples.demo import main as demo
    assert demo(steps=60) == 0
    out = capsys.readouterr().out
    assert "round trip: parse(print(m)) prints identically" in out
    assert "accuracy" in out


def _kiln(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True,
                          text=True)


@pytest.mark.parametrize("command", ["opt", "run", "compile", "bench", "demo"])
def test_every_subcommand_has_help(command):
    proc = _kiln(command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: kiln {command}")


def test_compile_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.kiln"
    bad.write_text("func @f(%x: tensor<3xf32>) -> tensor<3xf32> {\n  kiln.return %x :\n}\n")
    cases = [
        (["compile", str(tmp_path / "missing.kiln"), "-o", str(tmp_path / "o")],
         "kiln compile: error: cannot read"),
        (["compile", str(bad), "-o", str(tmp_path / "o")], "kiln compile: error: 3:1: "),
    ]
    for args, start in cases:
        proc = _kiln(*args)
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith(start) and proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_compile_unknown_fetch_name_is_one_line(tmp_path):
    import kiln as kl

    with kl.Graph().as_default():
        v = kl.Variable([[1.0], [2.0]], name="v")
        x = kl.placeholder(kl.float32, shape=(None, 2), name="x")
        kl.matmul(x, v, name="y")
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            prefix = kl.train.Saver().save(s, str(tmp_path / "model"))
    proc = _kiln("compile", prefix, "--fetch", "nope", "-o", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert proc.stderr == "kiln compile: error: the graph has no operation named 'nope'\n"
    proc = _kiln("compile", prefix, "--fetch", "y", "-o", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    from kiln import load
    out = load(tmp_path / "o")(np.array([[1, 1], [0, 3]], np.float32))[0]
    np.testing.assert_array_equal(out, [[3], [6]])


def test_run_with_the_cpu_backend(module_file, tmp_path, capsys):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", np.float32(3))
    out = tmp_path / "out"
    assert main(["run", str(module_file), "--backend", "cpu", "--input", str(tmp_path / "x.npy"),
                 "--input", str(tmp_path / "k.npy"), "--output-dir", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "result0.npy"), x * 3)


def test_bench_reports_a_median(module_file, tmp_path, capsys):
    assert main(["bench", str(module_file), "--dim", "?=64", "--repeat", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("@scale (cpu): median ") and "over 5 calls after 3 warm-up" in out
    assert main(["compile", str(module_file), "-o", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["bench", str(tmp_path / "lib"), "--dim", "x_dim0=8", "--repeat", "3"]) == 0
    assert "scale (library in" in capsys.readouterr().out
    assert main(["bench", str(module_file)]) == 1
    assert "--dim ?=SIZE" in capsys.readouterr().err


def test_bench_profile_lists_every_kernel(module_file, capsys):
    assert main(["bench", str(module_file), "--dim", "?=64", "--repeat", "5", "--profile"]) == 0
    out = capsys.readouterr().out
    assert "kiln profile: @scale" in out and "GB/s" in out and "rows sum to" in out
    assert main(["bench", str(module_file), "--dim", "?=64", "--backend", "interpreter",
                 "--profile"]) == 1
    assert "--profile" in capsys.readouterr().err
