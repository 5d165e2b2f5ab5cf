"""gemm_kernel: kiln's own float GEMM, rendered into the kernel's module from a schedule.

    i32 kiln.gemm.<T>.<tag>(A, lda, ta, B, ldb, tb, C, m, n, k)

computes C[m, n] = op(A) op(B), C row-major with leading dim n, op a
transpose where the i1 `ta` / `tb` is set (A then stored [k, m], B [n, k]).
The structure is Goto's (BLIS's), sized by a GemmSchedule
(codegen/llvm/gemm_schedule.py):

    for jc in 0..n by NC:              B's panel: KC x NC, packed in NR strips
      for pc in 0..k by KC:
        pack B[pc:, jc:]
        for ic in 0..m by MC:          A's block: MC x KC, packed in MR strips
          pack A[ic:, pc:]
          for jr, ir: microkernel      an MR x NR tile of C in registers

Packing zero-pads the last strips, so the microkernel always runs a full tile
of vector FMAs (`llvm.fma` on <width x T>); an edge tile goes through a tile
on the stack and only its valid part is written. Each tile of C is written
once per KC block: stored on the first (beta = 0), added to after. Transposed
operands differ only in the strides the packing reads with. The packing
buffers (bounded by the schedule: MC x min(KC, k) and min(KC, k) x min(NC, n),
one 64-byte-aligned block) are kept between calls in SLOTS slots of the
module (taken and put back atomically: concurrent callers and the threads of
a split each hold their own; a block too small is freed and replaced, one
with no free slot freed at return), so a call reuses warm pages instead of
faulting in fresh ones; they live as long as the process (or the AOT
library). When allocation fails the GEMM returns OUT_OF_MEMORY (a kiln Fault
bit) and writes nothing, else 0.

A narrow product (C's n far below NR, as an MLP's last layer) runs as
C^T = op(B)^T op(A)^T when that pads fewer tiles (`orient`): its tiles are
then written element by element (C's column stride is n, not 1).

A product with few rows (m <= IN_PLACE_ROWS, B as stored) reads B's strips
where they lie instead of packing its panel (only a narrower last strip is
packed, so nothing past B's end is read). A single row of C (m = 1, B as
stored: an RNN step at batch 1) reuses no packed B either, so it skips the
packing: `gemv` runs along k once, each step one broadcast element of A times
B's row into a block of C held in vectors.

Threads: a product of at least `PARALLEL_FLOPS` multiply-adds, when the
schedule allows more than one thread, is split by libgomp (`GOMP_parallel`,
as runtime/parallel.py's entries do) into blocks of C's rows (or columns,
when it has more of them), each thread packing its own panels: the runtime
then gives the kernel that calls the GEMM no threads of its own
(runtime/cpu.py `runs_blas`).
"""

from __future__ import annotations

from llvmlite import ir

from ...ir.dtypes import DType
from ..kernel import Fault
from .gemm_schedule import GemmSchedule
from .render import carried_loop, counted_loop
from .scalar import I64, value_type

PTR = ir.PointerType()
I1, I32 = ir.IntType(1), ir.IntType(32)
GEMV_VECTORS = 4  # the vectors of C's one row a GEMV holds in registers across k
PARALLEL_FLOPS = 1 << 21  # m * n * k below this: one thread (fork/join costs ~10 us)
# the task a worker reads: A, lda, ta, B, ldb, tb, C, ldc, csc, m, n, k as i64
# words, then the word the workers OR their faults into
FAULT_WORD = 12
SLOTS = 4  # packing buffers a GEMM keeps between calls (one per concurrent caller)
ALIGN = 64  # their alignment (a cache line; a vector of AVX-512)
TRANSPOSE_LANES = 8  # the transposing pack's steps of l per block (see _pack_rows)
OUT_OF_MEMORY = int(Fault.OUT_OF_MEMORY)
# A with at most this many rows: B is read where it lies, not packed. Its KC x NR
# strip then passes at most this / MR tiles of A, too few to repay copying it (an
# RNN step's h @ W_h at batch 32: B is 1 MB, packed again on every step). Measured
# one thread, AVX-512 (benchmarks/gemm.py): 32x256 @ 256x1024 75 -> 98 GFLOP/s,
# 8x512 @ 512x2048 37 -> 68, 128x256 @ 256x1024 99 -> 106
IN_PLACE_ROWS = 128


GEMM_TYPE = ir.FunctionType(I32, [PTR, I64, I1, PTR, I64, I1, PTR, I64, I64, I64])


def gemm_name(dtype: DType, schedule: GemmSchedule) -> str:
    return f"kiln.gemm.{dtype.name}.{schedule.tag}"


def gemm_function(module: ir.Module, dtype: DType, schedule: GemmSchedule) -> ir.Function:
    """The module's GEMM for (dtype, schedule), defined (internal) on first use."""
    name = gemm_name(dtype, schedule)
    found = module.globals.get(name)
    if found is not None:
        return found
    return _Renderer(module, dtype, schedule, name).entry()


def _define(module: ir.Module, name: str, ret: ir.Type, args, names) -> ir.Function:
    fn = ir.Function(module, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    for arg, text in zip(fn.args, names):
        arg.name = text
    return fn


def _concat(b: ir.IRBuilder, parts: list[ir.Value]) -> ir.Value:
    """One vector of the equal-width vectors `parts`, in order (a tree of shuffles)."""
    while len(parts) > 1:
        pairs = []
        for i in range(0, len(parts) - 1, 2):
            x, y = parts[i], parts[i + 1]
            mask = ir.Constant(ir.VectorType(I32, 2 * x.type.count), list(range(2 * x.type.count)))
            pairs.append(b.shuffle_vector(x, y, mask))
        if len(parts) % 2:  # the odd one out, padded to the others' width
            x = parts[-1]
            count = pairs[0].type.count
            padded = [*range(x.type.count), *[x.type.count] * (count - x.type.count)]
            undef = ir.Constant(x.type, ir.Undefined)
            mask = ir.Constant(ir.VectorType(I32, count), padded)
            pairs.append(b.shuffle_vector(x, undef, mask))
        parts = pairs
    return parts[0]


def _declare(module: ir.Module, name: str, ftype: ir.FunctionType) -> ir.Function:
    found = module.globals.get(name)
    return found if found is not None else ir.Function(module, ftype, name)


class _Renderer:
    """Emits one schedule's functions into a module (see the module doc)."""

    def __init__(self, module: ir.Module, dtype: DType, s: GemmSchedule, name: str):
        self.module, self.s, self.name = module, s, name
        self.t = value_type(dtype)
        self.vec = ir.VectorType(self.t, s.width)
        self.item = dtype.itemsize
        scalar = "f32" if dtype.itemsize == 4 else "f64"
        self.fma = _declare(  # llvmlite names no vector intrinsic: spelled out
            module, f"llvm.fma.v{s.width}{scalar}", ir.FunctionType(self.vec, [self.vec] * 3)
        )

    def c64(self, value: int) -> ir.Constant:
        return ir.Constant(I64, value)

    # the public entry: size 0, the thread split, the serial product
    def entry(self) -> ir.Function:
        serial = self.serial()
        names = ("a", "lda", "ta", "b", "ldb", "tb", "c", "m", "n", "k")
        fn = _define(self.module, self.name, I32, GEMM_TYPE.args, names)
        a, lda, ta, b_, ldb, tb, c, m, n, k = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        fault = b.alloca(I32, name="fault")
        b.store(ir.Constant(I32, 0), fault)
        empty = b.icmp_signed("==", k, self.c64(0))
        with b.if_else(empty) as (then, otherwise):
            with then:  # C = 0 (no KC block writes it)
                with counted_loop(b, self.c64(0), b.mul(m, n), "zero") as i:
                    b.store(ir.Constant(self.t, 0), b.gep(c, [i], source_etype=self.t))
            with otherwise:
                row = b.and_(b.icmp_signed("==", m, self.c64(1)), b.not_(tb))
                with b.if_else(row) as (one_row, product):
                    with one_row:  # A's one row: its elements lda apart when transposed
                        step = b.select(ta, lda, self.c64(1))
                        b.call(self.gemv(), [a, step, b_, ldb, c, n, k])
                    with product:
                        self.product(b, fn.args, serial, fault)
        b.ret(b.load(fault, typ=I32))
        return fn

    def product(self, b: ir.IRBuilder, args, serial: ir.Function, fault: ir.Value) -> None:
        """The blocked product, split over threads when it is large enough."""
        m, n, k = args[7:]
        args = self.orient(b, args)
        work = b.mul(b.mul(m, n), k)
        big = b.icmp_signed(">=", work, self.c64(PARALLEL_FLOPS))
        if self.s.threads > 1:
            with b.if_else(big) as (par, ser):
                with par:
                    b.store(self.fork(b, args, serial), fault)
                with ser:
                    b.store(b.call(serial, args), fault)
        else:
            b.store(b.call(serial, args), fault)

    def gemv(self) -> ir.Function:
        """`gemv(a, sa, b, ldb, c, n, k)`: c[j] = sum_l a[l*sa] b[l*ldb + j], C's
        one row by blocks of GEMV_VECTORS vectors held across the k loop, the
        columns past the last whole block one at a time."""
        t, vec, w = self.t, self.vec, self.s.width
        names = ("a", "sa", "b", "ldb", "c", "n", "k")
        args = [PTR, I64, PTR, I64, PTR, I64, I64]
        fn = _define(self.module, f"{self.name}.gemv", ir.VoidType(), args, names)
        a, sa, b_, ldb, c, n, k = fn.args
        for p in (a, b_, c):
            p.add_attribute("noalias")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        width = GEMV_VECTORS * w
        blocks = b.sdiv(n, self.c64(width))
        zero = self.c64(0)

        def a_at(l_):
            return self.splat(b, b.load(b.gep(a, [b.mul(l_, sa)], source_etype=t), typ=t))

        with counted_loop(b, zero, blocks, "jb") as jb:
            j0 = b.mul(jb, self.c64(width))

            def fmas(l_, acc):
                row = b.gep(b_, [b.add(b.mul(l_, ldb), j0)], source_etype=t)
                x = a_at(l_)
                return [
                    b.call(self.fma, [x, b.load(self.vector_at(b, row, v), typ=vec, align=4), s])
                    for v, s in enumerate(acc)
                ]

            zeros = [ir.Constant(vec, [0.0] * w)] * GEMV_VECTORS
            acc = carried_loop(b, zero, k, zeros, fmas, "gemv")
            out = b.gep(c, [j0], source_etype=t)
            for v, value in enumerate(acc):
                b.store(value, self.vector_at(b, out, v), align=4)
        with counted_loop(b, b.mul(blocks, self.c64(width)), n, "j") as j:

            def fma(l_, acc):
                y = b.load(b.gep(b_, [b.add(b.mul(l_, ldb), j)], source_etype=t), typ=t)
                x = b.load(b.gep(a, [b.mul(l_, sa)], source_etype=t), typ=t)
                return [b.fadd(acc[0], b.fmul(x, y))]

            (total,) = carried_loop(b, zero, k, [ir.Constant(t, 0.0)], fma, "gemv1")
            b.store(total, b.gep(c, [j], source_etype=t))
        b.ret_void()
        return fn

    def vector_at(self, b: ir.IRBuilder, base: ir.Value, v: int) -> ir.Value:
        return b.gep(base, [self.c64(v * self.s.width)], source_etype=self.t)

    def orient(self, b: ir.IRBuilder, args) -> list[ir.Value]:
        """The serial product's arguments: C = op(A) op(B) as it is, or as C^T =
        op(B)^T op(A)^T (C written with row stride 1, column stride n) when that
        pads fewer tiles: a narrow C (n below NR, an MLP's last layer) then runs
        along m in whole NR strips instead of a mostly empty one."""
        a, lda, ta, b_, ldb, tb, c, m, n, k = args
        s = self.s
        as_is = b.mul(self.round_up(b, m, s.mr), self.round_up(b, n, s.nr))
        swapped = b.mul(self.round_up(b, n, s.mr), self.round_up(b, m, s.nr))
        # swapped tiles are written element by element: swap only for a clear gain
        swap = b.icmp_signed("<", b.mul(swapped, self.c64(4)), b.mul(as_is, self.c64(3)))
        one, true = self.c64(1), ir.Constant(I1, 1)

        def pick(x, y):
            return b.select(swap, y, x)

        return [
            pick(a, b_),
            pick(lda, ldb),
            pick(ta, b.xor(tb, true)),
            pick(b_, a),
            pick(ldb, lda),
            pick(tb, b.xor(ta, true)),
            c,
            pick(n, one),  # ldc: the row stride of the product computed
            pick(one, n),  # csc: its column stride
            pick(m, n),
            pick(n, m),
            k,
        ]

    def fork(self, b: ir.IRBuilder, args, serial: ir.Function) -> ir.Value:
        """GOMP_parallel over the worker of C's rows or columns; the ORed faults."""
        assert len(args) == FAULT_WORD
        return self.launch(b, self.worker(serial), args)

    def launch(self, b: ir.IRBuilder, worker: ir.Function, args) -> ir.Value:
        """GOMP_parallel over `worker` with `args` as a task of i64 words, one word
        after them for the faults the workers OR in; returns those faults."""
        task = b.alloca(I64, len(args) + 1, name="task")
        for i, value in enumerate(args):
            if isinstance(value.type, ir.PointerType):
                value = b.ptrtoint(value, I64)
            elif value.type == I1:
                value = b.zext(value, I64)
            b.store(value, b.gep(task, [self.c64(i)], source_etype=I64))
        fault_word = b.gep(task, [self.c64(len(args))], source_etype=I64)
        b.store(self.c64(0), fault_word)
        gomp = _declare(
            self.module, "GOMP_parallel", ir.FunctionType(ir.VoidType(), [PTR, PTR, I32, I32])
        )
        b.call(gomp, [worker, task, ir.Constant(I32, self.s.threads), ir.Constant(I32, 0)])
        return b.trunc(b.load(fault_word, typ=I64), I32)

    def worker(self, serial: ir.Function) -> ir.Function:
        """This thread's block of C's rows (or of its columns, when n > m)."""
        fn = _define(self.module, f"{self.name}.worker", ir.VoidType(), [PTR], ("task",))
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        words = [
            b.load(b.gep(fn.args[0], [self.c64(i)], source_etype=I64), typ=I64)
            for i in range(FAULT_WORD)
        ]
        a, lda, ta, b_, ldb, tb, c, ldc, csc, m, n, k = words
        a, b_, c = (b.inttoptr(p, PTR) for p in (a, b_, c))
        ta, tb = b.trunc(ta, I1), b.trunc(tb, I1)
        num = _declare(self.module, "omp_get_num_threads", ir.FunctionType(I32, []))
        me = _declare(self.module, "omp_get_thread_num", ir.FunctionType(I32, []))
        threads = b.sext(b.call(num, []), I64)
        t = b.sext(b.call(me, []), I64)
        by_rows = b.icmp_signed(">=", m, n)
        extent = b.select(by_rows, m, n)
        tile = b.select(by_rows, self.c64(self.s.mr), self.c64(self.s.nr))
        # chunk: extent / threads rounded up to whole tiles
        chunk = b.sdiv(b.add(extent, b.sub(threads, self.c64(1))), threads)
        chunk = b.mul(b.sdiv(b.add(chunk, b.sub(tile, self.c64(1))), tile), tile)
        begin = b.mul(t, chunk)
        end = b.add(begin, chunk)
        end = b.select(b.icmp_signed("<", end, extent), end, extent)
        with b.if_then(b.icmp_signed("<", begin, end)):
            size = b.sub(end, begin)
            with b.if_else(by_rows) as (rows, cols):
                with rows:  # A's rows begin.., C's rows begin..
                    a_at = b.select(ta, begin, b.mul(begin, lda))
                    at = b.gep(a, [a_at], source_etype=self.t)
                    c_at = b.gep(c, [b.mul(begin, ldc)], source_etype=self.t)
                    fault = b.call(serial, [at, lda, ta, b_, ldb, tb, c_at, ldc, csc, size, n, k])
                    self.report(b, fn.args[0], fault)
                with cols:  # B's columns begin.., C's columns begin..
                    b_at = b.select(tb, b.mul(begin, ldb), begin)
                    bt = b.gep(b_, [b_at], source_etype=self.t)
                    c_at = b.gep(c, [b.mul(begin, csc)], source_etype=self.t)
                    fault = b.call(serial, [a, lda, ta, bt, ldb, tb, c_at, ldc, csc, m, size, k])
                    self.report(b, fn.args[0], fault)
        b.ret_void()
        return fn

    def report(self, b: ir.IRBuilder, task: ir.Value, fault: ir.Value) -> None:
        """OR a worker's fault into the task's fault word."""
        word = b.gep(task, [self.c64(FAULT_WORD)], source_etype=I64)
        b.atomic_rmw("or", word, b.zext(fault, I64), "monotonic")

    # the serial product: the blocked loops of the module doc
    def serial(self) -> ir.Function:
        s, t = self.s, self.t
        args = [PTR, I64, I1, PTR, I64, I1, PTR, I64, I64, I64, I64, I64]
        names = ("a", "lda", "ta", "b", "ldb", "tb", "c", "ldc", "csc", "m", "n", "k")
        fn = _define(self.module, f"{self.name}.serial", I32, args, names)
        a, lda, ta, b_, ldb, tb, c, ldc, csc, m, n, k = fn.args
        pack, micro = self.pack(), self.micro()
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        one = self.c64(1)
        # strides of A(i, l) and B(l, j): the packing reads op(A), op(B) with them
        a_i, a_l = b.select(ta, one, lda), b.select(ta, lda, one)
        b_l, b_j = b.select(tb, one, ldb), b.select(tb, ldb, one)
        n_cap = self.min(b, self.c64(s.nc), self.round_up(b, n, s.nr))
        m_cap = self.min(b, self.c64(s.mc), self.round_up(b, m, s.mr))
        kc = self.c64(s.kc)
        k_cap = self.min(b, kc, k)
        a_bytes = self.round_up(b, b.mul(b.mul(m_cap, k_cap), self.c64(self.item)), ALIGN)
        b_bytes = b.mul(b.mul(n_cap, k_cap), self.c64(self.item))
        buffer = self.acquire(b, b.add(a_bytes, b_bytes))
        with b.if_then(b.icmp_unsigned("==", buffer, ir.Constant(PTR, None)), likely=False):
            b.ret(ir.Constant(I32, OUT_OF_MEMORY))
        a_pack = buffer
        b_pack = b.gep(buffer, [a_bytes], source_etype=ir.IntType(8))
        zero = self.c64(0)
        # k in equal KC blocks (784 = 4 x 196, not 6 x 128 + 16: a thin last block
        # would pay a whole pass over C for a few steps), whole unrolled steps each;
        # m in equal MC blocks of whole tiles (256 = 132 + 124, not 252 + 4: a thin
        # last block would stream all of B's panel for one tile of rows)
        blocks, kc = self.even_blocks(b, k, s.kc, s.unroll)
        m_blocks, mc = self.even_blocks(b, m, s.mc, s.mr)
        nr_c = self.c64(s.nr)
        # B read in place (not packed) when few rows of A pass each strip of it
        in_place = b.and_(b.not_(tb), b.icmp_signed("<=", m, self.c64(IN_PLACE_ROWS)))
        with counted_loop(b, zero, n, "jc", step=s.nc) as jc:
            nb = self.min(b, self.c64(s.nc), b.sub(n, jc))
            with counted_loop(b, zero, blocks, "p") as p:
                pc = b.mul(p, kc)
                kb = self.min(b, kc, b.sub(k, pc))
                first = b.icmp_signed("==", pc, zero)
                b_at = b.add(b.mul(pc, b_l), b.mul(jc, b_j))
                b_src = b.gep(b_, [b_at], source_etype=t)
                with b.if_then(b.not_(in_place)):
                    b.call(pack[s.nr], [b_src, b_j, b_l, nb, kb, b_pack])
                with counted_loop(b, zero, m_blocks, "i") as i:
                    ic = b.mul(i, mc)
                    mb = self.min(b, mc, b.sub(m, ic))
                    a_at = b.add(b.mul(ic, a_i), b.mul(pc, a_l))
                    a_src = b.gep(a, [a_at], source_etype=t)
                    b.call(pack[s.mr], [a_src, a_i, a_l, mb, kb, a_pack])
                    with counted_loop(b, zero, nb, "jr", step=s.nr) as jr:
                        nr = self.min(b, nr_c, b.sub(nb, jr))
                        pb, ldpb = self.strip_of_b(
                            b, pack, in_place, b_src, b_l, jr, nr, kb, b_pack
                        )
                        with counted_loop(b, zero, mb, "ir", step=s.mr) as ir_:
                            pa = b.gep(a_pack, [b.mul(ir_, kb)], source_etype=t)
                            mr = self.min(b, self.c64(s.mr), b.sub(mb, ir_))
                            row = b.mul(b.add(ic, ir_), ldc)
                            column = b.mul(b.add(jc, jr), csc)
                            c_at = b.gep(c, [b.add(row, column)], source_etype=t)
                            b.call(micro, [pa, pb, ldpb, kb, c_at, ldc, csc, first, mr, nr])
        self.release(b, buffer)
        b.ret(ir.Constant(I32, 0))
        return fn

    def strip_of_b(self, b: ir.IRBuilder, pack, in_place, b_src, ldb, jr, nr, kb, b_pack):
        """(pb, ldpb) of the strip of B's panel at column jr: its strip in the
        packed panel; or, when B is read in place, B itself (its rows ldb apart)
        where the strip is whole, and a narrower last strip packed alone (the
        microkernel reads whole NR rows: past B's end there, the pad is zeros)."""
        s, t = self.s, self.t
        nr_c = self.c64(s.nr)
        packed = b.gep(b_pack, [b.mul(jr, kb)], source_etype=t)
        narrow = b.and_(in_place, b.icmp_signed("<", nr, nr_c))
        with b.if_then(narrow, likely=False):
            src = b.gep(b_src, [jr], source_etype=t)
            b.call(pack[s.nr], [src, self.c64(1), ldb, nr, kb, b_pack])
        direct = b.and_(in_place, b.not_(narrow))
        pb = b.select(direct, b.gep(b_src, [jr], source_etype=t), b.select(narrow, b_pack, packed))
        return pb, b.select(direct, ldb, nr_c)

    # the packing buffers, kept between calls
    def slots(self) -> ir.GlobalVariable:
        """The module's cache of packing buffers: SLOTS pointers, null when empty."""
        name = f"{self.name}.buffers"
        found = self.module.globals.get(name)
        if found is None:
            found = ir.GlobalVariable(self.module, ir.ArrayType(PTR, SLOTS), name)
            found.linkage = "internal"
            found.initializer = ir.Constant(found.value_type, None)
        return found

    def acquire(self, b: ir.IRBuilder, size: ir.Value) -> ir.Value:
        """A buffer of `size` bytes, ALIGN-aligned (null when out of memory): a
        cached one taken (atomically) from a slot when one is there and large
        enough, else a new one. Its capacity is kept in the ALIGN bytes before it.
        Freeing and re-allocating the packing buffers on every call cost page
        faults (glibc returns large blocks to the system at free): f64 256^3 ran
        at 2/3 of its speed."""
        slots, null = self.slots(), ir.Constant(PTR, None)
        found = b.alloca(PTR, name="found")
        b.store(null, found)
        for i in range(SLOTS):
            with b.if_then(b.icmp_unsigned("==", b.load(found, typ=PTR), null)):
                slot = b.gep(slots, [ir.Constant(I32, 0), ir.Constant(I32, i)])
                b.store(b.atomic_rmw("xchg", slot, null, "acq_rel"), found)
        cached = b.load(found, typ=PTR)
        with b.if_then(b.icmp_unsigned("!=", cached, null)):
            header = b.gep(cached, [self.c64(-ALIGN)], source_etype=ir.IntType(8))
            small = b.icmp_signed("<", b.load(header, typ=I64), size)
            with b.if_then(small):
                self.free(b, cached)
                b.store(null, found)
        with b.if_then(b.icmp_unsigned("==", b.load(found, typ=PTR), null)):
            aligned_alloc = _declare(self.module, "aligned_alloc", ir.FunctionType(PTR, [I64, I64]))
            total = b.add(self.round_up(b, size, ALIGN), self.c64(ALIGN))  # with the header
            block = b.call(aligned_alloc, [self.c64(ALIGN), total])
            with b.if_then(b.icmp_unsigned("!=", block, null)):
                b.store(size, block)
                b.store(b.gep(block, [self.c64(ALIGN)], source_etype=ir.IntType(8)), found)
        return b.load(found, typ=PTR)

    def release(self, b: ir.IRBuilder, buffer: ir.Value) -> None:
        """Put `buffer` back into an empty slot, or free it when none is."""
        slots, null = self.slots(), ir.Constant(PTR, None)
        held = b.alloca(PTR, name="held")
        b.store(buffer, held)
        for i in range(SLOTS):
            with b.if_then(b.icmp_unsigned("!=", b.load(held, typ=PTR), null)):
                slot = b.gep(slots, [ir.Constant(I32, 0), ir.Constant(I32, i)])
                swap = b.cmpxchg(slot, null, b.load(held, typ=PTR), "acq_rel", "monotonic")
                with b.if_then(b.extract_value(swap, 1)):
                    b.store(null, held)
        with b.if_then(b.icmp_unsigned("!=", b.load(held, typ=PTR), null)):
            self.free(b, b.load(held, typ=PTR))

    def free(self, b: ir.IRBuilder, buffer: ir.Value) -> None:
        """Free a buffer that `acquire` allocated (its block begins ALIGN before it)."""
        free = _declare(self.module, "free", ir.FunctionType(ir.VoidType(), [PTR]))
        b.call(free, [b.gep(buffer, [self.c64(-ALIGN)], source_etype=ir.IntType(8))])

    def pack(self) -> dict[int, ir.Function]:
        """`pack<R>(src, s_r, s_l, rows, kb, dst)`: the rows x kb operand X(r, l) =
        src[r*s_r + l*s_l] into strips of R rows, dst[strip][l][R], zero-padded;
        one function per strip height (MR for A, NR for B; one when they agree)."""
        return {r: self._pack(r) for r in sorted({self.s.mr, self.s.nr})}

    def _pack(self, height: int) -> ir.Function:
        t = self.t
        args = [PTR, I64, I64, I64, I64, PTR]
        fn = _define(
            self.module,
            f"{self.name}.pack{height}",
            ir.VoidType(),
            args,
            ("src", "s_r", "s_l", "rows", "kb", "dst"),
        )
        src, s_r, s_l, rows, kb, dst = fn.args
        for p in (src, dst):
            p.add_attribute("noalias")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        zero, r_c = self.c64(0), self.c64(height)
        strip_vec = ir.VectorType(t, height)
        with counted_loop(b, zero, rows, "strip", step=height) as r0:
            out = b.gep(dst, [b.mul(r0, kb)], source_etype=t)
            base = b.gep(src, [b.mul(r0, s_r)], source_etype=t)
            whole = b.icmp_signed("<=", b.add(r0, r_c), rows)
            adjacent = b.and_(whole, b.icmp_signed("==", s_r, self.c64(1)))
            along_l = b.and_(whole, b.icmp_signed("==", s_l, self.c64(1)))
            with b.if_else(adjacent) as (contiguous, other):
                with contiguous:  # a whole strip whose rows are adjacent: vector copies
                    with counted_loop(b, zero, kb, "l") as l_:
                        at = b.gep(base, [b.mul(l_, s_l)], source_etype=t)
                        x = b.load(at, typ=strip_vec, align=1)
                        b.store(x, b.gep(out, [b.mul(l_, r_c)], source_etype=t), align=1)
                with other:
                    with b.if_else(along_l) as (rows_along_l, general):
                        with rows_along_l:
                            self._pack_rows(b, base, s_r, kb, out, height)
                        with general:
                            self._pack_any(b, base, s_r, s_l, b.sub(rows, r0), kb, out, height)
        b.ret_void()
        return fn

    def _pack_rows(self, b: ir.IRBuilder, base, s_r, kb, out, height: int) -> None:
        """A whole strip whose rows are each contiguous along l (A not transposed,
        B transposed): a transpose, in 4 x `LANES` blocks (a vector load from each
        of 4 rows, LLVM's 4 x 4 shuffles, a 4-vector store per l) where the rows
        come in fours; a scalar copy of the rest and of the last l."""
        t = self.t
        rows = [b.gep(base, [b.mul(self.c64(r), s_r)], source_etype=t) for r in range(height)]
        lanes, quad = min(TRANSPOSE_LANES, self.s.width), height - height % 4
        blocks = b.sdiv(kb, self.c64(lanes)) if quad else self.c64(0)
        with counted_loop(b, self.c64(0), blocks, "lw") as lw:
            l0 = b.mul(lw, self.c64(lanes))
            for r0 in range(0, quad, 4):
                parts = [
                    b.load(b.gep(row, [l0], source_etype=t), typ=ir.VectorType(t, lanes), align=1)
                    for row in rows[r0 : r0 + 4]
                ]
                block = _concat(b, parts)  # block[r * lanes + l] = X(r0 + r, l0 + l)
                for l_ in range(lanes):
                    mask = ir.Constant(ir.VectorType(I32, 4), [r * lanes + l_ for r in range(4)])
                    column = b.shuffle_vector(block, ir.Constant(block.type, ir.Undefined), mask)
                    at = b.add(b.mul(b.add(l0, self.c64(l_)), self.c64(height)), self.c64(r0))
                    b.store(column, b.gep(out, [at], source_etype=t), align=1)
            if quad < height:  # rows past the fours: one element at a time
                self._copy_rows(b, rows, quad, l0, b.add(l0, self.c64(lanes)), out, height)
        self._copy_rows(b, rows, 0, b.mul(blocks, self.c64(lanes)), kb, out, height)

    def _copy_rows(self, b: ir.IRBuilder, rows, first: int, start, stop, out, height) -> None:
        """out[l][r] = rows[r][l] for l in start..stop and r from `first`, by scalars."""
        t = self.t
        with counted_loop(b, start, stop, "l") as l_:
            dst = b.gep(out, [b.mul(l_, self.c64(height))], source_etype=t)
            for r in range(first, height):
                x = b.load(b.gep(rows[r], [l_], source_etype=t), typ=t)
                b.store(x, b.gep(dst, [self.c64(r)], source_etype=t))

    def _pack_any(self, b: ir.IRBuilder, base, s_r, s_l, left, kb, out, height: int) -> None:
        """Any strides, and the last strip's `left` rows then zeros."""
        t, zero, r_c = self.t, self.c64(0), self.c64(height)
        live = self.min(b, r_c, left)
        with counted_loop(b, zero, kb, "l") as l_:
            column = b.gep(base, [b.mul(l_, s_l)], source_etype=t)
            dst_l = b.gep(out, [b.mul(l_, r_c)], source_etype=t)
            with counted_loop(b, zero, live, "r") as r:
                x = b.load(b.gep(column, [b.mul(r, s_r)], source_etype=t), typ=t)
                b.store(x, b.gep(dst_l, [r], source_etype=t))
            with counted_loop(b, live, r_c, "pad") as r:
                b.store(ir.Constant(t, 0), b.gep(dst_l, [r], source_etype=t))

    def micro(self) -> ir.Function:
        """`micro(pa, pb, ldpb, kb, c, ldc, csc, first, mr, nr)`: the MR x NR tile
        C (+)= pa pb (pa: kb x MR packed; pb: kb rows of NR, ldpb apart: NR when
        packed, B's row stride when read in place; C's rows ldc apart, its columns
        csc); only mr x nr of it is written, by vectors when csc is 1."""
        s, t, vec = self.s, self.t, self.vec
        args = [PTR, PTR, I64, I64, PTR, I64, I64, I1, I64, I64]
        names = ("pa", "pb", "ldpb", "kb", "c", "ldc", "csc", "first", "mr", "nr")
        fn = _define(self.module, f"{self.name}.micro", ir.VoidType(), args, names)
        pa, pb, ldpb, kb, c, ldc, csc, first, mr, nr = fn.args
        for p in (pa, pb, c):
            p.add_attribute("noalias")
        entry = ir.IRBuilder(fn.append_basic_block("entry"))
        tile = entry.alloca(t, s.mr * s.nr, name="tile")
        b = entry
        self.prefetch_tile(b, c, ldc, csc)
        lanes = s.nr // s.width
        zero_vec = ir.Constant(vec, [0.0] * s.width)
        acc = [[zero_vec] * lanes for _ in range(s.mr)]
        # the main loop: `unroll` k steps an iteration, then the remainder
        steps = b.sdiv(kb, self.c64(s.unroll))
        acc = self.k_loop(b, acc, pa, pb, ldpb, self.c64(0), steps, s.unroll, "main")
        tail_start = b.mul(steps, self.c64(s.unroll))
        acc = self.k_loop(b, acc, pa, pb, ldpb, tail_start, kb, 1, "tail")
        full = b.and_(
            b.icmp_signed("==", mr, self.c64(s.mr)), b.icmp_signed("==", nr, self.c64(s.nr))
        )
        full = b.and_(full, b.icmp_signed("==", csc, self.c64(1)))
        with b.if_else(full) as (whole, edge):
            with whole:
                with b.if_else(first) as (store, add):
                    with store:
                        self.write(b, acc, c, ldc, accumulate=False)
                    with add:
                        self.write(b, acc, c, ldc, accumulate=True)
            with edge:  # through the tile on the stack, then its mr x nr part
                self.write(b, acc, tile, self.c64(s.nr), accumulate=False)
                zero = self.c64(0)
                with counted_loop(b, zero, mr, "er") as r:
                    src = b.gep(tile, [b.mul(r, self.c64(s.nr))], source_etype=t)
                    dst = b.gep(c, [b.mul(r, ldc)], source_etype=t)
                    with counted_loop(b, zero, nr, "ej") as j:
                        x = b.load(b.gep(src, [j], source_etype=t), typ=t)
                        out = b.gep(dst, [b.mul(j, csc)], source_etype=t)
                        old = b.select(first, ir.Constant(t, 0), b.load(out, typ=t))
                        b.store(b.fadd(old, x), out)
        b.ret_void()
        return fn

    def prefetch_tile(self, b: ir.IRBuilder, c, ldc, csc) -> None:
        """Prefetch (for writing) the cache lines of the tile of C before the k loop:
        C is read and written once per KC block, and a C too large for the caches
        would otherwise stall every tile's write on its misses (a prefetch never
        faults, so the lines of an edge tile's rows past C are harmless)."""
        s = self.s
        prefetch = _declare(
            self.module, "llvm.prefetch.p0", ir.FunctionType(ir.VoidType(), [PTR, I32, I32, I32])
        )
        write, keep, data = (ir.Constant(I32, x) for x in (1, 3, 1))
        row_bytes = s.nr * self.item
        offsets = sorted({*range(0, row_bytes, 64), row_bytes - 1})
        with b.if_then(b.icmp_signed("==", csc, self.c64(1))):
            for r in range(s.mr):
                row = b.gep(c, [b.mul(self.c64(r), ldc)], source_etype=self.t)
                for offset in offsets:
                    at = b.gep(row, [self.c64(offset)], source_etype=ir.IntType(8))
                    b.call(prefetch, [at, write, keep, data])

    def k_loop(self, b: ir.IRBuilder, acc, pa, pb, ldpb, start, stop, unroll: int, name: str):
        """Accumulators carried as phis through `for l in start..stop by unroll`."""
        s, t, vec = self.s, self.t, self.vec
        lanes = len(acc[0])

        def steps(l_, flat):
            current = [flat[r * lanes : (r + 1) * lanes] for r in range(s.mr)]
            for u in range(unroll):
                step = b.add(l_, self.c64(u))
                b_row = b.gep(pb, [b.mul(step, ldpb)], source_etype=t)
                bv = [
                    b.load(self.vector_at(b, b_row, v), typ=vec, align=4)
                    for v in range(s.nr // s.width)
                ]
                a_row = b.gep(pa, [b.mul(step, self.c64(s.mr))], source_etype=t)
                for r in range(s.mr):
                    x = b.load(b.gep(a_row, [self.c64(r)], source_etype=t), typ=t)
                    splat = self.splat(b, x)
                    for v in range(len(bv)):
                        current[r][v] = b.call(self.fma, [splat, bv[v], current[r][v]])
            return [value for row in current for value in row]

        limit = stop if unroll == 1 else b.mul(stop, self.c64(unroll))
        flat = [value for row in acc for value in row]
        flat = carried_loop(b, start, limit, flat, steps, name, step=unroll)
        return [flat[r * lanes : (r + 1) * lanes] for r in range(s.mr)]

    def splat(self, b: ir.IRBuilder, x: ir.Value) -> ir.Value:
        one = b.insert_element(ir.Constant(self.vec, ir.Undefined), x, ir.Constant(I32, 0))
        mask = ir.Constant(ir.VectorType(I32, self.s.width), [0] * self.s.width)
        return b.shuffle_vector(one, ir.Constant(self.vec, ir.Undefined), mask)

    def write(self, b: ir.IRBuilder, acc, c, ldc, accumulate: bool) -> None:
        s, t, vec = self.s, self.t, self.vec
        for r, row in enumerate(acc):
            c_row = b.gep(c, [b.mul(self.c64(r), ldc)], source_etype=t)
            for v, value in enumerate(row):
                out = b.gep(c_row, [self.c64(v * s.width)], source_etype=t)
                if not out.type.is_opaque:  # the stack tile's pointers are typed: to <w x T>*
                    out = b.bitcast(out, vec.as_pointer())
                if accumulate:
                    value = b.fadd(b.load(out, typ=vec, align=4), value)
                b.store(value, out, align=4)

    def even_blocks(self, b: ir.IRBuilder, extent: ir.Value, most: int, multiple: int):
        """(count, size) of the fewest blocks of at most `most` that cover `extent`,
        their size rounded up to a multiple of `multiple` (at most `most`)."""
        most_c = self.c64(most)
        count = b.sdiv(b.add(extent, self.c64(most - 1)), most_c)
        divisor = b.select(b.icmp_signed(">", count, self.c64(0)), count, self.c64(1))
        per = b.sdiv(b.add(extent, b.sub(divisor, self.c64(1))), divisor)  # 0 for extent 0
        return count, self.min(b, most_c, self.round_up(b, per, multiple))

    def min(self, b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
        return b.select(b.icmp_signed("<", x, y), x, y)

    def round_up(self, b: ir.IRBuilder, x: ir.Value, multiple: int) -> ir.Value:
        m = self.c64(multiple)
        return b.mul(b.sdiv(b.add(x, self.c64(multiple - 1)), m), m)
