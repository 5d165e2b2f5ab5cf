"""Triton templates of fused matmul and conv groups: a tiled `tl.dot` loop,
then the group's epilogue on the accumulator tile while it is in registers.

The group is split as every backend splits it (`ContractionGroup` in
codegen/contraction.py): the contraction, and the epilogue as a
pointwise `Kernel` whose last input is the contraction's result. The
epilogue renders with the pointwise emitter of render.py over `offs`, the
tile's flat positions in the result shape S (`row * N + col`), its loads of
the contraction's result replaced by the accumulator. Shapes are bound by
the shared binders of codegen/contraction.py (the CPU kernels' run-time ints:
M, N, K and batch strides; conv's geometry), so the checks and the batch
folding are one code.

- matmul: C[batch, M, N] = op(A) @ op(B). Programs tile C in
  `BLOCK_M x BLOCK_N` (grouped by `GROUP_M` rows of tiles for L2 reuse), the
  second grid axis is the batch; the K loop masks the ragged end.
- conv2d (NHWC x HWIO): an implicit GEMM. Rows are output pixels, columns
  output channels, K the window (kh * kw * c); each A tile is gathered from
  the input with the padding masked to zero, so no im2col buffer exists.

f32 products use `input_precision="ieee"` (the reference's precision; torch's
default for f32 too); `KILN_GPU_TF32=1` trades it for tensor-core TF32.
Integer products are exact sums of int64 products (tl.dot has no int32/64).
"""

from __future__ import annotations

import math
import os

from ...ir import CompileError, Operation
from ...ir.dtypes import DType
from ..contraction import (
    MATMUL_DIMS,
    ContractionGroup,
    conv_binder,
    matmul_batch_rank,
    matmul_binder,
    matmul_transposed,
)
from ..kernel import Load
from .program import HEADER, Launch, TritonKernel, next_power_of_2, tl_dtype
from .render import _Pointwise

MATMUL_TILES = (
    (64, 64, 32, 4),
    (128, 128, 32, 8),
    (128, 64, 32, 4),
    (64, 128, 32, 4),
    (32, 64, 32, 4),
    (32, 32, 32, 4),
)  # BLOCK_M, BLOCK_N, BLOCK_K, warps


def _precision() -> str:
    return "tf32" if os.environ.get("KILN_GPU_TF32") else "ieee"


class _Epilogue(_Pointwise):
    """The group's epilogue over the accumulator tile `acc` (see the module doc)."""

    def __init__(self, group: ContractionGroup, dim_base: int):
        self.group = group
        self.dim_base = dim_base
        self.n_args = len(group.args)
        super().__init__(group.epilogue, depth=1)

    def buffer(self, param: int) -> str:
        if param < self.n_args:
            return f"p{param}"
        j = param - self.n_args - 1  # epilogue output j
        return f"p{self.n_args + self.group.epilogue_results[j]}"

    def instr(self, x, mask, offsets) -> None:
        if isinstance(x, Load) and x.param == self.n_args:
            if not all(x.map):
                raise CompileError(
                    f"kernel @{self.k.name}: the epilogue reads the contraction's result broadcast"
                )
            self.line(f"v{x.id} = acc.to({tl_dtype(x.dtype)})")
            self.dtypes[x.id] = x.dtype
            return
        super().instr(x, mask, offsets)


def _finish(group: ContractionGroup, lines: list[str], dim_base: int) -> list[str]:
    """The lines that store the tile: the contraction's result where the group
    yields it, then the epilogue (flat positions `offs`, valid where `mask`)."""
    out: list[str] = []
    c = group.contraction
    yielded = list(group.fused.body.terminator.operands)
    if c.result in yielded:
        p = len(group.args) + yielded.index(c.result)
        out.append(f"    tl.store(p{p} + offs, acc.to({tl_dtype(group.dtype)}), mask=mask)")
    faults = False
    if group.epilogue is not None:
        epi = _Epilogue(group, dim_base)
        epi.widen_ints()
        epi.emit_body()
        faults = epi.faults
        out += epi.lines
    if faults:
        out += ["    if flt != 0:", "        tl.atomic_or(fault, flt)"]
    return out


def _operand(group: ContractionGroup, v) -> int:
    if v not in group.args:
        raise group.contraction.error(
            "the Triton backend needs the contraction's operands "
            "as kernel inputs (not constants of the group)",
            CompileError,
        )
    return group.args.index(v)


def _dot(dtype: DType) -> str:
    if dtype.is_float:
        precision = _precision() if dtype == DType.f32 else "ieee"
        return f'acc += tl.dot(a, b, input_precision="{precision}", out_dtype={_acc(dtype)})'
    return "acc += tl.sum(a.to(tl.int64)[:, :, None] * b.to(tl.int64)[None, :, :], axis=1)"


def _acc(dtype: DType) -> str:
    return tl_dtype(dtype) if dtype.is_float else "tl.int64"


def _signature(name: str, n_buffers: int, n_ints: int, constexprs: list[str]) -> str:
    ints = [f"i{j}" for j in range(n_ints)]
    names = (
        [f"p{i}" for i in range(n_buffers)]
        + ints
        + ["fault"]
        + [f"{c}: tl.constexpr" for c in constexprs]
    )
    keep = ", ".join(repr(n) for n in ints)
    return f"@triton.jit(do_not_specialize=[{keep}])\ndef {name}({', '.join(names)}):"


def _tile_configs(m: int, n: int, k: int, dtype: DType) -> list[dict[str, int]]:
    """Tiles worth timing for an M x N x K product; the first fits the shape."""
    if not dtype.is_float:  # the int product is a [BM, BK, BN] broadcast: keep it small
        return [{"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 8, "num_warps": 4}]
    bk_cap = 32 if dtype == DType.f32 else 16
    first = (
        min(128, max(16, next_power_of_2(m))),
        min(128, max(16, next_power_of_2(n))),
        min(bk_cap, max(16, next_power_of_2(k))),
    )
    tiles = [first] + [
        (bm, bn, min(bk, bk_cap))
        for bm, bn, bk, _ in MATMUL_TILES
        if bm <= max(16, next_power_of_2(m)) and bn <= max(16, next_power_of_2(n))
    ]
    out = []
    for bm, bn, bk in tiles:
        c = {
            "BLOCK_M": bm,
            "BLOCK_N": bn,
            "BLOCK_K": bk,
            "GROUP_M": 8,
            "num_warps": 8 if bm * bn >= 128 * 128 else 4,
        }
        if c not in out:
            out.append(c)
    return out


# ------------------------------------------------------------------ matmul


def matmul_kernel(fused: Operation, name: str) -> TritonKernel:
    """The Triton kernel of a fused matmul group (see the module doc)."""
    group = ContractionGroup(fused, name, "kiln.matmul")
    mm = group.contraction
    lhs, rhs = mm.operands
    batch_rank = matmul_batch_rank(group)
    pa, pb = _operand(group, lhs), _operand(group, rhs)
    base = MATMUL_DIMS + 3 * batch_rank
    n_epi = len(group.epilogue.dims) if group.epilogue is not None else 0
    n_buffers = group.n_buffers
    # (along M, along K) and (along K, along N); LDA, LDB: the binder's leading dims
    a_strides = ("1", "LDA") if matmul_transposed(mm, 0) else ("LDA", "1")
    b_strides = ("1", "LDB") if matmul_transposed(mm, 1) else ("LDB", "1")
    lines = [
        _signature(name, n_buffers, base + n_epi, ["BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"]),
        "    flt = tl.zeros([], tl.int32)",
        "    M = i0.to(tl.int64)",
        "    N = i1.to(tl.int64)",
        "    K = i2.to(tl.int64)",
        "    LDA = i3.to(tl.int64)",
        "    LDB = i4.to(tl.int64)",
        "    pid = tl.program_id(0)",
        "    bat = tl.program_id(1).to(tl.int64)",
        "    num_m = tl.cdiv(M, BLOCK_M)",
        "    num_n = tl.cdiv(N, BLOCK_N)",
        "    per_group = GROUP_M * num_n",
        "    first_m = (pid // per_group) * GROUP_M",
        "    size_m = tl.minimum(num_m - first_m, GROUP_M)",
        "    pid_m = first_m + (pid % per_group) % size_m",
        "    pid_n = (pid % per_group) // size_m",
        "    a_at = bat * 0",
        "    b_at = bat * 0",
        "    rest = bat",
    ]
    for i in reversed(range(batch_rank)):
        e, sa, sb = (f"i{MATMUL_DIMS + 3 * i + j}" for j in range(3))
        lines += [
            f"    ib = rest % {e}",
            f"    rest = rest // {e}",
            f"    a_at += ib * {sa}",
            f"    b_at += ib * {sb}",
        ]
    lines += [
        "    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)",
        "    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N).to(tl.int64)",
        "    rk = tl.arange(0, BLOCK_K).to(tl.int64)",
        f"    pa = p{pa} + a_at + rm[:, None] * {a_strides[0]} + rk[None, :] * {a_strides[1]}",
        f"    pb = p{pb} + b_at + rk[:, None] * {b_strides[0]} + rn[None, :] * {b_strides[1]}",
        f"    acc = tl.zeros([BLOCK_M, BLOCK_N], {_acc(group.dtype)})",
        "    for k0 in range(0, K, BLOCK_K):",
        "        a = tl.load(pa, mask=(rm[:, None] < M) & (rk[None, :] + k0 < K), other=0)",
        "        b = tl.load(pb, mask=(rk[:, None] + k0 < K) & (rn[None, :] < N), other=0)",
        f"        {_dot(group.dtype)}",
        f"        pa += BLOCK_K * {a_strides[1]}",
        f"        pb += BLOCK_K * {b_strides[0]}",
        "    offs = (bat * M + rm[:, None]) * N + rn[None, :]",
        "    mask = (rm[:, None] < M) & (rn[None, :] < N)",
    ]
    lines += _finish(group, lines, base)
    source = HEADER + "\n\n" + "\n".join(lines) + "\n"
    shared_bind = matmul_binder(group)

    def configs(in_shapes, out_shapes):
        dims, _ = shared_bind(in_shapes, out_shapes)
        return _tile_configs(dims[0], dims[1], dims[2], group.dtype)

    def bind(in_shapes, out_shapes, config=None):
        dims, _ = shared_bind(in_shapes, out_shapes)
        config = config or _tile_configs(dims[0], dims[1], dims[2], group.dtype)[0]
        m, n = dims[0], dims[1]
        batch = math.prod(dims[MATMUL_DIMS + 3 * i] for i in range(batch_rank))
        tiles = math.ceil(m / config["BLOCK_M"]) * math.ceil(n / config["BLOCK_N"])
        return Launch((tiles, batch), tuple(dims), config)

    text = group.describe(
        [
            f"  C[batch({batch_rank}), M, N] = A[{lhs.type}]"
            f"{' perm ' + str(list(mm.lhs_perm)) if mm.lhs_perm else ''}"
            f"{'^T' if mm.transpose_a else ''} @ B[{rhs.type}]"
            f"{' perm ' + str(list(mm.rhs_perm)) if mm.rhs_perm else ''}"
            f"{'^T' if mm.transpose_b else ''}: Triton tl.dot tiles"
        ]
    )
    dtypes = tuple(a.type.dtype for a in group.args) + tuple(
        v.type.dtype for v in fused.body.terminator.operands
    )
    return TritonKernel(name, source, bind, configs, dtypes, base + n_epi, text)


# ------------------------------------------------------------------ conv


def conv_kernel(fused: Operation, name: str) -> TritonKernel:
    """The Triton kernel of a fused conv group: an implicit GEMM (module doc)."""
    group = ContractionGroup(fused, name, "kiln.conv2d")
    conv = group.contraction
    x, f = conv.operands
    px, pf = _operand(group, x), _operand(group, f)
    kh, kw = f.type.shape[:2]
    (sh, sw), (dh, dw) = conv.strides, conv.dilations
    base = 9  # P, then the shared binder's h, w, c, oh, ow, o, top, left
    n_epi = len(group.epilogue.dims) if group.epilogue is not None else 0
    lines = [
        _signature(
            name, group.n_buffers, base + n_epi, ["BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"]
        ),
        "    flt = tl.zeros([], tl.int32)",
        "    P = i0.to(tl.int64)",
        "    H = i1.to(tl.int64)",
        "    W = i2.to(tl.int64)",
        "    C = i3.to(tl.int64)",
        "    OH = i4.to(tl.int64)",
        "    OW = i5.to(tl.int64)",
        "    N = i6.to(tl.int64)",
        "    TOP = i7.to(tl.int64)",
        "    LEFT = i8.to(tl.int64)",
        f"    K = {kh * kw} * C",
        "    pid = tl.program_id(0)",
        "    num_m = tl.cdiv(P, BLOCK_M)",
        "    num_n = tl.cdiv(N, BLOCK_N)",
        "    per_group = GROUP_M * num_n",
        "    first_m = (pid // per_group) * GROUP_M",
        "    size_m = tl.minimum(num_m - first_m, GROUP_M)",
        "    pid_m = first_m + (pid % per_group) % size_m",
        "    pid_n = (pid % per_group) // size_m",
        "    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M).to(tl.int64)",
        "    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N).to(tl.int64)",
        "    img = rm // (OH * OW)",
        "    oy = (rm // OW) % OH",
        "    ox = rm % OW",
        f"    acc = tl.zeros([BLOCK_M, BLOCK_N], {_acc(group.dtype)})",
        "    for k0 in range(0, K, BLOCK_K):",
        "        kk = k0 + tl.arange(0, BLOCK_K).to(tl.int64)",
        "        tap = kk // C",
        "        ch = kk % C",
        f"        iy = oy[:, None] * {sh} - TOP + (tap // {kw})[None, :] * {dh}",
        f"        ix = ox[:, None] * {sw} - LEFT + (tap % {kw})[None, :] * {dw}",
        "        inside = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)",
        "        ok = (rm[:, None] < P) & (kk[None, :] < K) & inside",
        f"        a = tl.load(p{px} + ((img[:, None] * H + iy) * W + ix) * C + ch[None, :], "
        "mask=ok, other=0)",
        f"        b = tl.load(p{pf} + kk[:, None] * N + rn[None, :], "
        "mask=(kk[:, None] < K) & (rn[None, :] < N), other=0)",
        f"        {_dot(group.dtype)}",
        "    offs = rm[:, None] * N + rn[None, :]",
        "    mask = (rm[:, None] < P) & (rn[None, :] < N)",
    ]
    lines += _finish(group, lines, base)
    source = HEADER + "\n\n" + "\n".join(lines) + "\n"
    shared_bind = conv_binder(group)

    def configs(in_shapes, out_shapes):
        dims, rows = shared_bind(in_shapes, out_shapes)
        return _tile_configs(rows, dims[5], kh * kw * dims[2], group.dtype)

    def bind(in_shapes, out_shapes, config=None):
        dims, rows = shared_bind(in_shapes, out_shapes)
        config = config or _tile_configs(rows, dims[5], kh * kw * dims[2], group.dtype)[0]
        tiles = math.ceil(rows / config["BLOCK_M"]) * math.ceil(dims[5] / config["BLOCK_N"])
        return Launch((tiles,), (rows, *dims), config)

    text = group.describe(
        [
            f"  conv2d {x.type} * {f.type}, strides {list(conv.strides)}, "
            f"dilations {list(conv.dilations)}, {conv.padding}: Triton "
            "implicit GEMM"
        ]
    )
    dtypes = tuple(a.type.dtype for a in group.args) + tuple(
        v.type.dtype for v in fused.body.terminator.operands
    )
    return TritonKernel(name, source, bind, configs, dtypes, base + n_epi, text)
