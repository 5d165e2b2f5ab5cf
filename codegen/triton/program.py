"""A Triton kernel as kiln runs it: generated source, its launch rule, and
the loaded `@triton.jit` function.

Every generated kernel is one Python module text that defines one
`@triton.jit` function with the same argument order:

    NAME(p0, ..., p{n-1}, i0, ..., i{m-1}, fault, BLOCK_...: tl.constexpr, ...)

`p` are the buffers of the op's operands then its results, `i` the run-time
ints its `bind` computes from the concrete shapes, `fault` an int32 word the
kernel ORs `Fault` bits into (codegen/kernel.py), and the constexprs are the
block sizes of one configuration. `bind(in_shapes, out_shapes, config)` checks
the shapes and gives the grid, the ints and the constexprs; `configs(...)`
lists the configurations worth timing for those shapes (the first is the one
chosen without tuning).

Sources are loaded from memory (registered with `linecache`, which is where
Triton's JIT and interpreter read a function's source from), once per text:
the in-process half of the compile cache. Triton caches the binaries it
builds from them on disk (`TRITON_CACHE_DIR`).
"""

from __future__ import annotations

import hashlib
import linecache
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...ir.dtypes import DType
from ..kernel import CompileError

Shape = tuple[int, ...]

# tl types of kiln dtypes (bool is int1: Triton stores it as a byte, as numpy)
TL_DTYPES = {
    DType.f32: "tl.float32",
    DType.f64: "tl.float64",
    DType.i8: "tl.int8",
    DType.i16: "tl.int16",
    DType.i32: "tl.int32",
    DType.i64: "tl.int64",
    DType.u8: "tl.uint8",
    DType.u16: "tl.uint16",
    DType.u32: "tl.uint32",
    DType.u64: "tl.uint64",
    DType.bool: "tl.int1",
}

# Triton signature strings (for triton.compile without a GPU)
SIGNATURE_TYPES = {
    DType.f32: "*fp32",
    DType.f64: "*fp64",
    DType.i8: "*i8",
    DType.i16: "*i16",
    DType.i32: "*i32",
    DType.i64: "*i64",
    DType.u8: "*u8",
    DType.u16: "*u16",
    DType.u32: "*u32",
    DType.u64: "*u64",
    DType.bool: "*i1",
}

HEADER = "import triton\nimport triton.language as tl\n\nfrom kiln.codegen.triton import tlmath\n"


def tl_dtype(dtype: DType) -> str:
    try:
        return TL_DTYPES[dtype]
    except KeyError:
        raise CompileError(f"{dtype} is not supported by the Triton backend yet") from None


@dataclass(frozen=True)
class Launch:
    """One launch: the grid, the int arguments, the constexprs (with num_warps)."""

    grid: tuple[int, ...]
    ints: tuple[int, ...]
    constants: dict[str, int]

    @property
    def empty(self) -> bool:
        return any(g == 0 for g in self.grid)


Binder = Callable[[Sequence[Shape], Sequence[Shape], "dict[str, int] | None"], Launch]
Configs = Callable[[Sequence[Shape], Sequence[Shape]], "list[dict[str, int]]"]


@dataclass
class TritonKernel:
    """A generated kernel (see the module doc)."""

    name: str
    source: str
    bind: Binder
    configs: Configs
    buffer_dtypes: tuple[DType, ...]  # of p0..p{n-1}
    n_ints: int
    text: str = ""  # the kernel form it came from (KILN_DEBUG, the cache key)
    _fn: Any = field(default=None, repr=False)

    @property
    def may_fault(self) -> bool:
        """Whether the kernel can set fault bits (else the runtime need not look)."""
        return "tl.atomic_or(fault" in self.source

    @property
    def fn(self):
        """The `@triton.jit` function (loaded on first use)."""
        if self._fn is None:
            self._fn = load(self.source, self.name)
        return self._fn

    def signature(self, config: dict[str, int]) -> tuple[dict[str, str], dict[str, int]]:
        """Triton's signature and constexprs of this kernel (for `triton.compile`)."""
        sig = {f"p{i}": SIGNATURE_TYPES[d] for i, d in enumerate(self.buffer_dtypes)}
        sig.update({f"i{j}": "i64" for j in range(self.n_ints)})
        sig["fault"] = "*i32"
        constants = {k: v for k, v in config.items() if k != "num_warps"}
        sig.update(dict.fromkeys(constants, "constexpr"))
        return sig, constants


_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def load(source: str, name: str):
    """Define the module text `source` and return its function `name`."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    with _lock:
        fn = _loaded.get(digest)
        if fn is None:
            filename = f"<kiln-triton-{name}-{digest}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            scope: dict[str, Any] = {"__name__": f"kiln_triton_{digest}"}
            exec(compile(source, filename, "exec"), scope)  # noqa: S102  (our own text)
            fn = _loaded[digest] = scope[name]
        return fn


def next_power_of_2(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def compile_ptx(kernel: TritonKernel, config: dict[str, int], arch: int = 90) -> str:
    """The PTX of `kernel` in `config` for an sm_`arch` GPU; needs no GPU (ptxas
    ships with Triton). Golden tests use it."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    sig, constants = kernel.signature(config)
    compiled = triton.compile(
        ASTSource(fn=kernel.fn, signature=sig, constexprs=constants),
        target=GPUTarget("cuda", arch, 32),
        options={"num_warps": config.get("num_warps", 4)},
    )
    return compiled.asm["ptx"]
