"""split-reductions: a full reduction of a large tensor as two, so that both
cores share it.

A kernel splits its outer loop across threads (runtime/parallel.py); a
reduction of every element to one value has no outer loop to split. This
pass rewrites

    %y = kiln.reduce_sum(f(%x, ...))              # x: n elements, all reduced

into a reduction of each of P rows of n / P elements, then of the P partial
values:

    %r = kiln.reshape %x {shape = [P, n/P]}        # a view: costs nothing
    %p = kiln.reduce_sum(f(%r, ...)) {axes = [1]}  # one row kernel, P rows in parallel
    %y = kiln.reduce_sum %p                        # P values

The elementwise ops computing the reduced value (`f`, fused with the
reduction into one kernel) are rebuilt on the reshaped operands, which is
why only a cone of elementwise ops used by nothing else qualifies, whose
other operands are the full tensor (reshaped too) or scalars. P is the
largest of `parts`, `parts` / 2, ... >= 2 that divides n; n must be static
and at least `min_elements`. Sums and products change their order of
evaluation (the partial sums make a float sum more accurate, not less);
max and min are exact.
"""

from __future__ import annotations

import math

from ..ir import Builder, Module, Operation, Trait, Value
from ..ir.ops.reduce import Reduce
from .effects import Effects
from .manager import register_pass
from .rewrite import blocks, erase_dead

SPLIT_KINDS = {"kiln.reduce_sum", "kiln.reduce_max", "kiln.reduce_min", "kiln.reduce_prod"}


@register_pass("split-reductions")
def split_reductions(
    module: Module, min_elements: int = 1 << 20, parts: int = 64
) -> dict[str, int]:
    """Split full reductions of at least `min_elements` into `parts` rows."""
    split = 0
    effects = Effects(module)
    for block in list(blocks(module)):
        ops = list(block.ops)
        # program order of the block's ops, once: a split inserts ops but never
        # reorders these, so the cones of later reductions sort by it too
        position = {op: i for i, op in enumerate(ops)}
        for op in ops:
            if op.name in SPLIT_KINDS and _split(op, int(min_elements), int(parts), position):
                split += 1
        erase_dead(block, effects)
    return {"reductions split": split}


def _split(op: Reduce, min_elements: int, parts: int, position: dict[Operation, int]) -> bool:
    x = op.operands[0]
    shape = x.type.shape
    if not all(isinstance(d, int) for d in shape) or len(op.reduced_axes(len(shape))) != len(shape):
        return False
    n = math.prod(shape)
    rows = next((p for p in _halvings(parts) if n % p == 0), None)
    if n < min_elements or rows is None:
        return False
    cone = _cone(x, op, position)
    if cone is None:
        return False
    b = Builder.before(op)
    b.loc = op.loc
    new: dict[Value, Value] = {}

    def rebuilt(v: Value) -> Value:
        if v in new:
            return new[v]
        if tuple(v.type.shape) == tuple(shape):
            new[v] = b.reshape(v, shape=[rows, n // rows])
            return new[v]
        return v  # a scalar, broadcast as before

    for producer in cone:
        operands = [rebuilt(v) for v in producer.operands]
        attrs = {k: v for k, v in producer.attrs.items() if k in producer.attr_specs}
        new[producer.result] = b.create(producer.name, *operands, **attrs).result
    partial = b.create(op.name, rebuilt(x), axes=[1]).result
    total = b.create(op.name, partial).result
    if total.type != op.result.type:  # keepdims: all ones
        total = b.reshape(total, shape=list(op.result.type.shape))
    op.result.replace_all_uses_with(total)
    return True


def _halvings(parts: int):
    while parts >= 2:
        yield parts
        parts //= 2


def _cone(x: Value, reduction: Operation, position: dict[Operation, int]) -> list[Operation] | None:
    """The elementwise ops computing `x` that nothing but the cone and the
    reduction uses, in program order; None when an operand of the cone is
    neither the full shape nor a scalar (it would not reshape)."""
    shape = tuple(x.type.shape)
    inside: set[Operation] = set()
    stack = [x]
    while stack:
        v = stack.pop()
        producer = getattr(v, "op", None)
        if (
            producer is None
            or producer in inside
            or tuple(v.type.shape) != shape
            or not producer.has_trait(Trait.ELEMENTWISE)
            or len(producer.results) != 1
        ):
            continue
        if not set(v.uses) <= ({reduction} if v is x else inside | {reduction}):
            continue  # needed elsewhere too: a leaf, reshaped as it is
        inside.add(producer)
        stack.extend(producer.operands)
    for op in inside:
        for v in op.operands:
            if v.type.rank != 0 and tuple(v.type.shape) != shape:
                return None
    return sorted(inside, key=position.__getitem__)
