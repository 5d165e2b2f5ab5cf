"""tf.custom_gradient: a function whose gradient the user gives.

`@kl.custom_gradient def f(x): ...; return y, grad` runs f's forward ops as
they are and puts one "CustomGradient" node over its outputs: the identity on
each y, whose gradient is grad's in place of the forward ops'. grad is traced
when f runs, with the forward values at hand, so a grad that closes over
forward tensors works: in graph mode (and in a kl.function trace) its ops join
the same graph, fed by a "CustomGradientSeed" node per output that stands for
dy; in eager mode a private tape that watches an eager dy (zeros) records
them, and the values they take from outside are the forward values the
differentiating tape lowered, or constants. When autodiff
reaches the node, lowering.py has its trace lower grad's recorded ops with dy
the cotangent, after the forward ops, in the same IR function.

Not supported: a grad that takes `variables=` (the form for functions that
read variables); kiln says so when f returns it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import Builder, Value
from .eager import EagerOperation, EagerTensor, EagerVariable, _record, active_tapes
from .graph import GraphError, Operation, Tensor, executing_eagerly, get_default_graph
from .lowering import lower_node, needed_ops
from .nest import flatten
from .ops import convert_to_tensor
from .tape import GradientTape

__all__ = ["custom_gradient"]


def custom_gradient(f: Callable | None = None) -> Callable:
    """Decorate `f(*xs) -> (ys, grad)` where `grad(*dys)` gives one gradient per
    x (a tensor for one x; a list or tuple for several; None for none)."""
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _call(f, args, kwargs)

    return wrapped


def _call(f: Callable, args: tuple, kwargs: dict) -> Any:
    name = getattr(f, "__name__", "custom_gradient")
    xs = [a.read_value() if isinstance(a, EagerVariable) else convert_to_tensor(a) for a in args]
    if executing_eagerly() and any(t.recording for t in active_tapes()):
        with GradientTape() as probe:  # sees the variables f reads
            out = f(*xs, **kwargs)
        read = probe.watched_variables()
        if read:
            raise _reads_variable(name, read[0])
    else:
        out = f(*xs, **kwargs)
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and callable(out[1])):
        raise GraphError(
            f"custom_gradient: {name} must return (outputs, grad_fn), got {type(out).__name__}"
        )
    result, grad_fn = out
    if "variables" in _parameters(grad_fn):
        raise GraphError(
            f"custom_gradient: the gradient function of {name} takes `variables` (TF's form "
            "for functions that read variables); kiln does not support it: pass the "
            "variables to the function as inputs instead"
        )
    ys = [convert_to_tensor(y) for y in flatten(result)]
    if executing_eagerly():
        if not any(t.recording for t in active_tapes()):
            return result  # nothing will ask for the gradient
        outputs = _eager_node(name, xs, ys, grad_fn)
    else:
        outputs = _graph_node(name, xs, ys, grad_fn)
    if isinstance(result, (list, tuple)):
        return type(result)(outputs)
    return outputs[0]


def _parameters(fn: Callable) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _input_gradients(raw: Any, xs: list[Tensor], name: str) -> list[Tensor | None]:
    grads = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if len(grads) != len(xs):
        raise GraphError(
            f"custom_gradient: the gradient function of {name} gave {len(grads)} "
            f"gradients for {len(xs)} inputs"
        )
    return [None if g is None else convert_to_tensor(g, dtype=x.dtype) for g, x in zip(grads, xs)]


def _graph_node(name: str, xs: list[Tensor], ys: list[Tensor], grad_fn: Callable) -> list:
    g = get_default_graph()
    variable = _variable_read(ys, xs)
    if variable is not None:
        raise _reads_variable(name, variable)
    seeds = [
        g.create_op(
            "CustomGradientSeed", [], name=f"{name}/dy", output_types=[(y.dtype, y.shape)]
        ).outputs[0]
        for y in ys
    ]
    grads = _input_gradients(grad_fn(*seeds), xs, name)
    op = g.create_op(
        "CustomGradient",
        [*xs, *ys],
        name=name,
        attrs={"trace": _GraphTrace(seeds, grads), "n_xs": len(xs)},
        output_types=[(y.dtype, y.shape) for y in ys],
    )
    return op.outputs


def _reads_variable(name: str, variable: Any) -> GraphError:
    return GraphError(
        f"custom_gradient: {name} reads the variable {variable.name}, whose gradient "
        "its gradient function cannot give (TF's grad_fn(*dys, variables=...), which "
        "kiln does not support): pass the variable to the function as an input"
    )


def _variable_read(ys: list[Tensor], xs: list[Tensor]) -> Operation | None:
    """A variable the ys depend on other than through the xs (graph mode)."""
    stop = {id(x) for x in xs}
    seen: set[int] = set()
    stack = list(ys)
    while stack:
        t = stack.pop()
        if id(t) in stop or id(t) in seen:
            continue
        seen.add(id(t))
        if t.op.type == "VariableV2" and t.dtype.is_floating:
            return t.op
        stack.extend(t.op.inputs)
    return None


def _eager_node(name: str, xs: list[Tensor], ys: list[Tensor], grad_fn: Callable) -> list:
    seeds = [EagerTensor(np.zeros_like(y._value), y.dtype) for y in ys]
    with _GradRecorder([t for t in active_tapes() if t.recording]) as tape:
        tape.watch(seeds)
        grads = _input_gradients(grad_fn(*seeds), xs, name)
    trace = _EagerTrace(seeds, grads, list(tape._ops))
    op = EagerOperation(
        get_default_graph(),
        "CustomGradient",
        name,
        [*xs, *ys],
        {"trace": trace, "n_xs": len(xs)},
        None,
        {},
    )
    op.outputs = [EagerTensor(y._value, y.dtype, op, i) for i, y in enumerate(ys)]
    _record(op)
    return op.outputs


class _GradRecorder(GradientTape):
    """Records grad's ops on dy and those on forward values the outer tapes
    watch (so a tape over the gradient differentiates through them)."""

    def __init__(self, outer: list[GradientTape]):
        super().__init__(persistent=True, watch_accessed_variables=False)
        self._outer = outer

    def watches_any(self, tensors: list[Tensor]) -> bool:
        return super().watches_any(tensors) or any(t.watches_any(tensors) for t in self._outer)


class _Trace:
    """grad's ops, traced at forward time; lowered when autodiff asks."""

    def __init__(self, seeds: list[Tensor], grads: list[Tensor | None]):
        self.seeds, self.grads = seeds, grads

    def lower(
        self,
        op: Operation,
        b: Builder,
        env: dict[Tensor, Value],
        state: dict | None,
        custom: dict | None,
    ) -> None:
        """The forward node: each output is its y behind a stop_gradient, whose
        rule (in `custom`) builds grad's ops from the cotangent."""
        n = op.attrs["n_xs"]
        xs = [env[t] for t in op.inputs[:n]]
        ys = [env[t] for t in op.inputs[n:]]
        for k, (y, out) in enumerate(zip(ys, op.outputs)):
            new = b.create("kiln.stop_gradient", y)
            env[out] = new.results[0]
            if custom is not None:
                custom[new] = self._rule(k, xs, ys, env, state, custom)

    def _rule(self, k, xs, ys, env, state, custom) -> Callable:
        def rule(ir_op: Any, b: Builder, g: Value) -> dict[Value, Value]:
            # one output's cotangent at a time: grad is linear in the dys
            dys = [
                g if j == k else b.broadcast_like(b.constant(0, y.type.dtype), y)
                for j, y in enumerate(ys)
            ]
            values = self.lower_gradients(b, env, state, custom, dys)
            out: dict[Value, Value] = {}
            for x, v in zip(xs, values):
                if v is not None:
                    out[x] = b.add(out[x], v) if x in out else v
            return out

        rule.inputs = xs
        return rule

    def lower_gradients(self, b, env, state, custom, dys) -> list[Value | None]:
        raise NotImplementedError


class _GraphTrace(_Trace):
    """grad's ops are in the forward graph; what they capture is in `env`."""

    def lower_gradients(self, b, env, state, custom, dys):
        local = dict(env)
        local.update(zip(self.seeds, dys))
        wanted = [r for r in self.grads if r is not None]
        needed = needed_ops(wanted, set(local))
        scratch_state = dict(state or {})
        for o in self.seeds[0].graph.get_operations() if self.seeds else []:
            if o in needed:
                lower_node(o, b, local, scratch_state, [], custom)
        return [None if r is None else local[r] for r in self.grads]


class _EagerTrace(_Trace):
    """grad's ops as a private tape recorded them; eager values from outside
    them are the forward values the tape lowered (so a tape over the gradient
    differentiates through them), else constants."""

    def __init__(self, seeds, grads, ops: list[EagerOperation]):
        super().__init__(seeds, grads)
        self.ops = ops

    def lower_gradients(self, b, env, state, custom, dys):
        local: dict[Tensor, Value] = dict(zip(self.seeds, dys))

        def value(t: Tensor) -> Value:
            if t not in local:  # a forward value the tape lowered, else a constant
                local[t] = env[t] if t in env else b.constant(np.asarray(t._value), t.dtype.ir)
            return local[t]

        for o in self.ops:
            for t in o.inputs:
                value(t)
            lower_node(o, b, local, {}, [], custom)
        return [None if r is None else value(r) for r in self.grads]
