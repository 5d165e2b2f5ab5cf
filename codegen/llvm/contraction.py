"""contraction: what the LLVM matmul and conv kernels share — the frame of the
kernel function and the epilogue's rendering.

The group's split into its contraction and its epilogue, and its shape
rules, are the renderer-neutral `codegen/contraction.py` (`ContractionGroup`,
the binders). The contraction writes rows of S where the group says (a
result, in place into an epilogue output, or scratch); the epilogue then
runs over the rows just written, while they are in cache: `_EpilogueRenderer` renders it
over a *flat element range* [first, last) of S, which is what a range of
rows is, whatever the broadcasting of the epilogue's other inputs.

`Frame` is the kernel function being built: the ABI entry, its buffers and
dims, scratch memory (one malloc per call, freed on return), the fault bits,
and the epilogue call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llvmlite import ir

from ...ir import CompileError, Value
from ..contraction import ContractionGroup
from ..kernel import Fault, Kernel
from .render import _BodyRenderer, counted_loop
from .scalar import I32, I64, Scalars, storage_type

PTR = ir.PointerType()
OUT_OF_MEMORY = int(Fault.OUT_OF_MEMORY)  # a failed scratch allocation
ALIGN = 64  # bytes: each scratch buffer starts on a cache line


# ------------------------------------------------------------------ the epilogue


class _EpilogueRenderer(_BodyRenderer):
    """`i32 NAME(ptr p..., i64 d..., i64 first, i64 last)`: the epilogue kernel
    over the elements [first, last) of S in C order. The innermost axis of the
    (collapsed) domain is the inner loop; the others come from dividing the row
    number, once per row. Instructions render as in `render.py` (inherited).
    Parameter j of `same` (an output over the accumulator) is accessed through
    parameter same[j]'s pointer, so every pointer stays noalias."""

    def __init__(self, kernel: Kernel, module: ir.Module, same: dict[int, int]):
        self.k = kernel
        n = len(kernel.params)
        fn = ir.Function(
            module, ir.FunctionType(I32, [PTR] * n + [I64] * (len(kernel.dims) + 2)), kernel.name
        )
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        fn.attributes.add("nounwind")
        for arg, p in zip(fn.args, kernel.params):
            arg.name = p.name
            arg.add_attribute("noalias")
        *dims, first, last = fn.args[n:]
        self.function, self.pointers = fn, list(fn.args[:n])
        for param, other in same.items():  # one pointer: LLVM sees the same addresses
            self.pointers[param] = self.pointers[other]
        entry, start = fn.append_basic_block("entry"), fn.append_basic_block("start")
        self.slots, self.b = ir.IRBuilder(entry), ir.IRBuilder(start)
        self.fault = self.slot(I32, "fault", ir.Constant(I32, 0))
        self.scalars = Scalars(self.b, self.fault)
        self.values, self.dtypes, self.index = {}, {}, {}
        self.sizes = [self.size(ax.size, dims) for ax in kernel.domain]
        self.strides = {m: self.map_strides(m) for m in kernel.maps()}
        with self.b.if_then(self.b.icmp_signed("<", first, last)):
            self.element_loops(first, last)
        self.b.ret(self.b.load(self.fault, typ=I32))
        self.slots.branch(start)

    def element_loops(self, first: ir.Value, last: ir.Value) -> None:
        b, depth = self.b, len(self.sizes)
        if depth == 0:  # a scalar result: one element
            self.emit_body()
            return
        width = self.sizes[-1]  # > 0, since the range is not empty
        one = ir.Constant(I64, 1)
        rows_end = b.udiv(b.add(last, b.sub(width, one)), width)
        with counted_loop(b, b.udiv(first, width), rows_end, "row") as row:
            base = self.mul(row, width)
            start = self.scalars.intrinsic("llvm.smax", [b.sub(first, base), ir.Constant(I64, 0)])
            stop = self.scalars.intrinsic("llvm.smin", [b.sub(last, base), width])
            self.index.update(enumerate(unravel(b, row, self.sizes[:-1])))
            with counted_loop(b, start, stop, "col") as col:
                self.index[depth - 1] = col
                self.emit_body()

    def emit_body(self) -> None:
        for x in self.k.body:
            self.instr(x)


# ------------------------------------------------------------------ the frame


class Frame:
    """The kernel function `i32 NAME(ptr buffers, ptr dims, i64 begin, i64 end)`
    of a group being built: `b` emits its work; `dims` are its own run-time
    ints (`n_dims` of them, the epilogue's follow); `finish()` ends it."""

    def __init__(self, group: ContractionGroup, module: ir.Module, n_dims: int):
        self.group, self.module = group, module
        fn = ir.Function(module, ir.FunctionType(I32, [PTR, PTR, I64, I64]), group.name)
        buffers, dims, self.begin, self.end = fn.args
        buffers.name, dims.name, self.begin.name, self.end.name = "buffers", "dims", "begin", "end"
        entry, start = fn.append_basic_block("entry"), fn.append_basic_block("start")
        self.slots, self.b = ir.IRBuilder(entry), ir.IRBuilder(start)
        self.start = start
        b = self.b
        self.buffers = [
            b.load(
                b.gep(buffers, [ir.Constant(I64, i)], source_etype=PTR), typ=PTR, name=f"buffer{i}"
            )
            for i in range(group.n_buffers)
        ]
        n_epilogue = len(group.epilogue.dims) if group.epilogue is not None else 0
        loaded = [
            b.load(b.gep(dims, [ir.Constant(I64, j)], source_etype=I64), typ=I64, name=f"d{j}")
            for j in range(n_dims + n_epilogue)
        ]
        self.dims, self.epilogue_dims = loaded[:n_dims], loaded[n_dims:]
        self.fault = self.slots.alloca(I32, name="fault")
        b.store(ir.Constant(I32, 0), self.fault)
        self.scratch: ir.Value | None = None
        self.acc: ir.Value | None = None
        self.constants: dict[Value, ir.GlobalVariable] = {}
        self.epilogue_fn = None
        if group.epilogue is not None:
            acc = len(group.args)  # the epilogue's parameter of the contraction's result
            same = (
                {acc + 1 + group.epilogue_results.index(group.acc_result): acc}
                if group.in_place
                else {}
            )
            self.epilogue_fn = _EpilogueRenderer(group.epilogue, module, same).function

    def operand(self, v: Value) -> ir.Value:
        """A pointer to the data of `v`: an input buffer, or a constant of the group
        (a splat the fuse pass copied in), made a global of the module once."""
        group = self.group
        if v in group.args:
            return self.buffers[group.args.index(v)]
        if v not in self.constants:
            owner = getattr(v, "op", None)
            if owner is None or owner.name != "kiln.constant":
                raise group.contraction.error(
                    "reads a value computed inside its own group", CompileError
                )
            data = bytearray(np.ascontiguousarray(owner.value.array).tobytes()) or bytearray(1)
            t = ir.ArrayType(ir.IntType(8), len(data))
            g = ir.GlobalVariable(self.module, t, f"{group.name}.constant{len(self.constants)}")
            g.initializer = ir.Constant(t, data)
            g.global_constant, g.linkage, g.align = True, "internal", ALIGN
            self.constants[v] = g
        return self.constants[v]

    def prepare(self, row_length: ir.Value, scratch: Sequence[ir.Value] = ()) -> list[ir.Value]:
        """Set `acc`, where the contraction writes S (rows of `row_length`
        elements), and return scratch buffers of the `scratch` sizes (bytes).
        Memory comes from one malloc, freed by `finish`; a failed allocation
        returns OUT_OF_MEMORY before any work."""
        b, group = self.b, self.group
        sizes = list(scratch)
        if group.acc_result is None:  # rows [begin, end) of S, in scratch
            rows = self.max(b.sub(self.end, self.begin), ir.Constant(I64, 0))
            sizes.append(b.mul(b.mul(rows, row_length), ir.Constant(I64, group.dtype.itemsize)))
        pointers = self._allocate(sizes) if sizes else []
        if group.acc_result is not None:
            self.acc = self.buffers[len(group.args) + group.acc_result]
        else:  # addressed as if it held all of S
            first = b.neg(b.mul(self.begin, row_length))
            self.acc = b.gep(pointers.pop(), [first], source_etype=storage_type(group.dtype))
        return pointers

    def _allocate(self, sizes: Sequence[ir.Value]) -> list[ir.Value]:
        b = self.b
        offsets, total = [], ir.Constant(I64, 0)
        for size in sizes:
            offsets.append(total)
            rounded = b.and_(b.add(size, ir.Constant(I64, ALIGN - 1)), ir.Constant(I64, -ALIGN))
            total = b.add(total, rounded)
        malloc = self.declare("malloc", PTR, [I64])
        # one byte more: malloc(0) may give NULL, which would read as a failure
        self.scratch = b.call(malloc, [b.add(total, ir.Constant(I64, 1))], name="scratch")
        with b.if_then(b.icmp_unsigned("==", self.scratch, ir.Constant(PTR, None)), likely=False):
            b.ret(ir.Constant(I32, OUT_OF_MEMORY))
        return [b.gep(self.scratch, [at], source_etype=ir.IntType(8)) for at in offsets]

    def epilogue(self, first: ir.Value, last: ir.Value) -> None:
        """Run the epilogue over the elements [first, last) of S."""
        if self.epilogue_fn is None:
            return
        group = self.group
        results = [self.buffers[len(group.args) + i] for i in group.epilogue_results]
        args = [
            *self.buffers[: len(group.args)],
            self.acc,
            *results,
            *self.epilogue_dims,
            first,
            last,
        ]
        fault = self.b.call(self.epilogue_fn, args)
        self.b.store(self.b.or_(self.b.load(self.fault, typ=I32), fault), self.fault)

    def finish(self) -> None:
        """Free the scratch memory and return the fault bits."""
        if self.scratch is not None:
            self.b.call(self.declare("free", ir.VoidType(), [PTR]), [self.scratch])
        self.b.ret(self.b.load(self.fault, typ=I32))
        self.slots.branch(self.start)

    def max(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.call(self.declare("llvm.smax.i64", I64, [I64, I64]), [x, y])

    def min(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.call(self.declare("llvm.smin.i64", I64, [I64, I64]), [x, y])

    def declare(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        """A function (libc, an intrinsic) declared in the module once."""
        found = self.module.globals.get(name)
        return found or ir.Function(self.module, ir.FunctionType(ret, args), name)


def unravel(b: ir.IRBuilder, flat: ir.Value, sizes: Sequence[ir.Value]) -> list[ir.Value]:
    """The indices, row-major over `sizes`, of position `flat` (`sizes[0]` is not
    read: the first index is what remains)."""
    indices = []
    for size in reversed(sizes[1:]):
        indices.append(b.urem(flat, size))
        flat = b.udiv(flat, size)
    return [flat, *reversed(indices)] if sizes else []
