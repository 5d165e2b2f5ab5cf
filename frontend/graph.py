"""The TensorFlow-1.x graph: Graph, Operation and Tensor handles, name scopes.

Building a graph computes nothing: every kl function adds an `Operation`
node whose outputs are `Tensor` handles named ``"<op name>:<index>"``. A
node either maps to one kiln IR op (`ir_op`, with IR attributes) or is one
of the frontend's own kinds (Placeholder, VariableV2, Assign, NoOp, ...)
that `lowering.py` handles. Static shapes come from the IR op's own type
rule, so each op's shape logic lives in one place.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..ir import KilnError, TensorType, Value, lookup
from ..ir.types import Symbol
from .dtypes import DType, as_dtype


class GraphError(KilnError):
    """A mistake in building or using a graph (names, feeds, uninitialised variables)."""


# ------------------------------------------------------------------ shapes

class TensorShape:
    """A static shape: a list of ints and None (unknown), or an unknown rank."""

    def __init__(self, dims: Sequence[int | None] | None):
        self.dims = None if dims is None else [None if d is None else int(d) for d in dims]

    @classmethod
    def of(cls, t: TensorType | None) -> TensorShape:
        if t is None:
            return cls(None)
        return cls([d if isinstance(d, int) else None for d in t.shape])

    @property
    def ndims(self) -> int | None:
        return None if self.dims is None else len(self.dims)

    rank = ndims

    def as_list(self) -> list[int | None]:
        if self.dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape")
        return list(self.dims)

    def is_fully_defined(self) -> bool:
        return self.dims is not None and None not in self.dims

    def __iter__(self) -> Iterator[int | None]:
        return iter(self.dims or [])

    def __len__(self) -> int:
        if self.dims is None:
            raise ValueError("the rank of this shape is unknown")
        return len(self.dims)

    def __getitem__(self, i):
        return self.as_list()[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TensorShape):
            return self.dims == other.dims
        if isinstance(other, (list, tuple)):
            return self.dims == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        if self.dims is None:
            return "<unknown>"
        inner = ", ".join("?" if d is None else str(d) for d in self.dims)
        return f"({inner},)" if len(self.dims) == 1 else f"({inner})"


def ir_type(dtype: DType, shape: TensorShape) -> TensorType | None:
    """The IR type of a static shape (None dims become `?`); None for an unknown rank."""
    if shape.dims is None:
        return None
    return TensorType(dtype.ir, [Symbol("?") if d is None else d for d in shape.dims])


# ------------------------------------------------------------------ handles

class Tensor:
    """A symbolic handle on one output of an Operation (TensorFlow's tf.Tensor)."""

    __array_priority__ = 100  # numpy defers to our operators

    def __init__(self, op: Operation, index: int, dtype: DType, shape: TensorShape):
        self.op, self.value_index, self.dtype, self._shape = op, index, dtype, shape

    @property
    def name(self) -> str:
        return f"{self.op.name}:{self.value_index}"

    @property
    def graph(self) -> Graph:
        return self.op.graph

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def ir_type(self) -> TensorType | None:
        return ir_type(self.dtype, self._shape)

    def eval(self, feed_dict: dict | None = None, session: Any = None):
        """The value of this tensor in `session` (default: the default session)."""
        from .session import get_default_session
        session = session or get_default_session()
        return session.run(self, feed_dict)

    def consumers(self) -> list[Operation]:
        return [op for op in self.graph.get_operations() if self in op.inputs]

    def __repr__(self) -> str:
        return f'<kl.Tensor "{self.name}" shape={self._shape} dtype={self.dtype.name}>'

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self._shape}, dtype={self.dtype.name})'

    def __bool__(self) -> bool:
        raise TypeError("using a kl.Tensor as a Python bool is not allowed: the graph is "
                        "not run yet (use kl.cond-free logic or run the tensor first)")

    def __iter__(self):
        raise TypeError("a kl.Tensor is not iterable (use kl.unstack or run it)")

    __hash__ = object.__hash__


class Operation:
    """A node of the graph (TensorFlow's tf.Operation)."""

    def __init__(self, graph: Graph, type: str, name: str, inputs: Sequence[Tensor],
                 output_types: Sequence[tuple[DType, TensorShape]], attrs: dict[str, Any],
                 ir_op: str | None, ir_attrs: dict[str, Any], control_inputs: Sequence[Operation]):
        self.graph, self.type, self.name = graph, type, name
        self.inputs = list(inputs)
        self.attrs = dict(attrs)
        self.ir_op, self.ir_attrs = ir_op, dict(ir_attrs)
        self.control_inputs = list(control_inputs)
        self.outputs = [Tensor(self, i, d, s) for i, (d, s) in enumerate(output_types)]

    def get_attr(self, name: str) -> Any:
        try:
            return self.attrs[name]
        except KeyError:
            raise GraphError(f"operation {self.name} ({self.type}) has no attribute "
                             f"{name!r}") from None

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        """Run this op in `session` (default: the default session)."""
        from .session import get_default_session
        (session or get_default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<kl.Operation '{self.name}' type={self.type}>"

    __hash__ = object.__hash__


# ------------------------------------------------------------------ graph

_VALID_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*\Z")


class Graph:
    """A TensorFlow-1.x graph: ops in creation order, names unique."""

    def __init__(self) -> None:
        self._ops: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._control_dependencies: list[list[Operation]] = []
        self._collections: dict[str, list] = {}
        self.gradient_override: dict[str, str] = {}
        self._seed_counter = 0
        self.seed: int | None = None
        self.version = 0  # bumps with every new op (session caches check it)

    # ------------------------------------------------------------ names
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """`name` under the current name scope, made unique with _1, _2, ..."""
        full = f"{self._name_stack}/{name}" if self._name_stack else name
        key = full.lower()
        count = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = count + 1
        if count:
            base = full
            while True:
                full = f"{base}_{count}"
                if full.lower() not in self._names_in_use:
                    break
                count += 1
            if mark_as_used:
                self._names_in_use[full.lower()] = 1
        return full

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """Prefix the names of ops made inside with `name/` (made unique)."""
        old = self._name_stack
        if name is None or name == "":
            self._name_stack = ""
        elif name.endswith("/"):
            self._name_stack = name[:-1]  # re-enter an existing scope exactly
        else:
            self._name_stack = self.unique_name(name)
        try:
            yield self._name_stack + "/" if self._name_stack else ""
        finally:
            self._name_stack = old

    def get_name_scope(self) -> str:
        return self._name_stack

    # ------------------------------------------------------------ ops
    def create_op(self, type: str, inputs: Sequence[Tensor], *, name: str | None = None,
                  attrs: dict[str, Any] | None = None, ir_op: str | None = None,
                  ir_attrs: dict[str, Any] | None = None,
                  output_types: Sequence[tuple[DType, TensorShape]] | None = None,
                  control_inputs: Sequence[Operation] = (), unique: bool = True) -> Operation:
        """Add a node. Output types come from the IR op's type rule unless given.
        `unique=False` takes `name` as it is (a name reserved with unique_name)."""
        for t in inputs:
            if not isinstance(t, Tensor):
                raise GraphError(f"{type}: input {t!r} is not a kl.Tensor")
            if t.graph is not self:
                raise GraphError(f"{type}: tensor {t.name} is from another graph")
        op_name = self.unique_name(name or type) if unique else name
        if op_name in self._ops:
            raise GraphError(f"the graph already has an operation named {op_name!r}")
        if not _VALID_NAME.match(op_name):
            raise GraphError(f"{op_name!r} is not a valid op name")
        if output_types is None:
            output_types = infer_outputs(op_name, type, ir_op, ir_attrs or {}, inputs)
        attrs = dict(attrs or {})
        if type in self.gradient_override:  # kl.RegisterGradient + gradient_override_map
            attrs["_gradient_op_type"] = self.gradient_override[type]
        controls = [c for deps in self._control_dependencies for c in deps]
        op = Operation(self, type, op_name, inputs, output_types, attrs, ir_op,
                       ir_attrs or {}, list(dict.fromkeys([*controls, *control_inputs])))
        self._ops[op_name] = op
        self.version += 1
        return op

    def get_operations(self) -> list[Operation]:
        return list(self._ops.values())

    def get_operation_by_name(self, name: str) -> Operation:
        try:
            return self._ops[name]
        except KeyError:
            raise GraphError(f"the graph has no operation named {name!r}") from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        op_name, colon, index = name.rpartition(":")
        if not colon or not index.isdigit():
            raise GraphError(f"{name!r} is not a tensor name (they look like 'op_name:0')")
        op = self.get_operation_by_name(op_name)
        if int(index) >= len(op.outputs):
            raise GraphError(f"operation {op_name} has {len(op.outputs)} outputs, "
                             f"no output {index}")
        return op.outputs[int(index)]

    def as_graph_element(self, obj: Any) -> Tensor | Operation:
        if isinstance(obj, (Tensor, Operation)):
            if obj.graph is not self:
                raise GraphError(f"{obj.name} is from another graph")
            return obj
        if isinstance(obj, str):
            return self.get_tensor_by_name(obj) if ":" in obj else \
                self.get_operation_by_name(obj)
        raise GraphError(f"cannot interpret {obj!r} as a tensor or operation of the graph")

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: Sequence[Any] | None) -> Iterator[None]:
        """Ops made inside run after `control_inputs` (None clears them)."""
        saved = self._control_dependencies
        if control_inputs is None:
            self._control_dependencies = []
        else:
            ops = [c.op if isinstance(c, Tensor) else c for c in control_inputs]
            self._control_dependencies = [*saved, ops]
        try:
            yield
        finally:
            self._control_dependencies = saved

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict[str, str]) -> Iterator[None]:
        """Use the gradient registered as op_type_map[T] for ops of type T made inside."""
        saved = dict(self.gradient_override)
        self.gradient_override.update(op_type_map)
        try:
            yield
        finally:
            self.gradient_override = saved

    # ------------------------------------------------------------ collections
    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        pattern = re.compile(scope)
        return [x for x in items if pattern.match(getattr(x, "name", ""))]

    def get_all_collection_keys(self) -> list[str]:
        return list(self._collections)

    @property
    def collections(self) -> list[str]:
        return self.get_all_collection_keys()

    # ------------------------------------------------------------ default
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    def next_seed(self) -> int:
        """A per-op seed (TensorFlow's graph-level + op-level seed pairing)."""
        self._seed_counter += 1
        return self._seed_counter


def infer_outputs(name: str, type: str, ir_op: str | None, ir_attrs: dict[str, Any],
                  inputs: Sequence[Tensor]) -> list[tuple[DType, TensorShape]]:
    """Output dtypes and static shapes from the IR op's type rule.

    An input of unknown rank makes the output shapes unknown; the dtype then
    comes from running the rule on stand-in ranks."""
    if ir_op is None:
        raise GraphError(f"{name} ({type}): no IR op and no output types given")
    cls = lookup(ir_op)
    types = [t.ir_type for t in inputs]
    known = all(t is not None for t in types)
    tries = [types] if known else [
        [t if t is not None else TensorType(i.dtype.ir, [Symbol("?")] * r)
         for t, i in zip(types, inputs)] for r in (0, 1, 2, 3, 4)]
    error: KilnError | None = None
    for trial in tries:
        values = [Value(t) for t in trial]
        try:
            op = cls(values, ir_attrs)
        except KilnError as e:
            error = error or e
            continue
        out = [(as_dtype(r.type.dtype), TensorShape.of(r.type) if known else TensorShape(None))
               for r in op.results]
        op.drop_operands()
        return out
    message = str(error)
    if message.startswith(ir_op):
        message = message.split(": ", 1)[-1]
    raise GraphError(f"{name} ({type}): {message}")


# ------------------------------------------------------------------ default graph

_local = threading.local()
_global_default = Graph()


def _stack() -> list[Graph]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def get_default_graph() -> Graph:
    """The graph ops go into: the innermost `as_default()`, else a global one."""
    stack = _stack()
    return stack[-1] if stack else _global_default


def reset_default_graph() -> None:
    """Start a fresh global default graph (outside any `as_default()`)."""
    global _global_default
    if _stack():
        raise GraphError("reset_default_graph() inside a `with graph.as_default()` block")
    _global_default = Graph()


def name_scope(name: str | None, default_name: str | None = None, values: Any = None):
    """`with kl.name_scope("loss"):` prefixes op names with `loss/`."""
    return get_default_graph().name_scope(name if name is not None else default_name)


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)
