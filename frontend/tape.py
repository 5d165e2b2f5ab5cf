"""kl.GradientTape: gradients of eager computations, by the one IR autodiff.

A tape watches tensors (`watch`, and every trainable variable read inside it)
and records each eager op that has a watched input. `gradient(y, x)` makes a
"Gradients" op, the node `kl.gradients` adds in graph mode, and lowers the
recorded ops and that node into one IR function exactly as a Session lowers
a graph (`lowering.lower_node`; the Gradients node through
`lowering.lower_gradients`, that is `passes/autodiff.backward`). So tape and
graph gradients are one autodiff. The function's arguments are the values
the recorded ops took from outside (watched constants, variable reads); it
runs op by op on the eager kernel cache.

The Gradients op is itself an eager op: a tape outside records it when it
watches one of its inputs, and lowering it again inside that tape's function
differentiates through the backward pass -- second derivatives by nesting.
Inside a kl.function trace a tape records nothing and `gradient` is
`kl.gradients` on the trace graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..ir import Builder, KilnError, Module, TensorType
from .eager import (
    _INTERPRETER,
    EagerOperation,
    EagerTensor,
    EagerVariable,
    _record,
    active_tapes,
    kernel_for,
)
from .gradients import gradients as graph_gradients
from .graph import GraphError, Tensor, executing_eagerly
from .lowering import lower_gradients, lower_node
from .nest import flatten, pack_sequence_as
from .ops import add_n

__all__ = ["GradientTape", "UnconnectedGradients", "run_function"]


class UnconnectedGradients:
    """What `gradient` gives for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


# ------------------------------------------------------------------ the tape


class GradientTape:
    """Records eager ops for differentiation (tf.GradientTape).

    `persistent=True` allows several `gradient` calls; otherwise the tape's
    record is dropped after the first. `watch_accessed_variables=False` makes
    only `watch`ed tensors and variables count."""

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self.recording = False
        self._reset()

    def _reset(self) -> None:
        self._watched: dict[int, Tensor] = {}
        self._ops: list[EagerOperation] = []
        self._op_set: set[EagerOperation] = set()
        self._watched_vars: dict[EagerVariable, None] = {}
        self._var_reads: dict[EagerVariable, list[EagerTensor]] = {}
        self._used = False

    # ------------------------------------------------------------ context
    def __enter__(self) -> GradientTape:
        if self.recording:
            raise GraphError("this GradientTape is already recording")
        active_tapes().append(self)
        self.recording = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.recording = False
        if self in active_tapes():
            active_tapes().remove(self)

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Ops inside are not recorded (tf's tape.stop_recording())."""
        if not self.recording:
            raise GraphError("stop_recording() on a tape that is not recording")
        self.recording = False
        try:
            yield
        finally:
            self.recording = True

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self._reset()

    # ------------------------------------------------------------ watching
    def watch(self, tensor: Any) -> None:
        """Watch eager tensors or variables (nested structures too)."""
        for x in flatten(tensor):
            if isinstance(x, EagerVariable):
                self._watched_vars[x] = None
            elif isinstance(x, EagerTensor):
                self._watched[id(x)] = x
            elif isinstance(x, Tensor) or hasattr(x, "_as_tensor"):
                continue  # a graph tensor in a kl.function trace: kl.gradients sees all
            else:
                raise GraphError(f"GradientTape.watch: {x!r} is not a tensor or variable")

    def watched_variables(self) -> list[EagerVariable]:
        """The variables this tape watched or saw read."""
        seen = dict(self._watched_vars)
        seen.update(dict.fromkeys(self._var_reads))
        return list(seen)

    def watches_any(self, tensors: list[Tensor]) -> bool:
        watched = self._watched
        return any(id(t) in watched for t in tensors)

    def record(self, op: EagerOperation) -> None:
        self._ops.append(op)
        self._op_set.add(op)
        for t in op.outputs:
            if t.dtype.is_floating:
                self._watched[id(t)] = t

    def variable_read(self, var: EagerVariable, read: EagerTensor) -> None:
        if (var.trainable and self._watch_accessed) or var in self._watched_vars:
            if var.dtype.is_floating:
                self._watched[id(read)] = read
                self._var_reads.setdefault(var, []).append(read)

    # ------------------------------------------------------------ gradients
    def gradient(
        self,
        target: Any,
        sources: Any,
        output_gradients: Any = None,
        unconnected_gradients: str = UnconnectedGradients.NONE,
    ) -> Any:
        """d(sum of targets)/d(source) for each source, in `sources`' structure;
        `output_gradients` weights the targets (tf's GradientTape.gradient)."""
        if not executing_eagerly():
            return self._graph_gradient(target, sources, output_gradients)
        if self._used and not self._persistent:
            raise GraphError(
                "a non-persistent GradientTape can compute one gradient; "
                "use GradientTape(persistent=True) for more"
            )
        ys = [_as_eager(y, "target") for y in flatten(target)]
        for y in ys:
            if not y.dtype.is_floating:
                raise GraphError(
                    f"GradientTape.gradient: the target is {y.dtype.name}; only "
                    "floating-point tensors can be differentiated"
                )
        seeds = []
        if output_gradients is not None:
            seeds = [_as_eager(g, "output gradient") for g in flatten(output_gradients)]
            if len(seeds) != len(ys):
                raise GraphError(
                    f"GradientTape.gradient: {len(seeds)} output_gradients for {len(ys)} targets"
                )
            seeds = [_cast_like(s, y) for s, y in zip(seeds, ys)]
        flat_sources = flatten(sources)
        for s in flat_sources:
            if not isinstance(s, (EagerTensor, EagerVariable)):
                raise GraphError(
                    f"GradientTape.gradient: source {s!r} is not an eager tensor or variable"
                )
        per_source = [
            self._var_reads.get(s, []) if isinstance(s, EagerVariable) else [s]
            for s in flat_sources
        ]
        wanted = list({id(x): x for xs in per_source for x in xs}.values())
        reached = self._reached(ys)
        connected = [x for x in wanted if x.dtype.is_floating and id(x) in reached]
        grads = dict(zip(connected, self._differentiate(ys, connected, seeds))) if connected else {}
        results = []
        for s, xs in zip(flat_sources, per_source):
            parts = [grads[x] for x in xs if x in grads]
            if not parts:
                results.append(
                    _zeros_like(s) if unconnected_gradients == UnconnectedGradients.ZERO else None
                )
            elif len(parts) == 1:
                results.append(parts[0])
            else:
                results.append(add_n(parts))
        if not self._persistent:
            self._used = True
            self._ops, self._op_set, self._watched = [], set(), {}
        return pack_sequence_as(sources, results)

    def _graph_gradient(self, target: Any, sources: Any, output_gradients: Any) -> Any:
        """In a kl.function trace: kl.gradients on the trace graph."""
        flat = flatten(sources)
        xs = [s._as_tensor() if hasattr(s, "_as_tensor") else s for s in flat]
        grad_ys = None if output_gradients is None else flatten(output_gradients)
        grads = graph_gradients(flatten(target), xs, grad_ys=grad_ys)
        return pack_sequence_as(sources, grads)

    def _reached(self, ys: list[EagerTensor]) -> set[int]:
        """ids of the tensors the targets depend on through recorded ops."""
        seen: set[int] = set()
        stack = list(ys)
        while stack:
            t = stack.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            if t.op in self._op_set:
                stack.extend(t.op.inputs)
        return seen

    def _differentiate(
        self, ys: list[EagerTensor], xs: list[EagerTensor], seeds: list[EagerTensor]
    ) -> list[EagerTensor]:
        """Run a Gradients op over this tape's record; returns one tensor per x."""
        op = EagerOperation(
            ys[0].graph,
            "Gradients",
            "gradients",
            [*ys, *xs, *seeds],
            {"n_ys": len(ys), "n_xs": len(xs)},
            None,
            {},
        )
        op.outputs = [EagerTensor(None, x.dtype, op, i) for i, x in enumerate(xs)]
        needed = self._needed(op)
        module = Module()
        produced = {id(t) for o in needed for t in o.outputs}
        outside: dict[int, Tensor] = {}
        for o in [*needed, op]:
            for t in o.inputs:
                if id(t) not in produced:
                    outside.setdefault(id(t), t)
        externals = list(outside.values())
        func = module.add_function(
            "tape_gradient",
            [TensorType(t.dtype.ir, t._value.shape) for t in externals],
            [f"in{i}" for i in range(len(externals))],
        )
        env = dict(zip(externals, func.args))
        b = Builder.at_end(func.body)
        custom: dict = {}
        try:
            for o in needed:
                lower_node(o, b, env, custom=custom)
            lower_gradients(op, b, env, custom)
        except KilnError as e:
            raise GraphError(f"GradientTape.gradient: {e}") from None
        b.ret(*[env[t] for t in op.outputs])
        values = run_function(module, "tape_gradient", [t._value for t in externals])
        for t, v in zip(op.outputs, values):
            t._value = v
        _record(op)  # an outer tape watching an input differentiates through it
        return op.outputs

    def _needed(self, grad_op: EagerOperation) -> list[EagerOperation]:
        """The recorded ops the Gradients op depends on, in recording order."""
        needed: set[EagerOperation] = set()
        stack = list(grad_op.inputs)
        while stack:
            t = stack.pop()
            op = t.op
            if op in self._op_set and op not in needed:
                needed.add(op)
                stack.extend(op.inputs)
        return [o for o in self._ops if o in needed]


def _as_eager(x: Any, what: str) -> EagerTensor:
    if isinstance(x, EagerVariable):
        return x.read_value()
    if not isinstance(x, EagerTensor):
        raise GraphError(f"GradientTape.gradient: the {what} {x!r} is not an eager tensor")
    return x


def _cast_like(seed: EagerTensor, y: EagerTensor) -> EagerTensor:
    if seed.dtype is y.dtype:
        return seed
    return EagerTensor(seed._value.astype(y.dtype.ir.numpy), y.dtype)


def _zeros_like(s: Any) -> EagerTensor:
    value = np.zeros(np.shape(s._value), s.dtype.ir.numpy)
    return EagerTensor(value, s.dtype)


def run_function(module: Module, name: str, args: list[np.ndarray]) -> list[np.ndarray]:
    """Run an IR function op by op on the eager kernel cache (ops without
    operands, constants and draws, through the reference interpreter)."""
    func = module[name]
    env = {id(a): v for a, v in zip(func.args, args)}
    end = func.body.terminator
    for op in func.body.ops:
        inputs = [env[id(v)] for v in op.operands]
        if op is end:
            return inputs
        if op.operands:
            outs = kernel_for(op.name, op.attrs, inputs, op.name)(inputs)
        else:
            outs = _INTERPRETER.evaluate_op(op, inputs)
        for r, out in zip(op.results, outs):
            env[id(r)] = out
    raise GraphError(f"@{name} has no return")
