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


def test_demo_trains(capsys):
    from kiln.examples.demo import main as demo
    assert demo(steps=60) == 0
    out = capsys.readouterr().out
    assert "round trip: parse(print(m)) prints identically" in out
    assert "accuracy" in out
