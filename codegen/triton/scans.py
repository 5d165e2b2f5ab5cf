"""kiln.cumsum outside fused groups as one Triton kernel: running sums.

The operand is viewed as (outer, n, inner) around the summed axis; each
program takes `BLOCK` of the outer*inner rows (adjacent rows are adjacent in
memory: loads coalesce) and walks the axis in order, keeping the sum in
registers, so the sums are sequential as numpy's (the oracle's) are. An
exclusive sum stores the running sum less the element, as the reference
interpreter computes it. dynamic_rnn's `sequence_length` mask needs it.
"""

from __future__ import annotations

import math

from ...ir import CompileError, Operation
from .program import HEADER, Launch, TritonKernel, tl_dtype

BLOCKS = (256, 128, 1024)


def cumsum_kernel(op: Operation, name: str) -> TritonKernel:
    """ints: rows (outer * inner), the axis's length n, inner."""
    if op.name != "kiln.cumsum":
        raise CompileError(f"{op.describe()}: not a cumsum")
    rank = op.result.type.rank
    axis = op.axis % rank
    dtype = op.result.type.dtype
    position = "i1 - 1 - k" if op.reverse else "k"
    value = "acc - x" if op.exclusive else "acc"
    lines = [
        "@triton.jit(do_not_specialize=['i0', 'i1', 'i2'])",
        f"def {name}(p0, p1, i0, i1, i2, fault, BLOCK: tl.constexpr):",
        "    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
        "    mask = rows < i0",
        "    base = (rows // i2) * i1 * i2 + rows % i2",
        f"    acc = tl.zeros([BLOCK], {tl_dtype(dtype)})",
        "    for k in range(0, i1):",
        f"        at = base + ({position}) * i2",
        "        x = tl.load(p0 + at, mask=mask, other=0)",
        "        acc = acc + x",
        f"        tl.store(p1 + at, {value}, mask=mask)",
    ]

    def configs(in_shapes, out_shapes):
        return [{"BLOCK": b, "num_warps": 4} for b in BLOCKS]

    def bind(in_shapes, out_shapes, config=None):
        config = config or configs(in_shapes, out_shapes)[0]
        shape = tuple(in_shapes[0])
        n, inner = shape[axis], math.prod(shape[axis + 1 :])
        rows = math.prod(shape[:axis]) * inner
        grid = (math.ceil(rows / config["BLOCK"]) if n else 0,)
        return Launch(grid, (rows, n, inner), config)

    text = f"kernel @{name} running sum along axis {axis}: {op.result.type}"
    source = HEADER + "\n\n" + "\n".join(lines) + "\n"
    return TritonKernel(name, source, bind, configs, (dtype, dtype), 3, text)
