"""dce: dead-code elimination. Drops pure ops whose results nobody uses;
an op with a side effect (kiln.print, a call of a function that has one)
stays even when its results are unused."""

from __future__ import annotations

from ..ir import Module
from .effects import Effects
from .manager import register_pass
from .rewrite import blocks, erase_dead


@register_pass("dce")
def dce(module: Module) -> dict[str, int]:
    """Remove unused pure ops, innermost blocks first, until none is left."""
    effects = Effects(module)
    removed = 0
    for block in reversed(list(blocks(module))):
        removed += erase_dead(block, effects)
    return {"ops removed": removed}
