"""cse: common-subexpression elimination.

Two pure ops with the same name, operands (in either order, for a
commutative op), attributes and result types compute the same values; the
later one is replaced by the earlier. Ops with side effects and ops with
regions are never merged. Works per block, in order, so the op kept always
dominates the one removed.
"""

from __future__ import annotations

from collections.abc import Hashable

from ..ir import Module, Operation, Trait
from .effects import Effects
from .manager import register_pass
from .rewrite import blocks


def _key(op: Operation) -> Hashable:
    operands = [id(v) for v in op.operands]
    if op.has_trait(Trait.COMMUTATIVE):
        operands.sort()
    attrs = tuple(sorted(op.attrs.items()))
    return (op.name, tuple(operands), attrs, tuple(r.type for r in op.results))


@register_pass("cse")
def cse(module: Module) -> dict[str, int]:
    """Merge identical pure ops."""
    effects = Effects(module)
    merged = 0
    for block in list(blocks(module)):
        seen: dict[Hashable, Operation] = {}
        for op in list(block.ops):
            if op.regions or not op.results or not effects.is_pure(op):
                continue
            key = _key(op)
            first = seen.setdefault(key, op)
            if first is op:
                continue
            for old, new in zip(op.results, first.results):
                old.replace_all_uses_with(new)
            block.erase(op)
            merged += 1
    return {"ops merged": merged}
