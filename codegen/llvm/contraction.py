"""contraction: what the matmul and conv kernels share — a fused group split
into its contraction and its epilogue, and the frame of the kernel function.

A `kiln.fused` group of kind matmul or conv holds one contraction (kiln.matmul
or kiln.conv2d) and elementwise ops over the contraction's result shape S:
the epilogue (bias, activation, residual), plus any sibling elementwise ops
the fuse pass merged in. The epilogue becomes a pointwise kernel in the loop
form of `codegen/kernel.py`: `lower` on a synthetic `kiln.fused` pointwise op
whose body is the group without the contraction, the contraction's result
being one more input (the *accumulator*). `Group` does that split.

The contraction writes rows of S where the epilogue reads them: into the
group's result that yields it; else in place into an epilogue output of its
dtype (every epilogue load of an element comes before the stores to it, so
that is safe); else into scratch memory. The epilogue then runs over the
rows just written, while they are in cache: `_EpilogueRenderer` renders it
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

from ...ir import Block, Builder, CompileError, ExecutionError, Operation, Region, Value, lookup
from ...ir.dtypes import DType
from ...ir.types import TensorType, format_shape
from ..arguments import bind
from ..kernel import Fault, Kernel
from ..lower import lower
from ..native import Shape, stand_in
from .render import _BodyRenderer, counted_loop
from .scalar import I32, I64, Scalars, storage_type

PTR = ir.PointerType()
OUT_OF_MEMORY = int(Fault.OUT_OF_MEMORY)  # a failed scratch allocation
ALIGN = 64  # bytes: each scratch buffer starts on a cache line


class Group:
    """A matmul/conv group: its contraction (`contraction`, by op name) and its
    epilogue kernel (None when the group yields the contraction alone)."""

    def __init__(self, fused: Operation, name: str, contraction: str):
        self.fused, self.name = fused, name
        block = fused.body
        found = [op for op in block.ops if op.name == contraction]
        if len(found) != 1:
            raise fused.error(f"a {fused.kind} group must hold one {contraction}, "
                              f"found {len(found)}", CompileError)
        self.contraction = c = found[0]
        self.dtype: DType = c.result.type.dtype
        if self.dtype not in (DType.f32, DType.f64, DType.i8, DType.i32, DType.i64):
            raise c.error(f"{self.dtype} is not supported by the CPU backend yet", CompileError)
        self.args = list(block.args)
        yielded = list(block.terminator.operands)
        self.n_buffers = len(self.args) + len(yielded)
        # epilogue output j is the group's result epilogue_results[j]
        self.epilogue_results = [i for i, v in enumerate(yielded) if v is not c.result]
        self.epilogue = _epilogue_kernel(fused, c, f"{name}.epilogue")
        # where the contraction's result goes: a result buffer, or scratch (None)
        self.acc_result: int | None = None
        self.in_place = False  # whether an epilogue output shares the accumulator
        if c.result in yielded:
            self.acc_result = yielded.index(c.result)
        else:
            for i in self.epilogue_results:
                if yielded[i].type.dtype == self.dtype:
                    self.acc_result, self.in_place = i, True
                    break

    # ------------------------------------------------------------ binding
    def operand_shape(self, v: Value, in_shapes: Sequence[Shape]) -> Shape:
        """The concrete shape of a contraction operand (an input or a constant)."""
        if v in self.args:
            return tuple(in_shapes[self.args.index(v)])
        return tuple(v.type.shape)

    def check_inputs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> None:
        """Check the inputs' shapes against their types (ExecutionError naming the op)."""
        fused, n_results = self.fused, self.n_buffers - len(self.args)
        if len(in_shapes) != len(self.args) or len(out_shapes) != n_results:
            raise fused.error(f"takes {len(self.args)} inputs and gives {n_results} results, "
                              f"got {len(in_shapes)} and {len(out_shapes)} shapes",
                              ExecutionError)
        named: dict[str, int] = {}
        for i, (arg, shape) in enumerate(zip(self.args, in_shapes)):
            if not _fits(arg.type, tuple(shape), named):
                raise fused.error(f"input {i} has shape {format_shape(shape)}, expected "
                                  f"{arg.type}", ExecutionError)

    def check_results(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape],
                      acc_shape: Shape) -> tuple[int, ...]:
        """Check the results' shapes against what the contraction (of result shape
        `acc_shape`) and the epilogue give; return the epilogue's run-time dims."""
        fused = self.fused
        want: dict[int, Shape] = {}
        dims: tuple[int, ...] = ()
        if self.epilogue is not None:
            types = [a.type.dtype.numpy for a in self.args] + [self.dtype.numpy]
            arrays = [stand_in(tuple(s), t) for s, t in zip([*in_shapes, acc_shape], types)]
            try:
                binding = bind(self.epilogue, arrays)
            except ExecutionError as e:
                raise fused.error(f"its epilogue does not fit: {e}", ExecutionError) from None
            want.update(zip(self.epilogue_results, binding.output_shapes))
            dims = binding.dims
        c = self.contraction
        if c.result in fused.body.terminator.operands:
            want[list(fused.body.terminator.operands).index(c.result)] = acc_shape
        for i, shape in enumerate(out_shapes):
            if tuple(shape) != want[i]:
                raise fused.error(f"result {i} has shape {format_shape(shape)}, expected "
                                  f"{format_shape(want[i])}", ExecutionError)
        return dims

    def describe(self, lines: list[str]) -> str:
        """The kernel's listing for KILN_DEBUG: `lines`, then where the result goes
        and the epilogue kernel."""
        where = ("scratch" if self.acc_result is None else
                 f"result {self.acc_result}" + (" (in place)" if self.in_place else ""))
        text = [f"kernel @{self.name} {self.fused.kind} {self.dtype}", *lines,
                f"  {self.contraction.name} -> {where}"]
        if self.epilogue is not None:
            text.append("  epilogue over each range of rows:")
            text += ["    " + line for line in str(self.epilogue).splitlines()]
        return "\n".join(text)


def _fits(t: TensorType, shape: Shape, named: dict[str, int]) -> bool:
    if len(shape) != t.rank:
        return False
    return all(d == n if isinstance(d, int) else d.anonymous or named.setdefault(d.name, n) == n
               for d, n in zip(t.shape, shape))


def _epilogue_kernel(fused: Operation, contraction: Operation, name: str) -> Kernel | None:
    """The pointwise kernel of the group's ops other than `contraction`: its
    inputs are the group's inputs then the contraction's result."""
    block = fused.body
    outputs = [v for v in block.terminator.operands if v is not contraction.result]
    if not outputs:
        return None
    types = [a.type for a in block.args] + [contraction.result.type]
    body = Block(types)
    mapping = dict(zip(block.args, body.args))
    mapping[contraction.result] = body.args[-1]
    b = Builder.at_end(body)
    for op in block.ops:
        if op is contraction or op is block.terminator:
            continue
        copy = b.insert(type(op)([mapping[v] for v in op.operands], dict(op.attrs),
                                 [r.type for r in op.results], (), op.loc))
        mapping.update(zip(op.results, copy.results))
    b.create("kiln.yield", *[mapping[v] for v in outputs])
    pointwise = lookup("kiln.fused")([Value(t) for t in types], {"kind": "pointwise"},
                                     [v.type for v in outputs], [Region([body])], fused.loc)
    return lower(pointwise, name)


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
        fn = ir.Function(module, ir.FunctionType(I32, [PTR] * n + [I64] * (len(kernel.dims) + 2)),
                         kernel.name)
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

    def __init__(self, group: Group, module: ir.Module, n_dims: int):
        self.group, self.module = group, module
        fn = ir.Function(module, ir.FunctionType(I32, [PTR, PTR, I64, I64]), group.name)
        buffers, dims, self.begin, self.end = fn.args
        buffers.name, dims.name, self.begin.name, self.end.name = "buffers", "dims", "begin", "end"
        entry, start = fn.append_basic_block("entry"), fn.append_basic_block("start")
        self.slots, self.b = ir.IRBuilder(entry), ir.IRBuilder(start)
        self.start = start
        b = self.b
        self.buffers = [b.load(b.gep(buffers, [ir.Constant(I64, i)], source_etype=PTR), typ=PTR,
                               name=f"buffer{i}") for i in range(group.n_buffers)]
        n_epilogue = len(group.epilogue.dims) if group.epilogue is not None else 0
        loaded = [b.load(b.gep(dims, [ir.Constant(I64, j)], source_etype=I64), typ=I64,
                         name=f"d{j}") for j in range(n_dims + n_epilogue)]
        self.dims, self.epilogue_dims = loaded[:n_dims], loaded[n_dims:]
        self.fault = self.slots.alloca(I32, name="fault")
        b.store(ir.Constant(I32, 0), self.fault)
        self.scratch: ir.Value | None = None
        self.acc: ir.Value | None = None
        self.constants: dict[Value, ir.GlobalVariable] = {}
        self.epilogue_fn = None
        if group.epilogue is not None:
            acc = len(group.args)  # the epilogue's parameter of the contraction's result
            same = ({acc + 1 + group.epilogue_results.index(group.acc_result): acc}
                    if group.in_place else {})
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
                raise group.contraction.error("reads a value computed inside its own group",
                                              CompileError)
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
        with b.if_then(b.icmp_unsigned("==", self.scratch, ir.Constant(PTR, None)),
                       likely=False):
            b.ret(ir.Constant(I32, OUT_OF_MEMORY))
        return [b.gep(self.scratch, [at], source_etype=ir.IntType(8)) for at in offsets]

    def epilogue(self, first: ir.Value, last: ir.Value) -> None:
        """Run the epilogue over the elements [first, last) of S."""
        if self.epilogue_fn is None:
            return
        group = self.group
        results = [self.buffers[len(group.args) + i] for i in group.epilogue_results]
        args = [*self.buffers[:len(group.args)], self.acc, *results, *self.epilogue_dims,
                first, last]
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
