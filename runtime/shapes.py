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
CONTROL = ("kiln.if", "kiln.while", "kiln.scan")


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


def _region(block: Block, arg_shapes, shapes: dict[Value, Shape]) -> list[Shape]:
    """Bind a region's arguments, walk it, return its yields' shapes."""
    for a, s in zip(block.args, arg_shapes):
        shapes[a] = tuple(s)
    _block(block, shapes)
    return [shapes[v] for v in block.terminator.operands]


def _results(op: Operation, shapes: dict[Value, Shape]) -> list[Shape]:
    if op.name == "kiln.fused":
        return _region(op.body, [shapes[v] for v in op.operands], shapes)
    if op.name in CONTROL:
        return _control(op, [shapes[v] for v in op.operands], shapes)
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


def _control(op: Operation, operands: list[Shape], shapes: dict[Value, Shape]) -> list[Shape]:
    """A region op's results: its regions walked once on the operands' shapes.
    A loop's carried values must keep their shapes from trip to trip (then one
    walk holds for every trip) and both branches of an if must agree."""
    if op.name == "kiln.if":
        then = _region(op.regions[0].blocks[0], operands[1:], shapes)
        other = _region(op.regions[1].blocks[0], operands[1:], shapes)
        if then != other:
            raise op.error(
                f"its branches yield shapes {[list(s) for s in then]} and "
                f"{[list(s) for s in other]} for these arguments",
                ExecutionError,
            )
        return then
    if op.name == "kiln.while":
        _region(op.regions[0].blocks[0], operands, shapes)
        _carried(op, operands, _region(op.regions[1].blocks[0], operands, shapes))
        return operands
    n = op.num_carried
    xs = operands[n:]
    length = xs[0][0]
    for k, s in enumerate(xs[1:], 1):
        if s[0] != length:
            raise op.error(f"xs {k} has length {s[0]}, xs 0 has {length}", ExecutionError)
    out = _region(op.body, [*operands[:n], *(s[1:] for s in xs)], shapes)
    _carried(op, operands[:n], out[:n])
    return [*operands[:n], *((length, *s) for s in out[n:])]


def _carried(op: Operation, before: list[Shape], after: list[Shape]) -> None:
    for k, (s, t) in enumerate(zip(before, after)):
        if tuple(s) != tuple(t):
            raise op.error(
                f"carried value {k} changes shape from {list(s)} to {list(t)} in one trip; "
                "native loops need the same shape on every trip",
                ExecutionError,
            )
