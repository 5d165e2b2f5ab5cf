"""contraction: what every renderer of fused matmul and conv groups shares —
the group split into its contraction and its epilogue, and the shape rules
that bind a call's concrete shapes to the kernel's run-time ints.

A `kiln.fused` group of kind matmul or conv holds one contraction (kiln.matmul
or kiln.conv2d) and elementwise ops over the contraction's result shape S:
the epilogue (bias, activation, residual), plus any sibling elementwise ops
the fuse pass merged in. The epilogue becomes a pointwise kernel in the loop
form of `codegen/kernel.py`: `lower` on a synthetic `kiln.fused` pointwise op
whose body is the group without the contraction, the contraction's result
being one more input (the *accumulator*). `ContractionGroup` does that split.

The contraction writes S where the epilogue reads it: into the group's result
that yields it; else in place into an epilogue output of its dtype (every
epilogue load of an element comes before the stores to it, so that is safe);
else into scratch memory (`acc_result` and `in_place` say which).

`matmul_binder` and `conv_binder` give `bind(in_shapes, out_shapes) ->
(dims, rows)`: the run-time ints both backends pass (matmul: M, N, K, then
per batch axis its extent and the operands' strides; conv: h, w, c, oh, ow,
o and the top and left padding; then the epilogue's) and the number of rows
of S. Renderers add their own limits (codegen/llvm: BLAS's 32-bit ints).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..ir import (
    Block,
    Builder,
    CompileError,
    ExecutionError,
    Operation,
    Region,
    ShapeError,
    Value,
    lookup,
)
from ..ir.dtypes import DType
from ..ir.ops.linalg import window_out, window_padding
from ..ir.types import format_shape
from .arguments import Param, Shape, Signature, bind, stand_in
from .kernel import Kernel
from .lower import lower

ContractionBinder = Callable[[Sequence[Shape], Sequence[Shape]], tuple[tuple[int, ...], int]]
DTYPES = (DType.f32, DType.f64, DType.i8, DType.i32, DType.i64)


class ContractionGroup:
    """A matmul/conv group: its contraction (`contraction`, by op name) and its
    epilogue kernel (None when the group yields the contraction alone)."""

    def __init__(self, fused: Operation, name: str, contraction: str):
        self.fused, self.name = fused, name
        block = fused.body
        found = [op for op in block.ops if op.name == contraction]
        if len(found) != 1:
            raise fused.error(
                f"a {fused.kind} group must hold one {contraction}, found {len(found)}",
                CompileError,
            )
        self.contraction = c = found[0]
        self.dtype: DType = c.result.type.dtype
        if self.dtype not in DTYPES:
            raise c.error(
                f"{self.dtype} is not supported by kiln's contraction kernels yet", CompileError
            )
        self.args = list(block.args)
        yielded = list(block.terminator.operands)
        self.n_buffers = len(self.args) + len(yielded)
        # epilogue output j is the group's result epilogue_results[j]
        self.epilogue_results = [i for i, v in enumerate(yielded) if v is not c.result]
        self.epilogue = _epilogue_kernel(fused, c, f"{name}.epilogue")
        # where the contraction's result goes: a result buffer, or scratch (None)
        self.acc_result: int | None = None
        self.in_place = False  # whether an epilogue output shares the accumulator
        if c.result in yielded:
            self.acc_result = yielded.index(c.result)
        else:
            for i in self.epilogue_results:
                if yielded[i].type.dtype == self.dtype:
                    self.acc_result, self.in_place = i, True
                    break
        where = fused.describe()
        self.signature = Signature(
            where,
            [
                Param(f"{where}: input {i} ({a.type})", a.type.dtype, Param.dims_of(a.type.shape))
                for i, a in enumerate(self.args)
            ],
            noun="inputs",
        )

    # ------------------------------------------------------------ binding
    def operand_shape(self, v: Value, in_shapes: Sequence[Shape]) -> Shape:
        """The concrete shape of a contraction operand (an input or a constant)."""
        if v in self.args:
            return tuple(in_shapes[self.args.index(v)])
        return tuple(v.type.shape)

    def check_inputs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> None:
        """Check the inputs' shapes against their types (ExecutionError naming the op)."""
        n_results = self.n_buffers - len(self.args)
        if len(out_shapes) != n_results:
            raise self.fused.error(
                f"gives {n_results} results, got {len(out_shapes)} shapes", ExecutionError
            )
        self.signature.check_shapes(in_shapes)

    def check_results(
        self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape], acc_shape: Shape
    ) -> tuple[int, ...]:
        """Check the results' shapes against what the contraction (of result shape
        `acc_shape`) and the epilogue give; return the epilogue's run-time dims."""
        fused = self.fused
        want: dict[int, Shape] = {}
        dims: tuple[int, ...] = ()
        if self.epilogue is not None:
            types = [a.type.dtype.numpy for a in self.args] + [self.dtype.numpy]
            arrays = [stand_in(tuple(s), t) for s, t in zip([*in_shapes, acc_shape], types)]
            try:
                binding = bind(self.epilogue, arrays)
            except ExecutionError as e:
                raise fused.error(f"its epilogue does not fit: {e}", ExecutionError) from None
            want.update(zip(self.epilogue_results, binding.output_shapes))
            dims = binding.dims
        c = self.contraction
        if c.result in fused.body.terminator.operands:
            want[list(fused.body.terminator.operands).index(c.result)] = acc_shape
        for i, shape in enumerate(out_shapes):
            if tuple(shape) != want[i]:
                raise fused.error(
                    f"result {i} has shape {format_shape(shape)}, expected {format_shape(want[i])}",
                    ExecutionError,
                )
        return dims

    def describe(self, lines: list[str]) -> str:
        """The kernel's listing (the kernel form KILN_DEBUG=2 shows): `lines`, then
        where the result goes and the epilogue kernel."""
        where = (
            "scratch"
            if self.acc_result is None
            else f"result {self.acc_result}" + (" (in place)" if self.in_place else "")
        )
        text = [
            f"kernel @{self.name} {self.fused.kind} {self.dtype}",
            *lines,
            f"  {self.contraction.name} -> {where}",
        ]
        if self.epilogue is not None:
            text.append("  epilogue over each range of rows:")
            text += ["    " + line for line in str(self.epilogue).splitlines()]
        return "\n".join(text)


def _epilogue_kernel(fused: Operation, contraction: Operation, name: str) -> Kernel | None:
    """The pointwise kernel of the group's ops other than `contraction`: its
    inputs are the group's inputs then the contraction's result."""
    block = fused.body
    outputs = [v for v in block.terminator.operands if v is not contraction.result]
    if not outputs:
        return None
    types = [a.type for a in block.args] + [contraction.result.type]
    body = Block(types)
    mapping = dict(zip(block.args, body.args))
    mapping[contraction.result] = body.args[-1]
    b = Builder.at_end(body)
    for op in block.ops:
        if op is contraction or op is block.terminator:
            continue
        copy = b.insert(
            type(op)(
                [mapping[v] for v in op.operands],
                dict(op.attrs),
                [r.type for r in op.results],
                (),
                op.loc,
            )
        )
        mapping.update(zip(op.results, copy.results))
    b.create("kiln.yield", *[mapping[v] for v in outputs])
    pointwise = lookup("kiln.fused")(
        [Value(t) for t in types],
        {"kind": "pointwise"},
        [v.type for v in outputs],
        [Region([body])],
        fused.loc,
    )
    return lower(pointwise, name)


# ------------------------------------------------------------------ matmul


def matmul_batch_rank(group: ContractionGroup) -> int:
    """The number of batch axes of the group's kiln.matmul result."""
    mm = group.contraction
    lhs, rhs = mm.operands
    return mm.result.type.rank - (lhs.type.rank >= 2) - (rhs.type.rank >= 2)


def matmul_binder(group: ContractionGroup) -> ContractionBinder:
    """`bind` of a matmul group: C[batch, M, N] = op(A) @ op(B) (see the module
    doc). The run-time ints: M, N, K, A's and B's leading dims (the stride of
    the matrix axis that is not contiguous), then per batch axis its extent
    and A's and B's strides (0 where broadcast). A permuted operand
    (`lhs_perm`, `rhs_perm`) is read with its stored strides permuted
    (`matmul_operand_swapped` says which of its matrix axes is the contiguous
    one). The batch folds into M when B is shared by every batch element and
    A is one contiguous [batch * M, K] block (x[T, S, K] @ w[K, N]): one large
    GEMM."""
    mm = group.contraction
    lhs, rhs = mm.operands

    def bind(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        group.check_inputs(in_shapes, out_shapes)
        a, a_strides = _read(group.operand_shape(lhs, in_shapes), mm.lhs_perm)
        b, b_strides = _read(group.operand_shape(rhs, in_shapes), mm.rhs_perm)
        if len(a) < 2:
            a, a_strides = (1, *a), (a[0], 1)
        if len(b) < 2:
            b, b_strides = (*b, 1), (1, 1)
        a2 = _matrix(a, mm.transpose_a)
        b2 = _matrix(b, mm.transpose_b)
        (m, k), (k_b, n) = a2[-2:], b2[-2:]
        if k != k_b:
            raise mm.error(
                f"contraction dims differ: lhs {a} has {k}, rhs {b} has {k_b}", ExecutionError
            )
        try:
            batch = tuple(np.broadcast_shapes(a2[:-2], b2[:-2]))
        except ValueError:
            raise mm.error(
                f"batch dims of lhs {a} and rhs {b} do not broadcast", ExecutionError
            ) from None
        lhs_rank, rhs_rank = lhs.type.rank, rhs.type.rank
        out = batch + ((m,) if lhs_rank >= 2 else ()) + ((n,) if rhs_rank >= 2 else ())
        epilogue = group.check_results(in_shapes, out_shapes, out)
        # the leading dim: the stride of the matrix axis that is not the contiguous one
        lda = a_strides[-1] if matmul_operand_swapped(mm, 0) else a_strides[-2]
        ldb = b_strides[-1] if matmul_operand_swapped(mm, 1) else b_strides[-2]
        a_batch = _batch_strides(a2[:-2], a_strides[:-2], batch)
        b_batch = _batch_strides(b2[:-2], b_strides[:-2], batch)
        rows = math.prod(batch) * m
        if (
            batch
            and not any(b_batch)
            and not mm.transpose_a
            and not mm.lhs_perm
            and (1,) * (len(batch) - len(a2) + 2) + a2[:-2] == batch
        ):
            m_gemm, triples = rows, (1, 0, 0) * len(batch)  # one GEMM of all the rows
        else:
            m_gemm = m
            triples = tuple(x for axis in zip(batch, a_batch, b_batch) for x in axis)
        return (m_gemm, n, k, lda, ldb, *triples, *epilogue), rows

    return bind


MATMUL_DIMS = 5  # M, N, K, lda, ldb: then 3 per batch axis, then the epilogue's


def matmul_operand_swapped(mm: Operation, i: int) -> bool:
    """Whether operand `i`'s perm puts its stored (contiguous) last axis second
    to last: the GEMM then reads it as stored transposed, the flag toggled."""
    perm = (mm.lhs_perm, mm.rhs_perm)[i]
    return bool(perm) and perm.index(len(perm) - 1) == len(perm) - 2


def matmul_transposed(mm: Operation, i: int) -> bool:
    """Whether the GEMM reads operand `i` as stored transposed ([K, M] for A,
    [N, K] for B): its transpose flag, toggled by a perm that swaps its axes."""
    return (mm.transpose_a, mm.transpose_b)[i] != matmul_operand_swapped(mm, i)


def _read(shape: Shape, perm: tuple[int, ...]) -> tuple[Shape, tuple[int, ...]]:
    """A stored row-major operand of `shape` read through `perm`: its shape and
    element strides."""
    strides, stride = [], 1
    for d in reversed(shape):
        strides.append(stride)
        stride *= d
    strides.reverse()
    if not perm:
        return tuple(shape), tuple(strides)
    return tuple(shape[i] for i in perm), tuple(strides[i] for i in perm)


def _matrix(shape: Shape, transposed: bool) -> Shape:
    """`shape` with its last two dims as the logical [rows, cols] of the product."""
    return (*shape[:-2], shape[-1], shape[-2]) if transposed else tuple(shape)


def _batch_strides(dims: Shape, strides: Sequence[int], batch: Shape) -> tuple[int, ...]:
    """Element strides along the result's batch axes of an operand whose batch
    dims are `dims` with `strides` (right-aligned); 0 where it is broadcast."""
    pad = len(batch) - len(dims)
    return (0,) * pad + tuple(s if d != 1 else 0 for d, s in zip(dims, strides))


# ------------------------------------------------------------------ conv


def conv_binder(group: ContractionGroup) -> ContractionBinder:
    """`bind` of a conv group (NHWC x HWIO, TensorFlow's padding): the rows are
    the output pixels n * oh * ow."""
    conv = group.contraction
    x, f = conv.operands
    (sh, sw), (dh, dw) = conv.strides, conv.dilations

    def bind(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        group.check_inputs(in_shapes, out_shapes)
        n, h, w, c = group.operand_shape(x, in_shapes)
        kh, kw, c_f, o = group.operand_shape(f, in_shapes)
        if c != c_f:
            raise conv.error(f"input channels {c} differ from the filter's {c_f}", ExecutionError)
        eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        try:
            oh, ow = window_out(conv, h, eh, sh, 0), window_out(conv, w, ew, sw, 1)
        except ShapeError as e:
            raise conv.error(f"input {n}x{h}x{w}x{c}: {e}", ExecutionError) from None
        top = window_padding(conv, h, eh, sh, 0)[0]
        left = window_padding(conv, w, ew, sw, 1)[0]
        epilogue = group.check_results(in_shapes, out_shapes, (n, oh, ow, o))
        return (h, w, c, oh, ow, o, top, left, *epilogue), n * oh * ow

    return bind
