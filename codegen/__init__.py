"""kiln.codegen: fused groups -> the loop-level kernel form (`kernel.py`,
`lower.py`) -> code, by a renderer per target (`llvm/`; `triton/` later).
See docs/architecture.md and docs/codegen.md."""

from .arguments import Binding, bind
from .kernel import CompileError, Fault, Kernel, format_kernel
from .lower import lower

__all__ = ["Binding", "CompileError", "Fault", "Kernel", "bind", "format_kernel", "lower"]
