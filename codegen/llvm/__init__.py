"""The CPU backend: kernels rendered to LLVM IR with llvmlite and compiled for the host.

`native_kernel(op, name)` is the backend's entry for the runtime: it looks the
op up in `BUILDERS` (native.py), which the builder modules imported below fill."""

from . import conv, coordinates, library, matmul, scan, selection  # noqa: F401  (builders)
from .jit import Compiled, compile_module, target_machine
from .native import BUILDERS, NativeKernel, native_kernel
from .render import render
from .run import compiled_kernel, kernel_asm, kernel_ir, run_kernel
from .scalar import INSTRUCTIONS

__all__ = [
    "BUILDERS",
    "CONTROL",
    "INSTRUCTIONS",
    "INTERPRETED",
    "Compiled",
    "NativeKernel",
    "compile_module",
    "compiled_kernel",
    "kernel_asm",
    "kernel_ir",
    "native_kernel",
    "render",
    "run_kernel",
    "target_machine",
]

# What this backend renders (tests/ir/test_coverage.py reads it): the scalar
# instructions of `INSTRUCTIONS` (scalar.py) inside fused pointwise and
# reduction kernels, and the builders registered with `@native` for single
# ops and the other fused kinds (`BUILDERS`, native.py).
# The ops below have none: a function holding one is a CompileError for
# backend="cpu", and backend="auto" (kiln.compile's default) runs it in the
# reference interpreter instead, with a warning: the declared fallback.
INTERPRETED: dict[str, str] = {
    "kiln.nonzero": "no native kernel yet: its result's size depends on the values",
    "kiln.non_max_suppression": "no native kernel: its result's size depends on the values",
    "kiln.unique": "no native kernel: its results' sizes depend on the values",
    "kiln.shape": "no native kernel yet (its value is the run-time shape)",
    "kiln.print": "refused: printing from native code needs a callback into Python",
}
# Region ops that have no kernel of their own: the CPU entry (runtime/cpu.py,
# runtime/control.py) emits them as branches and loops calling their regions' kernels.
CONTROL: dict[str, str] = dict.fromkeys(
    ["kiln.if", "kiln.while", "kiln.scan"],
    "emitted by the native entry: a branch or loop calling the regions' kernels",
)
