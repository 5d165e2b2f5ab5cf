"""fold: constant folding through the reference interpreter.

A pure op whose operands are all constants is run by the reference
interpreter (one folding path: the op's own `reference`, so folding can
never disagree with execution) and replaced by a kiln.constant. Results with
more than `max_elements` elements are left alone so a huge constant is never
materialised, and ops without operands (iota, random) stay as they are:
generating them is cheaper than storing them. An op whose evaluation fails
(an integer division by zero) is left for run time to report.
"""

from __future__ import annotations

import math

from ..ir import Builder, Interpreter, KilnError, Module, Operation
from ..ir.attributes import Dense
from .effects import Effects
from .manager import register_pass
from .rewrite import blocks, constant_array, erase_dead

DEFAULT_MAX_ELEMENTS = 1 << 16


def _foldable(op: Operation, effects: Effects, max_elements: int) -> bool:
    if op.name == "kiln.constant" or not op.operands or op.regions or not op.results:
        return False
    if any(constant_array(v) is None for v in op.operands) or not effects.is_pure(op):
        return False
    return all(r.type.is_static and math.prod(r.type.shape) <= max_elements for r in op.results)


@register_pass("fold")
def fold(module: Module, max_elements: int = DEFAULT_MAX_ELEMENTS) -> dict[str, int]:
    """Replace ops on constants by their values (results up to `max_elements`)."""
    effects, interpreter = Effects(module), Interpreter(module)
    folded = removed = 0
    for block in list(blocks(module)):
        for op in list(block.ops):
            if not _foldable(op, effects, max_elements):
                continue
            try:
                values = interpreter.evaluate_op(op, [constant_array(v) for v in op.operands])
            except KilnError:
                continue
            b = Builder.before(op)
            for r, value in zip(op.results, values):
                new = b.create("kiln.constant", value=Dense(value, r.type)).result
                new.name = r.name
                r.replace_all_uses_with(new)
            block.erase(op)
            folded += 1
        removed += erase_dead(block, effects)
    return {"ops folded": folded, "ops removed": removed}
