"""Write the failure list (markdown) from a kiln results file of run.py, grouped by cause.

  python benchmarks/tf_corpus/report.py /tmp/kiln.json [--tf results_tf.json] --out FILE

Causes are assigned by patterns on the exception text (CAUSES: first match wins), each with
the helper that owns the fix; the missing TF names are pulled from AttributeError texts.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent

# (pattern on "Type: message", cause, owner)
CAUSES = [
    (r"<U\d+|dtype.*str|'string'", "tf.string / string constants", "tf-core"),
    (r"'u?int(8|16)'|numpy u?int(8|16)|'uint\d+'", "missing dtypes (int16/uint8/...)", "tf-core"),
    (
        r"float64.*float32|float32.*float64",
        "'float' dtype string -> float64 (TF: float32)",
        "tf-core",
    ),
    (
        r"'Tensor' object has no attribute 'numpy'|is not an eager variable",
        "TF 2 program: eager by default (import kiln.compat.v2)",
        "tf-core",
    ),
    (r"not iterable", "shape given as a tensor (tf.random_normal(tf.shape(x)), ...)", "tf-core"),
    (
        r"conv2d_transpose|Conv2DTranspose",
        "conv2d_transpose (tf.layers / tf.nn / keras)",
        "tf-pipelines",
    ),
    (r"rnn|LSTM|GRU|dynamic_rnn|while_loop|\bcond\b", "RNN / control flow", "cf-frontend"),
    (r"contrib", "tf.contrib", "tf-pipelines"),
    (
        r"estimator|metrics|Checkpoint|checkpoint|queue|Queue|Coordinator|iterator|Iterator|"
        r"tf\.layers|'layers'|summary|Summary|FileWriter|Saver|saved_model",
        "estimator / metrics / checkpoints / queues / iterators / layers / summaries",
        "tf-pipelines",
    ),
    (
        r"math|random|compat|enable_eager|eager|GradientTape|gradient",
        "tf.math/random/compat/eager",
        "tf-core",
    ),
    (r"kiln\.keras", "tf.keras names", "unowned (keras)"),
    (r"module 'kiln(\.frontend\.nn)?' has no attribute", "missing tf.* / tf.nn.* names", "tf-core"),
    (r"No module named 'libs", "corpus harness (pkm libs)", "tf-corpus"),
]


def cause_of(detail: str):
    for pat, cause, owner in CAUSES:
        if re.search(pat, detail):
            return cause, owner
    return "other (see message)", "unowned?"


def _tf(module: str) -> str:
    return re.sub(r"^kiln(\.frontend)?", "tf", module)


def missing_name(detail: str):
    m = re.search(r"module '([\w.]+)' has no attribute '(\w+)'", detail)
    if m:
        return _tf(m.group(1)) + "." + m.group(2)
    m = re.search(r"No module named '([\w.]+)'", detail)
    if m:
        return _tf(m.group(1))
    m = re.search(r"kiln does not implement (tf\.[\w.]+)", detail)
    return m.group(1) if m else None


def render(kiln: dict, tf: dict | None, title: str) -> str:
    tfr = {r["name"]: r for r in (tf or {}).get("results", [])}
    lines = [f"# {title}", ""]
    lines.append(f"kiln: **{kiln['pass']} of {kiln['total']}** pass (ran to the end, check held)")
    if tf:
        lines.append(f"; TensorFlow {tf.get('tf_version', '')}: {tf['pass']} of {tf['total']}.")
    lines += [
        "",
        "Outcome per program: `pass` ran to the end with its check (loss fell / accuracy"
        " above 0.3 / ran); harness: benchmarks/tf_corpus/run.py; logs: rerun with"
        " `--only NAME --logs DIR`.",
        "",
    ]
    groups = collections.defaultdict(list)
    for r in kiln["results"]:
        if r["outcome"] == "pass":
            continue
        if r["outcome"] == "error":
            cause, owner = cause_of(r["detail"])
        elif r["outcome"] == "timeout":
            cause, owner = "timeout", "unowned?"
        else:
            cause, owner = "ran, check failed: " + r["check"], "unowned?"
        groups[(owner, cause)].append(r)
    for (owner, cause), rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        names = sorted({n for n in (missing_name(r["detail"]) for r in rs) if n})
        lines.append(f"## {cause} — {owner} ({len(rs)})")
        if names:
            lines.append("missing: " + ", ".join(f"`{n}`" for n in names))
        lines.append("")
        for r in sorted(rs, key=lambda r: r["name"]):
            ref = tfr.get(r["name"], {}).get("outcome", "?")
            lines.append(f"- {r['name']} [{r['outcome']}; TF: {ref}]: `{r['detail']}`")
        lines.append("")
    passed = [r["name"] for r in kiln["results"] if r["outcome"] == "pass"]
    lines += ["## passing", "", ", ".join(passed) or "(none)", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--tf", default=str(HERE / "results_tf.json"))
    ap.add_argument("--title", default="TF corpus: kiln failures")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    kiln = json.loads(pathlib.Path(args.results).read_text())
    tfp = pathlib.Path(args.tf)
    tf = json.loads(tfp.read_text()) if tfp.exists() else None
    text = render(kiln, tf, args.title)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
