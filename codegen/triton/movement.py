"""Data movement outside fused groups as one Triton kernel: a strided copy.

broadcast_to, broadcast_like, stop_gradient, transpose and slice all read
`out[i] = x[base + sum(i_a * stride_a)]` for some per-output-axis strides of
x (0 where it is broadcast, a permutation's strides for transpose, start
and step for slice); `bind` computes them from the concrete shapes. The
output is walked flat, in blocks of `BLOCK` with a mask, so writes coalesce.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...ir import CompileError, Operation
from .program import HEADER, Launch, Shape, TritonKernel

COPY_OPS = (
    "kiln.broadcast_to",
    "kiln.broadcast_like",
    "kiln.stop_gradient",
    "kiln.transpose",
    "kiln.slice",
)
BLOCKS = (1024, 512, 2048)


def _strides(shape: Shape) -> list[int]:
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return list(reversed(out))


def _view(op: Operation, x: Shape, out: Shape) -> tuple[int, list[int]]:
    """(base offset, per-output-axis element strides into x)."""
    xs = _strides(x)
    if op.name == "kiln.transpose":
        return 0, [xs[p] for p in op.perm]
    if op.name == "kiln.slice":
        base, strides = 0, list(xs)
        for axis, sl in enumerate(op.slices(len(x))):
            start, _, step = sl.indices(x[axis])
            base += start * xs[axis]
            strides[axis] = step * xs[axis]
        return base, strides
    lead = len(out) - len(x)  # broadcasts and the identity: numpy's alignment
    return 0, [0 if a < lead or x[a - lead] == 1 else xs[a - lead] for a in range(len(out))]


def copy_kernel(op: Operation, name: str) -> TritonKernel:
    """The strided copy computing `op`, one of COPY_OPS."""
    if op.name not in COPY_OPS:
        raise CompileError(f"{op.describe()}: not a copy")
    rank = op.result.type.rank
    n_buffers = len(op.operands) + 1
    out = f"p{n_buffers - 1}"
    ints = ["i0"] + [f"i{1 + a}" for a in range(rank)] + [f"i{1 + rank + a}" for a in range(rank)]
    # i0: base offset; then the output's sizes; then x's strides per output axis
    keep = ", ".join(repr(n) for n in ints)
    total = " * ".join(f"i{1 + a}.to(tl.int64)" for a in range(rank)) or "1"
    lines = [
        f"@triton.jit(do_not_specialize=[{keep}])",
        f"def {name}({', '.join([f'p{i}' for i in range(n_buffers)] + ints)}, fault, "
        "BLOCK: tl.constexpr):",
        "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
        f"    mask = offs < {total}",
        "    src = i0.to(tl.int64) + offs * 0",
        "    rest = offs",
    ]
    for a in reversed(range(rank)):
        lines += [f"    src += (rest % i{1 + a}) * i{1 + rank + a}", f"    rest = rest // i{1 + a}"]
    lines += ["    tl.store(" + out + " + offs, tl.load(p0 + src, mask=mask), mask=mask)"]
    source = HEADER + "\n\n" + "\n".join(lines) + "\n"

    def configs(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        return [{"BLOCK": b, "num_warps": 4} for b in BLOCKS]

    def bind(in_shapes, out_shapes, config=None):
        config = config or configs(in_shapes, out_shapes)[0]
        x, result = tuple(in_shapes[0]), tuple(out_shapes[0])
        base, strides = _view(op, x, result)
        n = math.prod(result)
        return Launch((math.ceil(n / config["BLOCK"]),), (base, *result, *strides), config)

    dtype = op.result.type.dtype
    text = f"kernel @{name} strided copy for {op.name}: {op.operands[0].type} -> {op.result.type}"
    return TritonKernel(
        name,
        source,
        bind,
        configs,
        tuple(v.type.dtype for v in op.operands) + (dtype,),
        1 + 2 * rank,
        text,
    )
