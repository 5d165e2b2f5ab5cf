"""Native kernels of fused matmul groups: a GEMM (codegen/llvm/gemm.py), then
the group's elementwise epilogue over the rows just computed.

Every form of kiln.matmul (ir/ops/linalg.py) is one shape here: C[batch, M, N]
= op(A)[batch, M, K] op(B)[batch, K, N], op a transpose when transpose_a /
transpose_b is set, a vector lhs being [1, K] and a vector rhs [K, 1] (their
M or N dim absent from the result), batch dims broadcast as numpy does. An
operand read through `lhs_perm` / `rhs_perm` (attention's head split, folded
from a transpose by canonicalize) is its stored tensor with permuted strides:
batch strides and a leading dim from the binder, and a unit stride along one
matrix axis, so the GEMM's packing reads it in place of a transposed copy. The
ABI's [begin, end) ranges over the result's rows, batch and M flattened (the
extent is batch * M), so threads split the work by rows; the kernel makes one
GEMM call per batch element its range touches.

The run-time ints (`dims`): M, N, K, A's and B's leading dims, then per batch
axis (its extent, A's stride, B's stride; a broadcast operand's stride is 0),
then the epilogue's.
`bind` (codegen/contraction.py's `matmul_binder`, shared with the Triton
backend) folds the batch into M when B is shared by every batch element and A
is one contiguous [batch * M, K] block (x[T, S, K] @ w[K, N]): one large GEMM.
"""

from __future__ import annotations

from collections.abc import Sequence

from llvmlite import ir

from ...ir import Operation
from ..arguments import Shape
from ..contraction import (
    MATMUL_DIMS,
    ContractionGroup,
    matmul_batch_rank,
    matmul_binder,
    matmul_transposed,
)
from .contraction import Frame, unravel
from .gemm import Gemm, Operand, blas_symbol, check_int32, shared_gemm, uses_blas
from .gemm_schedule import GemmSchedule, default_schedule, gemm_threads
from .gemm_tuning import GemmSignature, choose, signature
from .native import NativeKernel, native
from .render import counted_loop
from .scalar import I64, storage_type


@native("kiln.fused:matmul")
def matmul_kernel(fused: Operation, name: str) -> NativeKernel:
    """The native kernel of a fused matmul group (see the module doc)."""
    group = ContractionGroup(fused, name, "kiln.matmul")
    mm = group.contraction
    lhs, rhs = mm.operands
    batch_rank = matmul_batch_rank(group)
    schedule = None
    if group.dtype.is_float and not uses_blas():  # the tuned schedule, else the default
        schedule = choose(gemm_signature(mm), default_schedule(group.dtype))
    # registered now: object code from the disk cache links it unrendered
    if schedule is not None:
        shared_gemm(group.dtype, schedule)
    elif group.dtype.is_float:
        blas_symbol(group.dtype)

    def build() -> ir.Module:
        module = ir.Module(name=name)
        frame = Frame(group, module, n_dims=MATMUL_DIMS + 3 * batch_rank)
        _emit(frame, mm, batch_rank, schedule)
        return module

    if not group.dtype.is_float:
        how = "a loop nest"
    elif uses_blas():
        how = f"BLAS {'s' if group.dtype.itemsize == 4 else 'd'}gemm"
    else:
        how = f"kiln's GEMM ({schedule.tag})"  # type: ignore[union-attr]
    text = group.describe(
        [
            f"  C[batch({batch_rank}), M, N] = A[{lhs.type}]{_read_as(mm, 0)}"
            f" @ B[{rhs.type}]{_read_as(mm, 1)} by {how}, rows [begin, end)"
        ]
    )
    return NativeKernel(name, build, _blas_binder(group), text)


def _read_as(mm: Operation, i: int) -> str:
    """How the listing shows an operand read through a perm and/or transposed."""
    perm = (mm.lhs_perm, mm.rhs_perm)[i]
    flag = (mm.transpose_a, mm.transpose_b)[i]
    return (f" perm {list(perm)}" if perm else "") + ("^T" if flag else "")


def gemm_signature(mm: Operation) -> GemmSignature:
    """The tuning signature of a matmul's GEMM calls (codegen/llvm/gemm_tuning.py):
    M, N, K of one batch element from the operand types, the transposes and
    the GEMM's thread count."""
    m, n, k = gemm_extents(mm, *(tuple(v.type.shape) for v in mm.operands))
    dtype = mm.results[0].type.dtype
    ta, tb = matmul_transposed(mm, 0), matmul_transposed(mm, 1)
    return signature(dtype, m, n, k, ta, tb, gemm_threads())


def gemm_extents(mm: Operation, a: tuple, b: tuple) -> tuple:
    """(M, N, K) of one GEMM call of `mm` on operands of shapes `a` and `b` as
    stored (a vector lhs is one row, a vector rhs one column)."""
    if mm.lhs_perm:
        a = tuple(a[i] for i in mm.lhs_perm)
    if mm.rhs_perm:
        b = tuple(b[i] for i in mm.rhs_perm)
    if len(a) == 1:
        m, k = 1, a[0]
    else:
        m, k = (a[-1], a[-2]) if mm.transpose_a else (a[-2], a[-1])
    n = 1 if len(b) == 1 else (b[-2] if mm.transpose_b else b[-1])
    return m, n, k


def _emit(
    frame: Frame, mm: Operation, batch_rank: int, schedule: GemmSchedule | None = None
) -> None:
    b, group = frame.b, frame.group
    m, n, k, lda, ldb = frame.dims[:MATMUL_DIMS]
    batch = [frame.dims[MATMUL_DIMS + 3 * i : MATMUL_DIMS + 3 + 3 * i] for i in range(batch_rank)]
    t = storage_type(group.dtype)
    gemm = Gemm(b, frame.slots, group.dtype, schedule, fault=frame.fault)
    a_data, b_data = frame.operand(mm.lhs), frame.operand(mm.rhs)
    frame.prepare(n)
    # A is read [M, K] or [K, M] (transposed), B [K, N] or [N, K], ld apart (the binder's)
    ta, tb = matmul_transposed(mm, 0), matmul_transposed(mm, 1)
    begin, end = frame.begin, frame.end
    with b.if_then(b.icmp_signed("<", begin, end)):  # then M > 0
        first = b.udiv(begin, m)
        stop = b.add(b.udiv(b.sub(end, ir.Constant(I64, 1)), m), ir.Constant(I64, 1))
        with counted_loop(b, first, stop, "batch") as i:
            start = b.mul(i, m)
            r0 = frame.max(begin, start)
            r1 = frame.min(end, b.add(start, m))
            a_at, b_at = _batch_offsets(b, i, batch)
            row = b.sub(r0, start)
            a_at = b.add(a_at, row if ta else b.mul(row, lda))
            gemm(
                Operand(b.gep(a_data, [a_at], source_etype=t), lda, ta),
                Operand(b.gep(b_data, [b_at], source_etype=t), ldb, tb),
                b.gep(frame.acc, [b.mul(r0, n)], source_etype=t),
                b.sub(r1, r0),
                n,
                k,
            )
            frame.epilogue(b.mul(r0, n), b.mul(r1, n))
    frame.finish()


def _batch_offsets(b: ir.IRBuilder, i: ir.Value, batch: list) -> tuple[ir.Value, ir.Value]:
    """A's and B's element offsets of batch element `i` (row-major over `batch`,
    a list of (extent, A stride, B stride))."""
    a_at: ir.Value = ir.Constant(I64, 0)
    b_at: ir.Value = ir.Constant(I64, 0)
    for index, (_, a_stride, b_stride) in zip(unravel(b, i, [e for e, _, _ in batch]), batch):
        a_at = b.add(a_at, b.mul(index, a_stride))
        b_at = b.add(b_at, b.mul(index, b_stride))
    return a_at, b_at


def _blas_binder(group: ContractionGroup):
    """The shared matmul shape rule, and the BLAS call's 32-bit extents."""
    shared = matmul_binder(group)

    def bind(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        dims, rows = shared(in_shapes, out_shapes)
        check_int32(group.contraction, M=dims[0], N=dims[1], K=dims[2], lda=dims[3], ldb=dims[4])
        return dims, rows

    return bind
