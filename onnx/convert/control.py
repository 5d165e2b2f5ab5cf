"""Converters of ONNX's control flow: If, Loop and Scan onto kiln.if,
kiln.while and kiln.scan, their subgraphs imported as the ops' regions.

kiln's regions are isolated from above, ONNX's subgraphs are not: a subgraph
may use any value of an enclosing graph. Those values (found by `free_names`,
through nested subgraphs too) come into the region explicitly: one known at
import (a weight, a shape) as a constant built inside the region, any other as
an operand of the region op (for a loop: a carried value that the body passes
through unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...ir.builder import Builder
from ...ir.control_flow import build_scan
from ...ir.core import Value
from . import Context

Captured = Sequence[Value]


def scan_with(
    ctx: Context,
    init: Sequence[Value],
    xs: Sequence[Value],
    captured: Captured,
    body: Callable,
    reverse: bool = False,
) -> tuple[list[Value], list[Value]]:
    """build_scan with the outer values `captured` available in the body:
    `body(bb, carried, slices, inner)` (inner: the captured values as the body
    sees them) returns (next carried values, step outputs). Returns (the final
    carried values, the stacked outputs)."""
    known = [ctx.value_of(v) for v in captured]
    passed = [v for v, k in zip(captured, known) if k is None]
    n, p = len(init), len(passed)

    def region(bb: Builder, *args: Value) -> list[Value]:
        carried, through, slices = args[:n], args[n : n + p], args[n + p :]
        it = iter(through)
        inner = [
            next(it) if k is None else bb.constant(k.astype(v.type.dtype.numpy), v.type.dtype)
            for v, k in zip(captured, known)
        ]
        new, outs = body(bb, list(carried), list(slices), inner)
        return [*new, *through, *outs]

    results = build_scan(ctx.b, [*init, *passed], list(xs), region, reverse=reverse)
    return results[:n], results[n + p :]
