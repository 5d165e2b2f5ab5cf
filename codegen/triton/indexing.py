"""The gathers as Triton kernels: kiln.gather, kiln.gather_elements and
kiln.gather_nd (the scatters stay on the host: repeated indices would need
ordered atomics).

Each walks its result flat, in blocks of `BLOCK` with a mask, reads the
index its element needs, and loads from the position it names. A negative
index counts from the end (gather_elements, gather_nd: ONNX's rule); one
outside its axis loads nothing (the element is 0) and sets the
INDEX_OUT_OF_RANGE fault bit, which the runtime raises as an ExecutionError
naming the op, as the CPU kernels of codegen/llvm/coordinates.py do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...ir import Operation
from ...ir.ops.reduce import normalize_axis
from ..kernel import Fault
from .movement import _strides
from .program import HEADER, Launch, Shape, TritonKernel

GATHERS = ("kiln.gather", "kiln.gather_elements", "kiln.gather_nd")
BLOCKS = (1024, 256)
BAD = int(Fault.INDEX_OUT_OF_RANGE)


def _source(name: str, n_ints: int, body: list[str]) -> str:
    ints = [f"i{j}" for j in range(n_ints)]
    keep = ", ".join(repr(n) for n in ints)
    lines = [
        f"@triton.jit(do_not_specialize=[{keep}])",
        f"def {name}(p0, p1, p2, {', '.join(ints)}, fault, BLOCK: tl.constexpr):",
        "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
        "    mask = offs < i0",
        *body,
        "    flt = tlmath.flag(bad, mask) * " + str(BAD),
        "    if flt != 0:",
        "        tl.atomic_or(fault, flt)",
        "    tl.store(p2 + offs, tl.load(p0 + src, mask=mask & (bad == 0), other=0), mask=mask)",
    ]
    return HEADER + "\n\n" + "\n".join(lines) + "\n"


def _wrap(var: str, size: str, negative: bool) -> list[str]:
    """Lines that wrap index `var` (when `negative`) and OR its range check into `bad`."""
    lines = [f"    {var} = tl.where({var} < 0, {var} + {size}, {var})"] if negative else []
    return lines + [f"    bad = bad | ({var} < 0) | ({var} >= {size})"]


def _gather(op: Operation, name: str):
    # i0: elements; i1 A, i2 I, i3 J (codegen/llvm/indexing.py's (P, A, I) view)
    body = [
        "    i = offs % i2",
        "    j = (offs // i2) % i3",
        "    p = offs // (i2 * i3)",
        "    index = tl.load(p1 + j, mask=mask, other=0).to(tl.int64)",
        "    bad = offs < 0",
        *_wrap("index", "i1", negative=False),
        "    src = (p * i1 + tl.where(bad, 0, index)) * i2 + i",
    ]

    def ints(x: Shape, indices: Shape, out: Shape) -> tuple:
        axis = normalize_axis(op.axis, len(x))
        return math.prod(out), x[axis], math.prod(x[axis + 1 :]), math.prod(indices)

    return body, 4, ints


def _gather_elements(op: Operation, name: str):
    rank = op.x.type.rank
    axis = normalize_axis(op.axis, rank)
    # i0: elements; i1..: the indices' sizes; then x's strides; then x's size on the axis
    sizes = [f"i{1 + d}" for d in range(rank)]
    strides = [f"i{1 + rank + d}" for d in range(rank)]
    axis_size = f"i{1 + 2 * rank}"
    body = [
        "    index = tl.load(p1 + offs, mask=mask, other=0).to(tl.int64)",
        "    bad = offs < 0",
        *_wrap("index", axis_size, negative=True),
        "    src = tl.where(bad, 0, index) * " + strides[axis],
        "    rest = offs",
    ]
    for d in reversed(range(rank)):
        if d != axis:
            body.append(f"    src += (rest % {sizes[d]}) * {strides[d]}")
        body.append(f"    rest = rest // {sizes[d]}")

    def ints(x: Shape, indices: Shape, out: Shape) -> tuple:
        return (math.prod(out), *indices, *_strides(x), x[axis])

    return body, 2 + 2 * rank, ints


def _gather_nd(op: Operation, name: str):
    q = op.indices.type.shape[-1]
    batch_dims = op.batch_dims
    # i0: elements; i1 S (slice size); i2 G (rows per batch); i3 batch stride;
    # then the q sizes; then the q strides (elements)
    body = [
        "    s = offs % i1",
        "    m = offs // i1",
        "    bad = offs < 0",
        "    src = (m // tl.maximum(i2, 1)) * i3 + s",
    ]
    for j in range(q):
        body.append(f"    index{j} = tl.load(p1 + m * {q} + {j}, mask=mask, other=0).to(tl.int64)")
        body += _wrap(f"index{j}", f"i{4 + j}", negative=True)
        body.append(f"    src += tl.where(bad, 0, index{j}) * i{4 + q + j}")

    def ints(x: Shape, indices: Shape, out: Shape) -> tuple:
        rows = math.prod(indices[:-1])
        batch = math.prod(x[:batch_dims])
        per_batch = rows // batch if batch else 0
        strides = _strides(x)[batch_dims : batch_dims + q]
        sizes = x[batch_dims : batch_dims + q]
        return (
            math.prod(out),
            math.prod(x[batch_dims + q :]),
            per_batch,
            math.prod(x[batch_dims:]),
            *sizes,
            *strides,
        )

    return body, 4 + 2 * q, ints


def gather_kernel(op: Operation, name: str) -> TritonKernel:
    """The Triton kernel of one of GATHERS."""
    build = {
        "kiln.gather": _gather,
        "kiln.gather_elements": _gather_elements,
        "kiln.gather_nd": _gather_nd,
    }[op.name]
    body, n_ints, ints = build(op, name)
    source = _source(name, n_ints, body)

    def configs(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        return [{"BLOCK": b, "num_warps": 4} for b in BLOCKS]

    def bind(in_shapes, out_shapes, config=None):
        config = config or configs(in_shapes, out_shapes)[0]
        x, indices, out = (tuple(s) for s in (*in_shapes, *out_shapes))
        values = tuple(int(v) for v in ints(x, indices, out))
        return Launch((math.ceil(values[0] / config["BLOCK"]),), values, config)

    dtypes = tuple(v.type.dtype for v in op.operands) + (op.results[0].type.dtype,)
    text = f"kernel @{name} {op.name}: {op.operands[0].type} at {op.operands[1].type}"
    return TritonKernel(name, source, bind, configs, dtypes, n_ints, text)
