"""lit configuration for kiln's golden tests (the .kiln files with `// RUN:` lines).

Run them with `lit -v tests/passes/golden tests/ir/invalid` (or through
pytest: tests/test_golden_lit.py). Substitutions a RUN line may use:

    %kiln        the `kiln` command of this source tree (python -m kiln.cli)
    filecheck    the filecheck package (a Python clone of LLVM's FileCheck)
    not          lit's own: succeeds when the command fails

Every command runs with the interpreter that runs lit, and imports kiln from the
tree this file is in, not from whatever kiln is installed.
"""

# `config` and `lit_config` are the globals lit runs this file with.
# ruff: noqa: F821

import os
import sys
import tempfile
from pathlib import Path

import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".kiln"]
config.test_source_root = os.path.dirname(__file__)
# %t files go outside the source tree: the pytest driver passes its tmp_path
config.test_exec_root = lit_config.params.get("exec_root") or tempfile.mkdtemp(prefix="kiln-lit-")

_repo = Path(__file__).resolve().parent.parent  # the repository root is the package
if _repo.name == "kiln":
    _import_root = _repo.parent
else:  # a checkout under another name: import it through a link named kiln
    _import_root = Path(config.test_exec_root) / "python"
    _import_root.mkdir(parents=True, exist_ok=True)
    if not (_import_root / "kiln").exists():
        (_import_root / "kiln").symlink_to(_repo, target_is_directory=True)
config.environment["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_import_root), os.environ.get("PYTHONPATH", "")) if p
)
for _name in ("HOME", "KILN_CACHE_DIR", "KILN_DEBUG", "TMPDIR"):
    if _name in os.environ:
        config.environment[_name] = os.environ[_name]

_python = f'"{sys.executable}"'
config.substitutions.append(("%kiln", f"{_python} -m kiln.cli"))
# a whole word only, so a path that contains "filecheck" is left alone
config.substitutions.append((r"(?<![\w/.-])filecheck(?![\w/.-])", f"{_python} -m filecheck"))
