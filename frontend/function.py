"""kl.function: trace a Python function into IR once per input signature, compile it.

    @kl.function
    def train_step(x, y):
        with kl.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

A call looks up its signature: for each tensor argument its dtype, rank and
every dim but the first (the batch stays symbolic, so a new batch size
reuses the executable); for other arguments their value. A new signature is
traced: the function runs once with placeholders in a `FuncGraph` (Python
control flow unrolls), its outputs and every variable update are lowered into
one IR function with `lowering.lower` (the Session's lowering) and compiled by
`kiln.compile` through the full pass pipeline. Eager variables are captured
by reference: each becomes an argument, and each update a result aliased to
it, written back after the call (so in place). A read after an `assign` in
the function sees the new value. Eager tensors the function closes over are
captured as constants.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir import KilnError
from .dtypes import as_dtype
from .eager import EagerTensor, EagerVariable
from .graph import Graph, GraphError, Operation, Tensor, TensorShape, get_default_graph
from .lowering import lower
from .nest import flatten, pack_sequence_as
from .ops import _default_dtype, constant, convert_to_tensor, placeholder

__all__ = ["Function", "FuncGraph", "TensorSpec", "function"]

# The graphs of the kl.functions called since tf.summary.trace_on (None: not
# recording); summary_trace.py starts and stops it.
TRACES: list | None = None


def start_recording() -> None:
    """Record the graph of every kl.function called from now on."""
    global TRACES
    TRACES = []


def stop_recording() -> list:
    """Stop recording; the graphs recorded, in call order."""
    global TRACES
    graphs, TRACES = list(TRACES or []), None
    return graphs


class TensorSpec:
    """The type of a tensor argument (tf.TensorSpec): shape with None dims, dtype."""

    def __init__(
        self, shape: Sequence[int | None] | None, dtype: Any = "float32", name: str | None = None
    ):
        self.shape = TensorShape(None if shape is None else list(shape))
        self.dtype = as_dtype(dtype)
        self.name = name

    def _key(self) -> tuple:
        return (self.dtype.name, None if self.shape.dims is None else tuple(self.shape.dims))

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype.name})"


class FuncGraph(Graph):
    """The graph a kl.function traces into: it captures eager variables (as
    VariableV2 nodes) and eager tensors (as constants), and keeps the variable
    updates so they all run. `kl.Variable(...)` in a trace makes an eager
    variable, captured by reference like any other."""

    building_function = True
    variable_class = EagerVariable

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.captures: dict[EagerVariable, Operation] = {}
        self.latest: dict[EagerVariable, Tensor] = {}
        self.updates: list[Operation] = []
        self._constants: dict[int, tuple[EagerTensor, Tensor]] = {}

    def capture_variable(self, var: EagerVariable) -> Tensor:
        if var in self.latest:
            return self.latest[var]
        return self._handle(var)

    def _handle(self, var: EagerVariable) -> Tensor:
        if var not in self.captures:
            with self.name_scope(None):
                self.captures[var] = Graph.create_op(
                    self,
                    "VariableV2",
                    [],
                    name=var._name.replace(":", "_"),
                    output_types=[(var.dtype, var.shape)],
                    attrs={"dtype": var.dtype, "shape": var.shape.as_list()},
                )
        return self.captures[var].outputs[0]

    def update_variable(self, var: EagerVariable, kind: str, value: Any) -> Tensor:
        v = convert_to_tensor(value, dtype=var.dtype)
        op = self.create_op(
            kind, [self._handle(var), v], name=kind, output_types=[(var.dtype, var.shape)]
        )
        self.updates.append(op)
        self.latest[var] = op.outputs[0]
        return op.outputs[0]

    def create_op(self, type: str, inputs: Sequence[Tensor], **kwargs: Any) -> Operation:
        inputs = [self._capture_tensor(t) if isinstance(t, EagerTensor) else t for t in inputs]
        return super().create_op(type, inputs, **kwargs)

    def _capture_tensor(self, t: EagerTensor) -> Tensor:
        """An eager tensor from outside: a constant of this graph (made once)."""
        if id(t) not in self._constants:
            with self.name_scope(None):
                self._constants[id(t)] = (t, constant(t.numpy(), dtype=t.dtype, name="captured"))
        return self._constants[id(t)][1]


class _Concrete:
    """One traced and compiled signature of a Function."""

    def __init__(
        self,
        fn: Callable,
        name: str,
        args: tuple,
        kwargs: dict,
        specs: list[TensorSpec],
        backend: str | None,
    ):
        graph = FuncGraph(name)
        leaves = flatten((args, kwargs))
        with graph.as_default():
            self.placeholders = [
                placeholder(s.dtype, s.shape.dims, name=f"arg{i}") for i, s in enumerate(specs)
            ]
            it = iter(self.placeholders)
            traced = [next(it) if _is_tensor_leaf(x) else x for x in leaves]
            t_args, t_kwargs = pack_sequence_as((args, kwargs), traced)
            out = fn(*t_args, **t_kwargs)
            flat_out = flatten(out)
            self.out_kinds = []  # per output leaf: index of the fetched tensor, or the value
            fetched: list[Tensor] = []
            for leaf in flat_out:
                if (
                    leaf is None
                    or isinstance(leaf, (str, bool, int, float))
                    and not isinstance(leaf, Tensor)
                ):
                    self.out_kinds.append(("value", leaf))
                    continue
                t = convert_to_tensor(leaf)
                if t not in fetched:
                    fetched.append(t)
                self.out_kinds.append(("tensor", fetched.index(t)))
        self.structure = out
        self.graph = graph
        try:
            self.lowered = lower(
                graph,
                [*fetched, *graph.updates],
                {p: None for p in self.placeholders},
                name=_ir_name(name),
            )
            from ..runtime.executable import Executable  # lazy: import kiln stays light

            self.executable = Executable(self.lowered.module, self.lowered.name, backend)
        except KilnError as e:
            raise GraphError(f"kl.function {name}: {e}") from None
        by_op = {op: var for var, op in graph.captures.items()}
        self.reads = [by_op[op] for op in self.lowered.reads]
        self.writes = [by_op[op] for op in self.lowered.writes]
        self.n_fetched = len(fetched)
        self.dtypes = [t.dtype for t in fetched]

    def __call__(self, arrays: list[np.ndarray]) -> Any:
        outputs = self.executable(*arrays, *[v._value for v in self.reads])
        for var, value in zip(self.writes, outputs[self.n_fetched :]):
            var._value = value
        tensors = [
            EagerTensor(np.asarray(o), d) for o, d in zip(outputs[: self.n_fetched], self.dtypes)
        ]
        leaves = [tensors[k] if kind == "tensor" else k for kind, k in self.out_kinds]
        return pack_sequence_as(self.structure, leaves)


def _ir_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "fn"


def _is_tensor_leaf(x: Any) -> bool:
    return isinstance(x, (Tensor, np.ndarray, np.generic)) or hasattr(x, "_as_tensor")


def _array(x: Any, spec: TensorSpec | None = None) -> np.ndarray:
    if isinstance(x, EagerTensor):
        a = x._value
    elif hasattr(x, "_as_tensor") and isinstance(x, EagerVariable):
        a = x._value
    elif isinstance(x, Tensor):
        raise GraphError(f"kl.function: argument {x.name} is a graph tensor")
    else:
        a = np.asarray(x)
    if spec is not None and a.dtype != spec.dtype.ir.numpy:
        a = a.astype(spec.dtype.ir.numpy)
    return a


class Function:
    """A traced, compiled Python function (tf.function). `input_signature`
    fixes the argument types (one trace); `jit_compile=True` asks for the
    native backend only (an op without a kernel is then an error instead of
    a fall back to the interpreter)."""

    def __init__(
        self,
        fn: Callable,
        input_signature: Sequence[TensorSpec] | None = None,
        jit_compile: bool | None = None,
        name: str | None = None,
        backend: str | None = None,
        **_: Any,
    ):
        self.python_function = fn
        self.input_signature = None if input_signature is None else list(input_signature)
        self.jit_compile = jit_compile
        self.backend = backend or ("cpu" if jit_compile else None)
        self.name = name or getattr(fn, "__name__", "function")
        self._cache: dict[tuple, _Concrete] = {}
        # calls whose arguments are all arrays or eager tensors, keyed by `_array_key`
        self._by_arrays: dict[tuple, _Concrete] = {}
        self._bound: dict[int, Function] = {}  # per instance, when a method
        functools.update_wrapper(self, fn)

    @property
    def trace_count(self) -> int:
        """How many signatures were traced (and compiled)."""
        return len(self._cache)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        bound = self._bound
        if id(instance) not in bound:  # one cache per instance (a method's self)
            bound[id(instance)] = Function(
                fn=functools.partial(self.python_function, instance),
                input_signature=self.input_signature,
                jit_compile=self.jit_compile,
                name=self.name,
                backend=self.backend,
            )
        return bound[id(instance)]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(get_default_graph(), FuncGraph):
            return self.python_function(*args, **kwargs)  # inside another trace: inline
        array_key = None if kwargs or self.input_signature else _array_key(args)
        concrete = self._by_arrays.get(array_key) if array_key is not None else None
        if concrete is not None:  # the common call, without the general path's ~20 us
            arrays = [a if type(a) is np.ndarray else a._value for a in args]
        else:
            concrete, arrays = self._trace(args, kwargs)
            if array_key is not None:
                self._by_arrays[array_key] = concrete
        if TRACES is not None and concrete.graph not in TRACES:  # tf.summary.trace_on
            TRACES.append(concrete.graph)
        return concrete(arrays)

    def _trace(self, args: tuple, kwargs: dict) -> tuple[_Concrete, list[np.ndarray]]:
        """The trace for these arguments (traced and compiled on first use), and the
        arrays it takes, checked against its specs."""
        if self.input_signature is not None:  # each positional argument is one tensor
            args = tuple(
                a
                if _is_tensor_leaf(a) or i >= len(self.input_signature)
                else np.asarray(a, self.input_signature[i].dtype.ir.numpy)
                for i, a in enumerate(args)
            )
        leaves = flatten((args, kwargs))
        tensor_leaves = [x for x in leaves if _is_tensor_leaf(x)]
        specs = self._specs(tensor_leaves)
        arrays = [_array(x, s) for x, s in zip(tensor_leaves, specs)]
        key = (
            repr(_shape_of((args, kwargs))),
            tuple(s._key() for s in specs),
            tuple(_static_key(x) for x in leaves if not _is_tensor_leaf(x)),
        )
        concrete = self._cache.get(key)
        if concrete is None:
            concrete = self._cache[key] = _Concrete(
                self.python_function, self.name, args, kwargs, specs, self.backend
            )
        for a, s in zip(arrays, specs):
            _check(a, s, self.name)
        return concrete, arrays

    def _specs(self, tensor_leaves: list) -> list[TensorSpec]:
        if self.input_signature is not None:
            if len(self.input_signature) != len(tensor_leaves):
                raise GraphError(
                    f"kl.function {self.name}: input_signature has "
                    f"{len(self.input_signature)} tensors, the call gave "
                    f"{len(tensor_leaves)}"
                )
            return self.input_signature
        specs = []
        for x in tensor_leaves:
            a = _array(x)
            if a.dtype == object:
                raise GraphError(f"kl.function {self.name}: cannot make a tensor of {x!r}")
            dtype = (
                x.dtype
                if isinstance(x, (Tensor, EagerVariable))
                else (
                    as_dtype(a.dtype)
                    if isinstance(x, (np.ndarray, np.generic))
                    else _default_dtype(a)
                )
            )
            dims = list(a.shape)
            if dims:
                dims[0] = None  # the batch: symbolic
            specs.append(TensorSpec(dims, dtype))
        return specs

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> _Concrete:
        """Trace (if needed) for these arguments and return the compiled trace."""
        self(*args, **kwargs)
        return list(self._cache.values())[-1]


def _array_key(args: tuple) -> tuple | None:
    """What fixes the trace of a call whose arguments are all numpy arrays or eager
    tensors (each its own spec: the dtype and the dims past the batch), else None."""
    key = []
    for a in args:
        kind = type(a)
        if kind is not np.ndarray and kind is not EagerTensor:
            return None
        shape = a.shape if kind is np.ndarray else a._value.shape
        key.append((kind, a.dtype, shape[1:], len(shape)))
    return tuple(key)


def _shape_of(structure: Any) -> Any:
    if isinstance(structure, dict):
        return {k: _shape_of(v) for k, v in sorted(structure.items())}
    if isinstance(structure, (list, tuple)):
        return [_shape_of(v) for v in structure]
    return "*"


def _static_key(x: Any) -> Any:
    try:
        hash(x)
        return (type(x).__name__, x)
    except TypeError:
        return (type(x).__name__, id(x))


def _check(a: np.ndarray, spec: TensorSpec, name: str) -> None:
    dims = spec.shape.dims
    if dims is None:
        return
    if len(dims) != a.ndim or any(d is not None and d != n for d, n in zip(dims, a.shape)):
        raise GraphError(
            f"kl.function {name}: argument of shape {list(a.shape)} does not match {spec}"
        )


def function(
    func: Callable | None = None,
    input_signature: Sequence[TensorSpec] | None = None,
    autograph: bool = True,
    jit_compile: bool | None = None,
    reduce_retracing: bool = False,
    experimental_compile: bool | None = None,
    **kwargs: Any,
) -> Any:
    """`@kl.function` or `kl.function(fn, input_signature=[...])` (tf.function):
    compiled on the first call of each input signature. Python control flow
    unrolls at trace time; autograph is not implemented (`autograph=` is
    accepted and ignored)."""
    jit = jit_compile if jit_compile is not None else experimental_compile
    if func is None:
        return lambda f: Function(f, input_signature, jit, **kwargs)
    return Function(func, input_signature, jit, **kwargs)
