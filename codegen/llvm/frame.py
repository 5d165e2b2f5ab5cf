"""frame: the scaffolding of a hand-written native kernel (codegen/llvm/library.py).

A `Frame` builds one LLVM module with the kernel ABI of codegen/llvm/native.py:

    i32 @NAME(ptr buffers, ptr dims, i64 begin, i64 end)

loads the buffer pointers and the run-time ints, and calls
``@NAME.body(ptr noalias b0, ..., i64 d0, ..., i64 begin, i64 end)`` (internal,
always inlined), whose body the op's builder writes with `frame.b`. The
pointers are `noalias` (each buffer is a distinct allocation), so LLVM
vectorises without run-time overlap checks, as in render.py.

Also here: what every `bind` does (check the concrete shapes against the
op's types, C-contiguous strides) and the dtype rules of the library.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import numpy as np
from llvmlite import ir

from ...ir import CompileError, ExecutionError, KilnError, Operation, TensorType, Value
from ...ir.dtypes import DType
from ...ir.printer import print_op
from ..arguments import Shape
from ..kernel import Fault
from .native import NativeKernel
from .render import counted_loop
from .scalar import I32, I64, Scalars, storage_type

PTR = ir.PointerType()

# An index outside its axis (gather, scatter_add). Once codegen/kernel.py
# names this bit, its describe() explains the fault; until then it reads "".
INDEX_OUT_OF_RANGE = Fault.INDEX_OUT_OF_RANGE


class Frame:
    """One kernel being built: `b` writes its body; `buffers` and `dims` are
    its arguments (named for readable IR); `finish()` returns the module."""

    def __init__(self, name: str, buffers: Sequence[str], dims: Sequence[str]):
        self.name = name
        self.module = ir.Module(name=name)
        types = [PTR] * len(buffers) + [I64] * (len(dims) + 2)
        body = ir.Function(self.module, ir.FunctionType(I32, types), f"{name}.body")
        body.linkage = "internal"
        body.attributes.add("alwaysinline")
        body.attributes.add("nounwind")
        for arg, label in zip(body.args, [*buffers, *dims, "begin", "end"]):
            arg.name = label
        for arg in body.args[: len(buffers)]:
            arg.add_attribute("noalias")
        self.buffers = list(body.args[: len(buffers)])
        self.dims = list(body.args[len(buffers) : -2])
        self.begin, self.end = body.args[-2:]
        entry, start = body.append_basic_block("entry"), body.append_basic_block("start")
        self._slots, self._start = ir.IRBuilder(entry), start
        self.b = ir.IRBuilder(start)
        self.fault = self.slot(I32, "fault", ir.Constant(I32, 0))
        self.scalars = Scalars(self.b, self.fault)
        self._define_entry(body, len(buffers), len(dims))

    def _define_entry(self, body: ir.Function, n_buffers: int, n_dims: int) -> None:
        fn = ir.Function(self.module, ir.FunctionType(I32, [PTR, PTR, I64, I64]), self.name)
        buffers, dims, begin, end = fn.args
        buffers.name, dims.name, begin.name, end.name = "buffers", "dims", "begin", "end"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        args = [
            b.load(b.gep(buffers, [const(i)], inbounds=True, source_etype=PTR), typ=PTR)
            for i in range(n_buffers)
        ]
        args += [
            b.load(b.gep(dims, [const(j)], inbounds=True, source_etype=I64), typ=I64)
            for j in range(n_dims)
        ]
        b.ret(b.call(body, [*args, begin, end]))

    def finish(self) -> ir.Module:
        """Return the fault bits and close the body."""
        self.b.ret(self.b.load(self.fault, typ=I32))
        self._slots.branch(self._start)
        return self.module

    # ------------------------------------------------------------ values
    def slot(self, t: ir.Type, name: str, initial: ir.Value | None = None) -> ir.Value:
        """A stack slot in the entry block (promoted to a register by LLVM)."""
        where = self._slots.alloca(t, name=name)
        if initial is not None:
            self.b.store(initial, where)
        return where

    def load(self, buffer: int, offset: ir.Value, t: ir.Type) -> ir.Value:
        """Element `offset` of buffer `buffer`, whose elements are `t`; for a
        vector `t`, its lanes from element `offset` on (elements of t's lanes)."""
        element = _element(t)
        return self.b.load(self.address(buffer, offset, element), typ=t, align=_align(element))

    def store(self, value: ir.Value, buffer: int, offset: ir.Value) -> None:
        element = _element(value.type)
        self.b.store(value, self.address(buffer, offset, element), align=_align(element))

    def address(self, buffer: int, offset: ir.Value, t: ir.Type) -> ir.Value:
        return self.b.gep(self.buffers[buffer], [offset], inbounds=True, source_etype=t)

    def add(self, *terms: ir.Value) -> ir.Value:
        total = terms[0]
        for t in terms[1:]:
            total = self.b.add(total, t, flags=["nsw"])
        return total

    def mul(self, x: ir.Value, y: ir.Value) -> ir.Value:
        return self.b.mul(x, y, flags=["nsw"])

    def linear(self, indices: Sequence[ir.Value], sizes: Sequence[ir.Value]) -> ir.Value:
        """The C-order position of `indices` in an array of `sizes`."""
        position = indices[0]
        for i, n in zip(indices[1:], sizes[1:]):
            position = self.add(self.mul(position, n), i)
        return position

    def splat(self, x: ir.Value, lanes: int) -> ir.Value:
        """A vector of `lanes` copies of `x`."""
        t = ir.VectorType(x.type, lanes)
        one = self.b.insert_element(ir.Constant(t, ir.Undefined), x, const(0, I32))
        return self.b.shuffle_vector(one, one, ir.Constant(ir.VectorType(I32, lanes), 0))

    def clamp(self, x: ir.Value, low: ir.Value, high: ir.Value) -> ir.Value:
        """min(max(x, low), high) on i64."""
        return self.scalars.intrinsic(
            "llvm.smin", [self.scalars.intrinsic("llvm.smax", [x, low]), high]
        )

    def outside(self, index: ir.Value, size: ir.Value) -> ir.Value:
        """Whether `index` lies outside [0, size) (one unsigned compare)."""
        return self.b.icmp_unsigned(">=", index, size)

    # ------------------------------------------------------------ loops
    def loop(self, start: ir.Value, stop: ir.Value, name: str, step: int = 1):
        """`for (i = start; i < stop; i += step)` (a context manager yielding i)."""
        return counted_loop(self.b, start, stop, name, step)

    @contextmanager
    def loop_down(self, count: ir.Value, name: str) -> Iterator[ir.Value]:
        """`for (i = count - 1; i >= 0; i--)`, as a context manager yielding i."""
        with self.loop(const(0), count, name) as k:
            yield self.b.sub(self.b.sub(count, const(1)), k)

    @contextmanager
    def split_rows(self, inner: ir.Value, name: str) -> Iterator[tuple[ir.Value, ir.Value]]:
        """The outer loop over rows [begin, end) of a (outer, inner) grid, as
        (outer index, inner index) pairs: one division on entry, then counters."""
        b = self.b
        safe = self.scalars.intrinsic("llvm.smax", [inner, const(1)])
        major = self.slot(I64, f"{name}.major", b.sdiv(self.begin, safe))
        minor = self.slot(I64, f"{name}.minor", b.srem(self.begin, safe))
        with self.loop(self.begin, self.end, name):
            i, j = b.load(major, typ=I64), b.load(minor, typ=I64)
            yield i, j
            following = b.add(j, const(1))
            wrap = b.icmp_signed("==", following, safe)
            b.store(b.select(wrap, b.add(i, const(1)), i), major)
            b.store(b.select(wrap, const(0), following), minor)

    @contextmanager
    def nest(self, sizes: Sequence[ir.Value], name: str = "i") -> Iterator[list[ir.Value]]:
        """Loops over every axis of `sizes`; yields their indices. The first
        runs over [begin, end), a part of [0, sizes[0]) (bind's outer extent)."""
        with ExitStack() as loops:
            indices = [loops.enter_context(self.loop(self.begin, self.end, f"{name}0"))]
            for k, n in enumerate(sizes[1:], 1):
                indices.append(loops.enter_context(self.loop(const(0), n, f"{name}{k}")))
            yield indices


def const(value: int, t: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(t, value)


def _element(t: ir.Type) -> ir.Type:
    """The type of one lane of `t` (`t` itself unless a vector)."""
    return t.element if isinstance(t, ir.VectorType) else t


def _align(t: ir.Type) -> int:
    """The natural alignment of an element of type `t` (its size in bytes)."""
    if isinstance(t, ir.IntType):
        return max(1, t.width // 8)
    return 8 if isinstance(t, ir.DoubleType) else 4


# ------------------------------------------------------------------ dtypes


def element_type(op: Operation, dtype: DType) -> ir.Type:
    """The LLVM type of one stored element of `dtype` (bool is a byte)."""
    if dtype in (DType.f16, DType.bf16):
        raise op.error(f"{dtype} tensors are not supported by the CPU backend", CompileError)
    return storage_type(dtype)


def bits_type(op: Operation, dtype: DType) -> ir.IntType:
    """An integer type as wide as one element: what a copy moves (bit-exact,
    NaN payloads included, one kernel for f32 and i32)."""
    element_type(op, dtype)
    return ir.IntType(8 * dtype.itemsize)


# ------------------------------------------------------------------ binding


def c_strides(shape: Shape) -> list[int]:
    """Element strides of a C-contiguous array of `shape`."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return strides[::-1]


def check_shapes(op: Operation, operands: Sequence[Shape], results: Sequence[Shape]) -> None:
    """ExecutionError naming `op` unless the concrete shapes fit its types and
    its type rule gives `results` from `operands`."""
    for what, values, shapes in (
        ("operand", op.operands, operands),
        ("result", op.results, results),
    ):
        for i, (v, shape) in enumerate(zip(values, shapes, strict=True)):
            want = v.type.shape
            if len(shape) != len(want) or any(
                isinstance(d, int) and d != n for d, n in zip(want, shape)
            ):
                raise op.error(
                    f"{what} {i} should be {v.type}, got shape {list(shape)}", ExecutionError
                )
    expected = _inferred(op, operands)
    if [tuple(s) for s in results] != expected:
        raise op.error(
            f"results of shapes {[list(s) for s in results]} do not follow from "
            f"operands of shapes {[list(s) for s in operands]}: expected "
            f"{[list(s) for s in expected]}",
            ExecutionError,
        )


def _inferred(op: Operation, operands: Sequence[Shape]) -> list[Shape]:
    """The result shapes `op`'s type rule gives for concrete operand shapes."""
    if not op.operands:
        return [tuple(r.type.shape) for r in op.results]
    stand_ins = [Value(TensorType(v.type.dtype, s)) for v, s in zip(op.operands, operands)]
    try:
        trial = type(op)(stand_ins, {k: v for k, v in op.attrs.items() if k in op.attr_specs})
    except KilnError as e:
        raise op.error(
            f"does not fit the operand shapes {[list(s) for s in operands]}: {e}", ExecutionError
        ) from None
    trial.drop_operands()
    return [tuple(r.type.shape) for r in trial.results]


def assemble(op: Operation, frame: Frame, bind, way: str) -> NativeKernel:
    """The NativeKernel of `frame` for `op`. Its bind checks the concrete
    shapes, then calls `bind(operands, results) -> (dims, outer)`; `way` says
    how the kernel works (for KILN_DEBUG)."""

    def checked(operands: Sequence[Shape], results: Sequence[Shape]):
        check_shapes(op, operands, results)
        dims, outer = bind([tuple(s) for s in operands], [tuple(s) for s in results])
        return tuple(int(d) for d in dims), int(outer)

    text = f"native kernel @{frame.name}: {way}\n  {print_op(op)}"
    return NativeKernel(frame.name, frame.finish(), checked, text)


def size(shape: Shape) -> int:
    return math.prod(shape)


def fill_bits(value: float, dtype: DType) -> int:
    """`value` stored into an element of `dtype` as numpy assigns it, as an int
    of the element's bits (what a copy kernel writes)."""
    cell = np.empty((), dtype.numpy)
    cell[...] = value
    return int(cell.view(np.dtype(f"i{dtype.itemsize}")))
