"""licm: loop-invariant code motion out of kiln.while and kiln.scan bodies.

Regions are isolated from above, so an outer value reaches a loop body only
as a carried value, and a carried value is invariant when the body yields
its own block argument back unchanged (a weight a frontend passes into the
loop). A pure op of the body (no regions) whose operands are invariant
arguments, results of ops hoisted already, or constants, and that uses at
least one of the first two, computes the same on every trip: it moves in
front of the loop (on the carried values' initial values) and its result
comes in as a new invariant carried value. Constants alone stay in the body,
where the canonical patterns and kernels see them; an op hoisted copies the
constants it uses.
"""

from __future__ import annotations

from ..ir import Block, Builder, Module, Operation, Region, Value
from .effects import Effects
from .manager import register_pass
from .rewrite import blocks, copy_op


def _loop_body(op: Operation) -> tuple[Block, int] | None:
    """The body block and how many carried values it has, for a loop op."""
    if op.name == "kiln.while":
        return op.body_block, len(op.operands)
    if op.name == "kiln.scan":
        return op.body, op.num_carried
    return None


def _hoist(loop: Operation, effects: Effects) -> int:
    body, n = _loop_body(loop)
    end = body.terminator
    invariant = {
        body.args[k]: loop.operands[k] for k in range(n) if end.operands[k] is body.args[k]
    }
    if not invariant:
        return 0
    outside: dict[Value, Value] = dict(invariant)  # body value -> its value before the loop
    constants = {r for op in body.ops if op.name == "kiln.constant" for r in op.results}
    b = Builder.before(loop)
    moved = []
    for op in list(body.ops)[:-1]:
        if op.regions or not op.results or not effects.is_pure(op) or op.name == "kiln.constant":
            continue
        ins = op.operands
        if not all(v in outside or v in constants for v in ins):
            continue
        if not any(v in outside for v in ins):
            continue
        for v in ins:
            if v not in outside:  # a constant: copied in front of the loop
                b.insert(copy_op(v.op, outside))
        b.insert(copy_op(op, outside))
        moved.append(op)
    if not moved:
        return 0
    # the moved ops' results still used in the body come in as carried values
    needed = [r for op in moved for r in op.results if any(u not in moved for u in r.uses)]
    add_carried(loop, [outside[r] for r in needed], needed)
    for op in reversed(moved):
        op.parent.erase(op)
    return len(moved)


def add_carried(loop: Operation, values: list[Value], inner: list[Value]) -> None:
    """Rebuild `loop` with `values` as extra invariant carried values, whose
    block arguments stand for the body values `inner`."""
    if not values:
        return
    body, n = _loop_body(loop)
    extra = [v.type for v in values]
    regions = []
    for region in loop.regions:
        old = region.blocks[0]
        types = [a.type for a in old.args]
        new = Block(types[:n] + extra + types[n:], [a.name for a in old.args[:n]])
        for a, b in zip(old.args, new.args[:n] + new.args[n + len(extra) :]):
            a.replace_all_uses_with(b)
        if old is body:
            for v, arg in zip(inner, new.args[n : n + len(extra)]):
                v.replace_all_uses_with(arg)
        for op in list(old.ops):
            old.detach(op)
            new.append(op)
        end = new.terminator
        if old is body:  # yield the new carried values back unchanged
            yielded = list(end.operands)
            end.drop_operands()
            new.erase(end)
            Builder.at_end(new).create(
                "kiln.yield", *yielded[:n], *new.args[n : n + len(extra)], *yielded[n:]
            )
        regions.append(Region([new]))
    ops = list(loop.operands)
    attrs = dict(loop.attrs)
    if loop.name == "kiln.scan":
        attrs["num_carried"] = n + len(extra)
    rebuilt = Builder.before(loop).create(
        loop.name, *ops[:n], *values, *ops[n:], regions=regions, loc=loop.loc, **attrs
    )
    results = rebuilt.results[:n] + rebuilt.results[n + len(extra) :]
    for old, new in zip(loop.results, results):
        new.name = old.name
        old.replace_all_uses_with(new)
    loop.parent.erase(loop)


@register_pass("licm")
def licm(module: Module) -> dict[str, int]:
    """Hoist loop-invariant ops out of kiln.while / kiln.scan bodies (innermost first)."""
    effects = Effects(module)
    hoisted = 0
    for block in reversed(list(blocks(module))):
        for op in list(block.ops):
            if _loop_body(op) is not None:
                hoisted += _hoist(op, effects)
    return {"ops hoisted": hoisted}
