"""A small rewrite-pattern engine: match an op, build its replacement.

A pattern is a function ``(op, rw) -> None`` registered for op names in a
`Patterns` table. It looks at the op (and at what defines its operands) and,
when it applies, calls ``rw.replace(op, new_value)``; new ops are built with
``rw.b`` (a Builder positioned just before the op). A pattern that does not
apply just returns. For example::

    @CANONICAL.pattern("kiln.mul")
    def mul_by_one(op, rw):
        if splat_value(op.rhs) == 1 and op.lhs.type == op.type:
            rw.replace(op, op.lhs)

`apply_patterns` runs a table to a fixed point over every block of a module,
deleting ops left without uses (when pure).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np

from ..ir import Block, Builder, KilnError, Module, Operation, Value
from .effects import Effects

Pattern = Callable[[Operation, "Rewriter"], None]
ANY_OP = "*"


class Patterns:
    """A named table of rewrite patterns, keyed by the op name they match."""

    def __init__(self, name: str):
        self.name = name
        self.by_op: dict[str, list[Pattern]] = defaultdict(list)

    def pattern(self, *op_names: str) -> Callable[[Pattern], Pattern]:
        """Register a pattern for ops named `op_names` (``"*"`` for every op)."""

        def register(fn: Pattern) -> Pattern:
            for name in op_names or (ANY_OP,):
                self.by_op[name].append(fn)
            return fn

        return register

    def for_op(self, op: Operation) -> list[Pattern]:
        return self.by_op.get(op.name, []) + self.by_op.get(ANY_OP, [])


class Rewriter:
    """What a pattern uses to change the IR around one op."""

    def __init__(self, op: Operation):
        self.op = op
        self.b = Builder.before(op)
        self.replaced = False

    def replace(self, op: Operation, *values: Value) -> None:
        """Make every use of `op`'s results use `values`; the op is then erased."""
        if len(values) != len(op.results):
            raise op.error(f"a rewrite gave {len(values)} values for {len(op.results)} results",
                           KilnError)
        for r, v in zip(op.results, values):
            if r.type != v.type:
                raise op.error(f"a rewrite replaced {r.type} with {v.type}", KilnError)
            if r is not v:
                r.replace_all_uses_with(v)
        self.replaced = True

    def constant(self, value: object, like: Value) -> Value:
        """A constant of `like`'s dtype (a scalar broadcasts in elementwise ops)."""
        return self.b.constant(np.asarray(value, like.type.dtype.numpy), like.type.dtype)


def defining_op(v: Value, name: str | None = None) -> Operation | None:
    """The op that defines `v` (when it is named `name`, if given), else None."""
    owner = getattr(v, "op", None)
    if owner is None or (name is not None and owner.name != name):
        return None
    return owner


def constant_array(v: Value) -> np.ndarray | None:
    """The value of `v` when a kiln.constant defines it."""
    op = defining_op(v, "kiln.constant")
    return None if op is None else op.value.array


def splat_value(v: Value) -> float | int | bool | None:
    """The one value every element of a constant `v` holds, else None (NaN never matches)."""
    array = constant_array(v)
    if array is None or array.size == 0:
        return None
    first = array.flat[0]
    if not np.all(array == first):
        return None
    return first.item()


def blocks(module: Module) -> Iterator[Block]:
    """Every block of the module: function bodies, then blocks nested in ops."""
    for func in module:
        yield func.body
        for op in func.walk():
            for region in op.regions:
                yield from region.blocks


def erase_dead(block: Block, effects: Effects) -> int:
    """Erase pure ops of `block` whose results are unused; returns how many."""
    removed = 0
    for op in reversed(list(block.ops)):
        if op.results and not any(r.uses for r in op.results) and effects.is_pure(op):
            block.erase(op)
            removed += 1
    return removed


def apply_patterns(module: Module, patterns: Patterns, max_sweeps: int = 20) -> dict[str, int]:
    """Apply `patterns` to every op until none applies (or `max_sweeps` passes)."""
    effects = Effects(module)
    rewrites = removed = 0
    for _ in range(max_sweeps):
        changed = False
        for block in list(blocks(module)):
            for op in list(block.ops):
                if op.parent is not block:
                    continue  # erased by an earlier rewrite in this sweep
                for pattern in patterns.for_op(op):
                    rw = Rewriter(op)
                    pattern(op, rw)
                    if rw.replaced:
                        rewrites += 1
                        changed = True
                        if not any(r.uses for r in op.results) and effects.is_pure(op):
                            block.erase(op)
                        break
            removed += erase_dead(block, effects)
        if not changed:
            break
    return {"rewrites": rewrites, "ops removed": removed}
