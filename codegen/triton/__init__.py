"""The Triton renderer: the loop-level kernel form (codegen/kernel.py) and the
matmul/conv templates as Triton kernels, for NVIDIA GPUs (and, under
`TRITON_INTERPRET=1`, on the CPU for tests). See docs/gpu.md.

`BUILDERS` is the backend's one registry of what it renders, keyed as the
CPU backend's (codegen/llvm/native.py): an op name ("kiln.transpose") or a
fused kind ("kiln.fused:matmul")."""

from collections.abc import Callable

from ...ir import CompileError, Operation
from ..lower import lower
from .contraction import conv_kernel, matmul_kernel
from .indexing import GATHERS, gather_kernel
from .movement import COPY_OPS, copy_kernel
from .program import Launch, TritonKernel, compile_ptx
from .render import INSTRUCTIONS, render

__all__ = [
    "BUILDERS",
    "COPY_OPS",
    "HOST_OPS",
    "INSTRUCTIONS",
    "Launch",
    "TritonKernel",
    "compile_ptx",
    "render",
    "triton_kernel",
]


def _loop_kernel(op: Operation, name: str) -> TritonKernel:
    return render(lower(op, name))


# What this backend renders (tests/ir/test_coverage.py reads it): the scalar
# instructions of `INSTRUCTIONS` (render.py) inside fused pointwise and
# reduction kernels, the contraction templates, the copies of COPY_OPS and the
# gathers of GATHERS (indexing.py).
BUILDERS: dict[str, Callable[[Operation, str], TritonKernel]] = {
    "kiln.fused:pointwise": _loop_kernel,
    "kiln.fused:reduction": _loop_kernel,
    "kiln.fused:matmul": matmul_kernel,
    "kiln.fused:conv": conv_kernel,
    **dict.fromkeys(COPY_OPS, copy_kernel),
    **dict.fromkeys(GATHERS, gather_kernel),
}

# The ops below have no Triton kernel yet: they run on the host, in the
# reference interpreter, their operands copied up and their results down
# (runtime/gpu.py warns and lists them in `host_ops`): the declared fallback.
HOST_OPS: dict[str, str] = {
    **dict.fromkeys(
        [
            "kiln.max_pool",
            "kiln.avg_pool",
            "kiln.max_pool_grad",
            "kiln.max_pool_grad_grad",
            "kiln.avg_pool_grad",
            "kiln.depthwise_conv2d",
            "kiln.depthwise_conv2d_backprop_input",
            "kiln.depthwise_conv2d_backprop_filter",
        ],
        "no window kernels yet",
    ),
    **dict.fromkeys(["kiln.concat", "kiln.pad"], "no copy kernel for it yet"),
    **dict.fromkeys(
        ["kiln.scatter_add", "kiln.scatter_elements", "kiln.scatter_nd"],
        "no scatter kernels yet (repeated indices need ordered updates)",
    ),
    "kiln.random": "no Philox kernel yet",
    "kiln.top_k": "no sorting kernel yet",
    "kiln.nonzero": "its result's size depends on the values",
    "kiln.non_max_suppression": "its result's size depends on the values",
    "kiln.unique": "its results' sizes depend on the values",
    "kiln.shape": "its value is the run-time shape",
    "kiln.print": "printing is a host side effect",
    **dict.fromkeys(
        ["kiln.if", "kiln.while", "kiln.scan"],
        "no device-side control flow yet: the op and its regions run on the host",
    ),
}


def triton_kernel(op: Operation, name: str) -> TritonKernel:
    """The Triton kernel computing `op`, a top-level op of a planned function.
    Raises CompileError for what the backend has no kernel for (the runtime then
    runs that op on the host)."""
    key = f"kiln.fused:{op.kind}" if op.name == "kiln.fused" else op.name
    build = BUILDERS.get(key)
    if build is None:
        raise CompileError(f"{op.describe()}: the GPU backend has no kernel for {key} yet")
    return build(op, name)
