"""An op's cost: what the profiler and the fusion heuristics count.

Every op declares it (`Operation.cost`, given the concrete shapes of its
operands and results); the defaults cover most: an elementwise op costs its
scalar form per element (`ir/scalar.py`), an op that only moves data costs no
flops. The numbers follow XLA's HloCostAnalysis: flops, transcendentals
(exp, log, tanh, ... counted apart) and the bytes an op must move (every
operand read once, every result written once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Shape = Sequence[int]


@dataclass(frozen=True)
class Cost:
    flops: int = 0
    transcendentals: int = 0
    bytes: int = 0


def elements(shape: Shape) -> int:
    """The number of elements of a concrete shape."""
    return math.prod(int(d) for d in shape)


def moved(op, operand_shapes: Sequence[Shape], result_shapes: Sequence[Shape]) -> int:
    """The bytes `op` must move: each operand read once, each result written once."""
    values = [*op.operands, *op.results]
    return sum(
        elements(s) * v.type.dtype.numpy.itemsize
        for s, v in zip([*operand_shapes, *result_shapes], values)
    )
