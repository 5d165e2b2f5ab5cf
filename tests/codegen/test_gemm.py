"""kiln's generated GEMM (codegen/llvm/gemm_kernel.py) and its schedule
(gemm_schedule.py) against numpy: shapes that are no multiple of any tile,
size 0 and 1, transposed operands, leading dims wider than the rows, small
schedules that cross every MC/KC/NC block edge, one and two threads, f32 and
f64; then end to end through the IR's matmul (symbolic dims, batches) and the
frontend, with the generated kernel and with `KILN_GEMM=blas`."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import ir

import kiln as kl
from kiln.codegen.llvm import gemm as gemm_module
from kiln.codegen.llvm.gemm_kernel import gemm_function
from kiln.codegen.llvm.gemm_schedule import (
    DEFAULT_CACHES,
    GemmSchedule,
    cache_sizes,
    default_schedule,
    schedule_for,
)
from kiln.codegen.llvm.jit import compile_module
from kiln.ir import DType, Interpreter, parse
from kiln.runtime import parallel

from .test_matmul import check, normal, single, tensor

NUMPY = {DType.f32: np.float32, DType.f64: np.float64}
TOLERANCE = {DType.f32: 2e-5, DType.f64: 1e-12}
I64, I1, PTR = ir.IntType(64), ir.IntType(1), ir.PointerType()
# small tiles and blocks, so that shapes of tens cross every block edge
SMALL = {
    DType.f32: GemmSchedule(mr=3, nr=8, kc=16, mc=6, nc=16, width=4, unroll=3, threads=1),
    DType.f64: GemmSchedule(mr=5, nr=4, kc=8, mc=10, nc=12, width=2, unroll=2, threads=1),
}
# (m, n, k); narrow ones (n far below NR) run as C^T = B^T A^T
SHAPES = [(1, 1, 1), (7, 13, 97), (13, 1, 7), (1, 97, 13), (97, 255, 31), (33, 29, 40), (61, 3, 9)]
SHAPES.append((1, 130, 70))  # one row of C (a GEMV): whole blocks of vectors and a rest
EMPTY = [(0, 5, 5), (5, 0, 5), (5, 5, 0), (0, 0, 0)]


def with_threads(s: GemmSchedule, threads: int) -> GemmSchedule:
    return GemmSchedule(s.mr, s.nr, s.kc, s.mc, s.nc, s.width, s.unroll, threads)


_compiled: dict = {}


def gemm(dtype: DType, schedule: GemmSchedule):
    """A ctypes callable of the schedule's GEMM (compiled once per test run)."""
    key = (dtype, schedule)
    if key not in _compiled:
        parallel.openmp_available()  # loads libgomp before the threaded ones link
        module = ir.Module(name="gemm_test")
        args = [PTR, I64, I1, PTR, I64, I1, PTR, I64, I64, I64]
        fn = ir.Function(module, ir.FunctionType(ir.IntType(32), args), "gemm")
        b = ir.IRBuilder(fn.append_basic_block())
        b.ret(b.call(gemm_function(module, dtype, schedule), list(fn.args)))
        native = compile_module(module)
        c = ctypes
        signature = c.CFUNCTYPE(
            c.c_int32, *[c.c_void_p, c.c_int64, c.c_bool] * 2, c.c_void_p, *[c.c_int64] * 3
        )
        _compiled[key] = (native, signature(native.engine.get_function_address("gemm")))
    return _compiled[key][1]


def run(dtype, schedule, a: np.ndarray, b: np.ndarray, ta: bool, tb: bool) -> np.ndarray:
    """C = op(a) op(b) by the generated GEMM; a and b may be row-strided views."""
    m, k = a.shape[::-1] if ta else a.shape
    n = b.shape[0] if tb else b.shape[1]
    c = np.full((m, n), np.nan, NUMPY[dtype])  # every element must be written
    lds = []
    for x in (a, b):
        assert x.size == 0 or x.shape[1] == 1 or x.strides[1] == x.itemsize
        lds.append(x.strides[0] // x.itemsize if x.size else max(1, x.shape[1]))
    ld_a, ld_b = lds
    fault = gemm(dtype, schedule)(
        a.ctypes.data, ld_a, ta, b.ctypes.data, ld_b, tb, c.ctypes.data, m, n, k
    )
    assert fault == 0, fault
    return c


def operands(rng, dtype, m, n, k, ta, tb, pad=0):
    """op(A) [m, k] and op(B) [k, n] stored as requested, `pad` extra columns each."""
    a_shape, b_shape = ((k, m) if ta else (m, k)), ((n, k) if tb else (k, n))
    t = NUMPY[dtype]
    a = rng.standard_normal((a_shape[0], a_shape[1] + pad)).astype(t)[:, : a_shape[1]]
    b = rng.standard_normal((b_shape[0], b_shape[1] + pad)).astype(t)[:, : b_shape[1]]
    return a, b


def expect(a, b, ta, tb, got, dtype):
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    assert got.shape == want.shape
    k = a.shape[0] if ta else a.shape[1]
    tol = TOLERANCE[dtype] * max(1.0, np.sqrt(k)) * 4
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [DType.f32, DType.f64])
@pytest.mark.parametrize("which", ["small", "default"])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_generated_gemm_matches_numpy(dtype, which, ta, tb):
    schedule = SMALL[dtype] if which == "small" else default_schedule(dtype, 1)
    rng = np.random.default_rng(len(SHAPES) + ta + 2 * tb)
    for m, n, k in SHAPES + EMPTY:
        a, b = operands(rng, dtype, m, n, k, ta, tb)
        expect(a, b, ta, tb, run(dtype, schedule, a, b, ta, tb), dtype)


@pytest.mark.parametrize("dtype", [DType.f32, DType.f64])
def test_leading_dims_wider_than_the_rows(dtype):
    rng = np.random.default_rng(3)
    for ta, tb in [(False, False), (True, True), (False, True), (True, False)]:
        a, b = operands(rng, dtype, 37, 19, 23, ta, tb, pad=11)
        expect(a, b, ta, tb, run(dtype, SMALL[dtype], a, b, ta, tb), dtype)


@pytest.mark.parametrize("dtype", [DType.f32, DType.f64])
def test_threads_split_rows_or_columns_and_match(dtype):
    """Above PARALLEL_FLOPS, two threads split C's rows (m >= n) or columns; a
    narrow C (999 x 7) is computed as its transpose, then split."""
    rng = np.random.default_rng(5)
    for schedule in (with_threads(SMALL[dtype], 2), default_schedule(dtype, 2)):
        shapes = [(257, 130, 97), (61, 513, 131), (130, 129, 255), (2, 3, 1 << 19), (999, 7, 400)]
        for m, n, k in shapes:
            a, b = operands(rng, dtype, m, n, k, False, True)
            expect(a, b, False, True, run(dtype, schedule, a, b, False, True), dtype)


def test_cached_packing_buffers_under_concurrent_callers_and_changing_sizes():
    """The packing buffers a GEMM keeps between calls (gemm_kernel's SLOTS): more
    Python threads than slots calling it at once (ctypes drops the GIL), each
    growing and shrinking its shapes, so that buffers are taken, replaced by
    larger ones, put back and freed while others run; every product is exact."""
    import concurrent.futures

    schedule, dtype = SMALL[DType.f32], DType.f32
    gemm(dtype, schedule)  # compiled before the threads start

    def work(seed: int) -> int:
        rng, ta = np.random.default_rng(seed), bool(seed % 2)
        for m, n, k in [(5, 7, 3), (61, 47, 45), (9, 3, 2), (97, 120, 70), (1, 1, 1)] * 3:
            a, b = operands(rng, dtype, m, n, k, ta, False)
            expect(a, b, ta, False, run(dtype, schedule, a, b, ta, False), dtype)
        return seed

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(work, range(12))) == list(range(12))


def test_one_function_per_schedule_per_module():
    module = ir.Module(name="m")
    s = SMALL[DType.f32]
    first = gemm_function(module, DType.f32, s)
    assert gemm_function(module, DType.f32, s) is first
    other = gemm_function(module, DType.f32, with_threads(s, 2))
    assert other is not first and s.tag in first.name


# ------------------------------------------------------------------ the schedule


def test_analytic_schedules_of_common_targets():
    caches = (32 << 10, 1 << 20, 32 << 20)
    # (itemsize, vector bits, registers) -> (MR, NR, width)
    targets = {
        (4, 256, 16): (6, 16, 8),  # AVX2 f32
        (4, 512, 32): (12, 32, 16),  # AVX-512 f32
        (8, 128, 16): (6, 4, 2),  # SSE2 f64
        (4, 128, 32): (12, 8, 4),  # NEON f32
    }
    for (itemsize, bits, registers), tile in targets.items():
        s = schedule_for(itemsize, bits, registers, caches, threads=2)
        assert (s.mr, s.nr, s.width) == tile and s.threads == 2
        assert s.kc * s.nr * itemsize <= caches[0]  # a B strip fits in L1
        assert s.mc * s.kc * itemsize <= caches[1]  # the A block in L2
        assert s.kc * s.nc * itemsize <= caches[2]  # the B panel in L3
        assert s.mc % s.mr == 0 and s.nc % s.nr == 0


def test_host_schedule_is_consistent():
    for dtype in (DType.f32, DType.f64):
        s = default_schedule(dtype, 1)
        assert s.nr % s.width == 0 and s.threads == 1
        assert s.width * dtype.itemsize in (16, 32, 64)


def test_cache_sizes_from_sysfs_and_defaults(tmp_path):
    for i, (level, kind, size) in enumerate(
        [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K")]
    ):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    assert cache_sizes(str(tmp_path)) == (48 << 10, 2 << 20, DEFAULT_CACHES[2])
    assert cache_sizes(str(tmp_path / "absent")) == DEFAULT_CACHES


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="multiple of the width"):
        GemmSchedule(mr=4, nr=12, kc=64, mc=8, nc=24, width=8)
    with pytest.raises(ValueError, match="multiples of MR, NR"):
        GemmSchedule(mr=4, nr=16, kc=64, mc=10, nc=32, width=8)


# ------------------------------------------------------------------ end to end


@pytest.mark.parametrize("blas", [False, True])
def test_ir_matmul_forms_through_the_gemm(blas, monkeypatch):
    """Symbolic dims, transposes and batches through kiln.matmul's kernel, with the
    generated GEMM and with KILN_GEMM=blas (checked against the interpreter)."""
    if blas:
        monkeypatch.setenv("KILN_GEMM", "blas")
    assert gemm_module.uses_blas() == blas
    rng = np.random.default_rng(11)
    forms = [
        (("?", "K"), ("K", 257), "", (97, 255), (255, 257)),
        ((1, 13), (13, 1), "", (1, 13), (13, 1)),
        (("?", 31, 40), (40, 33), "", (3, 31, 40), (40, 33)),
        ((3, 40, 31), (3, 33, 40), "{transpose_a = true, transpose_b = true}", None, None),
        ((0, 7), (7, 5), "", (0, 7), (7, 5)),
        ((6, 0), (0, 5), "", (6, 0), (0, 5)),
    ]
    for dtype in ("f32", "f64"):
        for a_dims, b_dims, attrs, a_shape, b_shape in forms:
            text = single("kiln.matmul", tensor(a_dims, dtype), tensor(b_dims, dtype), attrs)
            a = normal(rng, a_shape or a_dims, dtype)
            b = normal(rng, b_shape or b_dims, dtype)
            check(text, a, b)


def test_frontend_matmul_layers_match_numpy():
    """An MLP's shapes through kl (symbolic batch), against numpy."""
    rng = np.random.default_rng(2)
    w1 = rng.standard_normal((784, 129)).astype(np.float32) * 0.05
    w2 = rng.standard_normal((129, 10)).astype(np.float32) * 0.05
    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(kl.float32, (None, 784), name="x")
        y = kl.matmul(kl.tanh(kl.matmul(x, kl.constant(w1))), kl.constant(w2))
        sess = kl.Session(graph=g, backend="cpu")
        for batch in (1, 7, 256):
            xs = rng.standard_normal((batch, 784)).astype(np.float32)
            (got,) = sess.run([y], {x: xs})
            want = np.tanh(xs.astype(np.float64) @ w1) @ w2
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_interpreter_is_the_oracle_for_a_symbolic_gemm():
    """The same function, run natively at two batch sizes, agrees with the
    reference interpreter (one compile, symbolic M)."""
    text = single("kiln.matmul", tensor(("M", 19), "f64"), tensor((19, 23), "f64"))
    rng = np.random.default_rng(4)
    for rows in (1, 50):
        a, b = normal(rng, (rows, 19), "f64"), normal(rng, (19, 23), "f64")
        (got,) = check(text, a, b)
        (want,) = Interpreter(parse(text)).call("f", [a, b])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_kernels_share_the_process_gemm_and_aot_links_its_definition():
    """Two matmul kernels declare the one compiled GEMM (not a copy each);
    `link_gemms` puts its definition into a module that must carry it."""
    import llvmlite.binding as llvm

    from kiln.codegen.llvm import jit

    from .test_matmul import compiled

    names = set()
    for shape in ((5, 7, 3), (9, 4, 6)):
        text = single("kiln.matmul", tensor(shape[:2]), tensor(shape[1:]))
        _, _, kernel, _ = compiled(text)
        [declared] = [f for f in kernel.module.functions if f.name.startswith("kiln.gemm.")]
        assert declared.is_declaration
        names.add(declared.name)
        assert llvm.address_of_symbol(declared.name)  # registered with LLVM
    assert names == {gemm_module.blas_symbol(DType.f32)}
    with jit.llvm_lock:
        main = jit.to_llvm(kernel.module)
        gemm_module.link_gemms(main)
        [linked] = [f for f in main.functions if f.name in names]
        assert not linked.is_declaration


def test_thread_count_follows_kiln_num_threads(monkeypatch):
    monkeypatch.setenv("KILN_NUM_THREADS", "1")
    assert default_schedule(DType.f32).threads == 1
    monkeypatch.setenv("KILN_NUM_THREADS", "3")
    expected = 3 if parallel.openmp_available() else 1
    assert default_schedule(DType.f64).threads == expected
    assert "t3" in gemm_module.gemm_variant() or expected == 1


def _before_a_guard_page(shape, dtype) -> np.ndarray:
    """An array whose last byte is the last before a page that faults when read."""
    import mmap

    page = mmap.PAGESIZE
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    pages = -(-nbytes // page) + 1
    region = mmap.mmap(-1, pages * page)
    base = np.frombuffer(region, np.uint8)
    libc = ctypes.CDLL(None)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(base.ctypes.data + (pages - 1) * page, page, 0) == 0  # PROT_NONE
    start = (pages - 1) * page - nbytes
    return base[start : start + nbytes].view(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", [DType.f32, DType.f64])
def test_few_rows_read_b_in_place_and_never_past_its_end(dtype):
    """A with few rows (an RNN step's h @ W_h) reads B where it lies instead of
    packing it: whole strips from B itself, a narrower last strip packed alone, so
    nothing past B's last element is read (B ends at a guard page here)."""
    rng = np.random.default_rng(11)
    for schedule in (SMALL[dtype], default_schedule(dtype, 1)):
        for m, n, k in [(1, 37, 5), (2, 3, 17), (12, 64, 33), (32, 1027, 70), (64, 45, 300)]:
            a = rng.standard_normal((m, k)).astype(NUMPY[dtype])
            b = _before_a_guard_page((k, n), NUMPY[dtype])
            b[...] = rng.standard_normal((k, n))
            expect(a, b, False, False, run(dtype, schedule, a, b, False, False), dtype)
