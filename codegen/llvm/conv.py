"""Native kernels of fused conv groups: GEMMs by blocks of output pixels, each
block's epilogue run right after its GEMM, while it is in cache.

kiln.conv2d (ir/ops/linalg.py, as tf.nn.conv2d): input x[n, h, w, c] (NHWC),
filter f[kh, kw, c, o] (HWIO), strides, dilations, SAME / VALID / EXPLICIT
padding. The result's pixels (n * oh * ow of them) are its rows: the ABI's
[begin, end) ranges over them. The filter, read as a [kh * kw * c, o]
row-major matrix, is already what the GEMM wants; for a block of rows the
kernel copies each pixel's window (zeros where it falls in the padding) into
a scratch row of kh * kw * c elements (im2col), then one GEMM gives the
block's rows of the result, and the epilogue runs on them. A 1x1 filter
with unit strides and no padding needs no copy: the input is the matrix.

f32 and f64 on kiln's own GEMM skip the copy too, over blocks of
OUTPUT_BLOCK_BYTES of the result: direct NHWC loops (codegen/llvm/
conv_direct.py: the filter packed, the image read in place, tiles of pixels x
channels in registers), or, for a conv of few output channels, an implicit
GEMM (codegen/llvm/conv_gemm.py) whose packing reads the windows from the
image (`_shared_conv_gemm` chooses). 32x32x32x64 3x3 SAME on one thread, CPU
ms, loaded: implicit 35.9 -> direct 24.2, torch eager 23.5. ResNet-like 3x3 layers on one
thread (CPU ms, one run, loaded machine): 32x32x32x64 im2col + GEMM 17-25 ->
implicit 14, 1x56x56x64 2.3 -> 1.2 (benchmarks/conv.py). The im2col path
remains for `KILN_GEMM=blas` (the BLAS packs its own operands) and any other
dtype; what follows is its measurement.

Why this shape (32x32x32x64 * 3x3x64 SAME, f32, 2 cores, OpenBLAS with 2
threads; ms, medians): im2col + GEMM takes about the time of the GEMM alone
(22 vs 20), while nine per-tap GEMMs (numpy) take 31 and numpy's im2col 40.
A direct loop nest was not built: without a tiled, vectorised microkernel of
its own it cannot compete with the BLAS GEMM it would replace. Blocks of
1 to 16 MiB of windows all land within 10% (fewer, larger GEMM calls win
against BLAS's per-call cost of packing and waking threads), 256 KiB costs
25% more, and 32 MiB doubles the time: glibc then maps fresh pages for every
malloc and each first write page-faults. `BLOCK_BYTES` sits in the flat part.

Run-time ints: h, w, c, oh, ow, o, the top and left padding, then the
epilogue's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from llvmlite import ir

from ...ir import Operation
from ...ir.dtypes import DType
from ..arguments import Shape
from ..contraction import ContractionGroup, conv_binder
from .contraction import Frame, unravel
from .conv_direct import conv_direct_function, conv_direct_name, direct_schedule
from .conv_gemm import CONV_GEMM_TYPE, GEOMETRY, conv_gemm_function, conv_gemm_name
from .gemm import Gemm, Operand, blas_symbol, check_int32, shared_function, uses_blas
from .gemm_schedule import default_schedule
from .native import NativeKernel, native
from .render import counted_loop
from .scalar import I1, I8, I32, I64, storage_type

BLOCK_BYTES = 8 << 20  # of im2col rows per GEMM call (see the module doc)
OUTPUT_BLOCK_BYTES = 2 << 20  # of the result per implicit GEMM call, then its epilogue
DIMS = ("h", "w", "c", "oh", "ow", "o", "pad_top", "pad_left")
PTR = ir.PointerType()


@native("kiln.fused:conv")
def conv_kernel(fused: Operation, name: str) -> NativeKernel:
    """The native kernel of a fused conv group (see the module doc)."""
    group = ContractionGroup(fused, name, "kiln.conv2d")
    conv = group.contraction
    window = _Window(conv)
    implicit = _implicit(group) and not window.is_pointwise()
    # registered now: object code from the disk cache links them unrendered
    o = conv.operands[1].type.shape[3]  # the filter's output channels
    static_o = o if isinstance(o, int) else None
    conv_gemm = _shared_conv_gemm(group.dtype, static_o) if implicit else None
    if group.dtype.is_float:
        blas_symbol(group.dtype)

    def build() -> ir.Module:
        module = ir.Module(name=name)
        frame = Frame(group, module, n_dims=len(DIMS))
        if implicit:
            _emit_implicit(frame, window, conv_gemm)
        else:
            (_emit_pointwise if window.is_pointwise() else _emit_im2col)(frame, window)
        return module

    how = (
        "one GEMM on the input (a 1x1 filter, unit strides, no padding)"
        if window.is_pointwise()
        else f"{_path_words(conv_gemm)} ({conv_gemm}) in blocks of "
        f"{OUTPUT_BLOCK_BYTES >> 10} KiB of the result"
        if implicit
        else f"im2col in blocks of {BLOCK_BYTES >> 10} KiB + GEMM"
    )
    x, f = conv.operands
    text = group.describe(
        [
            f"  conv2d {x.type} * {f.type}, strides {list(conv.strides)}, "
            f"dilations {list(conv.dilations)}, {conv.padding}: {how}, "
            "pixels [begin, end)"
        ]
    )
    return NativeKernel(name, build, _blas_binder(group), text)


class _Window:
    """The static geometry of a conv2d: filter size, strides, dilations, channels."""

    def __init__(self, conv: Operation):
        x, f = conv.operands
        self.conv = conv
        self.kh, self.kw = f.type.shape[:2]  # static (the type rule says so)
        (self.sh, self.sw), (self.dh, self.dw) = conv.strides, conv.dilations
        c = x.type.shape[3] if isinstance(x.type.shape[3], int) else f.type.shape[2]
        self.channels = c if isinstance(c, int) else None

    def is_pointwise(self) -> bool:
        conv = self.conv
        no_padding = conv.padding != "EXPLICIT" or not any(conv.explicit_padding or ())
        return (self.kh, self.kw, self.sh, self.sw) == (1, 1, 1, 1) and no_padding


def _emit_pointwise(frame: Frame, window: _Window) -> None:
    b, group = frame.b, frame.group
    _, _, c, _, _, o, _, _ = frame.dims
    x, f = group.contraction.operands
    t = storage_type(group.dtype)
    frame.prepare(o)
    begin, end = frame.begin, frame.end
    with b.if_then(b.icmp_signed("<", begin, end)):
        a = b.gep(frame.operand(x), [b.mul(begin, c)], source_etype=t)
        Gemm(b, frame.slots, group.dtype, fault=frame.fault)(
            Operand(a, c),
            Operand(frame.operand(f), o),
            b.gep(frame.acc, [b.mul(begin, o)], source_etype=t),
            b.sub(end, begin),
            o,
            c,
        )
        frame.epilogue(b.mul(begin, o), b.mul(end, o))
    frame.finish()


def _implicit(group: ContractionGroup) -> bool:
    """Whether the conv runs as an implicit GEMM: f32 / f64 on kiln's own GEMM.
    `KILN_GEMM=blas` (no packing of ours to hook) and any other dtype take the
    explicit im2col path."""
    return group.dtype in (DType.f32, DType.f64) and not uses_blas()


def _emit_implicit(frame: Frame, window: _Window, conv_gemm: str) -> None:
    """Blocks of output pixels, each one call of the implicit GEMM named
    `conv_gemm` (codegen/llvm/conv_gemm.py), then its epilogue, while the block
    is in cache."""
    b, group = frame.b, frame.group
    h, width, c, oh, ow, o, pad_top, pad_left = frame.dims
    x, f = group.contraction.operands
    t, size = storage_type(group.dtype), group.dtype.itemsize
    one = ir.Constant(I64, 1)
    if window.channels is not None:
        c = ir.Constant(I64, window.channels)
    depth = b.mul(c, ir.Constant(I64, window.kh * window.kw))
    rows = frame.max(
        b.udiv(ir.Constant(I64, OUTPUT_BLOCK_BYTES), b.mul(o, ir.Constant(I64, size))), one
    )
    frame.prepare(o)
    geometry = frame.slots.alloca(I64, len(GEOMETRY), name="geometry")
    static = {"kh": window.kh, "kw": window.kw, "sh": window.sh, "sw": window.sw}
    static.update(dh=window.dh, dw=window.dw)
    known = {"h": h, "w": width, "cin": c, "oh": oh, "ow": ow}
    known.update(pad_top=pad_top, pad_left=pad_left)
    for i, name in enumerate(GEOMETRY):
        value = known[name] if name in known else ir.Constant(I64, static[name])
        b.store(value, b.gep(geometry, [ir.Constant(I64, i)], source_etype=I64))
    gemm = frame.module.globals.get(conv_gemm) or ir.Function(
        frame.module, CONV_GEMM_TYPE, conv_gemm
    )
    x_data, f_data = frame.operand(x), frame.operand(f)
    begin, end = frame.begin, frame.end
    with b.if_then(b.icmp_signed("<", begin, end)):
        span = b.sub(end, begin)
        blocks = b.udiv(b.add(span, b.sub(rows, one)), rows)
        with counted_loop(b, ir.Constant(I64, 0), blocks, "block") as j:
            p0 = b.add(begin, b.mul(j, rows))
            p1 = frame.min(b.add(p0, rows), end)
            out = b.gep(frame.acc, [b.mul(p0, o)], source_etype=t)
            args = [x_data, geometry, f_data, out, p0, b.sub(p1, p0), o, depth]
            fault = b.call(gemm, args)
            b.store(b.or_(b.load(frame.fault, typ=I32), fault), frame.fault)
            frame.epilogue(b.mul(p0, o), b.mul(p1, o))
    frame.finish()


def _shared_conv_gemm(dtype: DType, out_channels: int | None) -> str:
    """The name of the process's conv function for `dtype` and the host's
    schedule, the direct loops (conv_direct.py) or the implicit GEMM
    (conv_gemm.py): it reads the geometry at run time, so every conv kernel
    declares one compiled copy (gemm.py's `shared_function`: ~0.2 s of LLVM
    each otherwise, a conv kernel's cold compile 260 -> 26 ms CPU).

    The direct loops' tile is NR output channels wide (64 on AVX-512): a conv
    with at most half that many (static) takes the implicit GEMM, whose
    NR strips are narrower (1x56x56x16 -> 32, one thread, CPU: 0.51 ms
    implicit, 0.68 direct); the direct loops win from 64 up, and on
    ResNet's 7x7x3 stem (1x224x224x3 stride 2: 4.5 -> 2.7 ms). `KILN_CONV`
    = direct / implicit forces one."""
    schedule = default_schedule(dtype)
    forced = os.environ.get("KILN_CONV")
    narrow = out_channels is not None and 2 * out_channels <= direct_schedule(schedule).nr
    if forced == "implicit" or (forced != "direct" and narrow):
        return shared_function(
            conv_gemm_name(dtype, schedule), lambda m: conv_gemm_function(m, dtype, schedule)
        )
    return shared_function(
        conv_direct_name(dtype, schedule), lambda m: conv_direct_function(m, dtype, schedule)
    )


def _path_words(shared: str) -> str:
    """How the listing (and the disk cache's key, which hashes it) names the path."""
    if shared.startswith("kiln.conv_direct."):
        return "direct NHWC loops (the image read in place)"
    return "implicit GEMM (the image packed directly)"


def _emit_im2col(frame: Frame, window: _Window) -> None:
    b, group = frame.b, frame.group
    _, _, c, _, _, o, _, _ = frame.dims
    x, f = group.contraction.operands
    t, size = storage_type(group.dtype), group.dtype.itemsize
    taps = window.kh * window.kw
    one = ir.Constant(I64, 1)
    if window.channels is not None:
        c = ir.Constant(I64, window.channels)  # constant copy sizes: inlined moves
        rows = ir.Constant(I64, max(1, BLOCK_BYTES // max(1, taps * window.channels * size)))
    else:
        row_bytes = frame.max(b.mul(c, ir.Constant(I64, taps * size)), one)
        rows = frame.max(b.udiv(ir.Constant(I64, BLOCK_BYTES), row_bytes), one)
    depth = b.mul(c, ir.Constant(I64, taps))  # the GEMM's K: one window
    begin, end = frame.begin, frame.end
    span = frame.max(b.sub(end, begin), ir.Constant(I64, 0))
    block_bytes = b.mul(b.mul(frame.min(rows, span), depth), ir.Constant(I64, size))
    [col] = frame.prepare(o, [block_bytes])
    x_data, f_data = frame.operand(x), frame.operand(f)
    gemm = Gemm(b, frame.slots, group.dtype, fault=frame.fault)
    im2col = _Im2col(frame, window, c, t)
    with b.if_then(b.icmp_signed("<", begin, end)):
        blocks = b.udiv(b.add(span, b.sub(rows, one)), rows)
        with counted_loop(b, ir.Constant(I64, 0), blocks, "block") as j:
            p0 = b.add(begin, b.mul(j, rows))
            p1 = frame.min(b.add(p0, rows), end)
            im2col.rows(x_data, col, p0, p1, depth)
            gemm(
                Operand(col, depth),
                Operand(f_data, o),
                b.gep(frame.acc, [b.mul(p0, o)], source_etype=t),
                b.sub(p1, p0),
                o,
                depth,
            )
            frame.epilogue(b.mul(p0, o), b.mul(p1, o))
    frame.finish()


class _Im2col:
    """Emits the copy of pixels' windows into rows of a scratch matrix."""

    def __init__(self, frame: Frame, window: _Window, channels: ir.Value, t: ir.Type):
        self.frame, self.window, self.c, self.t = frame, window, channels, t
        self.b = frame.b
        size = ir.Constant(I64, frame.group.dtype.itemsize)
        self.tap_bytes = self.b.mul(channels, size)
        self.run_bytes = self.b.mul(self.tap_bytes, ir.Constant(I64, window.kw))
        self.memcpy = frame.declare("llvm.memcpy.p0.p0.i64", ir.VoidType(), [PTR, PTR, I64, I1])
        self.memset = frame.declare("llvm.memset.p0.i64", ir.VoidType(), [PTR, I8, I64, I1])

    def rows(self, x: ir.Value, col: ir.Value, p0: ir.Value, p1: ir.Value, depth: ir.Value) -> None:
        """Rows p0..p1 (pixels) of the im2col matrix into `col` (from its row 0)."""
        b, w = self.b, self.window
        h, width, _, oh, ow, _, pad_top, pad_left = self.frame.dims
        with counted_loop(b, p0, p1, "pixel") as p:
            image, line, column = unravel(b, p, [None, oh, ow])
            dst = b.gep(col, [b.mul(b.sub(p, p0), depth)], source_etype=self.t)
            src = b.gep(x, [b.mul(b.mul(b.mul(image, h), width), self.c)], source_etype=self.t)
            top = b.sub(b.mul(line, ir.Constant(I64, w.sh)), pad_top)
            left = b.sub(b.mul(column, ir.Constant(I64, w.sw)), pad_left)
            for i in range(w.kh):
                ih = b.add(top, ir.Constant(I64, i * w.dh))
                row_src = b.gep(src, [b.mul(b.mul(ih, width), self.c)], source_etype=self.t)
                row_dst = b.gep(
                    dst, [b.mul(self.c, ir.Constant(I64, i * w.kw))], source_etype=self.t
                )
                inside = b.icmp_unsigned("<", ih, h)
                if w.dw == 1 and w.kw > 1:  # the whole run of taps is contiguous
                    last = b.add(left, ir.Constant(I64, w.kw))
                    whole = b.and_(
                        inside,
                        b.and_(
                            b.icmp_signed(">=", left, ir.Constant(I64, 0)),
                            b.icmp_signed("<=", last, width),
                        ),
                    )
                    with b.if_else(whole, likely=True) as (run, taps):
                        with run:
                            self.copy(row_dst, row_src, left, self.run_bytes)
                        with taps:
                            self.taps(row_dst, row_src, inside, left, width)
                else:
                    self.taps(row_dst, row_src, inside, left, width)

    def taps(
        self, dst: ir.Value, src: ir.Value, row_inside: ir.Value, left: ir.Value, width: ir.Value
    ) -> None:
        """One window row, tap by tap: a copy where inside the image, else zeros."""
        b, w = self.b, self.window
        for j in range(w.kw):
            iw = b.add(left, ir.Constant(I64, j * w.dw))
            tap = b.gep(dst, [b.mul(self.c, ir.Constant(I64, j))], source_etype=self.t)
            inside = b.and_(row_inside, b.icmp_unsigned("<", iw, width))
            with b.if_else(inside) as (copy, zero):
                with copy:
                    self.copy(tap, src, iw, self.tap_bytes)
                with zero:
                    b.call(
                        self.memset, [tap, ir.Constant(I8, 0), self.tap_bytes, ir.Constant(I1, 0)]
                    )

    def copy(self, dst: ir.Value, row_src: ir.Value, iw: ir.Value, nbytes: ir.Value) -> None:
        src = self.b.gep(row_src, [self.b.mul(iw, self.c)], source_etype=self.t)
        self.b.call(self.memcpy, [dst, src, nbytes, ir.Constant(I1, 0)])


def _blas_binder(group: ContractionGroup):
    """The shared conv shape rule, and the BLAS call's 32-bit extents."""
    shared = conv_binder(group)

    def bind(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        dims, rows = shared(in_shapes, out_shapes)
        _, _, c, _, _, o = dims[:6]
        k = group.operand_shape(group.contraction.operands[1], in_shapes)
        check_int32(group.contraction, pixels=rows, N=o, K=k[0] * k[1] * c)
        return dims, rows

    return bind
