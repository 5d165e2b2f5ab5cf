"""The CPU backend: kernels rendered to LLVM IR with llvmlite and compiled for the host.

`native_kernel(op, name)` is the backend's entry for the runtime: it looks the
op up in `BUILDERS` (native.py), which the builder modules imported below fill."""

from . import conv, library, matmul  # noqa: F401  (they register their builders)
from .jit import Compiled, compile_module, target_machine
from .native import BUILDERS, NativeKernel, native_kernel
from .render import render
from .run import compiled_kernel, kernel_asm, kernel_ir, run_kernel

__all__ = ["BUILDERS", "Compiled", "NativeKernel", "compile_module", "compiled_kernel",
           "kernel_asm", "kernel_ir", "native_kernel", "render", "run_kernel", "target_machine"]
