"""Python inside a graph, TensorFlow's way: tf.py_func / tf.numpy_function /
tf.py_function (a Python function as a graph node), tf.print (TF 2's print
op) and tf.Print (TF 1's identity that prints).

py_func and print are host ops (strings.host_op): the Session runs them on
the Python side, their numeric inputs computed by a compiled call of their
own, their outputs fed to the rest (session.py). Like TensorFlow's py_func
they have no gradient. tf.Print must stay differentiable, since programs
put it in the middle of a model: it is an identity node, and a run hook
fetches and prints its `data` in every run whose fetches need that node.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .dtypes import as_dtype
from .eager import EagerTensor
from .errors import InvalidArgumentError
from .graph import GraphError, Operation, Tensor, TensorShape, executing_eagerly, get_default_graph
from .lowering import needed_ops
from .ops import constant, convert_to_tensor, group, identity
from .session import SessionRunArgs, SessionRunHook, register_run_hook
from .strings import host_op

__all__ = [
    "Print",
    "add_check_numerics_ops",
    "check_numerics",
    "numpy_function",
    "print",
    "py_func",
    "py_function",
]


def _value(x: Any) -> Any:
    return x.numpy() if hasattr(x, "numpy") else x


def _outputs(result: Any, dtypes: list, what: str) -> list[np.ndarray]:
    values = list(result) if isinstance(result, list | tuple) else [result]
    if len(values) != len(dtypes):
        raise GraphError(
            f"{what}: the function returned {len(values)} values, Tout has {len(dtypes)}"
        )
    out = []
    for v, dt in zip(values, dtypes):
        v = _value(v)
        out.append(np.asarray(v, dtype=object) if dt.is_string else np.asarray(v, dt.ir.numpy))
    return out


def _python_op(
    func: Callable, inp: Any, Tout: Any, name: str | None, op_type: str, eager_args: bool
) -> Any:
    single = not isinstance(Tout, list | tuple)
    dtypes = [as_dtype(t) for t in ([Tout] if single else Tout)]
    inputs = list(inp) if isinstance(inp, list | tuple) else [inp]
    tensors = [convert_to_tensor(x) for x in inputs]
    what = f"{name or op_type} ({getattr(func, '__name__', 'function')})"

    def wrap(a: np.ndarray, t: Tensor) -> Any:
        return EagerTensor(a, t.dtype) if eager_args else a

    if executing_eagerly():
        args = [wrap(np.asarray(t.numpy()), t) for t in tensors]
        values = _outputs(func(*args), dtypes, what)
        out = [constant(v, dtype=dt) for v, dt in zip(values, dtypes)]
    else:

        def run(*arrays: np.ndarray) -> list[np.ndarray]:
            try:
                result = func(*[wrap(a, t) for a, t in zip(arrays, tensors)])
            except GraphError:
                raise
            except Exception as e:  # the user's function failed: name the node
                raise GraphError(
                    f"{what}: the Python function raised {type(e).__name__}: {e}"
                ) from None
            return _outputs(result, dtypes, what)

        outputs = [(dt, TensorShape(None)) for dt in dtypes]
        out = host_op(op_type, tensors, run, outputs, name)
    if single:
        return out[0]
    return out


def py_func(
    func: Callable, inp: Any, Tout: Any, stateful: bool = True, name: str | None = None
) -> Any:
    """`func` on the inputs' numpy values as a graph node (tf.py_func, TF 1):
    returns a tensor per Tout (one tensor when Tout is one dtype). The
    outputs' shapes are unknown until run, as in TensorFlow; no gradient."""
    return _python_op(func, inp, Tout, name, "PyFunc", eager_args=False)


def numpy_function(
    func: Callable, inp: Any, Tout: Any, stateful: bool = True, name: str | None = None
) -> Any:
    """tf.numpy_function: tf.py_func's TF 2 name."""
    return _python_op(func, inp, Tout, name, "PyFunc", eager_args=False)


def py_function(func: Callable, inp: Any, Tout: Any, name: str | None = None) -> Any:
    """tf.py_function: as numpy_function, but `func` gets eager tensors."""
    return _python_op(func, inp, Tout, name, "EagerPyFunc", eager_args=True)


# ------------------------------------------------------------------ printing


def _format(value: Any, summarize: int | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.dtype == object:
        array = np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b)(
            array
        )
    limit = 3 if summarize is None else summarize
    with np.printoptions(
        threshold=limit if limit >= 0 else sys.maxsize,
        edgeitems=max(limit, 1),
        formatter={"float_kind": lambda v: f"{v:g}"},  # TensorFlow prints 6 for 6.0
    ):
        return np.array2string(array, separator=" ")


def print(  # noqa: A001  (TensorFlow's name)
    *inputs: Any,
    output_stream: Any = None,
    sep: str = " ",
    end: str = "\n",
    summarize: int | None = 3,
    name: str | None = None,
) -> Operation | None:
    """Print the inputs (tf.print): strings as text, tensors as their values
    (the first and last `summarize` entries of each dim). Eager: prints now.
    In a graph: returns the op that prints when run (or is a control input)."""
    stream = output_stream

    def emit(*values: Any) -> list:
        text = sep.join(_format(v, summarize) for v in values)
        out = stream if hasattr(stream, "write") else sys.stderr  # read now: tests swap it
        out.write(text + end)
        out.flush()
        return []

    if executing_eagerly():
        emit(*[_value(x) for x in inputs])
        return None
    items = [x for x in inputs if isinstance(x, Tensor) or hasattr(x, "_as_tensor")]
    tensors = [convert_to_tensor(x) for x in items]

    def run(*arrays: np.ndarray) -> list:
        by_position = iter(arrays)
        values = [next(by_position) if any(x is i for i in items) else x for x in inputs]
        return emit(*values)

    return get_default_graph().create_op(
        "PrintV2", tensors, name=name or "PrintV2", attrs={"_host_fn": run}, output_types=[]
    )


class _WatchHook(SessionRunHook):
    """Fetches the tensors watched for a node (`nodes[op][0]`) in the runs that need it;
    `after_run` then sees them in `self._watching`."""

    def __init__(self) -> None:
        self.nodes: dict[Operation, tuple] = {}
        self._plan: dict[tuple, list[Operation]] = {}
        self._watching: list[Operation] = []

    def before_run(self, context):
        if not self.nodes:
            return None
        key = (id(context.graph), tuple(id(f) for f in context.fetches), len(self.nodes))
        plan = self._plan.get(key)
        if plan is None:
            mine = [op for op in self.nodes if op.graph is context.graph]
            needed = needed_ops(context.fetches, set(context.feeds)) if mine else set()
            plan = self._plan[key] = [op for op in mine if op in needed]
        if not plan:
            return None
        self._watching = plan
        return SessionRunArgs(fetches=[t for op in plan for t in self.nodes[op][0]])


class _PrintHook(_WatchHook):
    """Fetches and prints tf.Print's data in the runs that need its node."""

    def after_run(self, context, values):
        for op in self._watching:
            data, message, summarize, first_n = self.nodes[op]
            if first_n >= 0:
                if first_n == 0:
                    continue
                self.nodes[op] = (data, message, summarize, first_n - 1)
            text = "".join(f"[{_format(values.results[t], summarize)}]" for t in data)
            sys.stderr.write(f"{message}{text}\n")
        sys.stderr.flush()


_HOOK = register_run_hook(_PrintHook())


def Print(  # noqa: N802  (TensorFlow's name)
    input_: Any,
    data: Sequence[Any],
    message: str | None = None,
    first_n: int | None = None,
    summarize: int | None = None,
    name: str | None = None,
) -> Tensor:
    """`input_`, printing `message` and the values of `data` to stderr when it
    is evaluated (tf.Print, TF 1): an identity for gradients. first_n limits
    how many runs print; summarize how many entries of each tensor."""
    x = convert_to_tensor(input_)
    tensors = [convert_to_tensor(d) for d in data]
    if executing_eagerly():
        text = "".join(f"[{_format(_value(t), summarize)}]" for t in tensors)
        sys.stderr.write(f"{message or ''}{text}\n")
        return x
    out = identity(x, name=name or "Print")
    n = -1 if first_n is None or first_n < 0 else int(first_n)
    _HOOK.nodes[out.op] = (tensors, message or "", summarize, n)
    return out


# ------------------------------------------------------------------ check_numerics


def _bad_values(value: Any) -> str | None:
    """TensorFlow's words for the non-finite values in `value`, or None."""
    a = np.asarray(value)
    if a.dtype.kind not in "fc":
        return None
    nan, inf = bool(np.isnan(a).any()), bool(np.isinf(a).any())
    if not (nan or inf):
        return None
    return "Inf and NaN" if nan and inf else "NaN" if nan else "Inf"


class _CheckHook(_WatchHook):
    """Raises InvalidArgumentError after a run in which a check_numerics node saw a NaN or
    an Inf (TensorFlow stops the run at that node; kiln reports it when the run ends)."""

    def after_run(self, context, values):
        for op in self._watching:
            (tensor,), message = self.nodes[op]
            bad = _bad_values(values.results[tensor])
            if bad:
                raise InvalidArgumentError(
                    f"{message} : Tensor had {bad} values (check_numerics {op.name})"
                )


_CHECK = register_run_hook(_CheckHook())


def check_numerics(tensor: Any, message: str, name: str | None = None) -> Tensor:
    """`tensor`, raising InvalidArgumentError "<message> : Tensor had NaN values" when it
    holds a NaN or an Inf (tf.debugging.check_numerics): an identity for gradients."""
    x = convert_to_tensor(tensor)
    if not x.dtype.is_floating:
        raise GraphError(f"check_numerics: {x.name} is {x.dtype.name}, not a float tensor")
    if executing_eagerly():
        bad = _bad_values(_value(x))
        if bad:
            raise InvalidArgumentError(f"{message} : Tensor had {bad} values")
        return x
    out = identity(x, name=name or "CheckNumerics")
    _CHECK.nodes[out.op] = ([x], message)
    return out


def add_check_numerics_ops() -> Operation | None:
    """One op checking every float tensor of the default graph for NaN and Inf
    (tf.compat.v1.add_check_numerics_ops): run it with the training op."""
    graph = get_default_graph()
    checks = [
        check_numerics(t, f"{op.name}:{i}")
        for op in list(graph.get_operations())
        if op not in _CHECK.nodes
        for i, t in enumerate(op.outputs)
        if t.dtype.is_floating and not t.dtype.is_string
    ]
    return group(*checks, name="CheckNumerics")
