"""Variables, variable scopes, initializers and random tensors (TF 1.x).

`kl.Variable` is the common base of the two kinds of variable and a factory
of them: a graph variable (`GraphVariable`, here) is a VariableV2 node whose
value lives in a Session, with an Assign node as its initializer; in the IR
it is an argument of the compiled function and its new value a result (see
lowering.py). In eager mode and in a kl.function trace `kl.Variable(...)`
makes eager.py's `EagerVariable` instead.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .dtypes import DType, as_dtype, float32
from .graph import (
    Graph,
    GraphError,
    Operation,
    Tensor,
    TensorShape,
    get_default_graph,
    get_default_session,
)
from .ops import GraphKeys, add, constant, convert_to_tensor, group, less, make, multiply, where

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"


class _VariableFactory(type):
    """`kl.Variable(...)` makes the kind of variable the default context asks
    for (TF 2's VariableMetaclass does the same): a graph variable while
    building a graph, an eager variable (eager.py) in eager mode and in a
    kl.function trace, where it is captured by reference. The context names
    the kind (`Graph.variable_class`), so this module need not know the eager
    one. Both kinds subclass Variable: `isinstance(v, kl.Variable)` holds for
    either, as in TensorFlow."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Variable:
            cls = get_default_graph().variable_class or GraphVariable
        return super().__call__(*args, **kwargs)


class Variable(metaclass=_VariableFactory):
    """A value that persists across runs (tf.Variable): the common base of the
    graph variable (GraphVariable) and the eager one (eager.EagerVariable).
    Reads go through `_as_tensor()`, updates through `_update(kind, value,
    name)`; its arithmetic operators are its value's (operators.py)."""

    def _as_tensor(self) -> Tensor:
        raise NotImplementedError

    def _update(self, kind: str, value: Any, name: str | None) -> Tensor:
        raise NotImplementedError

    def get_shape(self) -> TensorShape:
        return self.shape

    def assign(self, value: Any, use_locking: bool = False, name: str | None = None) -> Tensor:
        """Set the variable to `value`; the result is the new value."""
        return self._update("Assign", value, name)

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None):
        return self._update("AssignAdd", delta, name)

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None):
        return self._update("AssignSub", delta, name)

    __hash__ = object.__hash__


class GraphVariable(Variable):
    """A variable of a TF 1.x graph: a VariableV2 node whose value lives in a
    Session, with an Assign node as its initializer."""

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        collections: Sequence[str] | None = None,
        validate_shape: bool = True,
    ):
        if initial_value is None:
            raise GraphError("kl.Variable needs an initial_value")
        g = get_default_graph()
        with g.control_dependencies(None):  # TF creates variables in an init_scope
            self._create(g, initial_value, trainable, name, dtype, collections)

    def _create(
        self,
        g: Any,
        initial_value: Any,
        trainable: bool,
        name: str | None,
        dtype: Any,
        collections: Sequence[str] | None,
    ) -> None:
        op_name = g.unique_name(name or "Variable")
        with g.name_scope(op_name + "/"):
            if callable(initial_value):
                initial_value = initial_value()
            init = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            if dtype is not None and init.dtype is not as_dtype(dtype):
                raise GraphError(
                    f"variable {op_name}: initial value is {init.dtype.name}, "
                    f"dtype says {as_dtype(dtype).name}"
                )
        if not init.shape.is_fully_defined():
            raise GraphError(
                f"variable {op_name}: its initial value needs a static shape, got {init.shape}"
            )
        op = g.create_op(
            "VariableV2",
            [],
            name=op_name,
            unique=False,
            output_types=[(init.dtype, init.shape)],
            attrs={"dtype": init.dtype, "shape": init.shape.as_list()},
        )
        with g.name_scope(op_name + "/"):
            initializer = g.create_op(
                "Assign",
                [op.outputs[0], init],
                name="Assign",
                output_types=[(init.dtype, init.shape)],
            )
        self._bind(op, initializer, init, trainable)
        for key in collections or [GLOBAL_VARIABLES]:
            g.add_to_collection(key, self)
        if trainable and TRAINABLE_VARIABLES not in (collections or []):
            g.add_to_collection(TRAINABLE_VARIABLES, self)

    @classmethod
    def from_graph(
        cls, op: Operation, initializer: Operation, initial_value: Tensor, trainable: bool
    ) -> GraphVariable:
        """The variable of existing nodes (a meta graph read back by import_meta_graph)."""
        var = object.__new__(cls)
        var._bind(op, initializer, initial_value, trainable)
        return var

    def _bind(
        self, op: Operation, initializer: Operation, initial_value: Tensor, trainable: bool
    ) -> None:
        self.graph, self.op, self.initializer = op.graph, op, initializer
        self.initial_value, self.trainable = initial_value, trainable
        op.graph.variables[op] = self

    # ------------------------------------------------------------ as a tensor
    def _as_tensor(self) -> Tensor:
        return self.op.outputs[0]

    value = read_value = _as_tensor

    @property
    def name(self) -> str:
        return self.op.name + ":0"

    @property
    def dtype(self) -> DType:
        return self._as_tensor().dtype

    @property
    def shape(self) -> TensorShape:
        return self._as_tensor().shape

    def eval(self, session: Any = None):
        return self._as_tensor().eval(session=session)

    # ------------------------------------------------------------ updates
    def _update(self, kind: str, value: Any, name: str | None) -> Tensor:
        v = convert_to_tensor(value, dtype=self.dtype)
        return self.graph.create_op(
            kind, [self._as_tensor(), v], name=name or kind, output_types=[(self.dtype, self.shape)]
        ).outputs[0]

    def load(self, value: Any, session: Any = None) -> None:
        """Set the variable's value in `session` directly (tf.Variable.load)."""
        (session or get_default_session()).set_variable(self, value)

    def __repr__(self) -> str:
        return f"<kl.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    __hash__ = object.__hash__


# ------------------------------------------------------------------ collections


def global_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(TRAINABLE_VARIABLES, scope)


def variables_initializer(var_list: Sequence[Variable], name: str = "init") -> Operation:
    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer() -> Operation:
    """An op that runs every variable's initializer."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def get_collection(name: str, scope: str | None = None) -> list:
    return get_default_graph().get_collection(name, scope)


# ------------------------------------------------------------------ random


def _seed(seed: int | None) -> int:
    """Op seed combined with the graph seed; a fresh one per op when not given."""
    g = get_default_graph()
    op_seed = g.next_seed() if seed is None else int(seed)
    graph_seed = g.seed if g.seed is not None else 87654321
    return (graph_seed * 1000003 + op_seed) % (2**31 - 1)


def set_random_seed(seed: int) -> None:
    get_default_graph().seed = int(seed)


def _draw(
    distribution: str, shape: Sequence[int], dtype: Any, seed: int | None, name: str
) -> Tensor:
    dt = as_dtype(dtype)
    return make(
        "RandomStandardNormal" if distribution == "normal" else "RandomUniform",
        "kiln.random",
        [],
        name,
        distribution=distribution,
        seed=_seed(seed),
        dtype=dt.ir,
        shape=[int(d) for d in shape],
    )


def random_normal(
    shape: Sequence[int],
    mean: float = 0.0,
    stddev: float = 1.0,
    dtype: Any = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Normal samples (tf.random_normal); counter-based, so the same seed gives
    the same values every run."""
    with get_default_graph().name_scope(name or "random_normal"):
        z = _draw("normal", shape, dtype, seed, "RandomStandardNormal")
        return add(multiply(z, stddev), mean, name="random_normal")


def random_uniform(
    shape: Sequence[int],
    minval: float = 0.0,
    maxval: float = 1.0,
    dtype: Any = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    with get_default_graph().name_scope(name or "random_uniform"):
        u = _draw("uniform", shape, dtype, seed, "RandomUniform")
        return add(multiply(u, maxval - minval), minval, name="random_uniform")


def truncated_normal(
    shape: Sequence[int],
    mean: float = 0.0,
    stddev: float = 1.0,
    dtype: Any = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Normal samples redrawn while outside 2 stddev (tf.truncated_normal):
    four independent draws, the first inside wins (all four miss with
    probability 4e-6; then the value is clipped to the bound)."""
    with get_default_graph().name_scope(name or "truncated_normal"):
        base = _seed(seed)
        draws = [
            make(
                "RandomStandardNormal",
                "kiln.random",
                [],
                None,
                distribution="normal",
                seed=(base + 7919 * k) % (2**31 - 1),
                dtype=as_dtype(dtype).ir,
                shape=[int(d) for d in shape],
            )
            for k in range(4)
        ]
        z = draws[-1]
        z = make(
            "Maximum",
            "kiln.max",
            [make("Minimum", "kiln.min", [z, constant(2.0, dtype)]), constant(-2.0, dtype)],
        )
        for d in reversed(draws[:-1]):
            z = where(less(make("Abs", "kiln.abs", [d]), 2.0), d, z)
        return add(multiply(z, stddev), mean, name="truncated_normal")


# ------------------------------------------------------------------ initializers


class Initializer:
    """Makes a variable's initial value: `init(shape, dtype)` -> a tensor."""

    def __init__(self, fn: Callable[[Sequence[int], Any], Tensor], dtype: Any = float32):
        self.fn, self.dtype = fn, dtype

    def __call__(self, shape: Sequence[int], dtype: Any = None, partition_info: Any = None):
        return self.fn(list(shape), dtype if dtype is not None else self.dtype)


def constant_initializer(value: Any = 0, dtype: Any = float32) -> Initializer:
    return Initializer(lambda shape, dt: constant(value, dtype=dt, shape=shape), dtype)


def zeros_initializer(dtype: Any = float32) -> Initializer:
    return constant_initializer(0, dtype)


def ones_initializer(dtype: Any = float32) -> Initializer:
    return constant_initializer(1, dtype)


def random_normal_initializer(
    mean: float = 0.0, stddev: float = 1.0, seed: int | None = None, dtype: Any = float32
) -> Initializer:
    return Initializer(lambda s, dt: random_normal(s, mean, stddev, dt, seed), dtype)


def truncated_normal_initializer(
    mean: float = 0.0, stddev: float = 1.0, seed: int | None = None, dtype: Any = float32
) -> Initializer:
    return Initializer(lambda s, dt: truncated_normal(s, mean, stddev, dt, seed), dtype)


def random_uniform_initializer(
    minval: float = 0.0, maxval: float = 1.0, seed: int | None = None, dtype: Any = float32
) -> Initializer:
    return Initializer(lambda s, dt: random_uniform(s, minval, maxval, dt, seed), dtype)


def _fans(shape: Sequence[int]) -> tuple[float, float]:
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def glorot_uniform_initializer(seed: int | None = None, dtype: Any = float32) -> Initializer:
    """Uniform in +-sqrt(6 / (fan_in + fan_out)): get_variable's default, as TF."""

    def make_value(shape, dt):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return random_uniform(shape, -limit, limit, dt, seed)

    return Initializer(make_value, dtype)


def glorot_normal_initializer(seed: int | None = None, dtype: Any = float32) -> Initializer:
    def make_value(shape, dt):
        fan_in, fan_out = _fans(shape)
        return truncated_normal(
            shape, 0.0, math.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566, dt, seed
        )

    return Initializer(make_value, dtype)


# ------------------------------------------------------------------ variable scopes

AUTO_REUSE = "AUTO_REUSE"


class _VarScope:
    def __init__(self, name: str, reuse: Any, initializer: Any):
        self.name, self.reuse, self.initializer = name, reuse, initializer

    def reuse_variables(self) -> None:
        """From here on get_variable in this scope returns existing variables."""
        self.reuse = True


def _scopes(g: Graph) -> list[_VarScope]:
    if not g.variable_scopes:
        g.variable_scopes.append(_VarScope("", False, None))
    return g.variable_scopes


def get_variable_scope() -> _VarScope:
    return _scopes(get_default_graph())[-1]


@contextlib.contextmanager
def variable_scope(
    name_or_scope: Any,
    default_name: str | None = None,
    values: Any = None,
    initializer: Any = None,
    reuse: Any = None,
    **_: Any,
) -> Iterator[_VarScope]:
    """Prefix variable names made by get_variable (and op names) with the scope;
    `reuse=True` makes get_variable return existing variables (tf.variable_scope)."""
    g = get_default_graph()
    stack = _scopes(g)
    parent = stack[-1]
    base = (
        name_or_scope.name
        if isinstance(name_or_scope, _VarScope)
        else (name_or_scope or default_name)
    )
    if base is None:
        raise GraphError("variable_scope needs a name or a default_name")
    full = (
        base if isinstance(name_or_scope, _VarScope) or not parent.name else f"{parent.name}/{base}"
    )
    inherited = (
        reuse
        if reuse is not None
        else (name_or_scope.reuse if isinstance(name_or_scope, _VarScope) else parent.reuse)
    )
    scope = _VarScope(
        full, True if parent.reuse is True else inherited, initializer or parent.initializer
    )
    stack.append(scope)
    try:
        with g.name_scope(base if not isinstance(name_or_scope, _VarScope) else full):
            yield scope
    finally:
        stack.pop()


def get_variable(
    name: str,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    trainable: bool = True,
    collections: Sequence[str] | None = None,
    **_: Any,
) -> Variable:
    """The variable `scope/name`: made when new, returned when the scope reuses
    (tf.get_variable). The default initializer is glorot_uniform, as TF's."""
    g = get_default_graph()
    scope = _scopes(g)[-1]
    full = f"{scope.name}/{name}" if scope.name else name
    store = g.variable_store
    if full in store:
        if scope.reuse in (True, AUTO_REUSE):
            return store[full]
        raise GraphError(
            f"variable {full} already exists, disallowed: did you mean to set "
            "reuse=True or reuse=kl.AUTO_REUSE in variable_scope?"
        )
    if scope.reuse is True:
        raise GraphError(
            f"variable {full} does not exist, or was not created with "
            "get_variable(): did you mean to set reuse=kl.AUTO_REUSE?"
        )
    init = initializer if initializer is not None else scope.initializer
    dt = as_dtype(dtype) if dtype is not None else float32
    if dtype is None and init is not None and not callable(init):
        # a value (a tensor, a list, an array) gives its own dtype, as in TF
        init = convert_to_tensor(init)
        dt = init.dtype
    if init is None:
        init = glorot_uniform_initializer()
    if callable(init) and shape is None:
        raise GraphError(f"get_variable({full!r}): give a shape with an initializer")

    def make_value() -> Tensor:
        if callable(init):
            return init(list(shape), dt)
        return convert_to_tensor(init, dtype=dt)

    with g.name_scope(None):
        var = Variable(
            make_value, trainable=trainable, name=full, dtype=dt, collections=collections
        )
    if shape is not None and var.shape.as_list() != list(shape):
        raise GraphError(
            f"get_variable({full!r}): initial value has shape {var.shape}, expected {list(shape)}"
        )
    store[full] = var
    if regularizer is not None:  # TF: the loss `<var>/Regularizer/...` in REGULARIZATION_LOSSES
        with g.name_scope(None), g.name_scope(full + "/Regularizer"):
            loss = regularizer(var)
        if loss is not None:
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return var
