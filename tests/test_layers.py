"""The layers of kiln hold: `lint-imports` checks the contracts of .importlinter
(ir imports nothing of kiln; passes and codegen only ir; the runtime not the
frontend; the frontend not keras/data/viz, and no cycle inside it)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root is the package `kiln`


def test_import_contracts_are_kept():
    env = dict(os.environ)
    # lint-imports finds `kiln` on the path: the tree under test, not an installed copy
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT.parent), env.get("PYTHONPATH", "")])
    # `lint-imports`, run by this interpreter (its script may not be on PATH)
    command = [
        sys.executable,
        "-c",
        "import sys; from importlinter.cli import "
        "lint_imports_command; sys.exit(lint_imports_command())",
    ]
    result = subprocess.run(
        [*command, str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
