"""kiln.pad and kiln.concat outside fused groups as one Triton kernel each:
copies whose every output element reads at most one input element.

Like movement.py's strided copy, the output is walked flat in masked blocks of
`BLOCK` (writes coalesce) and split into per-axis indices. pad reads
`x[i - low]` where that lies inside x, else the pad value; concat reads the
operand whose range along the axis holds the index (one masked load per
operand, so an empty operand costs nothing). They are what an LSTM cell's
`concat([x, h])` and its gradient's split (a pad per part) need inside a
loop body on the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...ir import CompileError, Operation
from ...ir.dtypes import DType
from .movement import BLOCKS, _strides
from .program import HEADER, Launch, Shape, TritonKernel, tl_dtype

JOIN_OPS = ("kiln.pad", "kiln.concat")


def _literal(value: float, dtype: DType) -> str:
    """The pad value as a Triton source literal of the result's dtype."""
    if dtype == DType.bool:
        return "1" if value else "0"
    if dtype.is_float:
        return f'float("{float(value)!r}")' if not math.isfinite(value) else repr(float(value))
    return repr(int(value))


def _header(name: str, n_buffers: int, n_ints: int, rank: int) -> list[str]:
    ints = [f"i{j}" for j in range(n_ints)]
    keep = ", ".join(repr(n) for n in ints)
    total = " * ".join(f"i{a}.to(tl.int64)" for a in range(rank)) or "1"
    lines = [
        f"@triton.jit(do_not_specialize=[{keep}])",
        f"def {name}({', '.join([f'p{i}' for i in range(n_buffers)] + ints)}, fault, "
        "BLOCK: tl.constexpr):",
        "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
        f"    mask = offs < {total}",
        "    rest = offs",
    ]
    for a in reversed(range(rank)):  # the output's sizes are i0..i{rank-1}
        lines += [f"    o{a} = rest % i{a}", f"    rest = rest // i{a}"]
    return lines


def _configs(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
    return [{"BLOCK": b, "num_warps": 4} for b in BLOCKS]


def pad_kernel(op: Operation, name: str) -> TritonKernel:
    """ints: the output's sizes, low, x's sizes, x's strides (each per axis)."""
    rank = op.result.type.rank
    dtype = op.result.type.dtype
    lines = _header(name, 2, 4 * rank, rank)
    lines += ["    src = offs * 0", "    inside = mask"]
    for a in range(rank):
        low, size, stride = f"i{rank + a}", f"i{2 * rank + a}", f"i{3 * rank + a}"
        lines += [
            f"    j{a} = o{a} - {low}",
            f"    inside = inside & (j{a} >= 0) & (j{a} < {size})",
            f"    src += j{a} * {stride}",
        ]
    value = _literal(op.value, dtype)
    lines += [
        "    x = tl.load(p0 + src, mask=inside)",
        f"    fill = tl.full([BLOCK], {value}, {tl_dtype(dtype)})",
        "    tl.store(p1 + offs, tl.where(inside, x, fill), mask=mask)",
    ]

    def bind(in_shapes, out_shapes, config=None):
        config = config or _configs(in_shapes, out_shapes)[0]
        x, out = tuple(in_shapes[0]), tuple(out_shapes[0])
        ints = (*out, *op.low, *x, *_strides(x))
        return Launch((math.ceil(math.prod(out) / config["BLOCK"]),), ints, config)

    text = f"kernel @{name} padded copy: {op.operands[0].type} -> {op.result.type}"
    return TritonKernel(
        name,
        HEADER + "\n\n" + "\n".join(lines) + "\n",
        bind,
        _configs,
        (dtype, dtype),
        4 * rank,
        text,
    )


def concat_kernel(op: Operation, name: str) -> TritonKernel:
    """ints: the output's sizes, then per operand its start and size along the
    axis and its strides."""
    rank = op.result.type.rank
    dtype = op.result.type.dtype
    axis = op.axis % rank
    k = len(op.operands)
    per = 2 + rank
    lines = _header(name, k + 1, rank + k * per, rank)
    lines += [f"    acc = tl.full([BLOCK], 0, {tl_dtype(dtype)})"]
    for j in range(k):
        at = rank + j * per
        start, size = f"i{at}", f"i{at + 1}"
        terms = [
            f"({f'o{a} - {start}' if a == axis else f'o{a}'}) * i{at + 2 + a}" for a in range(rank)
        ]
        lines += [
            f"    m{j} = mask & (o{axis} >= {start}) & (o{axis} < {start} + {size})",
            f"    acc = tl.where(m{j}, tl.load(p{j} + {' + '.join(terms)}, mask=m{j}), acc)",
        ]
    lines += [f"    tl.store(p{k} + offs, acc, mask=mask)"]

    def bind(in_shapes, out_shapes, config=None):
        config = config or _configs(in_shapes, out_shapes)[0]
        out = tuple(out_shapes[0])
        ints, start = list(out), 0
        for s in in_shapes:
            ints += [start, s[axis], *_strides(tuple(s))]
            start += s[axis]
        return Launch((math.ceil(math.prod(out) / config["BLOCK"]),), tuple(ints), config)

    text = f"kernel @{name} concat along axis {axis}: {k} operands -> {op.result.type}"
    return TritonKernel(
        name,
        HEADER + "\n\n" + "\n".join(lines) + "\n",
        bind,
        _configs,
        (dtype,) * (k + 1),
        rank + k * per,
        text,
    )


def join_kernel(op: Operation, name: str) -> TritonKernel:
    """The kernel of `op`, one of JOIN_OPS."""
    if op.name == "kiln.pad":
        return pad_kernel(op, name)
    if op.name == "kiln.concat":
        return concat_kernel(op, name)
    raise CompileError(f"{op.describe()}: not a pad or concat")
