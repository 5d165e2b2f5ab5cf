"""Compile one fused op for the CPU and run it on numpy arrays (tests, debugging).

`run_kernel(fused, *arrays)` lowers, renders and compiles the op (once: the
compiled kernels are cached in memory, keyed by the kernel's text, and the
op's printed form maps to its kernel), checks the arrays against the
kernel's types, allocates the outputs and calls the native code. The
executables of `runtime/` do the same for whole functions; this is the
single-kernel path. `kernel_ir` and `kernel_asm` show what was generated.
"""

from __future__ import annotations

import ctypes
import time

import numpy as np

from ...ir import ExecutionError, Operation, debug
from ...ir.printer import print_op
from ..arguments import bind
from ..kernel import Fault, Kernel
from ..lower import lower
from .jit import Compiled, compile_module
from .listing import kernel_listing, sections_for
from .native import NativeKernel
from .render import render

_kernels: dict[str, Kernel] = {}  # printed fused op -> its kernel
_compiled: dict[str, Compiled] = {}  # kernel text -> native code


def compiled_kernel(fused: Operation) -> tuple[Kernel, Compiled]:
    """The kernel of `fused` and its native code, from the cache when there."""
    key = print_op(fused)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = lower(fused)
    text = str(kernel)
    native = _compiled.get(text)
    if native is None:
        start = time.perf_counter()
        module = render(kernel)
        native = _compiled[text] = compile_module(module)
        if debug.level() >= debug.KERNELS:
            shown = NativeKernel(kernel.name, module, None, text)
            print(
                f"// kiln: kernel @{kernel.name} ({kernel.kind}) compiled in "
                f"{(time.perf_counter() - start) * 1e3:.1f} ms",
                file=debug.out(),
            )
            listing = kernel_listing(shown, sections_for(debug.level()))
            if listing:
                print(listing, file=debug.out())
    return kernel, native


def run_kernel(fused: Operation, *arrays) -> list[np.ndarray]:
    """Run the kiln.fused op `fused` on `arrays` with native code; returns its
    results. Arguments are checked first: a wrong dtype, rank or shape is an
    ExecutionError, and so is what the reference interpreter raises for
    (integer division by zero, ...)."""
    kernel, native = compiled_kernel(fused)
    inputs = [_contiguous(a, p.dtype.numpy) for a, p in zip(arrays, kernel.inputs)]
    inputs += list(arrays[len(inputs) :])
    binding = bind(kernel, inputs)
    outputs = [
        np.empty(shape, dtype=p.dtype.numpy)
        for shape, p in zip(binding.output_shapes, kernel.outputs)
    ]
    buffers = (ctypes.c_void_p * max(1, len(kernel.params)))(
        *(a.ctypes.data for a in inputs + outputs)
    )
    dims = (ctypes.c_int64 * max(1, len(binding.dims)))(*binding.dims)
    faults = native.function(kernel.name)(buffers, dims, 0, binding.outer)
    if faults:
        raise fused.error(Fault(faults).describe(), ExecutionError)
    return outputs


def _contiguous(a, dtype: np.dtype) -> np.ndarray:
    """`a` as a C-contiguous array (lists take the kernel's dtype; arrays keep
    theirs, to be checked)."""
    if not isinstance(a, (np.ndarray, np.generic)):
        return np.asarray(a, dtype=dtype)
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.array(a, order="C")


def kernel_ir(fused: Operation, optimized: bool = True) -> str:
    """The LLVM IR of `fused`'s kernel: as rendered, or optimised."""
    kernel, native = compiled_kernel(fused)
    return native.llvm_ir if optimized else str(render(kernel))


def kernel_asm(fused: Operation) -> str:
    """The host assembly of `fused`'s kernel."""
    return compiled_kernel(fused)[1].assembly()
