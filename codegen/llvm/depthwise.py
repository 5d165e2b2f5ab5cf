"""Depthwise convolution kernels (ir/ops/depthwise.py): direct loops over the
window's taps, NHWC with the channels innermost, so the innermost loop runs
along contiguous channels of the input, the filter tap and the result and
LLVM vectorises it (the channel count and multiplier are static: the filter's
shape is). No im2col and no block-diagonal filter: each multiply-add is one
the convolution needs.

- forward: over rows (n, oh) of the result; each result pixel is zeroed, then
  every tap inside the image adds x[pixel, c] * w[tap, c, m].
- input gradient: over rows (n, h) of the input, gathering: input pixel h
  receives from output row oh through tap i when h + top - i * dh = oh * sh,
  so each input element is written by one thread, once, with no zeroing pass
  over the image and no scatter.
- filter gradient: the sum over (n, oh, ow) is kept whole per thread; the
  threads split the channels ([begin, end) ranges over c), so each filter
  element has one writer and the sums need no combining.

Run-time ints: n, h, w, oh, ow and the top and left padding (bind computes
SAME's from the concrete sizes, so symbolic batches and images work).
"""

from __future__ import annotations

from llvmlite import ir

from ...ir import Operation
from ...ir.ops.linalg import window_padding
from .frame import Frame, assemble, const, element_type
from .native import NativeKernel, native

DIMS = ["N", "H", "W", "OH", "OW", "top", "left"]


class Window:
    """The frame of one depthwise kernel and its static geometry."""

    def __init__(self, op: Operation, name: str, buffers: list[str], filter_shape):
        self.op = op
        self.t = element_type(op, op.operands[0].type.dtype)
        self.kh, self.kw, self.c, self.m = (int(d) for d in filter_shape)
        self.sh, self.sw = op.strides
        self.dh, self.dw = op.dilations
        self.f = Frame(name, buffers, DIMS)
        self.N, self.H, self.W, self.OH, self.OW, self.top, self.left = self.f.dims

    def pixel(self, n: ir.Value, h: ir.Value, w: ir.Value) -> ir.Value:
        """The offset of input element [n, h, w, 0]."""
        f = self.f
        return f.mul(f.linear([n, h, w], [None, self.H, self.W]), const(self.c))

    def cell(self, n: ir.Value, oh: ir.Value, ow: ir.Value) -> ir.Value:
        """The offset of output element [n, oh, ow, 0] (c * m channels)."""
        f = self.f
        return f.mul(f.linear([n, oh, ow], [None, self.OH, self.OW]), const(self.c * self.m))

    def tap(self, i: ir.Value, j: ir.Value) -> ir.Value:
        """The offset of filter element [i, j, 0, 0]."""
        f = self.f
        return f.mul(f.add(f.mul(i, const(self.kw)), j), const(self.c * self.m))

    def inside_taps(self, h0: ir.Value, w0: ir.Value):
        """Loops over the taps (i, j) whose input row h0 + i dh and column
        w0 + j dw lie inside the image; yields (i, j, h, w) in the body."""
        return _Taps(self, h0, w0)

    def multiply_add(self, out: int, at: ir.Value, a: int, a_at: ir.Value, b: int, b_at: ir.Value):
        """out[at + c m + k] += a[a_at + c] * b[b_at + c m + k] for every channel
        c and multiplier index k (unrolled: m is small), so the loop over c has
        no division in it."""
        f, t = self.f, self.t
        with f.loop(const(0), const(self.c), "c") as c:
            x = f.load(a, f.add(a_at, c), t)
            first = f.mul(c, const(self.m))
            for k in range(self.m):
                at_k = f.add(first, const(k))
                y = f.load(b, f.add(b_at, at_k), t)
                total = f.b.fadd(f.load(out, f.add(at, at_k), t), f.b.fmul(x, y))
                f.store(total, out, f.add(at, at_k))

    def zero(self, buffer: int, at: ir.Value, count: int) -> None:
        with self.f.loop(const(0), const(count), "z") as k:
            self.f.store(ir.Constant(self.t, 0.0), buffer, self.f.add(at, k))

    def build(self, image_shape, outer: str, way: str) -> NativeKernel:
        """The kernel; `image_shape(operands, results)` gives the input's and
        the output's shapes, `outer` is "rows" (n, oh), "input rows" (n, h) or
        "channels"."""
        op, (kh, kw) = self.op, (self.kh, self.kw)
        extents = [(kh - 1) * self.dh + 1, (kw - 1) * self.dw + 1]

        def bind(operands, results):
            (n, h, w, _), (_, oh, ow, _) = image_shape(operands, results)
            top = window_padding(op, h, extents[0], self.sh, 0)[0]
            left = window_padding(op, w, extents[1], self.sw, 1)[0]
            extent = {"rows": n * oh, "input rows": n * h, "channels": self.c}[outer]
            return [n, h, w, oh, ow, top, left], extent

        return assemble(op, self.f, bind, way)


class _Taps:
    def __init__(self, window: Window, h0: ir.Value, w0: ir.Value):
        self.w, self.h0, self.w0 = window, h0, w0

    def __enter__(self):
        w, f = self.w, self.w.f
        b = f.b
        self._i = f.loop(const(0), const(w.kh), "i")
        i = self._i.__enter__()
        h = f.add(self.h0, f.mul(i, const(w.dh)))
        self._h_in = b.if_then(b.not_(f.outside(h, w.H)))
        self._h_in.__enter__()
        self._j = f.loop(const(0), const(w.kw), "j")
        j = self._j.__enter__()
        col = f.add(self.w0, f.mul(j, const(w.dw)))
        self._w_in = b.if_then(b.not_(f.outside(col, w.W)))
        self._w_in.__enter__()
        return i, j, h, col

    def __exit__(self, *exc):
        for ctx in (self._w_in, self._j, self._h_in, self._i):
            ctx.__exit__(None, None, None)
        return False


@native("kiln.depthwise_conv2d")
def depthwise_conv2d(op: Operation, name: str) -> NativeKernel:
    """out[n, oh, ow, c m + k] = sum over the taps inside of x[.., c] w[i, j, c, k]."""
    p = Window(op, name, ["x", "w", "out"], op.filter.type.shape)
    f, b = p.f, p.f.b
    with f.split_rows(p.OH, "row") as (n, oh), f.loop(const(0), p.OW, "ow") as ow:
        cell = p.cell(n, oh, ow)
        p.zero(2, cell, p.c * p.m)
        h0 = b.sub(f.mul(oh, const(p.sh)), p.top)
        w0 = b.sub(f.mul(ow, const(p.sw)), p.left)
        with p.inside_taps(h0, w0) as (i, j, h, w):
            p.multiply_add(2, cell, 0, p.pixel(n, h, w), 1, p.tap(i, j))
    return p.build(
        lambda operands, results: (operands[0], results[0]),
        "rows",
        "rows (n, oh); per pixel each tap inside the image, channels innermost",
    )


@native("kiln.depthwise_conv2d_backprop_input")
def depthwise_conv2d_backprop_input(op: Operation, name: str) -> NativeKernel:
    """dx[n, h, w, c] gathered from the output pixels whose taps read it."""
    p = Window(op, name, ["g", "w", "dx"], op.filter.type.shape)
    f, b, t = p.f, p.f.b, p.t
    with f.split_rows(p.H, "row") as (n, h), f.loop(const(0), p.W, "w") as w:
        pixel = p.pixel(n, h, w)
        p.zero(2, pixel, p.c)
        with f.loop(const(0), const(p.kh), "i") as i:
            oh, h_ok = _source(p, b.add(h, p.top), i, p.dh, p.sh, p.OH)
            with b.if_then(h_ok), f.loop(const(0), const(p.kw), "j") as j:
                ow, w_ok = _source(p, b.add(w, p.left), j, p.dw, p.sw, p.OW)
                with b.if_then(w_ok):
                    cell, tap = p.cell(n, oh, ow), p.tap(i, j)
                    with f.loop(const(0), const(p.c), "c") as c:
                        first = f.mul(c, const(p.m))
                        total = f.load(2, f.add(pixel, c), t)
                        for k in range(p.m):  # the multiplier is small: unrolled
                            at = f.add(first, const(k))
                            term = b.fmul(
                                f.load(0, f.add(cell, at), t), f.load(1, f.add(tap, at), t)
                            )
                            total = b.fadd(total, term)
                        f.store(total, 2, f.add(pixel, c))
    size = list(op.input_size)
    return p.build(
        lambda operands, results: (results[0], operands[0]),
        "input rows",
        f"input rows (n, h) of {size}; each pixel gathers its taps' output pixels",
    )


def _source(p: Window, position: ir.Value, tap: ir.Value, dilation: int, stride: int, size):
    """(index, valid): the output row whose tap `tap` reads padded input row
    `position`, and whether there is one (divisible, inside [0, size))."""
    f, b = p.f, p.f.b
    t = b.sub(position, f.mul(tap, const(dilation)))
    index = b.sdiv(t, const(stride))
    exact = b.icmp_signed("==", f.mul(index, const(stride)), t)
    ok = b.and_(b.and_(b.icmp_signed(">=", t, const(0)), exact), b.icmp_signed("<", index, size))
    return index, ok


@native("kiln.depthwise_conv2d_backprop_filter")
def depthwise_conv2d_backprop_filter(op: Operation, name: str) -> NativeKernel:
    """dw[i, j, c, k] = sum over (n, oh, ow) of x[.., c] g[.., c m + k]; threads
    split the channels."""
    shape = op.result.type.shape
    p = Window(op, name, ["x", "g", "dw"], shape)
    f, b, t, cm = p.f, p.f.b, p.t, p.c * p.m
    m = const(p.m)
    with f.loop(const(0), const(p.kh * p.kw), "zt") as tap:
        row = f.mul(tap, const(cm))
        with f.loop(f.mul(f.begin, m), f.mul(f.end, m), "zk") as k:
            f.store(ir.Constant(t, 0.0), 2, f.add(row, k))
    with (
        f.loop(const(0), p.N, "n") as n,
        f.loop(const(0), p.OH, "oh") as oh,
        f.loop(const(0), p.OW, "ow") as ow,
    ):
        cell = p.cell(n, oh, ow)
        h0 = b.sub(f.mul(oh, const(p.sh)), p.top)
        w0 = b.sub(f.mul(ow, const(p.sw)), p.left)
        with p.inside_taps(h0, w0) as (i, j, h, w):
            pixel, tap = p.pixel(n, h, w), p.tap(i, j)
            with f.loop(f.begin, f.end, "c") as c:
                x = f.load(0, f.add(pixel, c), t)
                first = f.mul(c, m)
                for j in range(p.m):  # the multiplier is small: unrolled
                    k = f.add(first, const(j))
                    term = b.fmul(x, f.load(1, f.add(cell, k), t))
                    f.store(b.fadd(f.load(2, f.add(tap, k), t), term), 2, f.add(tap, k))
    return p.build(
        lambda operands, results: (operands[0], operands[1]),
        "channels",
        "channels [begin, end); the sum over (n, oh, ow) whole per channel",
    )
