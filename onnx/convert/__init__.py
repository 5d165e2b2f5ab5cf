"""The ONNX converters: one function per ONNX op type and opset range.

A converter turns one ONNX node into kiln ops at the builder's insertion point:

    @converter("Relu", since=6)
    def relu(ctx: Context, node: Node) -> list[Value]:
        return [ctx.b.relu(node.inputs[0])]

The importer picks, for a node, the converter of its op type with the largest
`since` not above the model's opset (`lookup`). A converter reads known inputs
(shapes, axes, pads given as tensors since some opset) with `ctx.value_of`, and
raises `ctx.error(node, ...)` for what kiln does not support, at import time.
Every module of this package is imported at the end of this file, so adding a
module registers its converters.
"""

from __future__ import annotations

import bisect
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np

from ...ir.builder import Builder
from ...ir.core import Operation, Value
from ...ir.dtypes import DType
from ...ir.errors import KilnError
from ...ir.types import Dim, Symbol

REQUIRED = object()  # the default of Node.attr for an attribute that must be present

CONVERTERS: dict[str, list[tuple[int, Callable]]] = {}


class ImportError_(KilnError):
    """An ONNX model kiln cannot import: a malformed file, an unsupported op,
    attribute or opset. The message names the node, its op type and the opset."""


OnnxImportError = ImportError_


class UnknownAtImport(ImportError_):
    """A value a converter needs at import time (a shape, axes, pads) is computed at
    run time. kiln.onnx.backend then specialises the model on its integer inputs."""


# ONNX TensorProto element types -> kiln dtypes (the ones kiln has)
_ELEM = {
    1: DType.f32,
    3: DType.i8,
    6: DType.i32,
    7: DType.i64,
    9: DType.bool,
    10: DType.f16,
    11: DType.f64,
    16: DType.bf16,
}
_ELEM_NAMES = {
    0: "undefined",
    2: "uint8",
    4: "uint16",
    5: "int16",
    8: "string",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    17: "float8e4m3fn",
    18: "float8e4m3fnuz",
    19: "float8e5m2",
    20: "float8e5m2fnuz",
    21: "uint4",
    22: "int4",
    23: "float4e2m1",
    24: "float8e8m0",
    25: "uint2",
    26: "int2",
}

# the narrow types kiln has no dtype for, carried in one it has: every float8 and
# float4 value is exact in f32, every 4- and 2-bit integer in i8/u8. A Cast into
# one rounds to its values (convert/cast.py); the backend hands results back in
# the declared type. Context.elem_of keeps the ONNX type a carried value has.
CARRIED = {17: "f32", 18: "f32", 19: "f32", 20: "f32", 23: "f32", 24: "f32",
           21: "u8", 22: "i8", 25: "u8", 26: "i8"}  # fmt: skip


# string graph inputs travel as i64 codes the backend interns per run (equal strings,
# equal codes), so only ops that compare them for equality are sound on them
STRING = 8
STRING_OPS = frozenset({"Equal"})


# integer types kiln lacks are carried in a wider kiln type (values, not wrap-around,
# are kept: a model that relies on uint8 overflow computes differently); the
# backend casts results back to the declared ONNX type
_OWN = {2: "u8", 4: "u16", 5: "i16", 12: "u32", 13: "u64"}
WIDENED = {2: "i32", 4: "i32", 5: "i32", 12: "i64", 13: "i64"}


def dtype_of_elem(elem: int, where: str) -> DType:
    """The kiln dtype of an ONNX element type."""
    if elem in _ELEM:
        return _ELEM[elem]
    if elem in CARRIED:
        return DType(CARRIED[elem])
    if elem in _OWN:
        own = getattr(DType, _OWN[elem], None)
        return own if own is not None else DType(WIDENED[elem])
    name = _ELEM_NAMES.get(elem, str(elem))
    raise ImportError_(f"{where}: element type {name} is not supported by kiln")


def elem_of_dtype(dtype: DType) -> int:
    """The ONNX element type of a kiln dtype."""
    for elem, d in [*_ELEM.items(), *_OWN.items()]:
        if DType(d) == dtype:
            return elem
    raise KilnError(f"kiln dtype {dtype} has no ONNX element type")


def converter(op_type: str, since: int = 1) -> Callable[[Callable], Callable]:
    """Register `fn` as the converter of `op_type` from opset `since` on."""

    def register(fn: Callable) -> Callable:
        entries = CONVERTERS.setdefault(op_type, [])
        if any(v == since for v, _ in entries):
            raise KilnError(f"two converters for ONNX {op_type} since opset {since}")
        bisect.insort(entries, (since, fn), key=lambda e: e[0])
        return fn

    return register


def lookup(op_type: str, opset: int) -> Callable | None:
    """The converter of `op_type` for `opset`: the largest since_version <= opset."""
    chosen = None
    for since, fn in CONVERTERS.get(op_type, ()):
        if since <= opset:
            chosen = fn
    return chosen


class Node:
    """One ONNX node as a converter sees it: inputs already kiln Values."""

    def __init__(self, proto: Any, inputs: list[Value | None], attrs: dict[str, Any]):
        self.proto = proto
        self.op_type: str = proto.op_type
        self.name: str = proto.name or f"{proto.op_type}_{'_'.join(proto.output)}"
        self.domain: str = proto.domain
        self.inputs = inputs
        self.attrs = attrs
        self.num_outputs: int = len(proto.output)
        self.output_names: list[str] = list(proto.output)
        self.ctx: Context | None = None  # set by the importer

    def attr(self, name: str, default: Any = REQUIRED) -> Any:
        """The attribute as a python value (int, float, str, list, np.ndarray for a
        tensor, a GraphProto for a subgraph); `default` when absent."""
        if name in self.attrs:
            return self.attrs[name]
        if default is REQUIRED:
            where = f"node '{self.name}' ({self.op_type})"
            raise ImportError_(f"{where}: required attribute '{name}' is missing")
        return default

    def input(self, i: int) -> Value | None:
        """Input `i`, or None when it is omitted or past the end."""
        return self.inputs[i] if i < len(self.inputs) else None

    def has_input(self, i: int) -> bool:
        return self.input(i) is not None

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op_type})"


class Context:
    """What a converter builds with: the builder, the opset and known values."""

    def __init__(self, b: Builder, opset: int, opsets: dict[str, int] | None = None):
        self.b = b
        self.opset = opset
        self.opsets = opsets or {"": opset}
        # values known at import time (initializers, constants, folded results)
        self._known: dict[Value, np.ndarray] = {}
        # 1-D integer tensors that hold a shape with symbolic entries
        self._dims: dict[Value, list[Dim]] = {}
        self.node: Node | None = None  # the node being converted
        # for converters of ops with subgraphs (onnx/convert/control.py): the
        # importer (its convert_node) and the ONNX name -> Value map in scope
        self.importer: Any = None
        self.values: dict[str, Value | None] | None = None
        # the ONNX element type of values carried in a wider kiln dtype (CARRIED)
        self.elems: dict[Value, int] = {}

    # -- building --------------------------------------------------------
    def constant(self, value: Any, dtype: DType | str | None = None) -> Value:
        """A kiln.constant holding `value`, known to `value_of`."""
        array = np.asarray(value)
        if dtype is None and array.dtype == np.float64 and not isinstance(value, np.ndarray):
            dtype = DType.f32
        v = self.b.constant(array, dtype)
        self._known[v] = np.asarray(array, dtype=v.type.dtype.numpy)
        return v

    def error(self, node: Node | None, message: str, cls: type = ImportError_) -> KilnError:
        """An import error naming the node, its op type and the opset."""
        node = node or self.node
        if node is None:
            return cls(message)
        return cls(f"node '{node.name}' ({node.op_type}, opset {self.opset}): {message}")

    def unknown(self, node: Node | None, what: str) -> KilnError:
        """The error for an input that must be known at import time and is not."""
        return self.error(
            node,
            f"{what} must be known at import time (a constant or computed from constants)",
            UnknownAtImport,
        )

    def elem_of(self, v: Value) -> int:
        """The ONNX element type of `v` (a carried narrow type where it has one)."""
        return self.elems.get(v) or elem_of_dtype(v.type.dtype)

    # -- known values ----------------------------------------------------
    def is_known(self, v: Value) -> bool:
        """Whether v's value is already known (without folding anything to find out)."""
        return v in self._known

    def known_value(self, v: Value) -> np.ndarray | None:
        """v's value if it is already known (without folding anything to find out)."""
        return self._known.get(v)

    def set_value(self, v: Value, value: np.ndarray) -> None:
        self._known[v] = np.asarray(value)

    def value_of(self, v: Value | None) -> np.ndarray | None:
        """The value of `v` when it is known at import time: a constant or
        initializer, or computed from them by the ops' reference implementations."""
        if v is None:
            return None
        if v in self._known:
            return self._known[v]
        if not isinstance(v.owner, Operation):
            return None
        # post-order walk over the unknown producers (iterative: graphs are deep)
        stack: list[tuple[Operation, bool]] = [(v.owner, False)]
        done: set[Operation] = set()
        while stack:
            op, expanded = stack.pop()
            if op in done:
                continue
            if not expanded:
                if not _foldable(op):
                    return None
                stack.append((op, True))
                for x in op.operands:
                    if x in self._known:
                        continue
                    if not isinstance(x.owner, Operation):
                        return None  # a function argument
                    stack.append((x.owner, False))
                continue
            done.add(op)
            try:
                outs = op.reference(*[self._known[x] for x in op.operands])
            except Exception:  # the op cannot run at import: the value stays unknown
                return None
            outs = list(outs) if isinstance(outs, tuple) else [outs]
            for r, o in zip(op.results, outs):
                self._known[r] = np.asarray(o, dtype=r.type.dtype.numpy)
        return self._known.get(v)

    def ints_of(self, v: Value | None, node: Node | None = None, what: str = "input") -> list[int]:
        """The value of `v` as a list of ints; an import error when not known."""
        value = self.value_of(v)
        if value is None:
            raise self.unknown(node, what)
        return [int(x) for x in np.asarray(value).reshape(-1)]

    def set_dims(self, v: Value, dims: list[Dim]) -> None:
        """Record that the 1-D integer tensor `v` holds `dims` (ints and Symbols)."""
        if all(isinstance(d, int) for d in dims):
            self._known.setdefault(v, np.array(dims, dtype=np.int64))
        self._dims[v] = list(dims)

    def dims_of(self, v: Value | None) -> list[Dim] | None:
        """The entries of a 1-D (or 0-D) integer tensor as ints and Symbols, when
        each is known at import time (a shape computed with Shape/Gather/Concat)."""
        if v is None:
            return None
        if v in self._dims:
            return self._dims[v]
        if not v.type.dtype.is_int or v.type.rank > 1:
            return None
        value = self.value_of(v)
        if value is None:
            return None
        return [int(x) for x in np.asarray(value).reshape(-1)]


def _foldable(op: Operation) -> bool:
    return op.name not in _UNFOLDABLE and not op.regions


_UNFOLDABLE = {
    "kiln.random",  # draws stay draws, not constants the size of the tensor
    "kiln.print",
    "kiln.call",
    "kiln.return",
}


def _import_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_import_all()
