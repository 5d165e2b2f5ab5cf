"""Native kernels: what the CPU runtime links into one executable per function.

Every top-level op of a compiled function that computes something becomes
one `NativeKernel`: an LLVM module defining one function with the kernel ABI

    int32 kernel(void **buffers, int64 *dims, int64 begin, int64 end)

(`buffers`: the op's operands then its results, C-contiguous; `dims`: the
run-time ints the kernel reads; `[begin, end)`: the range of its outer loop,
which the runtime may split across threads; the result: `Fault` bits, 0 when
all went well), and a `bind` that, from the concrete shapes of the op's
operands and results, checks them and gives the `dims` and the outer extent.

`BUILDERS` is the backend's one registry of what it renders: fused pointwise
and reduction groups go through the loop-level kernel form (lower.py +
render.py, registered here); the other kinds and single ops register a
builder with `@native("kiln.xxx")` (or `@native("kiln.fused:matmul")` for a
fused kind) in the modules that build them, which this package's
`__init__` imports, so the registry is whole once `codegen.llvm` is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir

from ...ir import CompileError, Operation
from ..arguments import Shape, bind, stand_in
from ..lower import lower
from .render import render, split_grain

Binder = Callable[[Sequence[Shape], Sequence[Shape]], tuple[tuple[int, ...], int]]


class NativeKernel:
    """One kernel: `module` defines the function `name` with the kernel ABI.

    `module` may be given as a function that builds it: it is then built on
    first use, so an executable whose object code comes from the disk cache
    never renders its kernels (`text`, which the cache key hashes, is cheap;
    KILN_DEBUG=3 renders them again to show their LLVM IR)."""

    def __init__(
        self,
        name: str,
        module: ir.Module | Callable[[], ir.Module],
        bind: Binder,
        text: str = "",
        grain: int = 1,
    ):
        self.name = name
        self._module = module
        self.bind = bind  # (operand shapes, result shapes) -> (dims, outer extent)
        self.text = text  # a readable listing (the kernel form, or a summary)
        self.grain = grain  # a thread's rows of [begin, end) are a multiple of this

    @property
    def module(self) -> ir.Module:
        if not isinstance(self._module, ir.Module):
            self._module = self._module()
        return self._module


BUILDERS: dict[str, Callable[[Operation, str], NativeKernel]] = {}


def native(key: str):
    """Register `build(op, name) -> NativeKernel` for ops named `key`
    ("kiln.transpose"), or for fused groups of a kind ("kiln.fused:matmul")."""

    def register(build: Callable[[Operation, str], NativeKernel]):
        if key in BUILDERS:
            raise CompileError(f"two native kernel builders for {key}")
        BUILDERS[key] = build
        return build

    return register


def native_kernel(op: Operation, name: str) -> NativeKernel:
    """The native kernel computing `op`, a top-level op of a compiled function."""
    key = f"kiln.fused:{op.kind}" if op.name == "kiln.fused" else op.name
    build = BUILDERS.get(key)
    if build is None:
        raise CompileError(f"{op.describe()}: the CPU backend has no kernel for {key} yet")
    return build(op, name)


@native("kiln.fused:pointwise")
@native("kiln.fused:reduction")
def loop_kernel(op: Operation, name: str) -> NativeKernel:
    """A fused pointwise or reduction group through the loop-level kernel form."""
    kernel = lower(op, name)
    dtypes = [p.dtype.numpy for p in kernel.inputs]

    def binder(in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]):
        binding = bind(kernel, [stand_in(s, d) for s, d in zip(in_shapes, dtypes)])
        return binding.dims, binding.outer

    return NativeKernel(name, lambda: render(kernel), binder, str(kernel), split_grain(kernel))
