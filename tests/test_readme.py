"""README.md (and docs/aot.md's walk-through) run as printed, so they cannot rot.

Every ```python block and every line of every ```bash/```sh/``` block of
README.md runs, in order, in one temporary directory that holds a link to the
repository's examples/ (as the repository root does). `kiln` and `python` are
this interpreter (`python -m kiln.cli`), so the tree under test is the one that
runs. Two commands do not run: the install (`pip install -e ...`, which would
reinstall kiln) and the test command (this suite itself); they are checked to be
the two README promises. ```text blocks show output and are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kiln

ROOT = Path(kiln.__file__).parent
BLOCK = re.compile(r"^```([a-z]*)\n(.*?)^```", re.S | re.M)
NOT_RUN = ("pip install -e", "python -m pytest")  # install and the test suite itself


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, text) of each fenced block: python, shell (bash, sh or none), text."""
    out = []
    for lang, text in BLOCK.findall(path.read_text()):
        kind = "python" if lang == "python" else "shell" if lang in ("", "bash", "sh") else lang
        out.append((kind, text))
    return out


def shell_commands(text: str) -> list[str]:
    lines, joined = [], ""
    for line in text.splitlines():
        joined += line
        if joined.endswith("\\"):
            joined = joined[:-1]
            continue
        if joined.strip():
            lines.append(joined.strip())
        joined = ""
    return lines


@pytest.fixture
def workdir(tmp_path, tmp_path_factory, monkeypatch):
    """A directory like the repository root (examples/ in it), with `kiln` and
    `python` on PATH meaning this interpreter and this tree."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bin_dir = tmp_path_factory.mktemp("bin")
    for name, target in (
        ("kiln", f'"{sys.executable}" -m kiln.cli'),
        ("python", f'"{sys.executable}"'),
        ("python3", f'"{sys.executable}"'),
    ):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        shim.chmod(0o755)
    env = os.environ.copy()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT.parent), env.get("PYTHONPATH", "")])
    env["KILN_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "cache")
    env["MPLBACKEND"] = "Agg"
    return tmp_path, env


def _run(command: list[str] | str, cwd: Path, env: dict, what: str) -> str:
    proc = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        shell=isinstance(command, str),
        timeout=600,
        executable="/bin/bash" if isinstance(command, str) else None,
    )
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, f"{what}:\n{proc.stderr}"
    return proc.stdout


def test_the_readme_runs_as_printed(workdir):
    cwd, env = workdir
    found = blocks(ROOT / "README.md")
    skipped = []
    outputs = []
    for i, (kind, text) in enumerate(found):
        if kind == "python":
            script = cwd / f"readme_block{i}.py"
            script.write_text(text)
            out = _run([sys.executable, str(script)], cwd, env, f"README block {i}")
            assert out.strip(), f"README python block {i} prints nothing:\n{text}"
            outputs.append(out)
        elif kind == "shell":
            for command in shell_commands(text):
                if any(word in command for word in NOT_RUN):
                    skipped.append(command)
                    continue
                outputs.append(_run(command, cwd, env, f"README command {command!r}"))
    assert len(skipped) == 2 and "kiln demo" in skipped[0], skipped  # the two promises
    assert (cwd / "step.kiln").exists() and (cwd / "model.kiln").exists()
    assert (cwd / "build" / "line" / "line.so").exists()
    text = "".join(outputs)
    assert "kl.Tensor(6." in text and "accuracy after 10 epochs" in text
    # the exported checkpoint computes x @ w for x = ones, w close to [2, -1]
    assert re.search(r"result 0: float32 \(2, 1\)\n\[\[(0\.9|1\.0)", text), text


def test_the_aot_walkthrough_runs_as_printed(workdir):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")  # kiln compile says so itself; nothing to link with
    cwd, env = workdir
    shell = [text for kind, text in blocks(ROOT / "docs" / "aot.md") if kind == "shell"]
    walk = shell[-1]
    out = ""
    for command in shell_commands(walk):
        out = _run(command, cwd, env, f"docs/aot.md command {command!r}")
    rows = [line.split() for line in out.splitlines()]
    assert [r[1] for r in rows] == ["1", "0"], out  # (0.1, 0.2) is class 1, (0.9, 0.8) 0
    leftovers = {"ckpt", "classify", "in.txt"} & {p.name for p in cwd.iterdir()}
    assert not leftovers, leftovers  # everything went to build/aot
    for command in shell_commands(shell[0]):  # the two compile commands at the top
        _run(command, cwd, env, f"docs/aot.md command {command!r}")


def test_example_modules_are_current_and_parse():
    from kiln.ir import parse

    for name in ("mlp_step", "cnn_forward", "softmax"):
        module = parse((ROOT / "examples" / f"{name}.kiln").read_text())
        assert len(list(module)) == 1
