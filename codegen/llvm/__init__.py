"""The CPU backend: kernels rendered to LLVM IR with llvmlite and compiled for the host."""

from .jit import Compiled, compile_module, target_machine
from .render import render
from .run import compiled_kernel, kernel_asm, kernel_ir, run_kernel

__all__ = ["Compiled", "compile_module", "compiled_kernel", "kernel_asm", "kernel_ir", "render",
           "run_kernel", "target_machine"]
