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
deleting ops left without uses (when pure), driven by one worklist: an op is
visited again only when something around it changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np

from ..ir import Block, Builder, KilnError, Module, Operation, Region, Value
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


class RecordingBuilder(Builder):
    """A Builder before an op that remembers the ops it creates (the driver
    visits them next)."""

    def __init__(self, op: Operation, created: list[Operation]):
        super().__init__(op.parent, op, op.loc)
        self.created = created

    def insert(self, op: Operation) -> Operation:
        self.created.append(op)
        return super().insert(op)


class Rewriter:
    """What a pattern uses to change the IR around one op.

    ``rw.b`` is a Builder positioned just before the op, made on first use:
    most pattern tries build nothing."""

    def __init__(self, op: Operation):
        self.op = op
        self.replaced = False
        self.created: list[Operation] = []
        self.values: tuple[Value, ...] = ()
        self._builder: Builder | None = None

    @property
    def b(self) -> Builder:
        if self._builder is None:
            self._builder = RecordingBuilder(self.op, self.created)
        return self._builder

    def replace(self, op: Operation, *values: Value) -> None:
        """Make every use of `op`'s results use `values`; the op is then erased."""
        if len(values) != len(op.results):
            raise op.error(
                f"a rewrite gave {len(values)} values for {len(op.results)} results", KilnError
            )
        for r, v in zip(op.results, values):
            if r.type != v.type:
                raise op.error(f"a rewrite replaced {r.type} with {v.type}", KilnError)
            if r is not v:
                r.replace_all_uses_with(v)
        self.replaced = True
        self.values = values

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
    # strides all 0: one element broadcast, no need to compare its copies (NaN aside)
    if (any(array.strides) or first != first) and not np.all(array == first):
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
    """Erase pure ops of `block` whose results are unused; returns how many.
    One sweep from the end, so a dead chain goes at once."""
    removed = 0
    for op in reversed(list(block.ops)):
        if _dead(op, effects):
            block.erase(op)
            removed += 1
    return removed


def _dead(op: Operation, effects: Effects) -> bool:
    return bool(op.results) and not any(r.uses for r in op.results) and effects.is_pure(op)


class Worklist:
    """Ops waiting to be visited: a stack without duplicates, seeded in
    program order (so the first visits go top-down, as MLIR's greedy driver)."""

    def __init__(self, ops: list[Operation]):
        self.stack = list(reversed(ops))
        self.waiting = set(self.stack)

    def push(self, op: Operation) -> None:
        if op not in self.waiting:
            self.waiting.add(op)
            self.stack.append(op)

    def pop(self) -> Operation | None:
        while self.stack:
            op = self.stack.pop()
            self.waiting.discard(op)
            if op.parent is not None:  # not erased since it was pushed
                return op
        return None

    def push_dead_producers(self, operands: list[Value]) -> None:
        """The ops defining `operands` that have lost their last use (after the op
        using them was erased); so a dead chain goes, one visit per op."""
        for v in operands:
            owner = getattr(v, "op", None)
            if owner is not None and not any(r.uses for r in owner.results):
                self.push(owner)


def _erase(op: Operation, work: Worklist) -> None:
    operands = list(op.operands)
    op.parent.erase(op)
    work.push_dead_producers(operands)


def apply_patterns(
    module: Module, patterns: Patterns, visits: dict[Operation, int] | None = None
) -> dict[str, int]:
    """Apply `patterns` until none applies, erasing pure ops left unused.

    One worklist drives it (as MLIR's greedy rewrite driver): every op is
    visited once, and again only when something around it changed: the ops a
    rewrite built, the users of the values it substituted, and the producers
    an erased op leaves without uses (dead now). So a pass costs
    O(ops x patterns per op), not a sweep of the whole module per change.
    `visits`, when given, counts the visits per op (for tests)."""
    effects = Effects(module)
    work = Worklist([op for block in list(blocks(module)) for op in block.ops])
    rewrites = removed = 0
    limit = 10 * len(work.stack) + 1000  # a pattern that undoes another would loop
    while (op := work.pop()) is not None:
        if visits is not None:
            visits[op] = visits.get(op, 0) + 1
        if _dead(op, effects):
            _erase(op, work)
            removed += 1
            continue
        for pattern in patterns.for_op(op):
            rw = Rewriter(op)
            pattern(op, rw)
            for new in rw.created:
                work.push(new)
            if not rw.replaced:
                continue
            rewrites += 1
            if rewrites > limit:
                raise op.error(
                    f"the {patterns.name} patterns do not reach a fixed point "
                    f"(over {limit} rewrites)",
                    KilnError,
                )
            for new_value in rw.values:  # their users now read the replacements
                for user in new_value.uses:
                    work.push(user)
            if _dead(op, effects):
                _erase(op, work)
            break
    return {"rewrites": rewrites, "ops removed": removed}


def inline_block(b: Builder, block: Block, args: list[Value]) -> list[Value]:
    """Copy `block`'s ops (its terminator excepted) with `b`, its arguments bound
    to `args`; returns the values its terminator yields (for inlining a region)."""
    mapping: dict[Value, Value] = dict(zip(block.args, args))
    for op in block.ops[:-1]:
        b.insert(copy_op(op, mapping))
    return [mapping[v] for v in block.terminator.operands]


def copy_op(op: Operation, mapping: dict[Value, Value]) -> Operation:
    """A copy of `op`, in no block, on `mapping`'s values for its operands; its
    results (and the values of its regions) are added to `mapping`."""
    regions = []
    for region in op.regions:
        new = Region()
        for block in region.blocks:
            inner = new.add_block(Block([a.type for a in block.args], [a.name for a in block.args]))
            mapping.update(zip(block.args, inner.args))
            for nested in block.ops:
                inner.append(copy_op(nested, mapping))
        regions.append(new)
    copy = type(op)(
        [mapping[v] for v in op.operands],
        dict(op.attrs),
        [r.type for r in op.results],
        regions,
        op.loc,
    )
    for old, new_value in zip(op.results, copy.results):
        new_value.name = old.name
        mapping[old] = new_value
    return copy


def same_body(a: Block, b: Block, mapping: dict[Value, Value] | None = None) -> bool:
    """Whether block `b` computes what block `a` does: the same ops in order
    (names, attributes, result types, operands up to `mapping`, regions alike),
    and its terminator's operands start with those of `a`'s (it may yield more)."""
    mapping = dict(mapping or {})
    if [x.type for x in a.args] != [y.type for y in b.args] or len(a) != len(b):
        return False
    mapping.update(zip(a.args, b.args))
    for x, y in zip(a.ops, b.ops):
        if x.name != y.name or len(x.regions) != len(y.regions):
            return False
        if [mapping.get(v) for v in x.operands] != y.operands[: len(x.operands)]:
            return False
        if x is a.last:
            return True  # the terminator: b may yield more
        if (
            len(x.operands) != len(y.operands)
            or x.attrs != y.attrs
            or [r.type for r in x.results] != [r.type for r in y.results]
        ):
            return False
        for rx, ry in zip(x.regions, y.regions):
            if len(rx.blocks) != 1 or len(ry.blocks) != 1:
                return False
            if not same_body(rx.blocks[0], ry.blocks[0], mapping):
                return False
            inner_x, inner_y = rx.blocks[0].last, ry.blocks[0].last
            if len(inner_x.operands) != len(inner_y.operands):
                return False
        mapping.update(zip(x.results, y.results))
    return True
