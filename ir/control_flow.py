"""Building the control-flow region ops (kiln.if, kiln.while, kiln.scan).

    (y,) = build_if(b, pred, [x], lambda b, x: [b.neg(x)], lambda b, x: [x])
    i, acc = build_while(b, [i0, acc0], cond_fn, body_fn, max_iterations=100)
    h, ys = build_scan(b, [h0], [xs], lambda b, h, x: [h2 := b.tanh(b.add(h, x)), h2])

Regions are isolated from above: a region sees only its block arguments,
so everything a branch or body uses is passed in as an operand (as
jax.lax.cond does). Each `*_fn(b, *block_args)` builds the region's body
with the Builder it is given and returns the values to yield; the
kiln.yield is added here. A mismatch (branches of different types, a body
that changes a carried value's type) is a VerifyError naming the op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .builder import Builder
from .core import Block, Region, Value
from .errors import KilnError
from .types import TensorType

RegionFn = Callable[..., Sequence[Value]]


def _region(fn: RegionFn, arg_types: Sequence[TensorType], loc) -> Region:
    block = Block(arg_types)
    b = Builder.at_end(block)
    b.loc = loc
    out = fn(b, *block.args)
    if isinstance(out, Value):
        out = [out]
    out = list(out if out is not None else [])
    for k, v in enumerate(out):
        if not isinstance(v, Value):
            raise KilnError(f"a region function returned {v!r} (position {k}), not a kiln Value")
    b.create("kiln.yield", *out)
    return Region([block])


def build_if(
    b: Builder, pred: Value, operands: Sequence[Value], then_fn: RegionFn, else_fn: RegionFn
) -> list[Value]:
    """kiln.if: `then_fn` or `else_fn` applied to `operands`, as `pred` (a bool scalar) says."""
    types = [v.type for v in operands]
    regions = [_region(then_fn, types, b.loc), _region(else_fn, types, b.loc)]
    return list(b.create("kiln.if", pred, *operands, regions=regions).results)


def build_while(
    b: Builder,
    init: Sequence[Value],
    cond_fn: RegionFn,
    body_fn: RegionFn,
    max_iterations: int = -1,
) -> list[Value]:
    """kiln.while: carried values start at `init`; while `cond_fn` gives true,
    `body_fn` gives their next values. Returns the final values."""
    types = [v.type for v in init]
    regions = [_region(cond_fn, types, b.loc), _region(body_fn, types, b.loc)]
    op = b.create("kiln.while", *init, regions=regions, max_iterations=max_iterations)
    return list(op.results)


def build_scan(
    b: Builder,
    init: Sequence[Value],
    xs: Sequence[Value],
    body_fn: RegionFn,
    reverse: bool = False,
) -> list[Value]:
    """kiln.scan over the leading dim of `xs`: `body_fn(b, *carried, *slices)`
    returns the next carried values then the step's outputs. Returns the final
    carried values, then each output stacked over the steps."""
    if not xs:
        raise KilnError("build_scan: needs at least one xs (its leading dim is the trip count)")
    for k, x in enumerate(xs):
        if x.type.rank == 0:
            raise KilnError(f"build_scan: xs {k} is a scalar ({x.type}); it needs a leading dim")
    types = [v.type for v in init] + [x.type.with_shape(x.type.shape[1:]) for x in xs]
    regions = [_region(body_fn, types, b.loc)]
    op = b.create("kiln.scan", *init, *xs, regions=regions, num_carried=len(init), reverse=reverse)
    return list(op.results)
