"""conv_gemm: conv2d as an implicit GEMM on kiln's own GEMM (gemm_kernel.py).

    i32 kiln.conv_gemm.<T>.<tag>(x, geo, f, c, p0, m, n, k)

computes rows p0 .. p0 + m of C[pixels, n] = im2col(x) F without the im2col
matrix: the packing of the left operand reads the NHWC image `x` directly,
the window index arithmetic inside the pack loop and zeros where a window
falls in the padding. F (the HWIO filter, [k = kh * kw * cin, n] row-major)
is the other packed operand, packed as the plain GEMM packs B. `geo` points
at the geometry as i64 words (`GEOMETRY`), so one function per dtype and
schedule serves every conv of a module; C's rows are n apart.

Why: the explicit path writes an im2col block (9x the image for a 3x3
filter), then the GEMM reads it back to pack it: two passes over a matrix
the GEMM's own packing can build from the image in one. The loop nest, the
microkernel and the B packing are gemm_kernel's `_Renderer`'s (one
microkernel in kiln); only the driver and the A packing are new here.

The packing of one MR strip of pixels hoists each pixel's window origin, then
walks the KC block in runs of one tap's channels (contiguous in NHWC): per
8 (then 4) channels of a run it loads one vector per pixel and transposes
them in registers, groups of 4 pixels by shuffles, into the strip's layout
(the rest of a run: a strip vector per element). A pixel outside the image,
or past the block's last row, reads a zero constant with stride 0. Against
one scalar load and insert per element: 32x32x32x64 17.1 -> 14.7 ms CPU.

Threads: a product of at least PARALLEL_FLOPS multiply-adds splits its
pixels over libgomp's threads (whole MR strips each), as the plain GEMM
splits C's rows.
"""

from __future__ import annotations

from llvmlite import ir

from ...ir.dtypes import DType
from .gemm_kernel import OUT_OF_MEMORY, PARALLEL_FLOPS, _declare, _define, _Renderer
from .gemm_schedule import GemmSchedule
from .render import counted_loop
from .scalar import I64

PTR = ir.PointerType()
I1, I32 = ir.IntType(1), ir.IntType(32)
# the geometry words `geo` points at, in this order
GEOMETRY = ("h", "w", "cin", "oh", "ow", "pad_top", "pad_left", "kh", "kw", "sh", "sw", "dh", "dw")
CONV_GEMM_TYPE = ir.FunctionType(I32, [PTR, PTR, PTR, PTR, I64, I64, I64, I64])
CHUNK = 8  # channels a row's vector load reads (then one of 4): 4 x CHUNK blocks transposed
TASK_WORDS = 9  # x, geo, f, c, p0, m, n, k, then the word workers OR their faults into


def conv_gemm_name(dtype: DType, schedule: GemmSchedule) -> str:
    return f"kiln.conv_gemm.{dtype.name}.{schedule.tag}"


def conv_gemm_function(module: ir.Module, dtype: DType, schedule: GemmSchedule) -> ir.Function:
    """The module's implicit conv GEMM for (dtype, schedule), defined (internal) on first use."""
    name = conv_gemm_name(dtype, schedule)
    found = module.globals.get(name)
    if found is not None:
        return found
    return _ConvRenderer(module, dtype, schedule, name).conv_entry()


class _ConvRenderer(_Renderer):
    """The plain GEMM's renderer with an image-reading A packing and its own driver."""

    def conv_entry(self) -> ir.Function:
        serial = self.conv_serial()
        names = ("x", "geo", "f", "c", "p0", "m", "n", "k")
        fn = _define(self.module, self.name, I32, CONV_GEMM_TYPE.args, names)
        x, geo, f, c, p0, m, n, k = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        fault = b.alloca(I32, name="fault")
        b.store(ir.Constant(I32, 0), fault)
        with b.if_else(b.icmp_signed("==", k, self.c64(0))) as (then, otherwise):
            with then:  # C = 0 (no KC block writes it)
                with counted_loop(b, self.c64(0), b.mul(m, n), "zero") as i:
                    b.store(ir.Constant(self.t, 0), b.gep(c, [i], source_etype=self.t))
            with otherwise:
                args = list(fn.args)
                if self.s.threads > 1:
                    work = b.mul(b.mul(m, n), k)
                    big = b.icmp_signed(">=", work, self.c64(PARALLEL_FLOPS))
                    with b.if_else(big) as (par, ser):
                        with par:
                            b.store(self.conv_fork(b, args, serial), fault)
                        with ser:
                            b.store(b.call(serial, args), fault)
                else:
                    b.store(b.call(serial, args), fault)
        b.ret(b.load(fault, typ=I32))
        return fn

    def conv_fork(self, b: ir.IRBuilder, args, serial: ir.Function) -> ir.Value:
        """GOMP_parallel over the pixels, the arguments as a task of i64 words."""
        assert len(args) == TASK_WORDS - 1
        return self.launch(b, self.conv_worker(serial), args)

    def conv_worker(self, serial: ir.Function) -> ir.Function:
        """This thread's block of pixels (whole MR strips)."""
        fn = _define(self.module, f"{self.name}.worker", ir.VoidType(), [PTR], ("task",))
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        words = [
            b.load(b.gep(fn.args[0], [self.c64(i)], source_etype=I64), typ=I64)
            for i in range(TASK_WORDS - 1)
        ]
        x, geo, f, c, p0, m, n, k = words
        x, geo, f, c = (b.inttoptr(p, PTR) for p in (x, geo, f, c))
        num = _declare(self.module, "omp_get_num_threads", ir.FunctionType(I32, []))
        me = _declare(self.module, "omp_get_thread_num", ir.FunctionType(I32, []))
        threads = b.sext(b.call(num, []), I64)
        t = b.sext(b.call(me, []), I64)
        tile = self.c64(self.s.mr)
        chunk = b.sdiv(b.add(m, b.sub(threads, self.c64(1))), threads)
        chunk = b.mul(b.sdiv(b.add(chunk, b.sub(tile, self.c64(1))), tile), tile)
        begin = b.mul(t, chunk)
        end = self.min(b, b.add(begin, chunk), m)
        with b.if_then(b.icmp_signed("<", begin, end)):
            c_at = b.gep(c, [b.mul(begin, n)], source_etype=self.t)
            fault = b.call(serial, [x, geo, f, c_at, b.add(p0, begin), b.sub(end, begin), n, k])
            self.report(b, fn.args[0], fault)
        b.ret_void()
        return fn

    def report(self, b: ir.IRBuilder, task: ir.Value, fault: ir.Value) -> None:
        word = b.gep(task, [self.c64(TASK_WORDS - 1)], source_etype=I64)
        b.atomic_rmw("or", word, b.zext(fault, I64), "monotonic")

    def conv_serial(self) -> ir.Function:
        """The blocked loops of gemm_kernel's module doc, A packed from the image."""
        s, t = self.s, self.t
        names = ("x", "geo", "f", "c", "p0", "m", "n", "k")
        fn = _define(self.module, f"{self.name}.serial", I32, CONV_GEMM_TYPE.args, names)
        x, geo, f, c, p0, m, n, k = fn.args
        pack_b, pack_a, micro = self.pack()[s.nr], self.pack_image(), self.micro()
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        malloc = _declare(self.module, "malloc", ir.FunctionType(PTR, [I64]))
        free = _declare(self.module, "free", ir.FunctionType(ir.VoidType(), [PTR]))
        one, zero, kc = self.c64(1), self.c64(0), self.c64(s.kc)
        n_cap = self.min(b, self.c64(s.nc), self.round_up(b, n, s.nr))
        m_cap = self.min(b, self.c64(s.mc), self.round_up(b, m, s.mr))
        k_cap = self.min(b, kc, k)
        a_pack = b.call(malloc, [b.mul(b.mul(m_cap, k_cap), self.c64(self.item))])
        b_pack = b.call(malloc, [b.mul(b.mul(n_cap, k_cap), self.c64(self.item))])
        failed = b.or_(
            b.icmp_unsigned("==", a_pack, ir.Constant(PTR, None)),
            b.icmp_unsigned("==", b_pack, ir.Constant(PTR, None)),
        )
        with b.if_then(failed, likely=False):
            b.call(free, [a_pack])
            b.call(free, [b_pack])
            b.ret(ir.Constant(I32, OUT_OF_MEMORY))
        with counted_loop(b, zero, n, "jc", step=s.nc) as jc:
            nb = self.min(b, self.c64(s.nc), b.sub(n, jc))
            with counted_loop(b, zero, k, "pc", step=s.kc) as pc:
                kb = self.min(b, kc, b.sub(k, pc))
                first = b.icmp_signed("==", pc, zero)
                b_src = b.gep(f, [b.add(b.mul(pc, n), jc)], source_etype=t)
                b.call(pack_b, [b_src, one, n, nb, kb, b_pack])
                with counted_loop(b, zero, m, "ic", step=s.mc) as ic:
                    mb = self.min(b, self.c64(s.mc), b.sub(m, ic))
                    b.call(pack_a, [x, geo, b.add(p0, ic), mb, pc, kb, a_pack])
                    with counted_loop(b, zero, nb, "jr", step=s.nr) as jr:
                        pb = b.gep(b_pack, [b.mul(jr, kb)], source_etype=t)
                        nr = self.min(b, self.c64(s.nr), b.sub(nb, jr))
                        with counted_loop(b, zero, mb, "ir", step=s.mr) as ir_:
                            pa = b.gep(a_pack, [b.mul(ir_, kb)], source_etype=t)
                            mr = self.min(b, self.c64(s.mr), b.sub(mb, ir_))
                            row = b.mul(b.add(ic, ir_), n)
                            c_at = b.gep(c, [b.add(row, b.add(jc, jr))], source_etype=t)
                            b.call(micro, [pa, pb, self.c64(s.nr), kb, c_at, n, one, first, mr, nr])
        b.call(free, [a_pack])
        b.call(free, [b_pack])
        b.ret(ir.Constant(I32, 0))
        return fn

    def pack_image(self) -> ir.Function:
        """`pack_image(x, geo, p0, rows, pc, kb, dst)`: rows pixels from p0 of the
        im2col matrix, its columns pc .. pc + kb, into MR strips dst[strip][l][MR]
        (zero-padded), read from the image (see the module doc)."""
        t, height = self.t, self.s.mr
        args = [PTR, PTR, I64, I64, I64, I64, PTR]
        names = ("x", "geo", "p0", "rows", "pc", "kb", "dst")
        fn = _define(self.module, f"{self.name}.pack_image", ir.VoidType(), args, names)
        x, geo, p0, rows, pc, kb, dst = fn.args
        for p in (x, dst):
            p.add_attribute("noalias")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        g = {
            name: b.load(b.gep(geo, [self.c64(i)], source_etype=I64), typ=I64)
            for i, name in enumerate(GEOMETRY)
        }
        zeros = ir.ArrayType(t, CHUNK)  # what a pixel outside the image reads
        zero_value = ir.GlobalVariable(self.module, zeros, f"{self.name}.zero")
        zero_value.linkage, zero_value.global_constant = "internal", True
        zero_value.initializer = ir.Constant(zeros, [0.0] * CHUNK)
        zero = self.c64(0)
        image_size = b.mul(b.mul(g["h"], g["w"]), g["cin"])
        strip_vec = ir.VectorType(t, height)
        with counted_loop(b, zero, rows, "strip", step=height) as r0:
            out = b.gep(dst, [b.mul(r0, kb)], source_etype=t)
            pixels = []  # (live, image base, top, left) of each row of the strip
            for r in range(height):
                at = b.add(r0, self.c64(r))
                p = b.add(p0, at)
                column = b.urem(p, g["ow"])
                rest = b.udiv(p, g["ow"])
                line, image = b.urem(rest, g["oh"]), b.udiv(rest, g["oh"])
                pixels.append(
                    (
                        b.icmp_signed("<", at, rows),
                        b.gep(x, [b.mul(image, image_size)], source_etype=t),
                        b.sub(b.mul(line, g["sh"]), g["pad_top"]),
                        b.sub(b.mul(column, g["sw"]), g["pad_left"]),
                    )
                )
            self._runs(b, g, pixels, zero_value, pc, kb, out, strip_vec)
        b.ret_void()
        return fn

    def _runs(self, b: ir.IRBuilder, g, pixels, zero_value, pc, kb, out, strip_vec) -> None:
        """`for l in 0..kb` in runs of one tap's channels: a strip vector per l."""
        t, height = self.t, self.s.mr
        before = b.block
        head = b.append_basic_block("run.head")
        body = b.append_basic_block("run.body")
        done = b.append_basic_block("run.done")
        b.branch(head)
        b.position_at_end(head)
        l_ = b.phi(I64, "run.l")
        l_.add_incoming(self.c64(0), before)
        b.cbranch(b.icmp_signed("<", l_, kb), body, done)
        b.position_at_end(body)
        column = b.add(pc, l_)
        tap, channel = b.udiv(column, g["cin"]), b.urem(column, g["cin"])
        run = self.min(b, b.sub(g["cin"], channel), b.sub(kb, l_))
        i, j = b.udiv(tap, g["kw"]), b.urem(tap, g["kw"])
        dy, dx = b.mul(i, g["dh"]), b.mul(j, g["dw"])
        sources = []
        for live, base, top, left in pixels:
            iy, ix = b.add(top, dy), b.add(left, dx)
            inside = b.and_(
                live,
                b.and_(b.icmp_unsigned("<", iy, g["h"]), b.icmp_unsigned("<", ix, g["w"])),
            )
            at = b.add(b.mul(b.add(b.mul(iy, g["w"]), ix), g["cin"]), channel)
            pointer = b.select(inside, b.gep(base, [at], source_etype=t), zero_value)
            sources.append((pointer, b.zext(inside, I64)))
        run_out = b.gep(out, [b.mul(l_, self.c64(height))], source_etype=t)
        chunks = b.udiv(run, self.c64(CHUNK))
        with counted_loop(b, self.c64(0), chunks, "chunk") as q:
            self._chunk(b, sources, b.mul(q, self.c64(CHUNK)), run_out, CHUNK)
        start = b.mul(chunks, self.c64(CHUNK))
        with b.if_then(b.icmp_signed("<=", b.add(start, self.c64(4)), run)):  # one of 4
            self._chunk(b, sources, start, run_out, 4)
        start = b.add(start, b.and_(b.sub(run, start), self.c64(4)))
        with counted_loop(b, start, run, "e") as e:
            strip = ir.Constant(strip_vec, ir.Undefined)
            for r, (pointer, step) in enumerate(sources):
                value = b.load(b.gep(pointer, [b.mul(e, step)], source_etype=t), typ=t)
                strip = b.insert_element(strip, value, ir.Constant(I32, r))
            at = b.gep(run_out, [b.mul(e, self.c64(height))], source_etype=t)
            b.store(strip, at, align=1)
        l_.add_incoming(b.add(l_, run), b.block)
        b.branch(head)
        b.position_at_end(done)

    def _chunk(self, b: ir.IRBuilder, sources, e: ir.Value, run_out: ir.Value, width: int):
        """`width` (8 or 4) elements e.. of a run for every row of the strip: one
        vector load per row, transposed in registers by groups of 4 (then 2,
        then 1) rows into the strip's layout, each column stored at its rows."""
        t, height = self.t, self.s.mr
        chunk_vec = ir.VectorType(t, width)
        loaded = [
            b.load(b.gep(p, [b.mul(e, step)], source_etype=t), typ=chunk_vec, align=self.item)
            for p, step in sources
        ]
        r0 = 0
        while r0 < height:
            group = 4 if height - r0 >= 4 else 2 if height - r0 >= 2 else 1
            for j, column in enumerate(_transpose(b, loaded[r0 : r0 + group], width)):
                at = b.add(b.mul(b.add(e, self.c64(j)), self.c64(height)), self.c64(r0))
                b.store(column, b.gep(run_out, [at], source_etype=t), align=self.item)
            r0 += group


def _mask(lanes) -> ir.Constant:
    return ir.Constant(ir.VectorType(I32, len(lanes)), list(lanes))


def _transpose(b: ir.IRBuilder, rows: list[ir.Value], width: int) -> list[ir.Value]:
    """The `width` columns of 1, 2 or 4 rows of <width x T>, in order. Four rows:
    per block of 4 lanes the classic unpack-lo/hi, then 64-bit interleaves (8
    shuffles in all), each result holding one column per block, then halves."""
    if len(rows) == 1:
        return [b.extract_element(rows[0], ir.Constant(I32, j)) for j in range(width)]
    if len(rows) == 2:
        return [b.shuffle_vector(rows[0], rows[1], _mask([j, width + j])) for j in range(width)]
    blocks = range(0, width, 4)

    def per_block(x, y, pattern):
        lanes = [q + (width if o >= 4 else 0) + o % 4 for q in blocks for o in pattern]
        return b.shuffle_vector(x, y, _mask(lanes))

    a, b_, c, d = rows
    interleaved = [per_block(a, b_, (0, 4, 1, 5)), per_block(a, b_, (2, 6, 3, 7))]
    interleaved += [per_block(c, d, (0, 4, 1, 5)), per_block(c, d, (2, 6, 3, 7))]
    lo_ab, hi_ab, lo_cd, hi_cd = interleaved
    columns = [  # columns[k] holds column q + k of every block q
        per_block(lo_ab, lo_cd, (0, 1, 4, 5)),
        per_block(lo_ab, lo_cd, (2, 3, 6, 7)),
        per_block(hi_ab, hi_cd, (0, 1, 4, 5)),
        per_block(hi_ab, hi_cd, (2, 3, 6, 7)),
    ]
    if width == 4:
        return columns
    undefined = ir.Constant(columns[0].type, ir.Undefined)
    return [
        b.shuffle_vector(columns[j % 4], undefined, _mask(range(j // 4 * 4, j // 4 * 4 + 4)))
        for j in range(width)
    ]
