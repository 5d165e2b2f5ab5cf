"""The long fuzzing run: mutated IR text through parse, verify, print, reparse
for a time budget, counting outcomes (a contract violation stops it with
hypothesis's minimal failing input).

    python -m kiln.benchmarks.fuzz --budget 600             # ten minutes
    python -m kiln.benchmarks.fuzz --budget 3600 --atheris  # coverage-guided, if installed

The CI run is tests/ir/test_fuzz_parser.py (its strategy and check are these)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..ir import KilnError, ParseError, parse

ROOT = Path(__file__).resolve().parents[1]  # the package root
SEEDS = sorted(
    p.read_text() for p in [*ROOT.glob("tests/ir/golden/*.kiln"), *ROOT.glob("examples/*.kiln")]
)
TOKENS = [
    "%x",
    "%0",
    "@f",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    ",",
    ":",
    "=",
    "->",
    "?",
    "x",
    "tensor<",
    "tensor<?x4xf32>",
    "tensor<0xf32>",
    "f32",
    "i32",
    "bool",
    "bf16",
    "dense<",
    "dense<[]>",
    '"0x00"',
    '"0xZZ"',
    "kiln.add",
    "kiln.return",
    "kiln.constant",
    "func",
    "^bb0",
    "4294967296",
    "99999999999999999999999",
    "-1",
    "0",
    "1e309",
    "nan",
    "true",
    '"',
    "\\",
    "\n",
    "²",
    "\x00",
    "{axes = [1]}",
    "{value = dense<1.0> : tensor<f32>}",
    "[" * 80,
    "(" * 80,
    'loc("n")',
]


def check(text: str) -> str:
    """Parse, verify, print, reparse `text`; return what happened ('error' or
    'ok'), raising AssertionError on a contract violation."""
    try:
        module = parse(text)
    except KilnError as e:
        if isinstance(e, ParseError):
            assert e.line is not None, f"ParseError without a line: {e}"
        return "error"
    printed = str(module)
    again = parse(printed)  # a module kiln printed parses back, as it was
    assert str(again) == printed
    return "ok"


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 40)))
        kind = draw(st.sampled_from(["delete", "repeat", "insert", "number", "swap", "char"]))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "repeat":
            text = text[:j] + text[i:j] * draw(st.integers(1, 3)) + text[j:]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif kind == "number":
            k = text.find("x", i)
            if k > 0:
                text = text[:k] + draw(st.sampled_from(["x0", "x4294967296", "x1"])) + text[k:]
        elif kind == "swap":
            k = draw(st.integers(0, n))
            text = text[:i] + text[k : k + (j - i)] + text[j:]
        else:
            text = text[:i] + draw(st.characters()) + text[i + 1 :]
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fuzz kiln's IR text path for a time budget")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds to run")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided (pip install atheris)")
    args = ap.parse_args(argv)
    start = time.monotonic()
    counts = {"ok": 0, "error": 0}
    if args.atheris:
        import atheris  # optional: not a kiln dependency

        def one(data: bytes) -> None:
            if time.monotonic() - start > args.budget:
                raise SystemExit(0)
            counts[check(data.decode("utf-8", "replace"))] += 1

        atheris.Setup(sys.argv[:1], one)
        atheris.Fuzz()
        return 0

    @settings(
        max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(mutated())
    def chunk(text):
        counts[check(text)] += 1

    while time.monotonic() - start < args.budget:
        chunk()
    total = sum(counts.values())
    print(
        f"{total} mutated inputs in {time.monotonic() - start:.0f} s: {counts['error']} "
        f"kiln errors, {counts['ok']} modules that round-trip, 0 other exceptions"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
