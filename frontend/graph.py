"""The TensorFlow-1.x graph: Graph, Operation and Tensor handles, name scopes.

Building a graph computes nothing: every kl function adds an `Operation`
node whose outputs are `Tensor` handles named ``"<op name>:<index>"``. A
node either maps to one kiln IR op (`ir_op`, with IR attributes) or is one
of the frontend's own kinds (Placeholder, VariableV2, Assign, NoOp, ...)
that `lowering.py` handles. Static shapes come from the IR op's own type
rule, so each op's shape logic lives in one place.

This is the frontend's lowest layer but for dtypes: it also owns the stacks
of default contexts (graphs, the eager context, sessions) that the layers
above push and pop through the functions at the end of this file.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from ..ir import KilnError, TensorType, Value, lookup
from ..ir.types import Symbol
from .dtypes import DType, as_dtype, string


class GraphError(KilnError):
    """A mistake in building or using a graph (names, feeds, uninitialised variables)."""


# ------------------------------------------------------------------ shapes


class Dimension(int):
    """A known dim as TF 1.x hands it out (shape[i], iterating a shape): an int that also has
    TF's `.value`. An unknown dim stays None, as in TF 2 (TF 1.x: Dimension(None))."""

    @property
    def value(self) -> int:
        return int(self)


def dimension_value(dimension: Any) -> int | None:
    """The int (or None) of a dim, a Dimension or an int (tf.compat.dimension_value)."""
    return None if dimension is None else int(dimension)


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

    def is_compatible_with(self, other: Any) -> bool:
        """Whether some shape could be both (TF's rule: unknown dims and ranks match anything)."""
        other = other if isinstance(other, TensorShape) else TensorShape(other)
        if self.dims is None or other.dims is None:
            return True
        return len(self.dims) == len(other.dims) and all(
            a is None or b is None or a == b for a, b in zip(self.dims, other.dims)
        )

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are incompatible")

    def __iter__(self) -> Iterator[int | None]:
        return iter(None if d is None else Dimension(d) for d in self.dims or [])

    def __len__(self) -> int:
        if self.dims is None:
            raise ValueError("the rank of this shape is unknown")
        return len(self.dims)

    def __getitem__(self, i):
        d = self.as_list()[i]
        return Dimension(d) if isinstance(i, int) and d is not None else d

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
    """The IR type of a static shape (None dims become `?`); None for an unknown rank
    or a string (a host dtype: strings never enter the IR)."""
    if shape.dims is None or dtype.ir is None:
        return None
    return TensorType(dtype.ir, [Symbol("?") if d is None else d for d in shape.dims])


# ------------------------------------------------------------------ handles


class Tensor:
    """A symbolic handle on one output of an Operation (TensorFlow's tf.Tensor).

    Its arithmetic operators (`a + b`, `a @ b`, `a[1:]`, ...) are kl ops, which
    live above this module; operators.py installs them, through
    `_override_operator`, as TensorFlow's math_ops does."""

    __array_priority__ = 100  # numpy defers to our operators

    OVERLOADABLE_OPERATORS = frozenset(
        {
            "__add__",
            "__radd__",
            "__sub__",
            "__rsub__",
            "__mul__",
            "__rmul__",
            "__truediv__",
            "__rtruediv__",
            "__floordiv__",
            "__rfloordiv__",
            "__pow__",
            "__rpow__",
            "__matmul__",
            "__rmatmul__",
            "__lt__",
            "__le__",
            "__gt__",
            "__ge__",
            "__and__",
            "__rand__",
            "__or__",
            "__ror__",
            "__neg__",
            "__abs__",
            "__invert__",
            "__getitem__",
        }
    )

    @classmethod
    def _override_operator(cls, name: str, fn: Any) -> None:
        """Make `fn` the operator `name` of this class (operators.py's one hook)."""
        if name not in Tensor.OVERLOADABLE_OPERATORS:
            raise GraphError(f"{name} is not an overloadable tensor operator")
        setattr(cls, name, fn)

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
        session = session or get_default_session()
        return session.run(self, feed_dict)

    def consumers(self) -> list[Operation]:
        return [op for op in self.graph.get_operations() if self in op.inputs]

    def __repr__(self) -> str:
        return f'<kl.Tensor "{self.name}" shape={self._shape} dtype={self.dtype.name}>'

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self._shape}, dtype={self.dtype.name})'

    def __bool__(self) -> bool:
        raise TypeError(
            "using a kl.Tensor as a Python bool is not allowed: the graph is "
            "not run yet (use kl.cond-free logic or run the tensor first)"
        )

    def __iter__(self):
        raise TypeError("a kl.Tensor is not iterable (use kl.unstack or run it)")

    __hash__ = object.__hash__


class NodeView(NamedTuple):
    """An op as TensorFlow's NodeDef names it (Operation.node_def), read-only."""

    name: str
    op: str
    input: list[str]
    device: str


class Operation:
    """A node of the graph (TensorFlow's tf.Operation)."""

    def __init__(
        self,
        graph: Graph,
        type: str,
        name: str,
        inputs: Sequence[Tensor],
        output_types: Sequence[tuple[DType, TensorShape]],
        attrs: dict[str, Any],
        ir_op: str | None,
        ir_attrs: dict[str, Any],
        control_inputs: Sequence[Operation],
    ):
        self.graph, self.type, self.name = graph, type, name
        self.inputs = list(inputs)
        self.attrs = dict(attrs)
        self.ir_op, self.ir_attrs = ir_op, dict(ir_attrs)
        self.control_inputs = list(control_inputs)
        self.outputs = [Tensor(self, i, d, s) for i, (d, s) in enumerate(output_types)]
        self.device = ""  # the kl.device scope it was built in (session.py `device`)

    @property
    def node_def(self) -> NodeView:
        """What TF's `op.node_def` says of it: name, op type, inputs, device."""
        inputs = [t.name for t in self.inputs] + ["^" + c.name for c in self.control_inputs]
        return NodeView(self.name, self.type, inputs, self.device)

    def get_attr(self, name: str) -> Any:
        try:
            return self.attrs[name]
        except KeyError:
            raise GraphError(
                f"operation {self.name} ({self.type}) has no attribute {name!r}"
            ) from None

    @property
    def host_fn(self) -> Any:
        """A host op's Python function (numpy arrays in, a list of arrays out), or
        None. Host ops (strings, files, image decoding: frontend/strings.py) run
        on the Python side of a Session, never in IR (session.py)."""
        return self.attrs.get("_host_fn")

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        """Run this op in `session` (default: the default session)."""
        (session or get_default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<kl.Operation '{self.name}' type={self.type}>"

    __hash__ = object.__hash__


# ------------------------------------------------------------------ graph

_VALID_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*\Z")


class Graph:
    """A TensorFlow-1.x graph: ops in creation order, names unique.

    Every store a module above keeps per graph is declared here, so no module
    adds attributes to a graph from outside: the variables (variables.py), the
    variable scopes and get_variable's store, the one-shot iterators that feed
    it (kiln.data) and the device a `kl.device` scope named (session.py)."""

    # What kind of context this is, declared by the subclasses: the eager
    # context (eager.py's EagerGraph) runs ops at once; a kl.function trace
    # (function.py's FuncGraph) builds a function. `variable_class` is the
    # kind `kl.Variable(...)` makes while this graph is the default (None: a
    # graph variable, a VariableV2 node).
    executes_eagerly = False
    building_function = False
    variable_class: type | None = None
    # as_graph_def's writer: graph_def.py, which builds on the op functions above
    # this layer, declares itself through set_graph_def_writer (its one hook)
    _graph_def_writer: Any = None

    @classmethod
    def set_graph_def_writer(cls, writer: Any) -> None:
        """Make `writer(graph, add_shapes)` what as_graph_def calls (graph_def.py)."""
        Graph._graph_def_writer = staticmethod(writer)

    def as_graph_def(self, from_version: Any = None, add_shapes: bool = False) -> Any:
        """The graph as TensorFlow's GraphDef proto (tf.Graph.as_graph_def; graph_def.py)."""
        if Graph._graph_def_writer is None:
            raise GraphError("as_graph_def: kiln.frontend.graph_def is not loaded")
        return Graph._graph_def_writer(self, add_shapes)

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
        self.variables: dict[Operation, Any] = {}  # VariableV2 op -> its kl.Variable
        self.variable_scopes: list[Any] = []  # kl.variable_scope's stack, the root first
        self.variable_store: dict[str, Any] = {}  # kl.get_variable's variables by full name
        self.iterators: list[Any] = []  # kl.data one-shot iterators whose tensors it feeds
        self.device: str | None = None  # a GPU device a kl.device scope named while building

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
    def create_op(
        self,
        type: str,
        inputs: Sequence[Tensor],
        *,
        name: str | None = None,
        attrs: dict[str, Any] | None = None,
        ir_op: str | None = None,
        ir_attrs: dict[str, Any] | None = None,
        output_types: Sequence[tuple[DType, TensorShape]] | None = None,
        control_inputs: Sequence[Operation] = (),
        unique: bool = True,
    ) -> Operation:
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
        moved = strings_moved(op_name, type, ir_op, ir_attrs or {}, inputs)
        if moved is not None:  # a layout op on strings runs on the host
            layout = {"_layout_op": ir_op, "_layout_attrs": sorted((ir_attrs or {}).items())}
            attrs = {**(attrs or {}), **layout, "_host_fn": moved[0]}
            output_types, ir_op, ir_attrs = moved[1], None, None
        if ir_op is not None:
            check_numeric_inputs(op_name, type, inputs)
        if output_types is None:
            output_types = infer_outputs(op_name, type, ir_op, ir_attrs or {}, inputs)
        attrs = dict(attrs or {})
        if type in self.gradient_override:  # kl.RegisterGradient + gradient_override_map
            attrs["_gradient_op_type"] = self.gradient_override[type]
        controls = [c for deps in self._control_dependencies for c in deps]
        op = Operation(
            self,
            type,
            op_name,
            inputs,
            output_types,
            attrs,
            ir_op,
            ir_attrs or {},
            list(dict.fromkeys([*controls, *control_inputs])),
        )
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
            raise GraphError(
                f"operation {op_name} has {len(op.outputs)} outputs, no output {index}"
            )
        return op.outputs[int(index)]

    def as_graph_element(self, obj: Any) -> Tensor | Operation:
        if isinstance(obj, (Tensor, Operation)):
            if obj.graph is not self:
                raise GraphError(f"{obj.name} is from another graph")
            return obj
        if isinstance(obj, str):
            return self.get_tensor_by_name(obj) if ":" in obj else self.get_operation_by_name(obj)
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
        """Make this the default graph of this thread inside the block."""
        push_default_graph(self)
        try:
            yield self
        finally:
            pop_default_graph(self)

    def next_seed(self) -> int:
        """A per-op seed (TensorFlow's graph-level + op-level seed pairing)."""
        self._seed_counter += 1
        return self._seed_counter


# IR ops that only move elements, never compute on them: given a string tensor
# (a host dtype) they run on the host through the op's numpy reference, as
# tf.gather / tf.reshape / tf.concat of file names do in TensorFlow.
LAYOUT_OPS = frozenset(
    {
        "kiln.reshape",
        "kiln.transpose",
        "kiln.concat",
        "kiln.slice",
        "kiln.gather",
        "kiln.gather_nd",
        "kiln.expand_dims",
        "kiln.squeeze",
        "kiln.broadcast_to",
    }
)
_STAND_IN = as_dtype("int8")  # the strings' dtype while the IR type rule runs


def strings_moved(
    name: str, type: str, ir_op: str | None, ir_attrs: dict[str, Any], inputs: Sequence[Tensor]
) -> tuple[Any, list[tuple[DType, TensorShape]]] | None:
    """For a layout op given a string tensor: its host function and output types
    (the IR op's own type rule and numpy reference, the strings standing in as
    int8); None for any other op."""
    if ir_op not in LAYOUT_OPS or not any(t.dtype.is_string for t in inputs):
        return None
    data = len(inputs) if ir_op == "kiln.concat" else 1  # the rest are indices
    for i, t in enumerate(inputs):
        if t.dtype.is_string != (i < data):
            raise GraphError(
                f"{name} ({type}): input {t.name} is {t.dtype.name} where "
                + ("a string was expected" if i < data else "an integer index was expected")
            )
    stand_ins = [_StandIn(t) if t.dtype.is_string else t for t in inputs]
    typed = infer_outputs(name, type, ir_op, ir_attrs, stand_ins)
    outputs = [(string if d is _STAND_IN else d, shape) for d, shape in typed]
    known = [t.ir_type for t in stand_ins]
    if any(t is None for t in known):  # unknown rank: the rule runs again on the values
        known = None
    cls = lookup(ir_op)

    def run(*arrays):
        types = known or [
            TensorType((_STAND_IN if t.dtype.is_string else t.dtype).ir, list(a.shape))
            for t, a in zip(inputs, arrays)
        ]
        op = cls([Value(t) for t in types], ir_attrs)
        result = op.reference(*arrays)
        op.drop_operands()
        return list(result) if isinstance(result, (list, tuple)) else [result]

    return run, outputs


class _StandIn:
    """A string tensor seen by an IR type rule: its shape, the stand-in dtype."""

    def __init__(self, t: Tensor):
        self.dtype, self.shape = _STAND_IN, t.shape

    @property
    def ir_type(self) -> TensorType | None:
        return ir_type(_STAND_IN, self.shape)


def check_numeric_inputs(name: str, type: str, inputs: Sequence[Tensor]) -> None:
    """A clear error when a string tensor reaches an op that lowers to IR (a
    numeric kernel): strings are a host dtype (frontend/strings.py)."""
    for t in inputs:
        if t.dtype.ir is None:
            raise GraphError(
                f"{name} ({type}): input {t.name} is a {t.dtype.name} tensor, but {type} is "
                "a numeric kernel; kiln keeps strings on the host (use kl.strings.* ops, "
                "e.g. kl.strings.to_number, to turn them into numbers)"
            )


def infer_outputs(
    name: str, type: str, ir_op: str | None, ir_attrs: dict[str, Any], inputs: Sequence[Tensor]
) -> list[tuple[DType, TensorShape]]:
    """Output dtypes and static shapes from the IR op's type rule.

    An input of unknown rank makes the output shapes unknown; the dtype then
    comes from running the rule on stand-in ranks."""
    if ir_op is None:
        raise GraphError(f"{name} ({type}): no IR op and no output types given")
    cls = lookup(ir_op)
    types = [t.ir_type for t in inputs]
    known = all(t is not None for t in types)
    tries = (
        [types]
        if known
        else [
            [
                t if t is not None else TensorType(i.dtype.ir, [Symbol("?")] * r)
                for t, i in zip(types, inputs)
            ]
            for r in (0, 1, 2, 3, 4)
        ]
    )
    error: KilnError | None = None
    found: list[list[tuple[DType, TensorShape]]] = []
    for trial in tries:
        values = [Value(t) for t in trial]
        try:
            op = cls(values, ir_attrs)
        except KilnError as e:
            error = error or e
            continue
        out = [(as_dtype(r.type.dtype), TensorShape.of(r.type)) for r in op.results]
        op.drop_operands()
        if known:
            return out
        found.append(out)
    if found:  # static shapes every stand-in rank agrees on (a reshape to [2, 3]) stand
        return [
            (
                d,
                s
                if s.is_fully_defined() and all(o[i][1] == s for o in found)
                else TensorShape(None),
            )
            for i, (d, s) in enumerate(found[0])
        ]
    message = str(error)
    if message.startswith(ir_op):
        message = message.split(": ", 1)[-1]
    if "do not broadcast" in message:
        raise GraphError(_broadcast_message(name, type, inputs) or f"{name} ({type}): {message}")
    raise GraphError(f"{name} ({type}): {message}")


def _broadcast_message(name: str, type: str, inputs: Sequence[Tensor]) -> str | None:
    """TensorFlow's wording for shapes that do not broadcast."""
    shapes = [t.shape.dims for t in inputs]
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    for i in range(1, rank + 1):
        dims = {s[-i] for s in shapes if len(s) >= i and s[-i] not in (None, 1)}
        if len(dims) > 1:
            a, b = sorted(
                dims, key=lambda d: [s[-i] if len(s) >= i else 1 for s in shapes].index(d)
            )[:2]
            listed = ", ".join(
                "[" + ", ".join("?" if d is None else str(d) for d in s) + "]" for s in shapes
            )
            return (
                f"Dimensions must be equal, but are {a} and {b} for '{name}' (op: '{type}') "
                f"with input shapes: {listed}."
            )
    return None


# ------------------------------------------------------------------ default contexts
#
# Where ops go and which session runs `t.eval()`: this module owns both
# stacks (TensorFlow's ops.get_default_graph / get_default_session). Each
# thread has its own stack of entered contexts (`graph.as_default()`,
# `kl.eager_mode()`, sessions' `with`) on top of a process-wide stack whose
# bottom is TF 1.x's global graph; `kl.enable_eager_execution()` pushes the
# eager context there and `disable_eager_execution()` pops it. Other modules
# change these only through the functions below.


class _ThreadContexts(threading.local):
    def __init__(self) -> None:
        self.graphs: list[Graph] = []
        self.sessions: list[Any] = []


_thread = _ThreadContexts()
_process: list[Graph] = [Graph()]


def get_default_graph() -> Graph:
    """The graph ops go into: this thread's innermost context, else the process's."""
    stack = _thread.graphs
    return stack[-1] if stack else _process[-1]


def executing_eagerly() -> bool:
    """Whether kl ops run at once here (tf.executing_eagerly)."""
    return get_default_graph().executes_eagerly


def push_default_graph(graph: Graph) -> None:
    """Enter `graph` (or the eager context) as this thread's default."""
    _thread.graphs.append(graph)


def pop_default_graph(graph: Graph) -> None:
    """Leave `graph`, which must be this thread's innermost context."""
    stack = _thread.graphs
    if not stack or stack[-1] is not graph:
        raise GraphError(
            "default graphs left out of order (nested `as_default()` blocks "
            "must close innermost first)"
        )
    stack.pop()


def get_process_default() -> Graph:
    """The default of threads outside their own contexts (the global graph, or eager)."""
    return _process[-1]


def push_process_default(graph: Graph) -> None:
    """Make `graph` the default of every thread outside its own contexts."""
    _process.append(graph)


def pop_process_default(graph: Graph) -> bool:
    """Undo `push_process_default(graph)` when it is the process's default; whether it was."""
    if len(_process) > 1 and _process[-1] is graph:
        _process.pop()
        return True
    return False


def reset_default_graph() -> None:
    """Start a fresh global graph (outside any `as_default()`); the eager
    context, when enabled, stays on top of it."""
    if _thread.graphs:
        raise GraphError("reset_default_graph() inside a `with graph.as_default()` block")
    _process[0] = Graph()


def get_default_session() -> Any:
    """The innermost session of this thread entered with `with` (or interactive)."""
    stack = _thread.sessions
    if not stack:
        raise GraphError("no default session: use `with kl.Session() as sess:` or pass session=")
    return stack[-1]


def push_default_session(session: Any) -> None:
    _thread.sessions.append(session)


def remove_default_session(session: Any) -> None:
    """Take `session` off this thread's stack (wherever it is: interactive sessions)."""
    if session in _thread.sessions:
        _thread.sessions.remove(session)


def name_scope(name: str | None, default_name: str | None = None, values: Any = None):
    """`with kl.name_scope("loss"):` prefixes op names with `loss/`."""
    return get_default_graph().name_scope(name if name is not None else default_name)


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)
