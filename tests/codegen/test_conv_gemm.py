"""conv2d as an implicit GEMM (codegen/llvm/conv_gemm.py, conv.py's
`_emit_implicit`) against the reference interpreter: small schedules whose
MR/NR/KC/MC/NC blocks every shape crosses (runs of one tap's channels split by
KC, pixel strips split by MC, output channels by NR and NC), one and two
threads, strides, dilations, SAME/VALID/explicit padding, batch 0 and 1, a
symbolic batch, f32 and f64; the explicit im2col fallback (`KILN_GEMM=blas`,
or forced), and a failed packing malloc surfacing as the
kernel's OUT_OF_MEMORY fault."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import ir

from kiln.codegen.llvm import conv as conv_module
from kiln.codegen.llvm.gemm_kernel import OUT_OF_MEMORY
from kiln.codegen.llvm.gemm_schedule import GemmSchedule
from kiln.ir import DType, Interpreter
from kiln.passes import run_pipeline
from kiln.runtime import parallel

from .test_matmul import check, compiled, conv_text, normal, tensor

# small tiles and blocks: shapes of tens cross every block edge
SMALL = {
    DType.f32: GemmSchedule(mr=3, nr=8, kc=16, mc=6, nc=16, width=4, unroll=3, threads=1),
    DType.f64: GemmSchedule(mr=5, nr=4, kc=8, mc=10, nc=12, width=2, unroll=2, threads=1),
}

# (input dims, filter dims, attributes); "?" dims run as 5
CONVS = [
    ((2, 9, 11, 3), (3, 3, 3, 5), '{padding = "SAME"}'),
    ((1, 9, 11, 7), (3, 3, 7, 17), '{padding = "VALID"}'),  # runs split by KC, NR strips
    ((1, 10, 7, 4), (3, 2, 4, 6), '{strides = [2, 3], padding = "SAME"}'),
    ((2, 10, 9, 5), (3, 3, 5, 3), '{strides = [2, 2], padding = "VALID"}'),
    ((2, 13, 12, 2), (3, 3, 2, 29), '{dilations = [2, 3], padding = "SAME"}'),  # past NC
    ((1, 8, 9, 3), (2, 3, 3, 2), '{padding = "EXPLICIT", explicit_padding = [1, 0, 2, 3]}'),
    ((3, 5, 5, 7), (1, 1, 7, 4), '{strides = [2, 2], padding = "VALID"}'),  # 1x1, strided
    ((1, 6, 6, 4), (1, 1, 4, 3), '{padding = "EXPLICIT", explicit_padding = [1, 1, 0, 2]}'),
    ((1, 1, 1, 1), (1, 1, 1, 1), '{padding = "VALID"}'),  # size 1
    ((1, 4, 4, 3), (5, 5, 3, 2), '{padding = "SAME"}'),  # wider than the image
    (("?", 7, 6, 3), (3, 3, 3, 4), '{strides = [2, 2], padding = "SAME"}'),  # symbolic batch
    (("?", "?", "?", 3), (3, 3, 3, 4), '{padding = "SAME"}'),
    (("?", 6, 6, "?"), (3, 3, "?", 4), '{padding = "VALID"}'),  # channels at run time
    ((0, 5, 5, 2), (3, 3, 2, 2), '{padding = "SAME"}'),  # batch 0
    ((1, 5, 5, 0), (3, 3, 0, 2), '{padding = "SAME"}'),  # no channels: K = 0
]


def shape(dims) -> tuple:
    return tuple(d if isinstance(d, int) else 5 for d in dims)


def with_threads(s: GemmSchedule, threads: int) -> GemmSchedule:
    return GemmSchedule(s.mr, s.nr, s.kc, s.mc, s.nc, s.width, s.unroll, threads)


@pytest.fixture
def small_schedule(monkeypatch):
    """Sets the implicit GEMM's schedule: small, with `threads` threads."""

    def use(dtype: DType, threads: int = 1) -> None:
        if threads > 1:
            parallel.openmp_available()  # libgomp loaded before the kernel links
        s = with_threads(SMALL[dtype], threads)
        monkeypatch.setattr(conv_module, "default_schedule", lambda d: s)

    return use


@pytest.mark.parametrize("x, f, attrs", CONVS)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("path", ["direct", "implicit"])
def test_implicit_gemm_matches_the_interpreter(
    rng, small_schedule, monkeypatch, x, f, attrs, dtype, path
):
    """Both paths (conv_direct.py's loops, the implicit GEMM), forced."""
    monkeypatch.setenv("KILN_CONV", path)
    small_schedule(DType[dtype])
    text = conv_text(tensor(x, dtype), tensor(f, dtype), attrs)
    check(text, normal(rng, shape(x), dtype), normal(rng, shape(f), dtype))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("path", ["direct", "implicit"])
def test_implicit_gemm_on_two_threads(rng, small_schedule, monkeypatch, dtype, path):
    """A product past PARALLEL_FLOPS splits its pixels over the threads."""
    monkeypatch.setenv("KILN_CONV", path)
    small_schedule(DType[dtype], threads=2)
    x, f = (2, 17, 15, 16), (3, 3, 16, 40)  # 510 pixels x 40 x 144: 2.9M multiply-adds
    text = conv_text(tensor(x, dtype), tensor(f, dtype), '{padding = "SAME"}')
    check(text, normal(rng, x, dtype), normal(rng, f, dtype))


@pytest.mark.parametrize("out, path", [(48, "direct NHWC loops"), (8, "implicit GEMM")])
def test_host_schedule_and_the_path_chosen(rng, out, path):
    """With the host's schedule: the listing names the path (a narrow conv, at
    most half the direct tile's NR channels, takes the implicit GEMM), and a
    ResNet-like layer (K past KC, pixels past MC) agrees with the interpreter."""
    x, f = (2, 14, 14, 32), (3, 3, 32, out)
    text = conv_text(tensor(x), tensor(f), '{padding = "SAME"}')
    _, _, kernel, _ = compiled(text)
    assert path in kernel.text
    check(text, normal(rng, x), normal(rng, f))


@pytest.mark.parametrize("block_bytes", [1, 700])
def test_output_blocks_with_an_epilogue(rng, monkeypatch, block_bytes):
    """Blocks of one pixel and of a few (a partial last block), each then its
    fused epilogue (bias, residual, relu)."""
    monkeypatch.setattr(conv_module, "OUTPUT_BLOCK_BYTES", block_bytes)
    text = """func @f(%x: tensor<?x11x9x5xf32>, %w: tensor<3x3x5x6xf32>,
                     %b: tensor<6xf32>, %r: tensor<?x6x5x6xf32>) -> tensor<?x6x5x6xf32> {
  %c = kiln.conv2d %x, %w {strides = [2, 2], padding = "SAME"}
      : (tensor<?x11x9x5xf32>, tensor<3x3x5x6xf32>) -> tensor<?x6x5x6xf32>
  %z = kiln.add %c, %b : (tensor<?x6x5x6xf32>, tensor<6xf32>) -> tensor<?x6x5x6xf32>
  %s = kiln.add %z, %r : tensor<?x6x5x6xf32>
  %y = kiln.relu %s : tensor<?x6x5x6xf32>
  kiln.return %y : tensor<?x6x5x6xf32>
}"""
    arrays = [normal(rng, s) for s in [(3, 11, 9, 5), (3, 3, 5, 6), 6, (3, 6, 5, 6)]]
    got = check(text, *arrays)[0]
    assert (got == 0).any() and (got > 0).any()


@pytest.mark.parametrize("how", ["forced", "blas"])
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_explicit_im2col_fallback(rng, monkeypatch, how, dtype):
    """KILN_GEMM=blas keeps the im2col path; forced, it still runs on kiln's GEMM."""
    if how == "forced":
        monkeypatch.setattr(conv_module, "_implicit", lambda group: False)
    elif how == "blas":
        monkeypatch.setenv("KILN_GEMM", "blas")
    x, f = (2, 9, 8, 3), (3, 2, 3, 5)
    text = conv_text(tensor(x, dtype), tensor(f, dtype), '{strides = [2, 1], padding = "SAME"}')
    _, _, kernel, _ = compiled(text)
    assert "im2col" in kernel.text and "implicit" not in kernel.text
    check(text, normal(rng, x, dtype), normal(rng, f, dtype))


def test_failed_packing_malloc_is_the_kernels_fault(rng, monkeypatch):
    """The implicit GEMM's packing buffers come from a malloc that fails here
    (a module-local one returning NULL, in a GEMM of a schedule of this test's
    own, so the process's shared copies are not it): the kernel returns
    OUT_OF_MEMORY."""
    monkeypatch.setenv("KILN_CONV", "direct")
    real = conv_module.conv_direct_function
    own = GemmSchedule(mr=2, nr=4, kc=8, mc=4, nc=8, width=4, unroll=1, threads=1)
    monkeypatch.setattr(conv_module, "default_schedule", lambda d: own)

    def failing(module: ir.Module, dtype, schedule):
        if "malloc" not in module.globals:
            fn = ir.Function(module, ir.FunctionType(ir.PointerType(), [ir.IntType(64)]), "malloc")
            fn.linkage = "internal"
            ir.IRBuilder(fn.append_basic_block()).ret(ir.Constant(ir.PointerType(), None))
        return real(module, dtype, schedule)

    monkeypatch.setattr(conv_module, "conv_direct_function", failing)
    x, f = (1, 5, 5, 2), (3, 3, 2, 3)
    m, op, kernel, entry = compiled(conv_text(tensor(x), tensor(f), '{padding = "SAME"}'))
    arrays = [normal(rng, x), normal(rng, f)]
    want = Interpreter(m).run_block(op.body, arrays)
    dims, outer = kernel.bind([a.shape for a in arrays], [w.shape for w in want])
    out = np.empty_like(want[0])
    pointers = (ctypes.c_void_p * 3)(*(a.ctypes.data for a in [*arrays, out]))
    ints = (ctypes.c_int64 * len(dims))(*dims)
    assert entry(pointers, ints, 0, outer) == OUT_OF_MEMORY
    assert entry(pointers, ints, 0, 0) == 0  # no pixels: no GEMM, no fault


def test_kernels_share_one_conv_gemm_and_aot_links_it(rng, tmp_path, monkeypatch):
    """Two conv kernels of different geometry declare the one compiled conv GEMM
    (registered with LLVM by name); an AOT library carries its definition and
    agrees with the interpreter over batch sizes."""
    import llvmlite.binding as llvm

    import kiln
    from kiln.ir import interpret, parse
    from kiln.passes import DEFAULT_PIPELINE
    from kiln.runtime import aot

    monkeypatch.setenv("KILN_CONV", "direct")
    names = set()
    for x, f, attrs in [CONVS[0], CONVS[2]]:
        _, _, kernel, _ = compiled(conv_text(tensor(x), tensor(f), attrs))
        [declared] = [g for g in kernel.module.functions if g.name.startswith("kiln.conv_direct.")]
        assert declared.is_declaration and llvm.address_of_symbol(declared.name)
        names.add(declared.name)
    assert len(names) == 1
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    text = conv_text(tensor(("?", 7, 6, 3)), tensor((3, 3, 3, 4)), '{padding = "SAME"}')
    module = parse(text)
    run_pipeline(module, DEFAULT_PIPELINE)
    aot.build(module, "f", tmp_path / "out")
    lib = kiln.load(tmp_path / "out")
    w = normal(rng, (3, 3, 3, 4))
    for n in (0, 1, 3):
        x = normal(rng, (n, 7, 6, 3))
        np.testing.assert_allclose(
            lib(x, w)[0], interpret(parse(text), "f", x, w)[0], rtol=1e-4, atol=1e-4
        )
