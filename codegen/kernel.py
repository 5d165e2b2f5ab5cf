"""The loop-level kernel form: what a fused group becomes before a renderer
(codegen/llvm for the CPU, codegen/triton for GPUs) turns it into code.

A kernel iterates over a *domain*: the fused group's full shape S, with some
axes marked *reduced*. The domain's other (kept) axes are its *rows*; a
pointwise kernel has no reduced axes, so each of its rows is one element.
For every row, the kernel runs its `body` in order:

- scalar instructions at row level (once per row),
- `Sweep`s: a loop over the row's reduced elements that computes
  element-level values, stores full-shape outputs and folds values into
  `Reduction`s, whose results are row values for everything after the sweep.

A full-shape value needed by two sweeps is computed again in each (only its
inputs are read twice); nothing full-shape is kept in memory between sweeps.
Softmax is three sweeps (max; sum of exp; store exp / sum).

Values are SSA: each instruction has an `id` unique in the kernel and names
its operands by id. A sweep's element values are visible only inside it; row
values are visible to everything after them in the row body.

Memory is reached only through `Load`, `Store` and `Index` (the position,
for iota and argmax), each with a *map*: one bool per domain axis, True where
the buffer varies along it. Buffers are C-contiguous, so a map fixes the
strides (the product of the sizes of the later True axes; 0 on a False
axis): broadcasting is a False axis. `lower.py` merges adjacent axes on which
every map agrees and drops size-1 axes, so a kernel whose operands are all
full-shape or scalars has a one-axis domain: one flat loop.

Sizes known at compile time are baked in; the others are `DimParam`s, the
int64 extents the kernel takes at run time.

The ABI every renderer implements (the LLVM one is `codegen/llvm`)::

    int32 kernel(void **buffers, int64 *dims, int64 begin, int64 end)

`buffers[i]` is the data of `params[i]` (inputs, then outputs), `dims[j]` the
extent of `dims[j].axis`, and `[begin, end)` the range of the outer axis
(`outer_size`) to run: `[0, outer_size)` is the whole kernel, and threads can
each take a part. The result is a set of `Fault` bits, 0 on success.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from ..ir.dtypes import DType
from ..ir.errors import CompileError  # noqa: F401  (re-exported: codegen raises it)
from ..ir.scalar import INSTRUCTIONS
from ..ir.types import Dim


class Fault(enum.IntFlag):
    """Errors a kernel reports in its result instead of crashing."""

    INT_DIVISION_BY_ZERO = 1
    NONFINITE_TO_INT = 2
    NEGATIVE_INT_POWER = 4
    INDEX_OUT_OF_RANGE = 8
    OUT_OF_MEMORY = 256

    def describe(self) -> str:
        return "; ".join(_FAULT_TEXT[f] for f in Fault if f in self)


_FAULT_TEXT = {
    Fault.INT_DIVISION_BY_ZERO: "integer division by zero",
    Fault.NONFINITE_TO_INT: "cannot cast non-finite values to an integer type",
    Fault.NEGATIVE_INT_POWER: "integer power with a negative exponent",
    Fault.INDEX_OUT_OF_RANGE: "an index is out of range",
    Fault.OUT_OF_MEMORY: "out of memory for the kernel's scratch space",
}

# Scalar instructions a `Compute` may name, with their arity: the one list in
# ir/scalar.py, where each elementwise op declares its meaning in them (relu is
# max(x, 0)). Compares and logical ops give bool; `cast` converts its operand
# to the instruction's dtype.
SCALAR_OPS: dict[str, int] = {name: i.arity for name, i in INSTRUCTIONS.items()}

# How a Reduction folds a sweep's values into one row value.
REDUCTION_KINDS = ("sum", "prod", "max", "min", "argmax", "argmin")

Map = tuple[bool, ...]  # per domain axis: does the buffer vary along it?


@dataclass(frozen=True)
class Size:
    """An extent: `static` times the run-time dims at `dims` (indices into
    `Kernel.dims`)."""

    static: int
    dims: tuple[int, ...] = ()

    def value(self, dims: Sequence[int]) -> int:
        return self.static * math.prod(dims[j] for j in self.dims)

    def __str__(self) -> str:
        return "*".join(
            [f"d{j}" for j in self.dims]
            + ([str(self.static)] if self.static != 1 or not self.dims else [])
        )


@dataclass(frozen=True)
class Axis:
    """One axis of the domain; `origin` lists the group-shape axes merged into it."""

    size: Size
    reduced: bool
    origin: tuple[int, ...]


@dataclass(frozen=True)
class DimParam:
    """A run-time extent: the size of axis `axis` of the group shape."""

    name: str  # the symbol it stands for: "?" or a named one such as "N"
    axis: int


@dataclass(frozen=True)
class Param:
    """A buffer argument. `shape` is its IR type's shape; `axes[i]` lists the
    group-shape axes that dim i spans (empty for a broadcast size-1 dim), which
    is how arguments are checked and output shapes computed."""

    name: str
    dtype: DType
    shape: tuple[Dim, ...]
    axes: tuple[tuple[int, ...], ...]
    output: bool

    @property
    def rank(self) -> int:
        return len(self.shape)


# ------------------------------------------------------------------ instructions


@dataclass(frozen=True)
class Load:
    """`id = params[param][offset(map)]`."""

    id: int
    param: int
    map: Map
    dtype: DType


@dataclass(frozen=True)
class Index:
    """`id` = the linear position under `map` (iota's count, argmax's index)."""

    id: int
    map: Map
    dtype: DType


@dataclass(frozen=True)
class Extent:
    """`id` = the number of elements a row reduces (for mean)."""

    id: int
    dtype: DType


@dataclass(frozen=True)
class Const:
    id: int
    value: Union[bool, int, float]  # noqa: UP007  (a runtime alias, py3.10)
    dtype: DType


@dataclass(frozen=True)
class Compute:
    """`id = op(*args)`, one of `SCALAR_OPS`."""

    id: int
    op: str
    args: tuple[int, ...]
    dtype: DType


@dataclass(frozen=True)
class Store:
    """`params[param][offset(map)] = value`."""

    param: int
    map: Map
    value: int


@dataclass(frozen=True)
class Reduction:
    """Fold the sweep's `value` into the row value `id` (defined after the
    sweep). argmax/argmin also read `index`, the element's position along
    the reduced axis, and give it in `dtype`."""

    id: int
    kind: str
    value: int
    dtype: DType
    index: int | None = None


Instr = Union[Load, Index, Extent, Const, Compute, Store]  # noqa: UP007


@dataclass(frozen=True)
class Sweep:
    """A loop over the reduced elements of a row."""

    body: tuple[Instr, ...]
    reductions: tuple[Reduction, ...]


@dataclass(frozen=True)
class Kernel:
    """A pointwise or reduction kernel in loop-level form (see the module doc)."""

    name: str
    kind: str  # "pointwise" or "reduction"
    shape: tuple[Dim, ...]  # the group's full shape S, before `collapse`
    params: tuple[Param, ...]
    dims: tuple[DimParam, ...]
    domain: tuple[Axis, ...]
    body: tuple[Instr | Sweep, ...]

    @property
    def inputs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.output)

    @property
    def outputs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.output)

    @property
    def row_axes(self) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(self.domain) if not a.reduced)

    @property
    def reduced_axes(self) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(self.domain) if a.reduced)

    @property
    def outer_size(self) -> Size:
        """The extent of the range `[begin, end)` the ABI splits: the first row
        axis (1 when every axis is reduced)."""
        rows = self.row_axes
        return self.domain[rows[0]].size if rows else Size(1)

    def reductions(self) -> list[Reduction]:
        return [r for s in self.body if isinstance(s, Sweep) for r in s.reductions]

    @property
    def needs_elements(self) -> bool:
        """Whether an empty reduced extent is an error (max, min, arg*, mean)."""
        return any(r.kind not in ("sum", "prod") for r in self.reductions()) or any(
            isinstance(x, Extent) for x in self.body
        )

    def maps(self) -> list[Map]:
        """Every distinct map the kernel uses, in order of first use."""
        out: list[Map] = []
        for instr in _walk(self.body):
            m = getattr(instr, "map", None)
            if m is not None and m not in out:
                out.append(m)
        return out

    def __str__(self) -> str:
        return format_kernel(self)


def _walk(body: Sequence[Instr | Sweep]):
    for s in body:
        if isinstance(s, Sweep):
            yield from s.body
        else:
            yield s


# ------------------------------------------------------------------ text form


def format_kernel(k: Kernel) -> str:
    """A readable listing of `k` (what `KILN_DEBUG` shows; the compile cache's key)."""

    def access(m: Map) -> str:
        return "[" + ", ".join(f"i{a}" for a, on in enumerate(m) if on) + "]"

    def instr(x: Instr) -> str:
        if isinstance(x, Load):
            return f"%{x.id} = load {k.params[x.param].name}{access(x.map)} : {x.dtype}"
        if isinstance(x, Store):
            return f"store %{x.value} -> {k.params[x.param].name}{access(x.map)}"
        if isinstance(x, Index):
            return f"%{x.id} = index{access(x.map)} : {x.dtype}"
        if isinstance(x, Extent):
            return f"%{x.id} = extent : {x.dtype}"
        if isinstance(x, Const):
            return f"%{x.id} = const {x.value!r} : {x.dtype}"
        return f"%{x.id} = {x.op} " + ", ".join(f"%{a}" for a in x.args) + f" : {x.dtype}"

    params = ", ".join(
        f"{'out ' if p.output else ''}{p.name}: {p.dtype}[{', '.join(map(str, p.shape))}]"
        for p in k.params
    )
    dims = ", ".join(f"d{j} = {d.name} (axis {d.axis})" for j, d in enumerate(k.dims))
    domain = (
        " x ".join(
            f"{'reduce ' if a.reduced else ''}i{n}<{a.size}>" for n, a in enumerate(k.domain)
        )
        or "one point"
    )
    lines = [
        f"kernel @{k.name} {k.kind} ({params})",
        f"  dims: {dims or 'none'}",
        f"  domain: {domain}",
    ]
    for s in k.body:
        if isinstance(s, Sweep):
            lines.append("  sweep {")
            lines += [f"    {instr(x)}" for x in s.body]
            lines += [
                f"    %{r.id} = {r.kind} %{r.value}"
                + (f" at %{r.index}" if r.index is not None else "")
                + f" : {r.dtype}"
                for r in s.reductions
            ]
            lines.append("  }")
        else:
            lines.append(f"  {instr(s)}")
    return "\n".join(lines)
