"""Golden tests: each tests/passes/golden/*.kiln file is a set of cases.

The file's `// RUN: kiln opt %s --passes "..."` line names the pipeline; the
cases are separated by `// -----`. Each case is a module and the CHECK lines
its output must satisfy (see kiln/filecheck.py), or an `// ERROR: text` the
pipeline must fail with. The pipeline runs with the verifier after every
pass, and the output must read back to the same text.
"""

import re
from pathlib import Path

import pytest

from kiln.filecheck import check, parse_checks
from kiln.ir import KilnError, parse
from kiln.passes import run_pipeline

GOLDEN = Path(__file__).with_name("golden")
_RUN = re.compile(r'//\s*RUN:\s*kiln opt %s --passes\s+"?([^"\n]*)"?')


def _cases():
    for path in sorted(GOLDEN.glob("*.kiln")):
        text = path.read_text()
        run = _RUN.search(text)
        assert run, f"{path.name} has no RUN line"
        for i, case in enumerate(text.split("// -----")):
            if "func @" in case:
                yield pytest.param(run.group(1).strip(), case, id=f"{path.stem}-{i}")


@pytest.mark.parametrize("pipeline, case", list(_cases()))
def test_golden(pipeline, case):
    error = re.search(r"//\s*ERROR:\s*(.*)", case)
    module = parse(case)
    if error:
        with pytest.raises(KilnError, match=re.escape(error.group(1).strip())):
            run_pipeline(module, pipeline)
        return
    run_pipeline(module, pipeline)
    out = str(module)
    check(out, parse_checks(case))
    assert str(parse(out)) == out
