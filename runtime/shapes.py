"""Concrete shapes: every value's shape for one call's argument shapes.

The IR's types may hold symbols (`?`, `N`); a call binds them. Running each
op's own type rule on the concrete operand types gives concrete results
(through the region of a kiln.fused op), so shape logic stays in the op
declarations. Done once per new set of argument shapes (the runtime caches
it), never per call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

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


# ------------------------------------------------------------------ one plan for every shape


class SymbolicLayout:
    """A function's layout integers as polynomials in its symbolic dims (runtime/symbolic.py's
    `fit`: exact on the 2^k corners of a unit box, checked at other points), evaluated
    per call, so a new set of argument shapes costs a few products, not a layout
    (concrete shapes and each kernel's bind: about a millisecond).

    `values(arg_shapes)` gives every integer at once, keyed as the fit's keys, or
    None where the polynomials are not to be trusted there: a dim below the fit's
    `min_dim` (a zero-sized dim the fit did not hold for), an integer that would not
    fit int64, or a negative size; the caller then computes the layout itself."""

    LIMIT = 1 << 62  # no evaluated integer may reach this (int64 arithmetic)

    def __init__(self, shape_fit):
        self.fit = shape_fit
        # plain polynomials go through one matrix product; the few piecewise sizes
        # (strides at dims of 1) and maxima (reused buffers) are evaluated one by one
        polys = {k: p for k, p in shape_fit.polys.items() if isinstance(p, dict)}
        self.others = {k: p for k, p in shape_fit.polys.items() if k not in polys}
        self.keys = list(polys)
        self.monomials = sorted({m for p in polys.values() for m in p}, key=len)
        index = {m: i for i, m in enumerate(self.monomials)}
        coefficients = np.zeros((len(self.keys), len(self.monomials)), np.int64)
        for row, key in enumerate(self.keys):
            for m, c in polys[key].items():
                coefficients[row, index[m]] = c
        self.coefficients = coefficients
        # sizes, extents and shapes are never negative (a run-time int may be)
        self.counts = np.array([k[0] != "dims" for k in self.keys], bool)
        self.all_keys = self.keys + list(self.others)
        self.scale = int(np.abs(coefficients).sum(axis=1).max(initial=0))
        # how many run-time ints each step has, and how many control-flow extras
        self.dims_count: dict[int, int] = {}
        for k in self.all_keys:
            if k[0] == "dims":
                self.dims_count[k[1]] = max(self.dims_count.get(k[1], 0), k[2] + 1)
        self.dims_count = _Counts(self.dims_count)
        self.n_extras = sum(k[0] == "extra" for k in self.all_keys)
        # where each param's value is read: its first (argument, axis)
        self.where = [p.where[0] for p in shape_fit.params]

    def values(self, arg_shapes) -> dict[tuple, int] | None:
        point = [int(arg_shapes[j][axis]) for j, axis in self.where]
        if any(v < self.fit.min_dim for v in point):
            return None
        monos = [math.prod(point[i] for i in m) for m in self.monomials]
        if max(monos, default=0) * max(self.scale, 1) >= self.LIMIT:
            return None  # the int64 products below could overflow: compute it exactly
        ints = self.coefficients @ np.array(monos, np.int64)
        if ints.size and (ints[self.counts] < 0).any():
            return None
        values = dict(zip(self.keys, ints.tolist()))
        if self.others:
            from .symbolic import evaluate  # symbolic imports this module

            for k, size in self.others.items():
                n = evaluate(size, point)
                if abs(n) >= self.LIMIT or (n < 0 and k[0] != "dims"):
                    return None
                values[k] = n
        return values


class _Counts(dict):
    """Step -> its number of run-time ints (0 for a step that has none)."""

    def __missing__(self, step: int) -> int:
        return 0
