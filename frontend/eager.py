"""Eager execution: kl ops that run at once and return values (TensorFlow 2's default).

How eager mode is entered (kiln's choice, documented in docs/eager.md):

    kl.enable_eager_execution()       # process-wide, until disable_eager_execution()
    with kl.eager_mode(): ...         # this thread, inside the block

TensorFlow 2 is eager outside any `Graph` context, but kiln's TensorFlow-1.x
frontend builds into a global default graph outside such a context, and
programs rely on that; so eagerness is asked for. Either way the eager
context, an `EagerGraph`, is pushed on graph.py's stack of default contexts
(process-wide or this thread's) and popped again: the same kl functions
(ops.py, nn.py, layers.py, ...) call its `create_op`, which runs the node's
IR op at once and returns `EagerTensor`s. `with kl.Graph().as_default():` inside eager mode
builds a graph again, as in TF 2.

Each op runs a kernel from a cache keyed by IR op, attributes, dtypes and
shapes (`kernel_for`): the IR op built once on concrete types, run by its
reference implementation (numpy) or by a one-op function compiled with
`kiln.compile` (`set_eager_backend`; see docs/eager.md for the measured
dispatch costs that pick the default). Nothing is kept of an op's history
unless a GradientTape records it (tape.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..ir import Builder, Interpreter, KilnError, Module, TensorType, Value, lookup
from ..ir.dtypes import as_storage
from .dtypes import DType, as_dtype
from .graph import (
    Graph,
    GraphError,
    Operation,
    Tensor,
    TensorShape,
    check_numeric_inputs,
    get_default_graph,
    get_process_default,
    pop_process_default,
    push_process_default,
    strings_moved,
)
from .ops import constant, equal, not_equal
from .variables import Variable

# ------------------------------------------------------------------ mode


class EagerGraph(Graph):
    """The default graph in eager mode: `create_op` runs each node at once.

    It keeps no ops (names are not made unique, nothing is stored), so a long
    eager loop holds no history; tapes keep what they record. `kl.Variable`
    makes an EagerVariable while it is the default."""

    executes_eagerly = True

    @property
    def variable_class(self) -> type:
        return EagerVariable

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        full = f"{self._name_stack}/{name}" if self._name_stack else name
        return full

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
        if type == "Const":
            op = EagerOperation(self, type, name or type, [], attrs or {}, ir_op, ir_attrs or {})
            value = attrs["value"]
            op.outputs = [EagerTensor(np.asarray(value), attrs["dtype"], op)]
            return op
        moved = strings_moved(name or type, type, ir_op, ir_attrs or {}, inputs)
        if moved is not None:  # a layout op on strings runs on the host
            attrs = {**(attrs or {}), "_host_fn": moved[0]}
            output_types = moved[1]
        if attrs and "_host_fn" in attrs:  # a host op (strings, files): run it now
            full = f"{self._name_stack}/{name or type}" if self._name_stack else (name or type)
            op = EagerOperation(self, type, full, [], attrs, None, {})
            values = attrs["_host_fn"](*[np.asarray(t._value) for t in inputs])
            op.outputs = [
                EagerTensor(np.asarray(v), d, op, i)
                for i, (v, (d, _)) in enumerate(zip(values, output_types or ()))
            ]
            return op
        if type == "NoOp":  # tf.group / control_dependencies: its inputs already ran
            op = EagerOperation(self, type, name or type, [], attrs or {}, None, {})
            op.outputs = []
            return op
        if ir_op is None:
            raise GraphError(
                _NOT_EAGER.get(type, f"{name or type} ({type}) cannot run in eager mode")
            )
        check_numeric_inputs(name or type, type, inputs)
        try:
            arrays = [t._value for t in inputs]
        except AttributeError:
            bad = next(t for t in inputs if not isinstance(t, EagerTensor))
            raise GraphError(
                f"{name or type} ({type}): input {getattr(bad, 'name', bad)} is a "
                "graph tensor; eager ops take eager tensors"
            ) from None
        if attrs and self.gradient_override and type in self.gradient_override:
            attrs = {**attrs, "_gradient_op_type": self.gradient_override[type]}
        full = f"{self._name_stack}/{name or type}" if self._name_stack else (name or type)
        ir_attrs = ir_attrs or {}
        key = (
            ir_op,
            _freeze(ir_attrs) if ir_attrs else (),
            tuple([(a.dtype.num, a.shape) for a in arrays]),
            _policy["backend"],
        )
        kernel = _KERNELS.get(key) or kernel_for(ir_op, ir_attrs, arrays, full, type)
        outs = kernel(arrays)
        op = EagerOperation(self, type, full, inputs, attrs or {}, ir_op, ir_attrs)
        op.outputs = [EagerTensor(v, d, op, i) for i, (v, d) in enumerate(zip(outs, kernel.dtypes))]
        if _tapes.stack:
            _record(op)
        else:
            op.inputs = []
        return op


_NOT_EAGER = {
    "Placeholder": "kl.placeholder() is not compatible with eager execution (feed values "
    "directly, or trace a kl.function)",
    "Gradients": "kl.gradients is not supported when eager execution is enabled; use "
    "kl.GradientTape instead",
}

_EAGER = EagerGraph()


def enable_eager_execution(
    config: Any = None, device_policy: Any = None, execution_mode: Any = None
) -> None:
    """Make eager the default for every thread outside a `Graph` context (tf's
    enable_eager_execution). Graph-mode programs keep working inside
    `with kl.Graph().as_default():`."""
    if get_process_default() is not _EAGER:
        push_process_default(_EAGER)


def disable_eager_execution() -> None:
    """Back to building graphs outside a `Graph` context (the TF 1.x default)."""
    pop_process_default(_EAGER)


@contextlib.contextmanager
def eager_mode() -> Iterator[None]:
    """`with kl.eager_mode():` ops run eagerly in this thread inside the block."""
    with _EAGER.as_default():
        yield


init_scope = eager_mode  # lift out of a kl.function trace (variables, slots): TF's init_scope


# ------------------------------------------------------------------ tensors


class EagerOperation(Operation):
    """An executed op: what a tape needs to replay it in IR (type, IR op, inputs)."""

    def __init__(
        self,
        graph: Graph,
        type: str,
        name: str,
        inputs: list[Tensor],
        attrs: dict[str, Any],
        ir_op: str | None,
        ir_attrs: dict[str, Any],
    ):
        self.graph, self.type, self.name = graph, type, name
        self.inputs = inputs
        self.attrs, self.ir_op, self.ir_attrs = attrs, ir_op, ir_attrs
        self.control_inputs: list[Operation] = []
        self.outputs: list[Tensor] = []


class EagerTensor(Tensor):
    """A tensor with a value (TF 2's EagerTensor): `.numpy()`, `np.asarray(t)`,
    printing, `bool(t)`, `float(t)`, `int(t)` on scalars, iteration."""

    def __init__(
        self, value: np.ndarray, dtype: DType, op: Operation | None = None, index: int = 0
    ):
        self._value = value
        self.dtype = dtype
        self.value_index = index
        self.op = op

    # The op is held weakly: it holds its outputs, so a strong reference both ways
    # would leave every eager result to the cycle collector (its memory kept past
    # its last use, a result buffer never recycled for the next call). A tape keeps
    # the ops it records; one nobody keeps is remade, inputless as an op outside a
    # tape is (`create_op`), when it is asked for, and kept: it holds this tensor
    # weakly (`_RemadeOperation`).
    @property
    def op(self) -> Operation:
        op = self._op()
        if op is None:
            op = _RemadeOperation(self)
            self._op = lambda: op
        return op

    @op.setter
    def op(self, op: Operation | None) -> None:
        if op is None:
            self._graph, self._op_type, self._op_name = _EAGER, "Const", "Const"
            self._op = _no_op
        else:
            self._graph, self._op_type, self._op_name = op.graph, op.type, op.name
            self._op = weakref.ref(op)

    @property
    def name(self) -> str:
        return f"{self._op_name}:{self.value_index}"

    @property
    def graph(self) -> Graph:
        return self._graph

    def __deepcopy__(self, memo: dict) -> EagerTensor:
        return EagerTensor(np.array(self._value, copy=True), self.dtype)

    @property
    def _shape(self) -> TensorShape:  # Tensor's properties read this
        return TensorShape(self._value.shape)

    def numpy(self) -> np.ndarray:
        """The value as a numpy array (do not modify it in place); a scalar's is a numpy
        scalar (np.float32(2.0), hashable), as TensorFlow's EagerTensor.numpy() gives."""
        return self._value[()] if self._value.ndim == 0 else self._value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = np.asarray(self._value)
        return value if dtype is None else value.astype(dtype)

    @property
    def ndim(self) -> int:
        return self._value.ndim

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len() of a scalar tensor")
        return len(self._value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __index__(self) -> int:
        if not self.dtype.is_integer:
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype.name}")
        return int(self._value)

    def __format__(self, spec: str) -> str:
        return format(self._value.item() if self._value.ndim == 0 else self._value, spec)

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> np.ndarray:
        return self._value

    def __eq__(self, other: object) -> Any:
        """Elementwise, as TF 2's tensors (`tape.gradient(y, x) == 6.0`); hashing
        stays by identity."""
        if other is None or not isinstance(
            other, (Tensor, int, float, np.ndarray, np.generic, list, tuple)
        ):
            return NotImplemented
        return equal(self, other)

    def __ne__(self, other: object) -> Any:
        if other is None or not isinstance(
            other, (Tensor, int, float, np.ndarray, np.generic, list, tuple)
        ):
            return NotImplemented
        return not_equal(self, other)

    def __repr__(self) -> str:
        return (
            f"kl.Tensor({np.array2string(self._value, separator=', ')}, "
            f"shape={self.shape}, dtype={self.dtype.name})"
        )

    __str__ = __repr__
    __hash__ = object.__hash__


class _RemadeOperation(EagerOperation):
    """The op of an eager tensor whose own op nobody kept: its type and name, no
    inputs (as an op run outside a tape), the value of a constant, and its one
    output held weakly (the tensor holds this op)."""

    def __init__(self, t: EagerTensor):
        super().__init__(t._graph, t._op_type, t._op_name, [], {}, None, {})
        if t._op_type == "Const":
            self.attrs = {"value": t._value, "dtype": t.dtype}
        self._output = weakref.ref(t)
        self._index = t.value_index

    @property
    def outputs(self) -> list:
        return [None] * self._index + [self._output()]

    @outputs.setter
    def outputs(self, _: list) -> None:  # EagerOperation.__init__'s empty list
        pass


def _no_op() -> None:
    """The dead reference of a tensor made from a value alone (no op yet)."""
    return None


def to_eager(value: Any, dtype: Any = None) -> EagerTensor:
    """An EagerTensor for a value (kl.constant's dtype rules); eager tensors pass."""
    if isinstance(value, EagerTensor):
        return value
    with eager_mode():
        return constant(value, dtype=dtype)


# ------------------------------------------------------------------ kernels

_REFERENCE, _COMPILED = "reference", "compiled"
_policy = {"backend": os.environ.get("KILN_EAGER_BACKEND", "auto"), "threshold": 1 << 16}
_KERNELS: dict[tuple, _Kernel] = {}
_kernel_lock = threading.Lock()
_INTERPRETER = Interpreter(Module())


def set_eager_backend(backend: str, threshold: int | None = None) -> None:
    """How eager ops run: "reference" (the op's numpy reference), "compiled"
    (a one-op function through kiln.compile's CPU backend), or "auto":
    compiled for ops whose largest operand or result holds at least
    `threshold` elements, the reference below (where dispatch dominates)."""
    if backend not in ("reference", "compiled", "auto"):
        raise KilnError(f"unknown eager backend {backend!r} (reference, compiled or auto)")
    _policy["backend"] = backend
    if threshold is not None:
        _policy["threshold"] = int(threshold)


def _freeze(x: Any) -> Any:
    """A hashable stand-in for an attribute value (the kernel cache's key)."""
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    if isinstance(x, dict):
        return tuple((k, _freeze(v)) for k, v in x.items())
    if isinstance(x, np.ndarray):
        return (x.dtype.str, x.shape, x.tobytes())
    try:
        hash(x)
    except TypeError:
        return repr(x)
    return x


class _Kernel:
    """One IR op on concrete types, callable on arrays."""

    def __init__(self, ir_op: str, attrs: dict[str, Any], arrays: list[np.ndarray], where: str):
        cls = lookup(ir_op)
        types = [TensorType(as_dtype(a.dtype).ir, a.shape) for a in arrays]
        try:
            self.op = cls([Value(t) for t in types], dict(attrs))
        except KilnError as e:
            message = str(e)
            if message.startswith(ir_op):
                message = message.split(": ", 1)[-1]
            raise GraphError(f"{where}: {message}") from None
        self.where = where
        self.result_types = [r.type for r in self.op.results]
        self.dtypes = [as_dtype(t.dtype) for t in self.result_types]
        self.storage = [t.dtype for t in self.result_types]
        self.numpy_dtypes = [
            np.dtype(t.dtype.numpy) if t.dtype.name != "bf16" else None for t in self.result_types
        ]
        sizes = [int(np.prod(t.shape)) for t in self.result_types] + [a.size for a in arrays]
        backend = _policy["backend"]
        if backend == "auto":
            backend = _COMPILED if max(sizes, default=0) >= _policy["threshold"] else _REFERENCE
        self.compiled = None
        if backend == _COMPILED:
            self.compiled = _compile_one(ir_op, attrs, types)
        self.backend = _COMPILED if self.compiled is not None else _REFERENCE

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if self.compiled is not None:
            return self.compiled(*arrays)
        try:
            with np.errstate(all="ignore"):
                outs = self.op.evaluate(_INTERPRETER, arrays)
        except KilnError as e:
            raise GraphError(f"{self.where}: {e}") from None
        except (ValueError, IndexError, TypeError, ArithmeticError) as e:
            raise GraphError(f"{self.where}: {e}") from None
        return [
            o if type(o) is np.ndarray and o.dtype == n else as_storage(o, t)
            for o, t, n in zip(outs, self.storage, self.numpy_dtypes)
        ]


def _compile_one(ir_op: str, attrs: dict[str, Any], types: list[TensorType]):
    """A one-op function compiled by kiln.compile's CPU backend, or None when the
    backend has no kernel for it (the reference then runs it)."""
    module = Module()
    func = module.add_function("op", types, [f"x{i}" for i in range(len(types))])
    b = Builder.at_end(func.body)
    new = b.create(ir_op, *func.args, **attrs)
    b.ret(*new.results)
    try:
        from ..runtime.executable import Executable  # lazy: import kiln stays light

        return Executable(module, "op", "cpu")
    except KilnError:
        return None


def kernel_for(
    ir_op: str,
    ir_attrs: dict[str, Any],
    arrays: list[np.ndarray],
    where: str = "",
    op_type: str = "",
) -> _Kernel:
    """The cached kernel for an IR op, attributes and operand dtypes and shapes."""
    key = (
        ir_op,
        _freeze(ir_attrs) if ir_attrs else (),
        tuple([(a.dtype.num, a.shape) for a in arrays]),
        _policy["backend"],
    )
    kernel = _KERNELS.get(key)
    if kernel is None:
        kernel = _Kernel(ir_op, ir_attrs, arrays, f"{where} ({op_type})" if op_type else where)
        with _kernel_lock:
            _KERNELS[key] = kernel
    return kernel


def kernel_cache_info() -> dict[str, int]:
    """How many eager kernels are cached, by how they run."""
    counts = {_REFERENCE: 0, _COMPILED: 0}
    for k in list(_KERNELS.values()):
        counts[k.backend] += 1
    return counts


# ------------------------------------------------------------------ tapes (hooks)


class _ThreadTapes(threading.local):
    def __init__(self) -> None:
        self.stack: list = []


_tapes = _ThreadTapes()


def active_tapes() -> list:
    """The GradientTapes recording in this thread, outermost first (tape.py)."""
    return _tapes.stack


def _record(op: EagerOperation) -> None:
    """Let each recording tape that watches an input keep the op; else drop the
    op's inputs so no history is held."""
    kept = False
    for tape in active_tapes():
        if tape.recording and tape.watches_any(op.inputs):
            tape.record(op)
            kept = True
    if not kept:
        op.inputs = []


# ------------------------------------------------------------------ variables


class EagerVariable(Variable):
    """kl.Variable in eager mode (and in kl.function, captured by reference):
    its value is a numpy array held here; `assign`, `assign_add` and
    `assign_sub` replace it at once (inside a kl.function they become graph
    updates written back when the function returns)."""

    _count = 0

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        collections: Sequence[str] | None = None,
        validate_shape: bool = True,
        **_: Any,
    ):
        if initial_value is None:
            raise GraphError("kl.Variable needs an initial_value")
        with init_scope():
            if callable(initial_value):
                initial_value = initial_value()
            if hasattr(initial_value, "_as_tensor") and not isinstance(initial_value, Tensor):
                initial_value = initial_value._as_tensor()
            if isinstance(initial_value, Tensor) and not isinstance(initial_value, EagerTensor):
                raise GraphError(
                    f"variable {name or 'Variable'}: its initial value "
                    f"{initial_value.name} is a graph tensor"
                )
            value = to_eager(initial_value, dtype)
        if dtype is not None and value.dtype is not as_dtype(dtype):
            raise GraphError(
                f"variable {name or 'Variable'}: initial value is "
                f"{value.dtype.name}, dtype says {as_dtype(dtype).name}"
            )
        EagerVariable._count += 1
        self._name = name or (
            "Variable" if EagerVariable._count == 1 else f"Variable_{EagerVariable._count - 1}"
        )
        self._dtype = value.dtype
        self._value = np.array(value.numpy(), copy=True)
        self.trainable = trainable
        self.graph = _EAGER

    # ------------------------------------------------------------ reads
    def _as_tensor(self) -> Tensor:
        g = get_default_graph()
        if g is _EAGER:
            return self.read_value()
        if not g.building_function:
            raise GraphError(
                f"eager variable {self.name} used while building a graph; use it "
                "inside kl.function or in eager mode"
            )
        return g.capture_variable(self)

    def read_value(self) -> Tensor:
        """The current value as a tensor (recorded by tapes that watch the variable)."""
        if get_default_graph().building_function:
            return self._as_tensor()  # in a kl.function trace
        op = EagerOperation(_EAGER, "ReadVariableOp", self._name + "/Read", [], {}, None, {})
        t = EagerTensor(self._value, self._dtype, op)
        op.outputs = [t]
        for tape in active_tapes():
            if tape.recording:
                tape.variable_read(self, t)
        return t

    value = read_value

    def numpy(self) -> np.ndarray:
        """A copy of the value (a numpy scalar for a scalar variable, as in TensorFlow)."""
        return self._value[()] if self._value.ndim == 0 else self._value.copy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._value if dtype is None else self._value.astype(dtype)

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __index__(self) -> int:
        return int(self._value)

    @property
    def name(self) -> str:
        return self._name + ":0"

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._value.shape)

    def eval(self, session: Any = None) -> np.ndarray:
        return self.numpy()

    # ------------------------------------------------------------ updates
    def _update(self, kind: str, value: Any, name: str | None) -> Tensor:
        g = get_default_graph()
        if g.building_function:  # in a kl.function trace: a graph update
            return g.update_variable(self, kind, value)
        if isinstance(value, Tensor) and not isinstance(value, EagerTensor):
            raise GraphError(f"{kind} of {self.name}: {value.name} is a graph tensor")
        array = np.asarray(value._value if isinstance(value, EagerTensor) else value)
        if array.dtype.kind == "f" and self._dtype.is_integer:
            raise GraphError(
                f"{kind} of {self.name}: float value for an {self._dtype.name} variable"
            )
        array = as_storage(array, self._dtype.ir)
        if kind == "AssignAdd":
            array = self._value + array
        elif kind == "AssignSub":
            array = self._value - array
        if array.shape != self._value.shape:
            raise GraphError(
                f"{kind} of {self.name}: value of shape {list(array.shape)}, "
                f"the variable has shape {list(self._value.shape)}"
            )
        self._value = np.array(array, dtype=self._value.dtype, copy=True)
        with eager_mode():
            return self.read_value()

    def load(self, value: Any, session: Any = None) -> None:
        self.assign(value)

    def __repr__(self) -> str:
        return (
            f"<kl.Variable '{self.name}' shape={self.shape} dtype={self._dtype.name}, "
            f"numpy={np.array2string(self._value, separator=', ')}>"
        )

    __hash__ = object.__hash__
