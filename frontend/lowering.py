"""Lower the part of a graph that some fetches need into one IR function.

    f(feeds..., variables read...) -> (fetched values..., new variable values...)

The function's `aliases` attribute pairs each new variable value with the
argument that held the old one, so the memory plan updates variables in
place. Reads of a variable see its value at the start of the run; Assign,
AssignAdd and AssignSub ops update it in graph order (TensorFlow leaves the
order of unordered reads and writes unspecified; kiln fixes this one).

`lower_node` lowers one graph node into a builder's block; the Session, the
kl.function trace, GradientTape and a registered gradient (whose kl ops
become IR inside the autodiff, handed to it as a rule) all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import (
    Builder,
    KilnError,
    Location,
    Module,
    TensorType,
    Value,
    build_if,
    build_scan,
    build_while,
)
from ..ir.registry import has_gradient_rule
from ..ir.types import Symbol
from ..passes.autodiff import backward
from .gradients import registered_gradient
from .graph import Graph, GraphError, Operation, Tensor
from .ops import placeholder

FRONTEND_KINDS = {
    "Placeholder",
    "VariableV2",
    "Assign",
    "AssignAdd",
    "AssignSub",
    "NoOp",
    "Gradients",
    "RegionArg",
    "If",
    "While",
    "Scan",
}


@dataclass
class Lowered:
    """An IR function for one (fetches, feeds) pair and how to call it."""

    module: Module
    name: str
    feeds: list[Tensor]
    reads: list[Operation]  # VariableV2 ops passed as arguments, after the feeds
    fetches: list[Tensor | Operation]
    writes: list[Operation] = field(default_factory=list)  # VariableV2 ops, after fetches


def needed_ops(fetches: Sequence[Tensor | Operation], feeds: set[Tensor]) -> set[Operation]:
    """Every op the fetches depend on, through inputs and control inputs, stopping
    at fed tensors (iterative: graphs can be deep)."""
    seen: set[Operation] = set()
    stack: list[Tensor | Operation] = list(fetches)
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            if item in feeds:
                continue
            item = item.op
        if item in seen:
            continue
        seen.add(item)
        for i, t in enumerate(item.inputs):
            if item.type == "Assign" and i == 0:
                seen.add(t.op)  # the target: written, not read
                continue
            stack.append(t)
        stack.extend(item.control_inputs)
        stack.extend(getattr(item, "extra_dependencies", ()))
    return seen


def _ir_name(name: str) -> str:
    return name.replace("/", ".").replace("-", "_")


def arg_type(t: Tensor, fed: np.ndarray | None) -> TensorType:
    """A fed tensor's IR type: its static shape with None as `?`; an unknown rank
    takes the fed value's rank."""
    dims = t.shape.dims
    if dims is None:
        rank = 0 if fed is None else np.ndim(fed)
        dims = [None] * rank
    return TensorType(t.dtype.ir, [Symbol("?") if d is None else d for d in dims])


def lower(
    graph: Graph, fetches: Sequence[Tensor | Operation], feeds: dict[Tensor, Any], name: str = "run"
) -> Lowered:
    """Build the IR function that computes `fetches` from `feeds` and variables."""
    feed_list = list(feeds)
    needed = needed_ops(fetches, set(feed_list))
    ordered = [op for op in graph.get_operations() if op in needed]
    fetched = {f for f in fetches if isinstance(f, Tensor)}
    reads = [
        op
        for op in ordered
        if op.type == "VariableV2" and (_is_read(op, needed, feeds) or op.outputs[0] in fetched)
    ]
    module = Module()
    func = module.add_function(
        name,
        [arg_type(t, feeds[t]) for t in feed_list] + [op.outputs[0].ir_type for op in reads],
        [_ir_name(t.op.name) for t in feed_list] + [_ir_name(op.name) for op in reads],
    )
    env: dict[Tensor, Value] = dict(zip(feed_list, func.args))
    state: dict[Operation, Value] = {op: a for op, a in zip(reads, func.args[len(feed_list) :])}
    writes: list[Operation] = []
    custom: dict = {}  # IR op -> its graph op's registered gradient rule
    b = Builder.at_end(func.body)
    for op in ordered:
        if all(t in env for t in op.outputs) and op.outputs:
            continue  # fed
        if op.host_fn is not None and not op.outputs:
            continue  # a host op run for its effect: the session ran it before this call
        b.loc = Location(op.name)
        try:
            lower_node(op, b, env, state, writes, custom)
        except GraphError:
            raise
        except KilnError as e:
            message = str(e)
            raise GraphError(f"{op.name} ({op.type}): {message}") from None
    results: list[Value] = []
    for f in fetches:
        if isinstance(f, Tensor):
            if f not in env:
                raise GraphError(f"cannot fetch {f.name}: nothing computes it")
            results.append(env[f])
    aliases = [-1] * len(results)
    for var in writes:
        results.append(state[var])
        aliases.append(len(feed_list) + reads.index(var) if var in reads else -1)
    b.loc = Location()
    b.ret(*results)
    if any(a >= 0 for a in aliases):
        func.attrs["aliases"] = tuple(aliases)
    return Lowered(module, name, feed_list, reads, list(fetches), writes)


def _is_read(var: Operation, needed: set[Operation], feeds: dict) -> bool:
    """Whether some needed op reads the variable (not only assigns it)."""
    for op in needed:
        for i, t in enumerate(op.inputs):
            if t.op is var and not (op.type == "Assign" and i == 0) and t not in feeds:
                return True
    return False


def lower_node(
    op: Operation,
    b: Builder,
    env: dict[Tensor, Value],
    state: dict[Operation, Value] | None = None,
    writes: list[Operation] | None = None,
    custom: dict | None = None,
) -> None:
    """Build the IR of one graph node at `b`: its inputs are `env`'s values (its
    outputs are added there), `state` maps each variable to its current value
    and `writes` collects the variables it assigns; `custom` collects, per new
    IR op, the rule of a gradient the user registered for the node."""
    state = {} if state is None else state
    writes = [] if writes is None else writes
    kind = op.type
    if kind == "Placeholder":
        t = op.outputs[0]
        raise GraphError(
            f"you must feed a value for placeholder tensor {t.name!r} with dtype "
            f"{t.dtype.name} and shape {t.shape}"
        )
    if kind == "VariableV2":
        if op in state:
            env[op.outputs[0]] = state[op]
        return
    if kind == "NoOp":
        return
    if kind in ("Assign", "AssignAdd", "AssignSub"):
        var = op.inputs[0].op
        value = env[op.inputs[1]]
        if kind != "Assign":
            if var not in state:
                raise GraphError(f"{op.name}: variable {var.name} has no value to update")
            value = (b.add if kind == "AssignAdd" else b.sub)(state[var], value)
        state[var] = value
        if var not in writes:
            writes.append(var)
        env[op.outputs[0]] = value
        return
    if kind == "Gradients":
        lower_gradients(op, b, env, custom or {})
        return
    if kind == "RegionArg":
        raise GraphError(
            f"{op.name} stands for a loop variable or argument of a control-flow "
            "region; it has no value outside the region"
        )
    if kind in ("If", "While", "Scan"):
        lower_region_op(op, b, env, custom)
        return
    if kind == "CustomGradient":  # tf.custom_gradient (custom_gradient.py)
        op.attrs["trace"].lower(op, b, env, state, custom)
        return
    if kind == "CustomGradientSeed":
        raise GraphError(
            f"{op.name} stands for the output gradient of a tf.custom_gradient "
            "function; it has a value only while that gradient is built"
        )
    if op.ir_op is None:
        raise GraphError(f"{op.name}: kiln cannot lower ops of type {kind}")
    inputs = [env[t] for t in op.inputs]
    new = b.create(op.ir_op, *inputs, **op.ir_attrs)
    results: list[Value] = list(new.results)
    rule = registered_rule(op)
    if rule is not None and custom is not None:
        custom[new] = rule
    elif not has_gradient_rule(type(new)):
        # a composite without a gradient rule: its primitives, so autodiff sees them
        out = new.decompose(Builder.before(new))
        if out is not None:
            results = list(out) if isinstance(out, (list, tuple)) else [out]
            for old, value in zip(new.results, results):
                old.replace_all_uses_with(value)
            b.block.erase(new)
    for t, r in zip(op.outputs, results):
        r.name = _ir_name(op.name)
        env[t] = r


# ------------------------------------------------------------------ control flow


def _region_fn(region: Any, custom: dict | None) -> Callable[..., list[Value]]:
    """A build_* region function that lowers a traced region's graph ops."""

    def fn(rb: Builder, *block_args: Value) -> list[Value]:
        local: dict[Tensor, Value] = dict(zip(region.args, block_args))
        for inner in region.ops:
            rb.loc = Location(inner.name)
            lower_node(inner, rb, local, {}, [], custom)
        return [local[t] for t in region.outputs]

    return fn


def lower_region_op(
    op: Operation, b: Builder, env: dict[Tensor, Value], custom: dict | None = None
) -> None:
    """An If / While / Scan node (frontend/control_flow.py) as kiln.if / kiln.while /
    kiln.scan; its regions' graph ops are lowered into the region blocks."""
    regions = op.attrs["regions"]
    operands = [env[t] for t in op.inputs]
    if op.type == "If":
        fns = [_region_fn(r, custom) for r in regions]
        results = build_if(b, operands[0], operands[1:], fns[0], fns[1])
    elif op.type == "While":
        fns = [_region_fn(r, custom) for r in regions]
        results = build_while(
            b, operands, fns[0], fns[1], max_iterations=op.attrs.get("max_iterations", -1)
        )
    else:
        n = op.attrs["num_carried"]
        fn = _region_fn(regions[0], custom)
        results = build_scan(b, operands[:n], operands[n:], fn, reverse=op.attrs["reverse"])
    for t, r in zip(op.outputs, results):
        r.name = _ir_name(op.name)
        env[t] = r


# ------------------------------------------------------------------ gradients


def lower_gradients(
    op: Operation, b: Builder, env: dict[Tensor, Value], custom: dict | None = None
) -> None:
    """Build the gradient ops of a Gradients node after the forward ops in `b`'s block."""
    n_ys, n_xs = op.attrs["n_ys"], op.attrs["n_xs"]
    ys, xs, seeds = op.inputs[:n_ys], op.inputs[n_ys : n_ys + n_xs], op.inputs[n_ys + n_xs :]
    # ops without operands (constants, draws) pass no gradient on: left out, so
    # an x that is a constant is differentiated like any tensor (as in TF)
    forward = [o for o in b.block.ops if o.operands]
    if seeds:
        seed_values = [env[s] for s in seeds]
    else:
        seed_values = [b.broadcast_like(b.constant(1, y.dtype.ir), env[y]) for y in ys]
    wrt = [env[x] for x in xs]
    cotangents = backward(forward, b, wrt, [(env[y], s) for y, s in zip(ys, seed_values)], custom)
    for out, x in zip(op.outputs, xs):
        g = cotangents.get(env[x])
        if g is None:  # connected in the graph but not in the IR (e.g. through an integer)
            g = b.broadcast_like(b.constant(0, x.dtype.ir), env[x])
        env[out] = g


class _OpView:
    """What a registered gradient function sees of the forward op."""

    def __init__(self, op: Operation, inputs: list[Tensor], outputs: list[Tensor]):
        self._op, self.inputs, self.outputs = op, inputs, outputs
        self.type, self.name, self.node_def = op.type, op.name, None

    def get_attr(self, name: str) -> Any:
        return self._op.get_attr(name) if name in self._op.attrs else self._op.ir_attrs[name]


def registered_rule(op: Operation) -> Callable | None:
    """The IR gradient rule for a graph op whose gradient the user registered:
    autodiff calls it with the forward IR op and the output cotangents; it
    runs the user's function on placeholders in a scratch graph and lowers the
    kl ops it made with `lower_node`, so autodiff needs nothing of the frontend."""
    fn = registered_gradient(op)
    if fn is None:
        return None
    name = op.attrs.get("_gradient_op_type", op.type)

    def rule(ir_op, b: Builder, *cotangents: Value | None) -> list[Value | None]:
        scratch = Graph()
        with scratch.as_default():
            ins = [placeholder(t.dtype, t.shape.dims) for t in op.inputs]
            outs = [placeholder(t.dtype, t.shape.dims) for t in op.outputs]
            grads = [placeholder(t.dtype, t.shape.dims) for t in op.outputs]
            result = fn(_OpView(op, ins, outs), *grads)
        result = list(result) if isinstance(result, (list, tuple)) else [result]
        if len(result) != len(op.inputs):
            raise GraphError(
                f"the gradient {name!r} of {op.name} gave {len(result)} values "
                f"for {len(op.inputs)} inputs"
            )
        env: dict[Tensor, Value] = dict(zip(ins, ir_op.operands))
        env.update(zip(outs, ir_op.results))
        for t, g, r in zip(grads, cotangents, ir_op.results):
            env[t] = g if g is not None else b.broadcast_like(b.constant(0, r.type.dtype), r)
        wanted = [r for r in result if r is not None]
        needed = needed_ops(wanted, set(env))
        for scratch_op in scratch.get_operations():
            if scratch_op in needed and scratch_op.type != "Placeholder":
                lower_node(scratch_op, b, env)
        return [None if r is None else env[r] for r in result]

    return rule
