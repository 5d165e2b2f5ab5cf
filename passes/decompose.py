"""decompose: composite ops (softmax, losses, norms, mean, ...) to primitives.

Each composite op says how it decomposes, beside its declaration
(`Operation.decompose`); this pass is one rewrite pattern that asks every
op. Decompositions may produce other composites; the pattern engine runs to
a fixed point, so those decompose too.
"""

from __future__ import annotations

from ..ir import Module, Operation
from .manager import register_pass
from .rewrite import Patterns, Rewriter, apply_patterns

DECOMPOSITIONS = Patterns("decompose")


@DECOMPOSITIONS.pattern("*")
def decompose_composite(op: Operation, rw: Rewriter) -> None:
    out = op.decompose(rw.b)
    if out is not None:
        rw.replace(op, *(out if isinstance(out, (list, tuple)) else [out]))


@register_pass("decompose")
def decompose(module: Module) -> dict[str, int]:
    """Replace every composite op by the primitives it is made of."""
    stats = apply_patterns(module, DECOMPOSITIONS)
    return {"ops decomposed": stats["rewrites"], "ops removed": stats["ops removed"]}
