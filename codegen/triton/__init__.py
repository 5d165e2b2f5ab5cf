"""The Triton renderer: the loop-level kernel form (codegen/kernel.py) and the
matmul/conv templates as Triton kernels, for NVIDIA GPUs (and, under
`TRITON_INTERPRET=1`, on the CPU for tests). See docs/gpu.md."""

from ...ir import CompileError, Operation
from ..lower import lower
from .contraction import conv_kernel, matmul_kernel
from .movement import COPY_OPS, copy_kernel
from .program import Launch, TritonKernel, compile_ptx
from .render import render

__all__ = ["COPY_OPS", "Launch", "TritonKernel", "compile_ptx", "render", "triton_kernel"]


def triton_kernel(op: Operation, name: str) -> TritonKernel:
    """The Triton kernel computing `op`, a top-level op of a planned function.
    Raises CompileError for what the backend has no kernel for (the runtime then
    runs that op on the host)."""
    if op.name == "kiln.fused":
        if op.kind in ("pointwise", "reduction"):
            return render(lower(op, name))
        if op.kind == "matmul":
            return matmul_kernel(op, name)
        if op.kind == "conv":
            return conv_kernel(op, name)
    if op.name in COPY_OPS:
        return copy_kernel(op, name)
    raise CompileError(f"{op.describe()}: the GPU backend has no kernel for "
                       f"{op.name}{':' + op.kind if op.name == 'kiln.fused' else ''} yet")
