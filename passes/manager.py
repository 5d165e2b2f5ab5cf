"""The pass manager: passes registered by name, pipelines from strings.

A pass is a function ``(module, **options) -> statistics`` that transforms
the module in place and returns counts (ops folded, ops removed, kernels
formed, ...). Register one with `@register_pass("name")`; run a pipeline
with `run_pipeline(module, "decompose,canonicalize,fold{max_elements=64}")`.
As in `mlir-opt`: the verifier runs after every pass (on by default), the IR
can be printed after every pass or after chosen ones, and every run records
each pass's time and statistics in a `PipelineReport`.

`KILN_DEBUG=2` (or more) in the environment prints the IR after every pass to
stderr (ir/debug.py).
"""

from __future__ import annotations

import inspect
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..ir import KilnError, Module, VerifyError, debug

PassFunction = Callable[..., dict[str, int] | None]

PASSES: dict[str, PassFunction] = {}

# The default optimisation pipeline (docs/passes.md says why this order).
DEFAULT_PIPELINE = "decompose,canonicalize,fold,cse,licm,scan-hoist,dce,split-reductions,fuse,plan"


def register_pass(name: str) -> Callable[[PassFunction], PassFunction]:
    """Register `fn(module, **options) -> stats` as the pass `name`."""

    def register(fn: PassFunction) -> PassFunction:
        if name in PASSES:
            raise KilnError(f"pass {name!r} is registered twice")
        PASSES[name] = fn
        fn.pass_name = name  # type: ignore[attr-defined]
        return fn

    return register


@dataclass
class PassStep:
    """One pass of a pipeline with its options, e.g. ``fold{max_elements=64}``."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.options:
            return self.name
        return self.name + "{" + ",".join(f"{k}={v}" for k, v in self.options.items()) + "}"


_STEP = re.compile(r"\s*([A-Za-z_][\w-]*)\s*(?:\{([^}]*)\})?\s*(?:,|$)")


def parse_pipeline(text: str) -> list[PassStep]:
    """``"canonicalize,fold{max_elements=64},dce"`` -> the steps, checked by name."""
    steps, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m or m.end() == pos:
            raise KilnError(
                f"bad pipeline {text!r} at column {pos + 1}: expected a pass name "
                "like 'fold' or 'fold{max_elements=64}'"
            )
        name, options = m.group(1), m.group(2)
        if name not in PASSES:
            raise KilnError(f"unknown pass {name!r} (known: {', '.join(sorted(PASSES))})")
        steps.append(PassStep(name, _parse_options(name, options or "")))
        pos = m.end()
    return steps


def _parse_options(name: str, text: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    accepted = inspect.signature(PASSES[name]).parameters
    for item in filter(None, (s.strip() for s in re.split(r"[ ,]+(?=[\w-]+=)", text))):
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in accepted or key == "module":
            takes = ", ".join(k for k in accepted if k != "module") or "no options"
            raise KilnError(f"pass {name}: bad option {item!r} (it takes: {takes})")
        options[key] = _option_value(value.strip())
    return options


def _option_value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


@dataclass
class PassRecord:
    """What one pass did: its time and statistics."""

    step: PassStep
    seconds: float
    stats: dict[str, int]


@dataclass
class PipelineReport:
    """Per-pass timing and statistics of one pipeline run."""

    records: list[PassRecord] = field(default_factory=list)

    def stat(self, name: str) -> int:
        """A statistic summed over the passes, e.g. ``report.stat("kernels")``."""
        return sum(r.stats.get(name, 0) for r in self.records)

    def __str__(self) -> str:
        total = sum(r.seconds for r in self.records) or 1e-12
        lines = ["pass               time (ms)      %   statistics"]
        for r in self.records:
            stats = ", ".join(f"{k}={v}" for k, v in r.stats.items())
            lines.append(
                f"{str(r.step):<18} {r.seconds * 1e3:9.2f} {100 * r.seconds / total:6.1f}   {stats}"
            )
        lines.append(f"{'total':<18} {total * 1e3:9.2f}")
        return "\n".join(lines)


class PassManager:
    """Runs a pipeline of passes over a module.

    verify_each: run the verifier after every pass (a pass that breaks an
        invariant is named in the error).
    print_after: pass names after which to print the IR, or "all".
    out: where printed IR goes (stderr by default, as mlir-opt).
    """

    def __init__(
        self,
        pipeline: str | Iterable[PassStep] = DEFAULT_PIPELINE,
        verify_each: bool = True,
        print_after: Iterable[str] | str = (),
        out: TextIO | None = None,
    ):
        self.steps = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
        self.verify_each = verify_each
        if debug.level() >= debug.FORMS and not print_after:
            print_after = "all"
        self.print_after = print_after if print_after == "all" else set(print_after)
        for name in () if print_after == "all" else self.print_after:
            if name not in PASSES:
                raise KilnError(f"--print-ir-after: unknown pass {name!r}")
        self.out = out

    def run(self, module: Module) -> PipelineReport:
        report = PipelineReport()
        for step in self.steps:
            start = time.perf_counter()
            stats = PASSES[step.name](module, **step.options) or {}
            report.records.append(PassRecord(step, time.perf_counter() - start, dict(stats)))
            if self.verify_each:
                try:
                    module.verify()
                except VerifyError as e:
                    raise VerifyError(f"after pass {step}: {e}") from None
            if self.print_after == "all" or step.name in self.print_after:
                out = self.out or sys.stderr
                out.write(f"// ----- IR after {step} -----\n{module}")
        return report


def run_pipeline(
    module: Module, pipeline: str = DEFAULT_PIPELINE, **options: Any
) -> PipelineReport:
    """Run `pipeline` over `module` in place; options as `PassManager`'s."""
    return PassManager(pipeline, **options).run(module)
