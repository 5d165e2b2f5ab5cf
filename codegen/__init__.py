"""kiln.codegen: fused groups -> the loop-level kernel form (`kernel.py`,
`lower.py`) -> code, by a renderer per target (`llvm/` for the host CPU,
`triton/` for NVIDIA GPUs), which never import each other: what both need
(argument checks, the contraction groups and their shape rules) is here.
See docs/architecture.md and docs/codegen.md."""

from .arguments import Binding, Signature, bind
from .kernel import CompileError, Fault, Kernel, format_kernel
from .lower import lower

__all__ = [
    "Binding",
    "CompileError",
    "Fault",
    "Kernel",
    "Signature",
    "bind",
    "format_kernel",
    "lower",
]
