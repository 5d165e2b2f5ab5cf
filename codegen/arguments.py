"""Checking arguments before native code runs, and sizing a kernel's outputs.

Renderer-neutral: one `Signature` (the argument types of a function, a
kernel or a shipped library) checks what a call passes, for the CPU and GPU
runtimes, the AOT library loader and the single-kernel runner alike. Every
way an argument can be wrong (their number, dtype, rank, a static dim, a
named symbol bound twice differently, a variable updated in place that is
not C-contiguous) is an ExecutionError naming the callee and the argument;
nothing unchecked reaches native code. `bind` then fits a loop-level
kernel's inputs to its domain (an input whose dim disagrees with it, an
empty reduced extent where the reduction needs elements).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..ir.dtypes import DType
from ..ir.errors import ExecutionError
from ..ir.types import Dim, TensorType, format_shape
from .kernel import Kernel

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Param:
    """One argument as a call is checked against it. `dims`: an int (static), a
    symbol's name (equal wherever it appears) or None (`?`, any size)."""

    label: str  # how messages name it: "@f argument 0 (%x: tensor<?x4xf32>)"
    dtype: DType
    dims: tuple[int | str | None, ...]
    in_place: bool = False  # updated in place: must be C-contiguous, never copied

    @property
    def numpy(self) -> np.dtype:
        return self.dtype.numpy

    @staticmethod
    def dims_of(shape: Iterable[Dim]) -> tuple[int | str | None, ...]:
        return tuple(d if isinstance(d, int) else (None if d.anonymous else d.name) for d in shape)


class Signature:
    """The argument types of a callee (`owner`, as messages name it), checked on
    every call; `noun` is what messages call its arguments."""

    def __init__(self, owner: str, params: Sequence[Param], noun: str = "arguments"):
        self.owner, self.params, self.noun = owner, tuple(params), noun
        self._numpy = [p.numpy for p in self.params]

    @classmethod
    def of_function(cls, func, in_place: Iterable[int] = ()) -> Signature:
        """The signature of a kiln function; arguments `in_place` are variables the
        function updates in place."""
        in_place = set(in_place)
        return cls(
            f"@{func.name}",
            [
                Param(
                    f"@{func.name} argument {j} (%{a.name or j}: {a.type})",
                    a.type.dtype,
                    Param.dims_of(a.type.shape),
                    j in in_place,
                )
                for j, a in enumerate(func.args)
            ],
        )

    @classmethod
    def of_kernel(cls, kernel: Kernel) -> Signature:
        """The signature of a loop-level kernel's inputs."""
        return cls(
            f"kernel @{kernel.name}",
            [
                Param(
                    f"kernel @{kernel.name} input {i} ({p.name}: {TensorType(p.dtype, p.shape)})",
                    p.dtype,
                    Param.dims_of(p.shape),
                )
                for i, p in enumerate(kernel.inputs)
            ],
            noun="inputs",
        )

    def check(
        self, args: Sequence, resident: type | tuple[type, ...] = ()
    ) -> tuple[list, dict[str, int]]:
        """The arguments as C-contiguous numpy arrays (anything else numpy makes one
        of, in its parameter's dtype; objects of the `resident` types, such as
        device arrays, are checked by their `shape` and `dtype` and kept), and the
        values bound to the named symbols."""
        if len(args) != len(self.params):
            self._wrong_count(len(args))
        arrays: list = []
        named: dict[str, int] = {}
        for a, p, dtype in zip(args, self.params, self._numpy):
            if type(a) is not np.ndarray and not isinstance(a, resident):
                a = np.asarray(a, dtype=dtype)
            if a.dtype != dtype:
                self._wrong_dtype(p, a.dtype)
            self._check_shape(p, a.shape, named)
            if type(a) is np.ndarray and not a.flags.c_contiguous:
                if p.in_place:
                    raise ExecutionError(
                        f"{p.label}: a variable updated in place must be C-contiguous"
                    )
                a = np.array(a, order="C")
            arrays.append(a)
        return arrays, named

    def check_shapes(
        self, shapes: Sequence[Shape], dtypes: Sequence | None = None
    ) -> dict[str, int]:
        """Check shapes (and the `dtypes`, if given) without arrays; the values
        bound to the named symbols."""
        if len(shapes) != len(self.params):
            self._wrong_count(len(shapes))
        named: dict[str, int] = {}
        for i, (s, p) in enumerate(zip(shapes, self.params)):
            if dtypes is not None and dtypes[i] != self._numpy[i]:
                self._wrong_dtype(p, dtypes[i])
            self._check_shape(p, tuple(s), named)
        return named

    def _wrong_count(self, n: int) -> None:
        raise ExecutionError(f"{self.owner} takes {len(self.params)} {self.noun}, got {n}")

    @staticmethod
    def _wrong_dtype(p: Param, got) -> None:
        raise ExecutionError(
            f"{p.label}: wrong dtype: expected dtype {p.dtype}, got numpy {np.dtype(got)}"
        )

    def _check_shape(self, p: Param, shape: Shape, named: dict[str, int]) -> None:
        if len(shape) != len(p.dims):
            raise ExecutionError(
                f"{p.label}: wrong rank: expected rank {len(p.dims)}, got "
                f"shape {format_shape(shape)}"
            )
        for i, (d, n) in enumerate(zip(p.dims, shape)):
            if d is None or d == n or type(d) is str and named.setdefault(d, n) == n:
                continue
            if isinstance(d, str):
                first = next(q for q in self.params if d in q.dims)
                expected = f"{d}, with {d} = {named[d]} from {first.label.split(' (')[0]}"
            else:
                expected = str(d)
            raise ExecutionError(
                f"{p.label}: got shape {format_shape(shape)}, which does not "
                f"fit: wrong shape at dim {i} (expected {expected})"
            )


def stand_in(shape: Shape, dtype: np.dtype) -> np.ndarray:
    """An array of `shape` that owns no memory (for checks that read shapes only)."""
    return np.lib.stride_tricks.as_strided(
        np.zeros(1, dtype), shape, (0,) * len(shape), writeable=False
    )


@dataclass(frozen=True)
class Binding:
    """What a call needs besides the buffers."""

    dims: tuple[int, ...]  # the values of `kernel.dims`, in order
    output_shapes: tuple[tuple[int, ...], ...]
    outer: int  # the extent of the ABI's [begin, end) range


def bind(kernel: Kernel, arrays: Sequence[np.ndarray]) -> Binding:
    """Check `arrays` (the kernel's inputs: `Signature.check`), fit them to the
    kernel's domain and bind its run-time dims."""
    Signature.of_kernel(kernel).check_shapes([a.shape for a in arrays], [a.dtype for a in arrays])
    sizes: dict[int, int] = {}  # axis of the group shape -> its extent
    for i, (param, array) in enumerate(zip(kernel.inputs, arrays)):
        for n, axes in zip(array.shape, param.axes):
            ok = True
            for a in axes:
                want = kernel.shape[a]
                ok = ok and (want == n if isinstance(want, int) else sizes.setdefault(a, n) == n)
            if not ok:
                bound = ", ".join(f"axis {a} = {n}" for a, n in sizes.items())
                raise ExecutionError(
                    f"kernel @{kernel.name} input {i} ({param.name}: "
                    f"{TensorType(param.dtype, param.shape)}): shape {format_shape(array.shape)}"
                    f" does not fit the kernel's domain {format_shape(kernel.shape)}"
                    + (f" (with {bound})" if bound else "")
                )

    def extent(a: int) -> int:
        d = kernel.shape[a]
        return d if isinstance(d, int) else sizes[a]

    dims = tuple(sizes[d.axis] for d in kernel.dims)
    outputs = tuple(
        tuple(extent(axes[0]) if axes else 1 for axes in p.axes) for p in kernel.outputs
    )
    if kernel.needs_elements and any(
        ax.size.value(dims) == 0 for ax in kernel.domain if ax.reduced
    ):
        raise ExecutionError(
            f"kernel @{kernel.name}: cannot reduce an empty axis (input "
            f"shapes {', '.join(format_shape(x.shape) for x in arrays)})"
        )
    return Binding(dims, outputs, kernel.outer_size.value(dims))
