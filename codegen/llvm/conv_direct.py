"""conv_direct: conv2d as a direct NHWC loop nest on kiln's microkernel tiles.

    i32 kiln.conv_direct.<T>.<tag>(x, geo, f, c, p0, m, n, k)

has conv_gemm.py's signature and result (rows p0 .. p0 + m of C[pixels, n],
the geometry at `geo`), but packs no image: the filter (HWIO, [k, n]) is
packed once per call into strips of NR output channels ([n / NR][k][NR], as
the GEMM packs B), and each tile of MR pixels x NR channels is accumulated in
registers over the taps and the input channels, the MR input pixels of a tap
read in place (NHWC: a pixel's channels are contiguous), one broadcast each
per channel, against the strip's NR-vector of the filter:

    pack f                                     once per call
    for blocks of pixels (PIXEL_BLOCK_BYTES of their input channels):
     for jr in 0..n by NR:
      for MR pixels (any strides, dilations):  their window origins hoisted
        acc = 0
        for tap in 0..kh * kw:                 a pixel outside the image, or past
          for ci in 0..cin: acc += x[pixel, tap, ci] * fp[jr][tap, ci]    the
        store acc                              last, reads zeros (stride 0)

Against the implicit GEMM, whose pack pass copies (and transposes) each
pixel's window for every KC block, this reads the image where it lies; the
MR pixels' windows overlap (3x3: each input pixel serves nine). A block of
pixels' input stays in cache across the NR strips, and one strip of the
packed filter (k x NR) in L2 across the block: 16x7x7x512, whose filter
(9.4 MiB) is past L2, 98 -> 103 GFLOP/s on one thread against an unblocked
pixel loop; the other ResNet-18 shapes measured the same either way.

MR is 6, not the GEMM's 12 (AVX-512): each pixel of the tile needs its own
pointer in a general register, and 12 spill; 6 x 64 (4 vectors) keeps 24
accumulators and loads 4 filter vectors and 6 broadcasts per 24 FMAs.
One thread, CPU ms, loaded machine (the implicit GEMM / torch eager in the
same run): 32x32x32x64 40.3 (MR 12 x NR 32) -> 24.2 (35.9 / 23.5).

The vector width, the FMA, the filter packing and the tile writes are the
GEMM's renderer (gemm_kernel.py); threads split the pixels as conv_gemm.py's driver
does (its entry and worker, with this serial loop).
"""

from __future__ import annotations

from llvmlite import ir

from ...ir.dtypes import DType
from .conv_gemm import CONV_GEMM_TYPE, GEOMETRY, _ConvRenderer
from .gemm_kernel import OUT_OF_MEMORY, _declare, _define
from .gemm_schedule import GemmSchedule, vector_bits
from .render import counted_loop
from .scalar import I64

PTR = ir.PointerType()
I32 = ir.IntType(32)
NAMES = ("x", "geo", "f", "c", "p0", "m", "n", "k")
PIXEL_BLOCK_BYTES = 64 << 10  # of input pixels (cin each) per pass over the NR strips
MAX_PIXELS = 6  # MR: one general register per pixel's pointer (x86-64 has 16)


def direct_schedule(s: GemmSchedule, registers: int | None = None) -> GemmSchedule:
    """The direct conv's tile for the GEMM schedule `s`'s vectors: MR pixels of
    MAX_PIXELS at most (their pointers live in general registers, where the
    GEMM's packed A needs one), NR as wide as the vector registers then allow
    (MR x NR / width accumulators, NR / width filter vectors, one broadcast)."""
    registers = vector_bits()[1] if registers is None else registers
    lanes = max(1, (registers - 1) // (MAX_PIXELS + 1))
    mr = max(1, min(MAX_PIXELS, (registers - lanes - 1) // lanes))
    nr = lanes * s.width
    return GemmSchedule(mr, nr, s.kc, mr, nr, s.width, s.unroll, s.threads)


def conv_direct_name(dtype: DType, schedule: GemmSchedule) -> str:
    return f"kiln.conv_direct.{dtype.name}.{schedule.tag}"


def conv_direct_function(module: ir.Module, dtype: DType, schedule: GemmSchedule) -> ir.Function:
    """The module's direct conv for (dtype, schedule), defined (internal) on first use."""
    name = conv_direct_name(dtype, schedule)
    found = module.globals.get(name)
    if found is not None:
        return found
    renderer = _DirectRenderer(module, dtype, direct_schedule(schedule), f"{name}.run")
    return renderer.packed_entry(name, renderer.conv_entry())


class _DirectRenderer(_ConvRenderer):
    """conv_gemm's driver (size 0, threads) over a direct serial loop nest, the
    filter packed before it."""

    def packed_entry(self, name: str, run: ir.Function) -> ir.Function:
        """`name(x, geo, f, c, p0, m, n, k)`: f packed into NR strips, then `run` on it."""
        fn = _define(self.module, name, I32, CONV_GEMM_TYPE.args, NAMES)
        x, geo, f, c, p0, m, n, k = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        malloc = _declare(self.module, "malloc", ir.FunctionType(PTR, [I64]))
        free = _declare(self.module, "free", ir.FunctionType(ir.VoidType(), [PTR]))
        cin = b.load(b.gep(geo, [self.c64(GEOMETRY.index("cin"))], source_etype=I64), typ=I64)
        filter_size = b.mul(self.round_up(b, n, self.s.nr), k)
        size = b.mul(b.add(b.add(filter_size, cin), self.c64(1)), self.c64(self.item))
        packed = b.call(malloc, [size])
        with b.if_then(b.icmp_unsigned("==", packed, ir.Constant(PTR, None)), likely=False):
            b.ret(ir.Constant(I32, OUT_OF_MEMORY))
        b.call(self.pack()[self.s.nr], [f, self.c64(1), n, n, k, packed])
        zeros = b.gep(packed, [filter_size], source_etype=self.t)  # what padding reads
        with counted_loop(b, self.c64(0), cin, "zero") as i:
            b.store(ir.Constant(self.t, 0), b.gep(zeros, [i], source_etype=self.t))
        fault = b.call(run, [x, geo, packed, c, p0, m, n, k])
        b.call(free, [packed])
        b.ret(fault)
        return fn

    def conv_serial(self) -> ir.Function:
        """The direct loop nest of the module doc, `f` already packed."""
        s, t = self.s, self.t
        fn = _define(self.module, f"{self.name}.serial", I32, CONV_GEMM_TYPE.args, NAMES)
        x, geo, fp, c, p0, m, n, k = fn.args
        for p in (x, fp, c):
            p.add_attribute("noalias")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        g = {
            name: b.load(b.gep(geo, [self.c64(i)], source_etype=I64), typ=I64)
            for i, name in enumerate(GEOMETRY)
        }
        # the packed entry's row of cin zeros, after the packed filter
        self.zero_ptr = b.gep(fp, [b.mul(self.round_up(b, n, s.nr), k)], source_etype=t)
        tile = b.alloca(t, s.mr * s.nr, name="tile")
        zero = self.c64(0)
        image_size = b.mul(b.mul(g["h"], g["w"]), g["cin"])
        taps = b.mul(g["kh"], g["kw"])
        one = self.c64(1)
        pixel_bytes = b.mul(b.add(g["cin"], one), self.c64(self.item))
        block = b.udiv(self.c64(PIXEL_BLOCK_BYTES), pixel_bytes)
        block = b.mul(self.max(b, b.udiv(block, self.c64(s.mr)), one), self.c64(s.mr))
        blocks = b.udiv(b.add(m, b.sub(block, one)), block)
        with counted_loop(b, zero, blocks, "block") as q:
            first = b.mul(q, block)
            last = self.min(b, b.add(first, block), m)
            with counted_loop(b, zero, n, "jr", step=s.nr) as jr:
                pb = b.gep(fp, [b.mul(jr, k)], source_etype=t)
                nr = self.min(b, self.c64(s.nr), b.sub(n, jr))
                with counted_loop(b, first, last, "strip", step=s.mr) as r0:
                    pixels = self.pixels(b, g, x, image_size, p0, r0, m)
                    acc = [[self.zero_vec()] * (s.nr // s.width) for _ in range(s.mr)]
                    acc = self.carried(b, zero, taps, acc, "tap", self.tap_body(g, pixels, pb))
                    mr = self.min(b, self.c64(s.mr), b.sub(m, r0))
                    c_at = b.gep(c, [b.add(b.mul(r0, n), jr)], source_etype=t)
                    self.store_tile(b, acc, c_at, n, mr, nr, tile)
        b.ret(ir.Constant(I32, 0))
        return fn

    def pixels(self, b: ir.IRBuilder, g, x, image_size, p0, r0, m):
        """(live, image base, top, left) of the strip's MR pixels r0..: the first
        one's (image, line, column) by division, the next ones' by carries."""
        t = self.t
        p = b.add(p0, r0)
        column, rest = b.urem(p, g["ow"]), b.udiv(p, g["ow"])
        line, image = b.urem(rest, g["oh"]), b.udiv(rest, g["oh"])
        pixels = []
        for r in range(self.s.mr):
            if r:
                column = b.add(column, self.c64(1))
                wrap = b.icmp_signed("==", column, g["ow"])
                column = b.select(wrap, self.c64(0), column)
                line = b.add(line, b.zext(wrap, I64))
                wrap = b.icmp_signed("==", line, g["oh"])
                line = b.select(wrap, self.c64(0), line)
                image = b.add(image, b.zext(wrap, I64))
            pixels.append(
                (
                    b.icmp_signed("<", b.add(r0, self.c64(r)), m),
                    b.gep(x, [b.mul(image, image_size)], source_etype=t),
                    b.sub(b.mul(line, g["sh"]), g["pad_top"]),
                    b.sub(b.mul(column, g["sw"]), g["pad_left"]),
                )
            )
        return pixels

    def tap_body(self, g, pixels, pb):
        """The body of the tap loop: the MR pixels' pointers to this tap's input
        (a zero with stride 0 where outside), then the channel loop."""
        t, s = self.t, self.s

        def body(b: ir.IRBuilder, tap: ir.Value, acc):
            i, j = b.udiv(tap, g["kw"]), b.urem(tap, g["kw"])
            dy, dx = b.mul(i, g["dh"]), b.mul(j, g["dw"])
            sources = []
            for live, base, top, left in pixels:
                iy, ix = b.add(top, dy), b.add(left, dx)
                inside = b.and_(
                    live,
                    b.and_(b.icmp_unsigned("<", iy, g["h"]), b.icmp_unsigned("<", ix, g["w"])),
                )
                at = b.mul(b.add(b.mul(iy, g["w"]), ix), g["cin"])
                pointer = b.select(inside, b.gep(base, [at], source_etype=t), self.zero_ptr)
                sources.append(pointer)
            pt = b.gep(pb, [b.mul(b.mul(tap, g["cin"]), self.c64(s.nr))], source_etype=t)
            cin = g["cin"]
            steps = b.udiv(cin, self.c64(s.unroll))
            main = self.channel_body(sources, pt, s.unroll)
            acc = self.carried(b, self.c64(0), steps, acc, "ci", main)
            tail = self.channel_body(sources, pt, 1, offset=b.mul(steps, self.c64(s.unroll)))
            return self.carried(
                b, self.c64(0), b.sub(cin, b.mul(steps, self.c64(s.unroll))), acc, "ct", tail
            )

        return body

    def channel_body(self, sources, pt, unroll: int, offset=None):
        """`unroll` channels: per channel an NR row of the filter and a broadcast
        of each pixel's input, MR x NR / width FMAs."""
        t, s, vec = self.t, self.s, self.vec

        def body(b: ir.IRBuilder, q: ir.Value, acc):
            current = [list(row) for row in acc]
            base = b.mul(q, self.c64(unroll))
            if offset is not None:
                base = b.add(base, offset)
            for u in range(unroll):
                ci = b.add(base, self.c64(u))
                row = b.gep(pt, [b.mul(ci, self.c64(s.nr))], source_etype=t)
                bv = [
                    b.load(b.gep(row, [self.c64(v * s.width)], source_etype=t), typ=vec, align=4)
                    for v in range(s.nr // s.width)
                ]
                for r, pointer in enumerate(sources):
                    at = b.gep(pointer, [ci], source_etype=t)
                    splat = self.splat(b, b.load(at, typ=t))
                    for v in range(len(bv)):
                        current[r][v] = b.call(self.fma, [splat, bv[v], current[r][v]])
            return current

        return body

    def zero_vec(self) -> ir.Constant:
        return ir.Constant(self.vec, [0.0] * self.s.width)

    def max(self, b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
        return b.select(b.icmp_signed(">", x, y), x, y)

    def carried(self, b: ir.IRBuilder, start, stop, acc, name: str, body):
        """`for i in start..stop: acc = body(b, i, acc)`, acc (rows of vectors) in phis."""
        before = b.block
        head = b.append_basic_block(f"{name}.head")
        loop = b.append_basic_block(f"{name}.body")
        done = b.append_basic_block(f"{name}.done")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(I64, f"{name}.i")
        i.add_incoming(start, before)
        phis = [[b.phi(self.vec) for _ in row] for row in acc]
        for row, values in zip(phis, acc):
            for phi, value in zip(row, values):
                phi.add_incoming(value, before)
        b.cbranch(b.icmp_signed("<", i, stop), loop, done)
        b.position_at_end(loop)
        current = body(b, i, phis)
        i.add_incoming(b.add(i, self.c64(1), flags=["nsw"]), b.block)
        for row, values in zip(phis, current):
            for phi, value in zip(row, values):
                phi.add_incoming(value, b.block)
        b.branch(head)
        b.position_at_end(done)
        return phis

    def store_tile(self, b: ir.IRBuilder, acc, c, ldc, mr, nr, tile) -> None:
        """The tile's mr x nr part at c (rows ldc apart): by vectors when whole,
        else through the stack tile."""
        s, t = self.s, self.t
        full = b.and_(
            b.icmp_signed("==", mr, self.c64(s.mr)), b.icmp_signed("==", nr, self.c64(s.nr))
        )
        with b.if_else(full) as (whole, edge):
            with whole:
                self.write(b, acc, c, ldc, accumulate=False)
            with edge:
                self.write(b, acc, tile, self.c64(s.nr), accumulate=False)
                with counted_loop(b, self.c64(0), mr, "er") as r:
                    src = b.gep(tile, [b.mul(r, self.c64(s.nr))], source_etype=t)
                    dst = b.gep(c, [b.mul(r, ldc)], source_etype=t)
                    with counted_loop(b, self.c64(0), nr, "ej") as j:
                        value = b.load(b.gep(src, [j], source_etype=t), typ=t)
                        b.store(value, b.gep(dst, [j], source_etype=t))
