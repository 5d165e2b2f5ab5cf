"""The golden tests: lit runs each golden .kiln file's `// RUN:` lines (tests/lit.cfg.py).

A RUN line is a real command, e.g. `%kiln opt %s --passes "fuse" | filecheck %s`: the
`kiln` of this tree, then the filecheck package reading the file's CHECK lines. This
test runs lit over each file, so that pytest (what CI runs) fails naming the file,
with lit's report of the failing command and filecheck's message.
"""

import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
GOLDEN_DIRS = [TESTS / "passes" / "golden", TESTS / "ir" / "invalid"]
GOLDEN = sorted(p for d in GOLDEN_DIRS for p in d.glob("*.kiln"))
# lit has no `python -m lit`; this is what its console script runs
LIT = [sys.executable, "-c", "import sys; from lit.main import main; sys.argv[0] = 'lit'; main()"]


def test_golden_files_are_found():
    assert {p.parent.name for p in GOLDEN} == {"golden", "invalid"}
    assert len(GOLDEN) >= 10


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.relative_to(TESTS).as_posix())
def test_golden(path, tmp_path):
    proc = subprocess.run(
        [*LIT, "-v", "--param", f"exec_root={tmp_path}", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{path.relative_to(TESTS)} failed:\n{report}"
    # lit succeeds on a run of no tests too: this file must have run and passed
    assert "Passed: 1" in report, report
