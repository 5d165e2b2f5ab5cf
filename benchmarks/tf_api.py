"""The TF 1.x API list: TensorFlow's tf.compat.v1 names ranked by use in public
programs, with kiln's status per name (writes docs/tf-api.md).

    python -m kiln.benchmarks.tf_api --tf-python /work/tfenv/bin/python \
        --corpus /work/.mirror/aymericdamien+TensorFlow-Examples/repo ...

1. The names: a TensorFlow interpreter (--tf-python, a scratch venv with
   tensorflow-cpu; TensorFlow is never a kiln dependency) walks
   tf.compat.v1's public names, submodules included (tf.nn.relu is
   "nn.relu"). They are cached in compat/tf_v1_names.txt, which kiln reads
   to tell a TensorFlow name it lacks ("kiln does not implement tf.X yet")
   from a typo; without --tf-python the cached list is used.
2. The use counts: every `tf.a.b.c` in the .py files and notebook code cells
   of the corpus (git directories, read at HEAD, or plain folders) counts
   for the longest prefix that is a TensorFlow name (`tf.compat.v1.` is
   dropped first). A name's rank is by the number of files using it, then
   by occurrences.
3. kiln's status: whether `kiln.<name>` resolves.

The frequency cut (--cut, files) is discussed in the document it writes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "compat" / "tf_v1_names.txt"
DOC = ROOT / "docs" / "tf-api.md"

WALK = r"""
import json, types, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras = Keras 2 (tf_keras), kiln's model
import tensorflow as tf
v1 = tf.compat.v1
names, seen = set(), set()
SKIP = {"compat.v1", "compat.v2", "estimator", "keras"}  # keras: walked below, one level
def walk(module, prefix, depth):
    if id(module) in seen or depth > 4:
        return
    seen.add(id(module))
    try:
        keys = dir(module)
    except Exception:  # a lazy module that cannot load (keras without keras installed)
        return
    for key in keys:
        if key.startswith("_"):
            continue
        try:
            value = getattr(module, key)
        except Exception:
            continue
        full = prefix + key
        if isinstance(value, types.ModuleType):
            names.add(full)
            if full not in SKIP:
                walk(value, full + ".", depth + 1)
        else:
            names.add(full)
walk(v1, "", 0)
for sub in ("keras", "estimator"):
    for path, module in ((sub, getattr(v1, sub, None)),):
        if module is None:
            continue
        try:
            keys = dir(module)
        except Exception:
            continue
        for key in keys:
            if key.startswith("_"):
                continue
            names.add(f"{sub}.{key}")
            value = getattr(module, key, None)
            if isinstance(value, types.ModuleType):
                try:
                    inner = dir(value)
                except Exception:
                    continue
                for k2 in inner:
                    if not k2.startswith("_"):
                        names.add(f"{sub}.{key}.{k2}")
print(json.dumps(sorted(names)))
"""

USE = re.compile(r"\btf\.((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)")


def tf_names(tf_python: str | None) -> list[str]:
    """tf.compat.v1's public names (walked by `tf_python`, else the cached list)."""
    if tf_python:
        out = subprocess.run(
            [tf_python, "-c", WALK], capture_output=True, text=True, check=True
        ).stdout
        names = json.loads(out.strip().splitlines()[-1])
        NAMES.write_text("\n".join(names) + "\n")
        return names
    return NAMES.read_text().split()


def _sources(corpus: Path):
    """(path, text) of each .py file and notebook's code in `corpus`."""
    if (corpus / "HEAD").exists() and (corpus / "objects").exists():  # a bare git directory
        listing = subprocess.run(
            ["git", f"--git-dir={corpus}", "ls-tree", "-r", "--name-only", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        for path in listing:
            if path.endswith((".py", ".ipynb")):
                blob = subprocess.run(
                    ["git", f"--git-dir={corpus}", "show", f"HEAD:{path}"],
                    capture_output=True,
                    check=False,
                ).stdout.decode("utf-8", "replace")
                yield f"{corpus.parent.name}/{path}", _code(path, blob)
        return
    for file in sorted(corpus.rglob("*")):
        if file.suffix in (".py", ".ipynb") and file.is_file():
            yield str(file), _code(file.name, file.read_text("utf-8", "replace"))


def _code(path: str, text: str) -> str:
    if not path.endswith(".ipynb"):
        return text
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return ""
    parts = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            parts.append("".join(source) if isinstance(source, list) else source)
    return "\n".join(parts)


def count(corpora: list[Path], names: set[str]) -> tuple[Counter, Counter, Counter, int]:
    """(uses, files, unknown uses, files with any tf. use) over the corpora."""
    uses: Counter = Counter()
    files: Counter = Counter()
    unknown: Counter = Counter()
    n_files = 0
    for corpus in corpora:
        for _, text in _sources(corpus):
            found = set()
            for m in USE.finditer(text):
                chain = m.group(1).removeprefix("compat.v1.").split(".")
                for k in range(len(chain), 0, -1):
                    name = ".".join(chain[:k])
                    if name in names:
                        uses[name] += 1
                        found.add(name)
                        break
                else:
                    unknown[".".join(chain[:2])] += 1
            if found:
                n_files += 1
                files.update(found)
    return uses, files, unknown, n_files


def kiln_has(name: str) -> bool:
    import kiln

    obj = kiln
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except Exception:
            return False
    return True


# Why a name above the cut is still missing, by group (the names kiln lacks on purpose
# or for now); a missing name in no group is listed as "not yet".
WHY = [
    (
        ("keras.datasets",),
        "Keras's dataset downloaders: kiln never downloads (the corpus harness serves the"
        " same API from scikit-learn data)",
    ),
]


def _why(missing: list[str]) -> list[str]:
    """The paragraph saying why each missing name above the cut is missing."""
    if not missing:
        return ["Every name above the cut resolves in kiln."]
    parts, left = [], list(missing)
    for prefixes, reason in WHY:
        hit = [n for n in left if any(n == p or n.startswith(p + ".") for p in prefixes)]
        if hit:
            parts.append(", ".join(f"`tf.{n}`" for n in hit) + ": " + reason)
            left = [n for n in left if n not in hit]
    if left:
        parts.append(", ".join(f"`tf.{n}`" for n in left) + ": not implemented yet")
    return ["Why they are missing: " + "; ".join(parts) + "."]


def write_doc(
    names: list[str],
    uses: Counter,
    files: Counter,
    unknown: Counter,
    n_files: int,
    corpora: list[Path],
    cut: int,
) -> str:
    ranked = sorted((n for n in names if files[n]), key=lambda n: (-files[n], -uses[n], n))
    total = sum(uses.values())
    above = [n for n in ranked if files[n] >= cut]
    covered = sum(uses[n] for n in above)
    have = {n: kiln_has(n) for n in ranked}
    missing_above = [n for n in above if not have[n]]
    lines = [
        "# The TensorFlow 1.x API: names ranked by use, and kiln's status",
        "",
        "Generated by `python -m kiln.benchmarks.tf_api` (benchmarks/tf_api.py); do not edit.",
        "",
        f"- Names: the {len(names)} public names of TensorFlow 2.21's `tf.compat.v1`"
        " (submodules included; `nn.relu` is `tf.nn.relu`), cached in"
        " `compat/tf_v1_names.txt`.",
        f"- Corpus: {n_files} Python files and notebooks that use `tf.`, from "
        + ", ".join(f"`{c.parent.name.replace('+', '/')}`" for c in corpora)
        + " (public tutorial collections, read at their HEAD).",
        f"- Uses: {total} occurrences of `tf.<name>` in all; {len(ranked)} distinct names.",
        "",
        "## The cut",
        "",
        f"kiln aims to implement every name used in at least **{cut} files** of the corpus:"
        f" {len(above)} names, which account for {covered / max(total, 1):.1%} of all uses."
        " A name used in fewer files is one tutorial's choice (a rare op, a debugging"
        " helper); chasing those gives little per name, and each still fails loudly: a"
        " TensorFlow name kiln lacks raises `AttributeError: kiln does not implement"
        " tf.X yet` (the root package and its TF namespaces read the cached list).",
        "",
        f"Above the cut kiln has {len(above) - len(missing_above)} of {len(above)};"
        " missing: "
        + (", ".join(f"`tf.{n}`" for n in missing_above) if missing_above else "none")
        + ".",
        "",
        *_why(missing_above),
        "",
        "## Ranked names",
        "",
        "| rank | name | files | uses | kiln |",
        "|---:|---|---:|---:|---|",
    ]
    for i, n in enumerate(ranked, 1):
        mark = "yes" if have[n] else "**no**"
        lines.append(f"| {i} | `tf.{n}` | {files[n]} | {uses[n]} | {mark} |")
    lines += [
        "",
        "## Used but not in tf.compat.v1 (TF 2.21)",
        "",
        "Mostly `tf.contrib` (gone from TensorFlow 2; kiln's `kl.contrib` serves what"
        " TF 1.x programs import from it) and names removed before 1.15.",
        "",
        "| name | uses | kiln |",
        "|---|---:|---|",
    ]
    modules = {n.split(".")[0] for n in names if "." in n} | {"contrib"}
    shown = [(n, k) for n, k in unknown.most_common() if n.split(".")[0] in modules]
    for n, k in shown[:40]:
        lines.append(f"| `tf.{n}` | {k} | {'yes' if kiln_has(n) else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tf-python", help="a Python with tensorflow-cpu (walks the names)")
    parser.add_argument("--corpus", nargs="+", type=Path, required=True)
    parser.add_argument("--cut", type=int, default=5, help="the file count of the cut")
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    names = tf_names(args.tf_python)
    uses, files, unknown, n_files = count(args.corpus, set(names))
    args.out.write_text(write_doc(names, uses, files, unknown, n_files, args.corpus, args.cut))
    print(f"wrote {args.out}: {len(names)} names, {n_files} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
