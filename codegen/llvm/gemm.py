"""gemm: row-major matrix products emitted into a kernel, with llvmlite's builder.

Floats run kiln's own GEMM (codegen/llvm/gemm_kernel.py) of the host's
schedule (codegen/llvm/gemm_schedule.py): the same code in process and in AOT
libraries, threaded by kiln's libgomp and no one else's, and a schedule that
is data (tunable). Kernels only declare it (`kiln.gemm.<T>.<tag>`): it is
compiled once per process and schedule (`shared_gemm`: ~0.35 s of LLVM that
every matmul and conv kernel would otherwise repeat, run on a thread of its
own while the kernels compile; its object code is kept in the runtime's disk
cache under its name) and registered with LLVM under its name, as the
BLAS is; AOT links its definition into the library's module (`link_gemms`).

`KILN_GEMM=blas` calls scipy's BLAS instead. It is kept as the yardstick the
generated kernel is measured against (benchmarks/gemm.py) and as a way to
tell a kernel bug from a model bug; AOT libraries cannot use it. The BLAS
path: the optimised BLAS that scipy ships (OpenBLAS): the Fortran
`sgemm`/`dgemm` of `scipy.linalg.cython_blas`, whose addresses are PyCapsules
(named by their C signature). `blas_symbol` registers one with LLVM under a
kiln name (`llvm.add_symbol`), so JIT-compiled and cached object code finds
it in this process. Fortran is column-major and takes every argument by
pointer: a row-major C = A B is the column-major C^T = B^T A^T, so the
operands go in swapped. BLAS takes 32-bit ints here (the capsule signature
says `int *`): callers check extents fit (`check_int32`).

Integers (numpy wraps on overflow, so any summation order gives its result)
use a plain loop nest whose innermost loop runs along C's row and
vectorises when B's row is contiguous.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import importlib.util
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import llvmlite.binding as llvm
from llvmlite import ir

from ...ir import ExecutionError
from ...ir.dtypes import DType
from . import jit
from .gemm_kernel import GEMM_TYPE, gemm_function, gemm_name
from .gemm_schedule import GemmSchedule, default_schedule
from .render import counted_loop
from .scalar import I1, I8, I32, I64, value_type

PTR = ir.PointerType()
INT32_MAX = 2**31 - 1
_BLAS_NAMES = {DType.f32: "sgemm", DType.f64: "dgemm"}


def uses_blas() -> bool:
    """Whether float GEMMs call scipy's BLAS (`KILN_GEMM=blas`) instead of kiln's own."""
    return os.environ.get("KILN_GEMM", "kiln").lower() == "blas"


_engines: dict[str, llvm.ExecutionEngine] = {}  # their native code (kept: LLVM calls into it)
# every shared function named in this process (the GEMMs, conv_gemm.py's implicit
# conv GEMM): name -> what defines it in a module
_definers: dict[str, Callable[[ir.Module], ir.Function]] = {}
# (load(llvm_text) -> bytes | None, store(llvm_text, object)): the disk cache of
# object code, set by runtime/objects.py (codegen cannot import the runtime)
object_store: tuple[Callable[[str], bytes | None], Callable[[str, bytes], None]] | None = None


def shared_gemm(dtype: DType, schedule: GemmSchedule) -> str:
    """The name of the process's compiled GEMM for (dtype, schedule), compiled
    and registered with LLVM on first use (kernels and objects from the disk
    cache resolve it by name)."""
    return shared_function(
        gemm_name(dtype, schedule), lambda module: gemm_function(module, dtype, schedule)
    )


def shared_function(name: str, define: Callable[[ir.Module], ir.Function]) -> str:
    """A function of the GEMM's kind that does not depend on a kernel's shapes,
    compiled once per process and registered with LLVM by `name` on first use:
    `define(module)` defines it there. Its object code comes from the disk cache
    when there, else LLVM compiles it on a thread of its own while the caller
    goes on rendering and compiling kernels (~0.35 s of LLVM for a float GEMM);
    `jit.link` waits for it (`jit.settle`) before it links code that calls it."""
    _definers[name] = define
    with jit.llvm_lock:
        if name not in _engines and name not in _compiling:
            _start(name)
    return name


def gemm_address(dtype: DType, schedule: GemmSchedule) -> int:
    """The native address of the GEMM for (dtype, schedule), compiled on first
    use: `kiln tune` (runtime/tune.py) calls candidates directly through it."""
    name = shared_gemm(dtype, schedule)
    jit.settle()
    return _engines[name].get_function_address(name)


# name -> its object code being compiled (a future); `_register` links it
_compiling: dict[str, Future] = {}
_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="kiln-gemm")


def _object_key(name: str) -> str:
    """What the disk cache keys a shared function's object code with: its name
    says all its definition depends on beside kiln's code and the target (the
    dtype and every schedule parameter: `GemmSchedule.tag`), which the cache key
    holds too (cache.py), so a cached one is found without rendering it."""
    return f"shared function {name}"


def _start(name: str) -> None:
    """Register `name`'s object code from the disk cache now, else start compiling
    it (its IR rendered here, LLVM on the pool) and register it at `jit.settle`.
    Hold `jit.llvm_lock`."""
    data = object_store[0](_object_key(name)) if object_store else None
    if data is not None:
        _register(name, data)
        return
    _compiling[name] = _pool.submit(_compile, name, jit.host_text(_definition(name)))
    jit.before_link(lambda: _register(name, _compiling.pop(name).result()))


def _compile(name: str, text: str) -> bytes:
    """Optimise and emit `text` on a pool thread (no lock held), without LLVM's
    vectorisers: the GEMM is written in vectors, and they found nothing in it but
    took a fifth of its compile (0.47 -> 0.37 s CPU, the same GFLOP/s)."""
    data = jit.compile_object(text, name, vectorize=False)
    if object_store:
        object_store[1](_object_key(name), data)
    return data


def _register(name: str, data: bytes) -> None:
    """Link the object code of `name` and register its address with LLVM (kernels
    and objects from the disk cache resolve it by name). Hold `jit.llvm_lock`."""
    _engines[name] = engine = jit.link([data])
    llvm.add_symbol(name, engine.get_function_address(name))


def _definition(name: str) -> ir.Module:
    module = ir.Module(name=name)
    _definers[name](module).linkage = ""  # external: others call it
    return module


def link_gemms(main: llvm.ModuleRef, parallel: str | None = None) -> None:
    """Link into `main` the definition of every kiln GEMM it declares (AOT: a
    library must carry them). `parallel`: the function the GEMMs' forks call
    instead of `GOMP_parallel` (same signature; AOT's glue picks the team at run
    time). Hold `jit.llvm_lock`."""
    for fn in list(main.functions):
        if fn.is_declaration and fn.name in _definers:
            gemm = jit.to_llvm(_definition(fn.name))
            fork = next((f for f in gemm.functions if f.name == "GOMP_parallel"), None)
            if parallel and fork is not None:
                fork.name = parallel
            main.link_in(gemm)


def gemm_variant() -> str:
    """What the float GEMMs rendered now would be (the BLAS, or the generated
    kernel's schedules): the disk cache keys object code with it, since the
    environment (KILN_GEMM, KILN_NUM_THREADS) changes it and not the kiln IR."""
    if uses_blas():
        return "gemm=blas"
    return "gemm=" + ",".join(default_schedule(d).tag for d in _BLAS_NAMES)


def blas_symbol(dtype: DType) -> str:
    """The name under which LLVM finds the float GEMM the kernels of `dtype` call,
    registered once per process (the JIT and objects loaded from the disk cache
    resolve it): kiln's own (`shared_gemm`), or with `KILN_GEMM=blas` scipy's
    Fortran gemm.

    The OpenBLAS that scipy's wheels bundle is loaded directly when it is there
    (`import scipy.linalg` alone takes ~0.4 s, most of a warm compile);
    otherwise the function comes from `scipy.linalg.cython_blas`."""
    if not uses_blas():
        return shared_gemm(dtype, default_schedule(dtype))
    return _register_blas(dtype)


@functools.cache
def _register_blas(dtype: DType) -> str:
    blas = _BLAS_NAMES[dtype]
    symbol = f"kiln_blas_{blas}"
    address = _bundled_blas(blas) or _cython_blas(blas)
    llvm.add_symbol(symbol, address)
    return symbol


def _bundled_blas(blas: str) -> int:
    """The address of `scipy_<blas>_` in scipy's bundled OpenBLAS, or 0."""
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        return 0
    site = os.path.dirname(list(spec.submodule_search_locations)[0])
    for path in sorted(glob.glob(os.path.join(site, "scipy.libs", "libscipy_openblas*.so"))):
        try:
            llvm.load_library_permanently(path)
        except RuntimeError:
            continue
        address = llvm.address_of_symbol(f"scipy_{blas}_")
        if address:
            return address
    return 0


def _cython_blas(blas: str) -> int:
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[blas]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))


def check_int32(op, **extents: int) -> None:
    """Raise ExecutionError naming `op` when an extent exceeds BLAS's 32-bit ints."""
    for what, n in extents.items():
        if n > INT32_MAX:
            raise op.error(
                f"{what} = {n} is too large for the BLAS call (at most {INT32_MAX})", ExecutionError
            )


@dataclass(frozen=True)
class Operand:
    """A row-major matrix operand: its first element, the distance between its
    stored rows (`ld`, in elements) and whether it is stored as the transpose
    ([K, M] for a left operand of M rows), as matmul's transpose_a/transpose_b."""

    pointer: ir.Value
    ld: ir.Value
    transposed: bool = False


class Gemm:
    """Emits C[m, n] = A[m, k] B[k, n] (C row-major with leading dim n) at a builder.

    `slots` is a builder in the function's entry block, where the by-pointer
    arguments of the BLAS call get their stack slots (once, not per call).
    `schedule`: the generated GEMM's blocking, else the host's default.
    `fault`: an i32 slot the generated GEMM ORs its fault bits into (a failed
    allocation of its packing buffers); without one they are dropped."""

    def __init__(
        self,
        b: ir.IRBuilder,
        slots: ir.IRBuilder,
        dtype: DType,
        schedule: GemmSchedule | None = None,
        fault: ir.Value | None = None,
    ):
        self.b, self.dtype, self.fault = b, dtype, fault
        self.t = value_type(dtype)
        self.kernel = None
        if not dtype.is_float:
            self.loop = _int_gemm(b.module, self.t)
            return
        if not uses_blas():
            name = shared_gemm(dtype, schedule or default_schedule(dtype))
            self.kernel = b.module.globals.get(name) or ir.Function(b.module, GEMM_TYPE, name)
            return
        name = blas_symbol(dtype)
        self.blas = b.module.globals.get(name) or ir.Function(
            b.module, ir.FunctionType(ir.VoidType(), [PTR] * 13), name
        )
        self.ints = {k: slots.alloca(I32, name=k) for k in ("m", "n", "k", "lda", "ldb", "ldc")}
        self.chars = {c: slots.alloca(I8, name=f"char.{c}") for c in "NT"}
        self.one, self.zero = slots.alloca(self.t, name="one"), slots.alloca(self.t, name="zero")
        for char, where in self.chars.items():
            slots.store(ir.Constant(I8, ord(char)), where)
        slots.store(ir.Constant(self.t, 1.0), self.one)
        slots.store(ir.Constant(self.t, 0.0), self.zero)

    def __call__(
        self, a: Operand, b_: Operand, c: ir.Value, m: ir.Value, n: ir.Value, k: ir.Value
    ) -> None:
        """C = op(A) op(B) with m, n, k (i64)."""
        if self.kernel is not None:
            flags = [ir.Constant(I1, int(x.transposed)) for x in (a, b_)]
            b = self.b
            fault = b.call(
                self.kernel, [a.pointer, a.ld, flags[0], b_.pointer, b_.ld, flags[1], c, m, n, k]
            )
            if self.fault is not None:
                b.store(b.or_(b.load(self.fault, typ=I32), fault), self.fault)
            return
        if not self.dtype.is_float:
            one = ir.Constant(I64, 1)
            a_rows, a_cols = (one, a.ld) if a.transposed else (a.ld, one)  # strides of i, l
            b_rows, b_cols = (one, b_.ld) if b_.transposed else (b_.ld, one)  # of l, j
            self.b.call(
                self.loop, [a.pointer, b_.pointer, c, m, n, k, a_rows, a_cols, b_rows, b_cols]
            )
            return
        # Column-major C^T[n, m] = B^T A^T: B is Fortran's first operand (keys are
        # Fortran's argument names), and a leading dim must be >= 1 even when empty.
        b = self.b
        for name, value in {"m": n, "n": m, "k": k, "lda": b_.ld, "ldb": a.ld, "ldc": n}.items():
            if name.startswith("ld"):
                value = b.select(
                    b.icmp_signed("<", value, ir.Constant(I64, 1)), ir.Constant(I64, 1), value
                )
            b.store(b.trunc(value, I32), self.ints[name])
        ints = self.ints
        b.call(
            self.blas,
            [
                self.chars["T" if b_.transposed else "N"],
                self.chars["T" if a.transposed else "N"],
                ints["m"],
                ints["n"],
                ints["k"],
                self.one,
                b_.pointer,
                ints["lda"],
                a.pointer,
                ints["ldb"],
                self.zero,
                c,
                ints["ldc"],
            ],
        )


def _int_gemm(module: ir.Module, t: ir.Type) -> ir.Function:
    """`void gemm(A, B, C, m, n, k, sa_i, sa_l, sb_l, sb_j)`: C[i, j] = sum_l
    A[i*sa_i + l*sa_l] * B[l*sb_l + j*sb_j], C row-major; defined once per module."""
    name = f"kiln.int_gemm.{t}"
    found = module.globals.get(name)
    if found is not None:
        return found
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * 3 + [I64] * 7), name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    a, b_, c, m, n, k, sa_i, sa_l, sb_l, sb_j = fn.args
    for arg, text in zip(fn.args, ("a", "b", "c", "m", "n", "k", "sa_i", "sa_l", "sb_l", "sb_j")):
        arg.name = text
    for pointer in (a, b_, c):
        pointer.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero = ir.Constant(I64, 0)
    with counted_loop(b, zero, m, "i") as i:
        row = b.gep(c, [b.mul(i, n)], inbounds=True, source_etype=t)
        with counted_loop(b, zero, n, "zero") as j:
            b.store(ir.Constant(t, 0), b.gep(row, [j], inbounds=True, source_etype=t))
        with counted_loop(b, zero, k, "l") as l_:
            at = b.add(b.mul(i, sa_i), b.mul(l_, sa_l))
            x = b.load(b.gep(a, [at], inbounds=True, source_etype=t), typ=t)
            b_row = b.mul(l_, sb_l)
            with counted_loop(b, zero, n, "j") as j:
                y = b.load(
                    b.gep(b_, [b.add(b_row, b.mul(j, sb_j))], inbounds=True, source_etype=t), typ=t
                )
                out = b.gep(row, [j], inbounds=True, source_etype=t)
                b.store(b.add(b.load(out, typ=t), b.mul(x, y)), out)
    b.ret_void()
    return fn
