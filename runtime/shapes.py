"""Concrete shapes: every value's shape for one call's argument shapes.

The IR's types may hold symbols (`?`, `N`); a call binds them. Running each
op's own type rule on the concrete operand types gives concrete results
(through the region of a kiln.fused op), so shape logic stays in the op
declarations. Done once per new set of argument shapes (the runtime caches
it), never per call.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ir import Block, ExecutionError, Function, KilnError, Operation, TensorType, Value

Shape = tuple[int, ...]


def concrete_shapes(func: Function, arg_shapes: Sequence[Shape]) -> dict[Value, Shape]:
    """The shape of every value of `func` (top level and in regions)."""
    shapes: dict[Value, Shape] = dict(zip(func.args, (tuple(s) for s in arg_shapes)))
    _block(func.body, shapes)
    return shapes


def _block(block: Block, shapes: dict[Value, Shape]) -> None:
    for op in block.ops:
        if op.results:
            for r, s in zip(op.results, _results(op, shapes)):
                shapes[r] = s


def _results(op: Operation, shapes: dict[Value, Shape]) -> list[Shape]:
    if op.name == "kiln.fused":
        inner = op.body
        for a, v in zip(inner.args, op.operands):
            shapes[a] = shapes[v]
        _block(inner, shapes)
        return [shapes[v] for v in inner.terminator.operands]
    if all(r.type.is_static for r in op.results):
        return [tuple(r.type.shape) for r in op.results]
    stand_ins = [Value(TensorType(v.type.dtype, shapes[v])) for v in op.operands]
    try:
        trial = type(op)(stand_ins, {k: v for k, v in op.attrs.items() if k in op.attr_specs})
    except KilnError as e:
        raise op.error(f"does not fit the argument shapes: {e}", ExecutionError) from None
    out = [tuple(r.type.shape) for r in trial.results]
    trial.drop_operands()
    for s in out:
        if not all(isinstance(d, int) for d in s):
            raise op.error(
                f"result shape {s} is not known from the arguments' shapes", ExecutionError
            )
    return out
