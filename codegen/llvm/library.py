"""The library: native kernels for the ops that stay outside fused groups.

After `fuse`, a function's top-level ops are kiln.fused groups, views, constants,
kiln.return, and single ops that need a kernel of their own. Each of those has
a builder here, registered with `@native("kiln.xxx")` (codegen/llvm/native.py),
written by hand with llvmlite's builder on a `Frame` (frame.py):

- movement.py: transpose (tiled in 2-D), slice, pad, concat, broadcast_to,
  broadcast_like, stop_gradient;
- indexing.py: gather and scatter_add (an index out of range is a fault);
- window.py: max_pool, avg_pool and their gradients (TensorFlow's padding);
- depthwise.py: depthwise_conv2d and its two gradients (direct loops);
- creation.py: iota and random (Philox 4x32-10, as ir/philox.py).

Sizes come at run time (`bind` computes them from the concrete shapes), so one
kernel serves every shape of a symbolic type; attributes (a permutation, a
window) are baked in. f16 and bf16 tensors are a CompileError.

Not here, because no such op reaches codegen on its own: reductions and
argmax/argmin, elementwise ops and casts (`fuse` always makes them a fused
group), kiln.call (the runtime inlines calls). kiln.print is refused: its side
effect would need a callback from native code into Python.
"""

from __future__ import annotations

from ...ir import CompileError, Operation
from . import creation, depthwise, indexing, movement, window
from .native import NativeKernel, native

__all__ = ["creation", "depthwise", "indexing", "movement", "window"]


@native("kiln.print")
def print_(op: Operation, name: str) -> NativeKernel:
    """Refused: printing from native code would need a callback into Python."""
    raise op.error(
        "kiln.print is not supported by the CPU backend (printing from native "
        "code needs a callback); run with backend='interpreter'",
        CompileError,
    )
