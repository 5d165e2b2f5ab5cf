"""The `kiln` command: opt, run, demo, and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert (
        main(
            [
                "run",
                str(module_file),
                "--func",
                "scale",
                "--input",
                str(tmp_path / "x.npy"),
                "--input",
                str(tmp_path / "k.npy"),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(out / "result0.npy"), x * 2)


def test_errors_are_one_line_with_nonzero_exit(tmp_path):
    bad = tmp_path / "bad.kiln"
    bad.write_text(
        "func @f(%x: tensor<3xf32>) -> tensor<3xf32> {\n  kiln.return %y : tensor<3xf32>\n}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "kiln.cli", "opt", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"{bad}:2:15: error: use of undefined value %y\n"
        "  kiln.return %y : tensor<3xf32>\n"
        "              ^\n"
    )
    missing = subprocess.run(
        [sys.executable, "-m", "kiln.cli", "opt", str(tmp_path / "no.kiln")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert "Traceback" not in proc.stderr + missing.stderr


def test_run_rejects_wrong_dtype_input(module_file, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.float64))
    np.save(tmp_path / "k.npy", np.float32(2))
    assert (
        main(
            [
                "run",
                str(module_file),
                "--func",
                "scale",
                "--input",
                str(tmp_path / "x.npy"),
                "--input",
                str(tmp_path / "k.npy"),
            ]
        )
        == 1
    )
    assert "expected dtype f32, got numpy float64" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_trains(capsys):
    from kiln.examples.demo import main as demo

    assert demo(steps=60) == 0
    out = capsys.readouterr().out
    assert "round trip: parse(print(m)) prints identically" in out
    assert "accuracy" in out


def _kiln(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("command", ["opt", "run", "compile", "bench", "demo", "viz", "export"])
def test_every_subcommand_has_help(command):
    proc = _kiln(command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: kiln {command}")


def test_compile_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.kiln"
    bad.write_text("func @f(%x: tensor<3xf32>) -> tensor<3xf32> {\n  kiln.return %x :\n}\n")
    cases = [
        (
            ["compile", str(tmp_path / "missing.kiln"), "-o", str(tmp_path / "o")],
            "kiln compile: error: cannot read",
        ),
        (["compile", str(bad), "-o", str(tmp_path / "o")], f"{bad}:3:1: error: "),
    ]
    for args, start in cases:
        proc = _kiln(*args)
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith(start), proc.stderr
        assert proc.stderr.count("\n") == (3 if ":3:1:" in start else 1), proc.stderr
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
    assert (
        main(
            [
                "run",
                str(module_file),
                "--backend",
                "cpu",
                "--input",
                str(tmp_path / "x.npy"),
                "--input",
                str(tmp_path / "k.npy"),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(out / "result0.npy"), x * 3)


def test_bench_reports_a_median(module_file, tmp_path, capsys):
    assert main(["bench", str(module_file), "--dim", "?=64", "--repeat", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("@scale (cpu): median ") and "over 5 calls after 3 warm-up" in out
    assert "p10-p90 " in out
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
    assert (
        main(["bench", str(module_file), "--dim", "?=64", "--backend", "interpreter", "--profile"])
        == 1
    )
    assert "--profile" in capsys.readouterr().err


# ------------------------------------------------------------------ conventions (mlir-opt's)


def test_version_and_usage_exit_codes():
    import kiln

    proc = _kiln("--version")
    assert proc.returncode == 0 and proc.stdout == f"kiln {kiln.__version__}\n"
    for args in (["opt"], ["opt", "--bogus", "x.kiln"], ["nosuch"], []):
        proc = _kiln(*args)
        assert proc.returncode == 2, (args, proc)
        assert proc.stderr.startswith("usage: kiln") and "Traceback" not in proc.stderr
    assert main(["--version"]) == 0 and main(["opt"]) == 2


def test_opt_reads_stdin_and_writes_o(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "kiln.cli", "opt", "-", "-o", str(tmp_path / "out.kiln")],
        input=MODULE,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    assert (tmp_path / "out.kiln").read_text() == MODULE
    proc = subprocess.run(
        [sys.executable, "-m", "kiln.cli", "opt", "-", "-o", "-", "--pass-pipeline=canonicalize"],
        input=MODULE,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout == MODULE


def test_stdin_parse_errors_are_located_diagnostics():
    proc = subprocess.run(
        [sys.executable, "-m", "kiln.cli", "opt", "-"],
        input="func @f(%x: tensor<3xf32>) -> tensor<3xf32> {\n"
        "  %0 = kiln.nosuch %x : tensor<3xf32>\n}\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    first, line, caret = proc.stderr.splitlines()
    assert first.startswith("<stdin>:2:8: error: ") and "kiln.nosuch" in first
    assert line == "  %0 = kiln.nosuch %x : tensor<3xf32>" and caret == "       ^"


def test_verify_errors_point_at_the_op(tmp_path):
    bad = tmp_path / "types.kiln"
    bad.write_text(
        "func @f(%x: tensor<3xf32>) -> tensor<4xf32> {\n  kiln.return %x : tensor<3xf32>\n}\n"
    )
    proc = _kiln("opt", str(bad))
    assert proc.returncode == 1
    assert proc.stderr == (
        f"{bad}:2:3: error: kiln.return: returns (tensor<3xf32>) but "
        "function @f declares (tensor<4xf32>)\n"
        "  kiln.return %x : tensor<3xf32>\n  ^\n"
    )


def test_raw_tracebacks_are_one_line_errors(tmp_path, module_file):
    import kiln as kl

    with kl.Graph().as_default():
        v = kl.Variable([[1.0], [2.0]], name="v")
        x = kl.placeholder(kl.float32, shape=(None, 2), name="x")
        kl.matmul(x, v, name="y")
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            prefix = kl.train.Saver().save(s, str(tmp_path / "model"))
    Path(prefix + ".npz").write_bytes(b"not a zip file")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    bogus_cc = dict(os.environ, CC="/nonexistent/cc", PATH="/nonexistent")
    cases = [
        (
            ["compile", prefix, "--fetch", "y", "-o", str(tmp_path / "o")],
            None,
            "kiln compile: error: cannot read checkpoint values",
        ),
        (
            ["compile", str(module_file), "-o", str(a_file)],
            None,
            f"kiln compile: error: -o {a_file}: it is a file",
        ),
        (
            ["compile", str(module_file), "-o", str(tmp_path / "o2")],
            bogus_cc,
            "kiln compile: error: kiln compile needs a C compiler",
        ),
        (
            ["opt", str(module_file), "-o", str(tmp_path)],
            None,
            f"kiln opt: error: cannot write {tmp_path}: it is a directory",
        ),
        (
            ["run", str(module_file), "--input", str(a_file)],
            None,
            f"kiln run: error: cannot load input {a_file}",
        ),
    ]
    for args, env, start in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "kiln.cli", *args], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.startswith(start), proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_export_a_checkpoint_then_run_it(tmp_path):
    import kiln as kl

    with kl.Graph().as_default():
        w = kl.Variable([[2.0], [-1.0]], name="w")
        x = kl.placeholder(kl.float32, shape=(None, 2), name="x")
        y = kl.placeholder(kl.float32, shape=(None, 1), name="y")
        pred = kl.matmul(x, w, name="pred")
        loss = kl.reduce_mean(kl.square(pred - y), name="loss")
        train = kl.train.GradientDescentOptimizer(0.1).minimize(loss)
        with kl.Session() as s:
            s.run(kl.global_variables_initializer())
            prefix = kl.train.Saver().save(s, str(tmp_path / "model"))
    out = tmp_path / "pred.kiln"
    proc = _kiln("export", prefix, "--fetch", "pred", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(f"wrote {out}: @main (x:0) -> pred:0")
    from kiln.ir import interpret, parse

    module = parse(out.read_text())
    assert [tuple(a.type.shape[1:]) for a in module["main"].args] == [(2,)]  # w: a constant
    (result,) = interpret(module, "main", np.array([[1, 1], [3, 0]], np.float32))
    np.testing.assert_array_equal(result, [[1], [6]])
    # a training step keeps the variables as arguments and returns their new values
    proc = _kiln("export", prefix, "--fetch", train.name, "--fetch", "loss", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    step = parse(proc.stdout)["main"]
    assert [a.name for a in step.args] == ["x", "y", "w"]
    assert step.attrs["aliases"] == (-1, 2)


def test_bench_warns_when_the_spread_is_wide(capsys):
    from kiln.runtime.profile import spread, spread_text

    assert spread([1.0] * 9 + [100.0]) == (1.0, 1.0, pytest.approx(10.9))
    assert "warning: the times vary widely" in spread_text([1.0] * 8 + [5.0, 9.0])
    assert "warning" not in spread_text([1.0, 1.01, 0.99, 1.0])


def test_viz_png_with_the_python_engine_says_why(module_file, tmp_path, capsys):
    assert main(["viz", str(module_file), "--engine", "python", "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "python engine draws SVG only" in err and "apt install" not in err


def test_demo_script_help_does_not_run_it():
    import kiln

    demo = Path(kiln.__file__).parent / "examples" / "demo.py"
    proc = subprocess.run(
        [sys.executable, str(demo), "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage:")
    assert "== training" not in proc.stdout and "accuracy" not in proc.stdout


def test_new_user_errors_name_the_tensor_and_the_layer():
    import kiln as kl

    with kl.Graph().as_default():
        x = kl.placeholder(kl.float32, (None, 2), name="x")
        with kl.Session() as s:
            with pytest.raises(kl.KilnError, match=r"cannot feed \['a'\] to 'x:0'.*not strings"):
                s.run(x * 2, {x: ["a"]})
            with pytest.raises(kl.KilnError, match="ragged list to 'x:0'"):
                s.run(x * 2, {x: [[1.0, 2.0], [3.0]]})
    with kl.eager_mode():
        model = kl.keras.Sequential([kl.keras.layers.Dense(4, input_shape=(3,), name="d1")])
        with pytest.raises(
            kl.KilnError,
            match=r"layer 'd1' \(Dense\) called on an input of "
            r"shape \(2, 5\)",
        ):
            model(np.ones((2, 5), np.float32))


def test_opt_stats_names_the_declared_fallbacks(tmp_path):
    """--stats lists the ops a backend runs another way, with the reason."""
    path = tmp_path / "nonzero.kiln"
    path.write_text(
        "func @f(%x: tensor<4x8xf32>) -> tensor<?x2xi64> {\n"
        "  %i = kiln.nonzero %x : (tensor<4x8xf32>) -> tensor<?x2xi64>\n"
        "  kiln.return %i : tensor<?x2xi64>\n"
        "}\n"
    )
    proc = _kiln("opt", str(path), "--stats")
    assert proc.returncode == 0, proc.stderr
    assert "fallback: @f: kiln.nonzero" in proc.stderr
    assert "the CPU backend runs it in the reference interpreter" in proc.stderr
    assert "the GPU backend runs it on the host (its result's size depends" in proc.stderr
