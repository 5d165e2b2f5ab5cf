"""The long reliability run (issue 21's probes at their target sizes, or for a
time budget): mutated IR text through parse, verify, print, reparse and the
interpreter; generated programs through the interpreter and the native CPU
backend; threads, killed saves, corrupted checkpoints/.meta/manifests and
cache entries, and memory over many batch sizes (benchmarks/probes.py).

    python -m kiln.benchmarks.fuzz --probe ir --count 10000      # mutated inputs
    python -m kiln.benchmarks.fuzz --probe programs --count 2000 # differential
    python -m kiln.benchmarks.fuzz --probe all                   # every probe, target sizes
    python -m kiln.benchmarks.fuzz --budget 600                  # IR text for ten minutes
    python -m kiln.benchmarks.fuzz --budget 3600 --atheris       # coverage-guided parser

Each prints one JSON line of counts per probe, `"ok"` saying whether the target
holds; the exit status is 1 if one does not. The CI runs are
tests/ir/test_fuzz_parser.py and tests/test_differential.py (their strategies
and checks are these)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..ir import KilnError, ParseError, interpret, parse

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


# ------------------------------------------------------------ generated programs
UNARY = ["tanh", "exp", "neg", "abs", "sqrt", "log", "sigmoid", "square", "relu"]
BINARY = ["add", "sub", "mul", "max", "min", "div"]
REDUCE = ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]
# Sums have no fixed order natively (vectorised loops, BLAS), and a sum holding
# values near the f32 maximum is then order-dependent: partial sums overflow
# (-inf + inf = NaN in one order, -inf in another) or cancel (the 2,000-program
# run found [5e-22, -3.4e38, -1.94, 3.4e38, 1.86] summing to -0.079 natively and
# 1.86 in order). Programs with a sum get no such values (docs/reliability.md).
SUMS = ("kiln.reduce_sum", "kiln.matmul")


def _t(shape, dtype="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + dtype + ">"


@st.composite
def programs(draw):
    """(IR text, input arrays, values an op refuses are avoided by construction)."""
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    args = [("%a0", shape)]
    lines = []
    cur, cur_shape = "%a0", shape
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "transpose", "reshape", "mm"]))
        new = f"%v{i}"
        if kind == "unary":
            name = draw(st.sampled_from(UNARY))
            lines.append(f"{new} = kiln.{name} {cur} : {_t(cur_shape)}")
        elif kind == "binary":
            # the other operand: the same shape, or a broadcastable suffix with 1s
            n = draw(st.integers(0, len(cur_shape)))
            other = tuple(d if draw(st.booleans()) else 1 for d in cur_shape[len(cur_shape) - n :])
            arg = f"%a{len(args)}"
            args.append((arg, other))
            name = draw(st.sampled_from(BINARY))
            lhs, rhs, ls, rs = cur, arg, cur_shape, other
            if draw(st.booleans()):
                lhs, rhs, ls, rs = rhs, lhs, rs, ls
            lines.append(
                f"{new} = kiln.{name} {lhs}, {rhs} : ({_t(ls)}, {_t(rs)}) -> {_t(cur_shape)}"
            )
        elif kind == "reduce":
            axis = draw(st.integers(0, len(cur_shape) - 1))
            keep = draw(st.booleans()) or len(cur_shape) == 1
            out = (
                tuple(1 if j == axis else d for j, d in enumerate(cur_shape))
                if keep
                else (tuple(d for j, d in enumerate(cur_shape) if j != axis))
            )
            name = draw(st.sampled_from(REDUCE))
            attrs = f"{{axes = [{axis}], keepdims = {'true' if keep else 'false'}}}"
            lines.append(f"{new} = kiln.{name} {cur} {attrs} : ({_t(cur_shape)}) -> {_t(out)}")
            cur_shape_new = out
            lines[-1] = lines[-1]
            cur, cur_shape = new, cur_shape_new
            continue
        elif kind == "transpose":
            perm = draw(st.permutations(range(len(cur_shape))))
            out = tuple(cur_shape[p] for p in perm)
            lines.append(
                f"{new} = kiln.transpose {cur} {{perm = [{', '.join(map(str, perm))}]}} : "
                f"({_t(cur_shape)}) -> {_t(out)}"
            )
            cur, cur_shape = new, out
            continue
        elif kind == "reshape":
            out = (int(np.prod(cur_shape)),)
            lines.append(
                f"{new} = kiln.reshape {cur} {{shape = [{out[0]}]}} : "
                f"({_t(cur_shape)}) -> {_t(out)}"
            )
            cur, cur_shape = new, out
            continue
        else:  # matmul against a new argument
            if len(cur_shape) != 2:
                continue
            n = draw(st.integers(1, 5))
            arg = f"%a{len(args)}"
            args.append((arg, (cur_shape[1], n)))
            out = (cur_shape[0], n)
            lines.append(
                f"{new} = kiln.matmul {cur}, {arg} : ({_t(cur_shape)}, "
                f"{_t((cur_shape[1], n))}) -> {_t(out)}"
            )
            cur, cur_shape = new, out
            continue
        cur = new
    params = ", ".join(f"{a}: {_t(s)}" for a, s in args)
    body = "\n".join(f"  {line}" for line in lines)
    text = (
        f"func @f({params}) -> {_t(cur_shape)} {{\n{body}\n"
        f"  kiln.return {cur} : {_t(cur_shape)}\n}}"
    )
    specials = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-40]
    if not any(op in text for op in SUMS):
        specials += [3.4e38, -3.4e38]
    special = st.sampled_from(specials)
    values = []
    for _, s in args:
        size = int(np.prod(s))
        xs = draw(
            st.lists(st.one_of(st.floats(-4, 4, width=32), special), min_size=size, max_size=size)
        )
        values.append(np.array(xs, np.float32).reshape(s))
    return text, values


def agree(got, want) -> None:
    """Backend and interpreter results match (NaN where the other has NaN)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5, equal_nan=True)


def differential(program) -> None:
    """Run one generated program through the interpreter and the native CPU."""
    from .. import compile as compile_

    text, values = program
    with np.errstate(all="ignore"):
        want = interpret(parse(text), "f", *values)
    got = compile_(parse(text), "f", backend="cpu")(*values)
    for g, w in zip(got, want):
        agree(g, w)


# ------------------------------------------------------------ the run
HANG_SECONDS = 20.0  # one input taking longer than this counts as a hang


class Hang(Exception):
    pass


def _alarm(*_):
    raise Hang


def _interpret_ok(text: str) -> None:
    """A module that parsed runs in the interpreter on zeros of its static
    argument shapes (small ones), or stops with a kiln error."""
    module = parse(text)
    for func in module:
        types = [a.type for a in func.args]
        if not all(getattr(t, "is_static", False) for t in types):
            continue
        if any(int(np.prod(t.shape)) > 1 << 16 for t in types):
            continue
        args = [np.zeros(t.shape, t.dtype.numpy) for t in types]
        with np.errstate(all="ignore"):
            interpret(module, func.name, *args)


def _count_run(name: str, strategy, one, count: int, budget: float) -> dict:
    """Draw from `strategy` until `count` examples or `budget` seconds; tally
    outcomes of `one(example)`: its return value, or the exception kind."""

    tally: dict[str, int] = {}
    failures: list[str] = []
    start = time.monotonic()
    signal.signal(signal.SIGALRM, _alarm)

    @settings(
        max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(strategy)
    def chunk(example):
        if sum(tally.values()) >= count or time.monotonic() - start > budget:
            return
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        try:
            kind = one(example) or "ok"
        except Hang:
            kind = "hang"
        except MemoryError:
            kind = "unbounded_allocation"
        except KilnError:
            kind = "kiln_error"
        except AssertionError as e:
            kind = "disagreement"
            failures.append(f"{e}"[:300] + f"\n{example!r}"[:1500])
        except Exception as e:  # noqa: BLE001 - counting what escapes is the probe
            kind = "uncaught"
            failures.append(f"{type(e).__name__}: {e}"[:300] + f"\n{example!r}"[:1500])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        tally[kind] = tally.get(kind, 0) + 1

    while sum(tally.values()) < count and time.monotonic() - start < budget:
        chunk()
    bad = sum(tally.get(k, 0) for k in ("hang", "unbounded_allocation", "uncaught", "disagreement"))
    return {
        "probe": name,
        "examples": sum(tally.values()),
        "seconds": round(time.monotonic() - start),
        "outcomes": tally,
        "first_failures": failures[:3],
        "ok": bad == 0 and sum(tally.values()) >= count,
    }


def _ir_one(text: str) -> str:
    kind = check(text)
    if kind == "ok":
        _interpret_ok(text)
    return kind


def main(argv: list[str] | None = None) -> int:
    from . import probes

    ap = argparse.ArgumentParser(description="kiln's reliability probes (issue 21)")
    ap.add_argument(
        "--probe",
        default="ir",
        help="ir, programs, memory, threads, kills, checkpoints, cache or all",
    )
    ap.add_argument("--count", type=int, default=None, help="examples (default: the target)")
    ap.add_argument("--budget", type=float, default=None, help="seconds, at most")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided (pip install atheris)")
    args = ap.parse_args(argv)
    if args.atheris:
        return _atheris(args.budget or 60.0)
    budget = args.budget if args.budget is not None else float("inf")
    runs = {
        "ir": lambda n: _count_run("ir", mutated(), _ir_one, n or 10_000, budget),
        "programs": lambda n: _count_run("programs", programs(), differential, n or 2_000, budget),
        "memory": lambda n: probes.memory(n or 10_000),
        "threads": lambda n: probes.threads(n or 100_000),
        "kills": lambda n: probes.kills(n or 100),
        "checkpoints": lambda n: probes.checkpoints(n or 1000),
        "cache": lambda n: probes.cache(n or 300),
    }
    if args.probe == "ir" and args.count is None and args.budget is not None:
        args.count = 10**9  # a time budget alone: IR text until it is spent
    names = list(runs) if args.probe == "all" else args.probe.split(",")
    ok = True
    for name in names:
        if name not in runs:
            ap.error(f"unknown probe {name!r}")
        result = {"probe": name, **runs[name](args.count)}
        print(json.dumps(result), flush=True)
        ok &= bool(result["ok"])
    return 0 if ok else 1


def _instrument(atheris) -> None:
    """Coverage of kiln.ir's code and of lark (its parser) guides the mutations
    (instrument_all takes many minutes: numpy, hypothesis, everything)."""
    import inspect

    from .. import ir

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "lark" and not (name + ".").startswith(ir.__name__ + "."):
            continue
        for obj in list(vars(module).values()):
            if getattr(obj, "__module__", None) != name:
                continue
            functions = [obj] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                functions = [f for f in vars(obj).values() if inspect.isfunction(f)]
            for f in functions:
                atheris.instrument_func(f)


def _atheris(budget: float) -> int:
    import atheris  # optional: not a kiln dependency

    start = time.monotonic()
    counts = {"ok": 0, "error": 0}

    def one(data: bytes) -> None:
        if time.monotonic() - start > budget:
            print(json.dumps({"probe": "atheris", "runs": sum(counts.values()), **counts}))
            sys.stdout.flush()
            os._exit(0)  # libFuzzer would call SystemExit a crash
        counts[check(data.decode("utf-8", "replace"))] += 1

    corpus = tempfile.mkdtemp(prefix="kiln-atheris-")  # the seeds start the corpus
    for i, seed in enumerate(SEEDS):
        Path(corpus, f"seed{i}").write_text(seed)
    _instrument(atheris)
    atheris.Setup([sys.argv[0], corpus], one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
