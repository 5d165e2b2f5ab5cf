"""The code is ruff clean and ruff formatted (the rules are pyproject.toml's
[tool.ruff]; ruff is in the `test` extra). CI runs only pytest, so both run here."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]],
    ids=["check", "format"],
)
def test_ruff(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"ruff {command[0]} found problems:\n{proc.stdout}{proc.stderr}"
