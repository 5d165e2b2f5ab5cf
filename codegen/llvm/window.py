"""Pooling kernels: max_pool, avg_pool and their gradient ops, NHWC, with
TensorFlow's padding (`bind` computes SAME's top and left from the concrete
sizes, so symbolic images work).

The pools run over rows (n, oh) of the result, with the channels innermost
(contiguous, vectorised): out[n, oh, ow, :] folds the window's pixels in. The
ops whose window picks one position (max_pool_grad, max_pool_grad_grad) take
the first maximum of the whole window with padding read as the lowest value,
as ir/ops/linalg.py does. The gradients that scatter into the input
(max_pool_grad, avg_pool_grad) split over images only (windows overlap), and
walk the windows backwards: each input element then receives its shares in
the reference's order, so the float sums are bit-exact.

max_pool_grad takes float channels a vector at a time (the host's register
width, as the GEMM picks it: 16 f32 with AVX-512, 8 with AVX2): per lane the
position of the window's first maximum, then every pixel inside the window
adds the grad in the lanes that chose it (a select, stored whole: the image
has one writer), so each lane computes what the scalar path does; that path
takes the channels past the last whole vector, and integers. One thread, the
MNIST CNN step at batch 64 (28x28, 32 and 64 channels, 2x2 pools): its two
max_pool_grad kernels 5.7 + 9.8 -> 1.1 + 2.7 ms (KILN_PROFILE).
"""

from __future__ import annotations

from llvmlite import ir

from ...ir import Operation
from ...ir.dtypes import DType
from ...ir.ops.linalg import window_padding
from .frame import Frame, assemble, const, element_type
from .gemm_schedule import vector_bits
from .native import NativeKernel, native
from .scalar import I32, I64

DIMS = ["N", "H", "W", "C", "OH", "OW", "top", "left"]


class Pool:
    """The frame of one pooling kernel and its index arithmetic."""

    def __init__(self, op: Operation, name: str, buffers: list[str]):
        self.op = op
        self.dtype: DType = op.operands[0].type.dtype
        self.t = element_type(op, self.dtype)
        self.kh, self.kw = op.ksize
        self.sh, self.sw = op.strides
        self.f = Frame(name, buffers, DIMS)
        self.N, self.H, self.W, self.C, self.OH, self.OW, self.top, self.left = self.f.dims

    def corner(self, oh: ir.Value, ow: ir.Value) -> tuple[ir.Value, ir.Value]:
        """The input position of a window's first pixel (negative in padding)."""
        b = self.f.b
        return (
            b.sub(self.f.mul(oh, const(self.sh)), self.top),
            b.sub(self.f.mul(ow, const(self.sw)), self.left),
        )

    def span(self, start: ir.Value, extent: int, size: ir.Value) -> tuple[ir.Value, ir.Value]:
        """The part [lo, hi) of [start, start + extent) inside [0, size)."""
        f = self.f
        low = f.clamp(start, const(0), size)
        return low, f.clamp(f.b.add(start, const(extent)), low, size)

    def pixel(self, n: ir.Value, h: ir.Value, w: ir.Value) -> ir.Value:
        """The offset of input element [n, h, w, 0]."""
        return self.f.mul(self.f.linear([n, h, w], [None, self.H, self.W]), self.C)

    def cell(self, n: ir.Value, oh: ir.Value, ow: ir.Value) -> ir.Value:
        """The offset of result element [n, oh, ow, 0]."""
        return self.f.mul(self.f.linear([n, oh, ow], [None, self.OH, self.OW]), self.C)

    def lowest(self) -> ir.Constant:
        """What padding reads as when a window looks for its maximum."""
        if self.dtype.is_float:
            return ir.Constant(self.t, float("-inf"))
        if self.dtype.is_unsigned:
            return ir.Constant(self.t, 0)
        return ir.Constant(self.t, -(1 << (self.t.width - 1)))

    def first_max(self, n: ir.Value, h0: ir.Value, w0: ir.Value, c: ir.Value):
        """(inside, h, w): where in the window at (h0, w0) channel c has its first
        maximum (NaN beats everything), and whether that is inside the image."""
        f, b = self.f, self.f.b
        best = f.slot(self.t, "best", self.lowest())
        where = [f.slot(I64, f"best.{a}", const(0)) for a in "ij"]
        value = f.slot(self.t, "value")
        with (
            f.loop(const(0), const(self.kh), "wi") as i,
            f.loop(const(0), const(self.kw), "wj") as j,
        ):
            h, w = b.add(h0, i), b.add(w0, j)
            inside = b.not_(b.or_(f.outside(h, self.H), f.outside(w, self.W)))
            b.store(self.lowest(), value)
            with b.if_then(inside):
                b.store(f.load(0, f.add(self.pixel(n, h, w), c), self.t), value)
            x, top = b.load(value, typ=self.t), b.load(best, typ=self.t)
            better = self.beats(x, top)
            b.store(b.select(better, x, top), best)
            for slot, k in zip(where, (i, j)):
                b.store(b.select(better, k, b.load(slot, typ=k.type)), slot)
        h = b.add(h0, b.load(where[0], typ=I64))
        w = b.add(w0, b.load(where[1], typ=I64))
        return b.not_(b.or_(f.outside(h, self.H), f.outside(w, self.W))), h, w

    def beats(self, x: ir.Value, top: ir.Value) -> ir.Value:
        """Whether `x` follows `top` as the window's maximum so far: greater, or
        the first NaN (NaN beats everything, as numpy's argmax). Scalars or vectors."""
        b = self.f.b
        better = self.f.scalars.compare("greater", [x, top], self.dtype)
        if not self.dtype.is_float:
            return better
        return b.or_(better, b.and_(b.fcmp_unordered("uno", x, x), b.fcmp_ordered("ord", top, top)))

    def lanes(self) -> int:
        """How many channels a vector of the host's registers holds (as the GEMM
        picks its width: 8 f32 with AVX2, 16 with AVX-512); 0 for integers,
        which take the scalar path."""
        if not self.dtype.is_float:
            return 0
        return vector_bits()[0] // (8 * self.dtype.itemsize)

    def position(self, h: ir.Value, w: ir.Value, h0: ir.Value, w0: ir.Value) -> ir.Value:
        """The index (i * kw + j, an i32) of input pixel (h, w) in the window at (h0, w0)."""
        b = self.f.b
        k = self.f.add(self.f.mul(b.sub(h, h0), const(self.kw)), b.sub(w, w0))
        return b.trunc(k, I32)

    def first_max_lanes(self, n, h0, w0, c, spans, t: ir.VectorType) -> ir.Value:
        """first_max for the channels c .. c + lanes at once: per lane, the
        position (i32) of the window's first maximum. Only the pixels inside
        the image are read: padding (the lowest value) never beats the start,
        which is position 0 with the lowest value, as first_max's."""
        f, b = self.f, self.f.b
        lanes = ir.VectorType(I32, t.count)
        best = f.slot(t, "best.v", ir.Constant(t, self.lowest()))
        where = f.slot(lanes, "best.at", ir.Constant(lanes, 0))
        with f.loop(*spans[0], "h") as h, f.loop(*spans[1], "w") as w:
            x, top = f.load(0, f.add(self.pixel(n, h, w), c), t), b.load(best, typ=t)
            better = self.beats(x, top)
            b.store(b.select(better, x, top), best)
            here = f.splat(self.position(h, w, h0, w0), t.count)
            b.store(b.select(better, here, b.load(where, typ=lanes)), where)
        return b.load(where, typ=lanes)

    def route_lanes(self, n, oh, ow, c, t: ir.VectorType) -> None:
        """max_pool_grad's window (oh, ow) for channels c .. c + lanes: every
        pixel inside adds the grad in the lanes where it is the first maximum
        (a select: the other lanes are stored back as they were)."""
        f, b = self.f, self.f.b
        h0, w0 = self.corner(oh, ow)
        spans = self.span(h0, self.kh, self.H), self.span(w0, self.kw, self.W)
        where = self.first_max_lanes(n, h0, w0, c, spans, t)
        grad = f.load(1, f.add(self.cell(n, oh, ow), c), t)
        with f.loop(*spans[0], "h") as h, f.loop(*spans[1], "w") as w:
            at = f.add(self.pixel(n, h, w), c)
            mine = b.icmp_signed("==", where, f.splat(self.position(h, w, h0, w0), t.count))
            old = f.load(2, at, t)
            f.store(b.select(mine, b.fadd(old, grad), old), 2, at)

    def route_one(self, n, oh, ow, c) -> None:
        """max_pool_grad's window (oh, ow) for channel c: the grad added to its
        first maximum, when that is inside the image."""
        f = self.f
        inside, h, w = self.first_max(n, *self.corner(oh, ow), c)
        with f.b.if_then(inside):
            at = f.add(self.pixel(n, h, w), c)
            grad = f.load(1, f.add(self.cell(n, oh, ow), c), self.t)
            total = f.scalars.compute(
                "add", [f.load(2, at, self.t), grad], [self.dtype] * 2, self.dtype
            )
            f.store(total, 2, at)

    def count(self, h_span, w_span) -> ir.Value:
        """The number of pixels of a window inside the image, as the dtype."""
        b = self.f.b
        pixels = self.f.mul(b.sub(h_span[1], h_span[0]), b.sub(w_span[1], w_span[0]))
        return self.f.scalars.cast(pixels, DType.i64, self.dtype)

    def zero_image(self, n: ir.Value, buffer: int) -> None:
        """Set image n of the (input-shaped) result to 0."""
        f = self.f
        size = f.mul(f.mul(self.H, self.W), self.C)
        with f.loop(const(0), size, "z") as k:
            f.store(ir.Constant(self.t, 0), buffer, f.add(f.mul(n, size), k))

    def build(self, outer: str, way: str) -> NativeKernel:
        """The kernel; `outer` is "rows" (n, oh) or "images" (n)."""
        op, (kh, kw), (sh, sw) = self.op, self.op.ksize, self.op.strides

        def bind(operands, results):
            n, h, w, c = operands[0]
            oh, ow = (results[0] if outer == "rows" else operands[1])[1:3]
            top = window_padding(op, h, kh, sh, 0)[0]
            left = window_padding(op, w, kw, sw, 1)[0]
            return [n, h, w, c, oh, ow, top, left], n * oh if outer == "rows" else n

        return assemble(op, self.f, bind, way)


def _fold_windows(op: Operation, name: str, average: bool) -> NativeKernel:
    """max_pool or avg_pool: out[n, oh, ow, :] = the fold of the window's pixels."""
    p = Pool(op, name, ["x", "out"])
    f, b, s = p.f, p.f.b, p.f.scalars
    kind = "add" if average else "max"
    start = ir.Constant(p.t, 0.0) if average else p.lowest()
    with f.split_rows(p.OH, "row") as (n, oh), f.loop(const(0), p.OW, "ow") as ow:
        h0, w0 = p.corner(oh, ow)
        hs, ws = p.span(h0, p.kh, p.H), p.span(w0, p.kw, p.W)
        cell = p.cell(n, oh, ow)
        with f.loop(const(0), p.C, "c0") as c:
            f.store(start, 1, f.add(cell, c))
        with f.loop(*hs, "h") as h, f.loop(*ws, "w") as w:
            pixel = p.pixel(n, h, w)
            with f.loop(const(0), p.C, "c") as c:
                x, acc = f.load(0, f.add(pixel, c), p.t), f.load(1, f.add(cell, c), p.t)
                f.store(s.compute(kind, [acc, x], [p.dtype] * 2, p.dtype), 1, f.add(cell, c))
        if average:
            count = p.count(hs, ws)
            with f.loop(const(0), p.C, "c1") as c:
                f.store(b.fdiv(f.load(1, f.add(cell, c), p.t), count), 1, f.add(cell, c))
    return p.build("rows", f"rows (n, oh); the window's {kind} per channel")


@native("kiln.max_pool")
def max_pool(op: Operation, name: str) -> NativeKernel:
    """The maximum of each window (NaN wins, as numpy's max)."""
    return _fold_windows(op, name, average=False)


@native("kiln.avg_pool")
def avg_pool(op: Operation, name: str) -> NativeKernel:
    """The mean of each window over the pixels inside the image (TensorFlow)."""
    return _fold_windows(op, name, average=True)


@native("kiln.max_pool_grad_grad")
def max_pool_grad_grad(op: Operation, name: str) -> NativeKernel:
    """The tangent (input-shaped) read at each window's first maximum of x."""
    p = Pool(op, name, ["x", "tangent", "out"])
    f, b = p.f, p.f.b
    with f.split_rows(p.OH, "row") as (n, oh), f.loop(const(0), p.OW, "ow") as ow:
        h0, w0 = p.corner(oh, ow)
        cell = p.cell(n, oh, ow)
        with f.loop(const(0), p.C, "c") as c:
            inside, h, w = p.first_max(n, h0, w0, c)
            picked = f.slot(p.t, "picked")
            b.store(ir.Constant(p.t, 0), picked)
            with b.if_then(inside):
                b.store(f.load(1, f.add(p.pixel(n, h, w), c), p.t), picked)
            f.store(b.load(picked, typ=p.t), 2, f.add(cell, c))
    return p.build("rows", "rows (n, oh); per channel the tangent at the first maximum")


@native("kiln.max_pool_grad")
def max_pool_grad(op: Operation, name: str) -> NativeKernel:
    """Each window's grad added to the input position of its first maximum: a
    vector of channels at a time (floats), the channels past the last whole
    vector (and integers) one by one."""
    p = Pool(op, name, ["x", "grad", "out"])
    f, lanes = p.f, p.lanes()
    whole = f.b.sub(p.C, f.b.srem(p.C, const(lanes))) if lanes else const(0)
    with f.loop(f.begin, f.end, "n") as n:
        p.zero_image(n, 2)
        with f.loop_down(p.OH, "oh") as oh, f.loop_down(p.OW, "ow") as ow:
            if lanes:
                with f.loop(const(0), whole, "cv", step=lanes) as c:
                    p.route_lanes(n, oh, ow, c, ir.VectorType(p.t, lanes))
            with f.loop(whole, p.C, "c") as c:
                p.route_one(n, oh, ow, c)
    way = f"{lanes} channels a vector" if lanes else "one channel at a time"
    return p.build(
        "images", f"per image: zero, then each window's grad to its first maximum, {way}"
    )


@native("kiln.avg_pool_grad")
def avg_pool_grad(op: Operation, name: str) -> NativeKernel:
    """Each window's grad / count added to the pixels it averaged."""
    p = Pool(op, name, ["x", "grad", "out"])
    f, b = p.f, p.f.b
    with f.loop(f.begin, f.end, "n") as n:
        p.zero_image(n, 2)
        with f.loop_down(p.OH, "oh") as oh, f.loop_down(p.OW, "ow") as ow:
            h0, w0 = p.corner(oh, ow)
            hs, ws = p.span(h0, p.kh, p.H), p.span(w0, p.kw, p.W)
            cell, count = p.cell(n, oh, ow), p.count(hs, ws)
            with f.loop(*hs, "h") as h, f.loop(*ws, "w") as w:
                pixel = p.pixel(n, h, w)
                with f.loop(const(0), p.C, "c") as c:
                    share = b.fdiv(f.load(1, f.add(cell, c), p.t), count)
                    total = b.fadd(f.load(2, f.add(pixel, c), p.t), share)
                    f.store(total, 2, f.add(pixel, c))
    return p.build("images", "per image: zero, then each window's grad / count to its pixels")
