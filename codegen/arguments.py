"""Checking a kernel's arguments before native code runs, and sizing its outputs.

Renderer-neutral: the LLVM runner uses it now, the runtime and the Triton
launcher later. Every way an argument can be wrong (dtype, rank, a static
dim, a named symbol bound twice differently, an input whose dim disagrees
with the kernel's domain, an empty reduced extent where the reduction needs
elements) is an ExecutionError naming the kernel and the argument; nothing
unchecked reaches the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..ir.errors import ExecutionError
from ..ir.types import TensorType, format_shape
from .kernel import Kernel


@dataclass(frozen=True)
class Binding:
    """What a call needs besides the buffers."""

    dims: tuple[int, ...]  # the values of `kernel.dims`, in order
    output_shapes: tuple[tuple[int, ...], ...]
    outer: int  # the extent of the ABI's [begin, end) range


def bind(kernel: Kernel, arrays: Sequence[np.ndarray]) -> Binding:
    """Check `arrays` (the kernel's inputs) and bind its run-time dims."""
    inputs = kernel.inputs
    if len(arrays) != len(inputs):
        raise ExecutionError(f"kernel @{kernel.name} takes {len(inputs)} inputs, "
                             f"got {len(arrays)}")
    sizes: dict[int, int] = {}  # axis of the group shape -> its extent
    named: dict[str, int] = {}
    for i, (param, array) in enumerate(zip(inputs, arrays)):
        what = (f"kernel @{kernel.name} input {i} "
                f"({param.name}: {TensorType(param.dtype, param.shape)})")
        if array.dtype != param.dtype.numpy:
            raise ExecutionError(f"{what}: expected dtype {param.dtype}, got numpy {array.dtype}")
        if array.ndim != param.rank:
            raise ExecutionError(f"{what}: expected rank {param.rank}, got shape "
                                 f"{format_shape(array.shape)}")
        for d, n, axes in zip(param.shape, array.shape, param.axes):
            ok = d == n if isinstance(d, int) else (
                d.anonymous or named.setdefault(d.name, n) == n)
            for a in axes:
                want = kernel.shape[a]
                ok = ok and (want == n if isinstance(want, int) else sizes.setdefault(a, n) == n)
            if not ok:
                bound = ", ".join(f"axis {a} = {n}" for a, n in sizes.items())
                raise ExecutionError(f"{what}: shape {format_shape(array.shape)} does not fit "
                                     f"the kernel's domain {format_shape(kernel.shape)}"
                                     + (f" (with {bound})" if bound else ""))

    def extent(a: int) -> int:
        d = kernel.shape[a]
        return d if isinstance(d, int) else sizes[a]

    dims = tuple(sizes[d.axis] for d in kernel.dims)
    outputs = tuple(tuple(extent(axes[0]) if axes else 1 for axes in p.axes)
                    for p in kernel.outputs)
    if kernel.needs_elements and any(ax.size.value(dims) == 0 for ax in kernel.domain
                                     if ax.reduced):
        raise ExecutionError(f"kernel @{kernel.name}: cannot reduce an empty axis (input "
                             f"shapes {', '.join(format_shape(x.shape) for x in arrays)})")
    return Binding(dims, outputs, kernel.outer_size.value(dims))

