"""Converters of ONNX's control flow: If, Loop and Scan onto kiln.if,
kiln.while and kiln.scan, their subgraphs imported as the ops' regions.

kiln's regions are isolated from above, ONNX's subgraphs are not: a subgraph
may use any value of an enclosing graph. Those values (found by `free_names`,
through nested subgraphs too) come into the region explicitly: one known at
import (a weight, a shape) as a constant built inside the region, any other as
an operand of the region op (for a loop: a carried value that the body passes
through unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...ir.builder import Builder
from ...ir.control_flow import build_if, build_scan, build_while
from ...ir.core import Value
from ...ir.gradient import reverse
from . import Context, Node, UnknownAtImport, converter, dtype_of_elem

Captured = Sequence[Value]


def scan_with(
    ctx: Context,
    init: Sequence[Value],
    xs: Sequence[Value],
    captured: Captured,
    body: Callable,
    reverse: bool = False,
) -> tuple[list[Value], list[Value]]:
    """build_scan with the outer values `captured` available in the body:
    `body(bb, carried, slices, inner)` (inner: the captured values as the body
    sees them) returns (next carried values, step outputs). Returns (the final
    carried values, the stacked outputs)."""
    known = [ctx.value_of(v) for v in captured]
    passed = [v for v, k in zip(captured, known) if k is None]
    n, p = len(init), len(passed)

    def region(bb: Builder, *args: Value) -> list[Value]:
        carried, through, slices = args[:n], args[n : n + p], args[n + p :]
        it = iter(through)
        inner = [
            next(it) if k is None else bb.constant(k.astype(v.type.dtype.numpy), v.type.dtype)
            for v, k in zip(captured, known)
        ]
        new, outs = body(bb, list(carried), list(slices), inner)
        return [*new, *through, *outs]

    results = build_scan(ctx.b, [*init, *passed], list(xs), region, reverse=reverse)
    return results[:n], results[n + p :]


# ------------------------------------------------------------------ subgraphs


def free_names(graph) -> list[str]:
    """The names `graph` (and the subgraphs inside it) uses without defining them:
    values of an enclosing graph, in the order of first use."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    free: list[str] = []

    def use(name: str) -> None:
        if name and name not in defined and name not in free:
            free.append(name)

    for node in graph.node:
        for name in node.input:
            use(name)
        for a in node.attribute:
            for g in [a.g] if a.HasField("g") else list(a.graphs):
                for name in free_names(g):
                    use(name)
        defined.update(node.output)
    for o in graph.output:
        use(o.name)
    return free


class Scope:
    """The outer values a subgraph uses, split into those known at import
    (rebuilt as constants inside the region) and those passed in as operands."""

    def __init__(self, ctx: Context, node: Node, graphs: Sequence):
        self.known: dict[str, np.ndarray] = {}
        self.names: list[str] = []
        self.values: list[Value] = []
        outer = ctx.values or {}
        for graph in graphs:
            for name in free_names(graph):
                if name in self.known or name in self.names:
                    continue
                if name not in outer:
                    raise ctx.error(
                        node, f"subgraph '{graph.name}' uses '{name}', which is not defined"
                    )
                v = outer[name]
                if v is None:
                    continue
                k = ctx.value_of(v)
                if k is not None:
                    self.known[name] = k
                else:
                    self.names.append(name)
                    self.values.append(v)

    def bind(self, args: Sequence[Value]) -> dict[str, Value]:
        return dict(zip(self.names, args))


def import_graph(
    ctx: Context,
    graph,
    b: Builder,
    bound: dict[str, Value | None],
    known: dict[str, np.ndarray] | None = None,
) -> list[Value]:
    """Convert the nodes of `graph` with `b` (a region's builder, or the outer one
    to inline it); `bound` maps its inputs and the outer names it uses to
    values, `known` outer names to constants. Returns its outputs."""
    from ..importer import tensor_array

    sub = Context(b, ctx.opset, ctx.opsets)
    sub._known, sub._dims, sub.importer = ctx._known, ctx._dims, ctx.importer
    values: dict[str, Value | None] = {"": None, **bound}
    for name, array in (known or {}).items():
        values[name] = sub.constant(array)
    for t in graph.initializer:
        values[t.name] = sub.constant(
            tensor_array(t, f"initializer '{t.name}'"), dtype_of_elem(t.data_type, t.name)
        )
    for o in [*graph.input, *graph.output]:
        kind = o.type.WhichOneof("value")
        if kind not in (None, "tensor_type") and b is not ctx.b:  # inlined: host-side values
            raise ctx.error(
                None,
                f"subgraph '{graph.name}' value '{o.name}' has type {kind.replace('_type', '')}: "
                "kiln imports tensors only (ONNX Sequence and Optional values are not supported)",
            )
    for proto in graph.node:
        ctx.importer.convert_node(sub, proto, values)
    outs = []
    for o in graph.output:
        if values.get(o.name) is None:
            raise ctx.error(None, f"subgraph '{graph.name}' output '{o.name}' is not computed")
        outs.append(values[o.name])
    return outs


def _constant(ctx: Context, b: Builder, array: np.ndarray) -> Value:
    """A constant built with `b` (a region's builder) that `ctx` knows the value of."""
    v = b.constant(np.asarray(array))
    ctx.set_value(v, np.asarray(array))
    return v


def _scalar(ctx: Context, node: Node, v: Value, what: str) -> Value:
    """A rank-0 bool (ONNX allows a bool of shape [1])."""
    if not v.type.dtype.is_bool:
        raise ctx.error(node, f"{what} must be a bool tensor, got {v.type}")
    if v.type.rank:
        if any(d != 1 for d in v.type.shape):
            raise ctx.error(node, f"{what} must hold one element, got {v.type}")
        v = ctx.b.reshape(v, shape=[])
    return v


@converter("If", since=1)
def if_(ctx: Context, node: Node) -> list[Value]:
    """kiln.if over the two branches; a predicate known at import inlines its branch."""
    then_g, else_g = node.attr("then_branch"), node.attr("else_branch")
    pred = node.inputs[0]
    known = ctx.value_of(pred)
    if known is not None:
        taken = then_g if bool(np.asarray(known).reshape(-1)[0]) else else_g
        return import_graph(ctx, taken, ctx.b, dict(ctx.values or {}))
    if any(o.type.WhichOneof("value") not in (None, "tensor_type") for o in then_g.output):
        raise ctx.unknown(node, "the condition of an If with sequence or optional outputs")
    pred = _scalar(ctx, node, pred, "the condition")
    scope = Scope(ctx, node, [then_g, else_g])

    def branch(graph):
        return lambda bb, *args: import_graph(ctx, graph, bb, scope.bind(args), scope.known)

    return build_if(ctx.b, pred, scope.values, branch(then_g), branch(else_g))


def _axis(ctx: Context, node: Node, axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ctx.error(node, f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def _move(b: Builder, x: Value, src: int, dst: int) -> Value:
    """x with its axis `src` moved to `dst`."""
    if src == dst:
        return x
    perm = [k for k in range(x.type.rank) if k != src]
    perm.insert(dst, src)
    return b.transpose(x, perm=perm)


def _flip(ctx: Context, node: Node, x: Value) -> Value:
    if not isinstance(x.type.shape[0], int):
        raise ctx.error(node, f"a reversed scan over {x.type} needs a static length")
    return reverse(ctx.b, x, 0)


def _scan(ctx: Context, node: Node, states, scans, in_axes, in_dirs, out_axes, out_dirs):
    """One ONNX Scan (opset 9 form) of `states` over `scans`."""
    body = node.attr("body")
    names = [i.name for i in body.input]
    n = len(states)
    if len(names) != n + len(scans):
        raise ctx.error(
            node, f"the body takes {len(names)} inputs, the node gives {n + len(scans)}"
        )
    xs = []
    for k, x in enumerate(scans):
        x = _move(ctx.b, x, _axis(ctx, node, in_axes[k], x.type.rank, "scan_input_axes"), 0)
        xs.append(_flip(ctx, node, x) if in_dirs[k] else x)
    scope = Scope(ctx, node, [body])

    def step(bb, carried, slices, inner):
        bound = dict(zip(names, [*carried, *slices]))
        bound.update(scope.bind(inner))
        outs = import_graph(ctx, body, bb, bound, scope.known)
        return outs[:n], outs[n:]

    final, stacked = scan_with(ctx, states, xs, scope.values, step)
    outs = []
    for k, y in enumerate(stacked):
        if k < len(out_dirs) and out_dirs[k]:
            y = _flip(ctx, node, y)
        axis = out_axes[k] if k < len(out_axes) else 0
        outs.append(_move(ctx.b, y, 0, _axis(ctx, node, axis, y.type.rank, "scan_output_axes")))
    return [*final, *outs]


@converter("Scan", since=9)
def scan(ctx: Context, node: Node) -> list[Value]:
    """kiln.scan: the states carried, the scan inputs sliced along their
    scan_input_axes (reversed where scan_input_directions says 1), the scan
    outputs stacked along scan_output_axes."""
    m = int(node.attr("num_scan_inputs"))
    inputs = node.inputs
    states, scans = inputs[: len(inputs) - m], inputs[len(inputs) - m :]
    in_axes = list(node.attr("scan_input_axes", [0] * m))
    in_dirs = list(node.attr("scan_input_directions", [0] * m))
    k = len(node.attr("body").output) - len(states)
    out_axes = list(node.attr("scan_output_axes", [0] * k))
    out_dirs = list(node.attr("scan_output_directions", [0] * k))
    return _scan(ctx, node, states, scans, in_axes, in_dirs, out_axes, out_dirs)


@converter("Scan", since=8)
def scan8(ctx: Context, node: Node) -> list[Value]:
    """Opset 8's batched Scan (states [B, ...], scan inputs [B, T, ...]): one
    scan per batch entry (B static), the results stacked."""
    m = int(node.attr("num_scan_inputs"))
    lens, inputs = node.input(0), node.inputs[1:]
    states, scans = inputs[: len(inputs) - m], inputs[len(inputs) - m :]
    dirs = list(node.attr("directions", [0] * m))
    b = ctx.b
    batch = scans[0].type.shape[0]
    if not isinstance(batch, int):
        raise ctx.error(node, f"opset 8 Scan needs a static batch dim, got {scans[0].type}")
    if lens is not None:
        known = ctx.value_of(lens)
        steps = scans[0].type.shape[1]
        if known is None or not np.all(np.asarray(known) == steps):
            raise ctx.error(node, "sequence_lens shorter than the scan inputs are not supported")
    per = []
    for i in range(batch):
        row = [b.squeeze(b.slice(v, axes=[0], starts=[i], stops=[i + 1]), axes=[0]) for v in inputs]
        per.append(_scan(ctx, node, row[: len(states)], row[len(states) :], [0] * m, dirs, [], []))
    return [
        b.concat(*[b.expand_dims(r[k], axis=0) for r in per], axis=0) for k in range(len(per[0]))
    ]


SCAN_LIMIT = 1 << 24  # trips of a Loop with scan outputs (a kiln.scan over M numbers)
UNROLL_LIMIT = 256  # trips of a Loop unrolled when its body needs the iteration number


def _always_true(ctx: Context, node: Node, body) -> bool:
    """Whether the loop condition can never turn false: it starts true (no `cond`
    input, or one known true) and the body passes it on (through Identity) or
    yields a constant true. (ONNX Runtime and onnx's reference read the body's
    cond output even when the node has no `cond` input.)"""
    cond = node.input(1)
    if cond is not None:
        known = ctx.value_of(cond)
        if known is None or not bool(np.asarray(known).reshape(-1)[0]):
            return False
    producers = {o: n for n in body.node for o in n.output}
    name = body.output[0].name
    while name in producers and producers[name].op_type == "Identity":
        name = producers[name].input[0]
    if name == body.input[1].name:
        return True
    const = producers.get(name)
    if const is None or const.op_type != "Constant":
        return False
    from onnx import numpy_helper

    values = [numpy_helper.to_array(a.t) for a in const.attribute if a.name == "value"]
    return bool(values) and values[0].size == 1 and bool(values[0].reshape(-1)[0])


class _Loop:
    """One ONNX Loop node: M, cond, the carried values and the body."""

    def __init__(self, ctx: Context, node: Node):
        self.ctx, self.node, self.b = ctx, node, ctx.b
        self.body = node.attr("body")
        self.init = [v for v in node.inputs[2:]]
        self.nv = len(self.init)
        self.names = [i.name for i in self.body.input]
        if len(self.names) != 2 + self.nv:
            raise ctx.error(
                node, f"the body takes {len(self.names)} inputs, expected {2 + self.nv}"
            )
        self.k = len(self.body.output) - 1 - self.nv  # scan outputs
        m = node.input(0)
        self.m = m
        known = ctx.value_of(m)
        self.trips = None if known is None else int(np.asarray(known).reshape(-1)[0])
        cond = node.input(1)
        self.cond = None if cond is None else _scalar(ctx, node, cond, "the loop condition")
        self.always = _always_true(ctx, node, self.body)
        self.scope = Scope(ctx, node, [self.body])

    def true(self, b: Builder) -> Value:
        return b.constant(np.asarray(True), "bool")

    def step(self, bb: Builder, i: Value, c: Value, vs, inner) -> tuple[Value, list, list]:
        """One trip of the body: (the next condition, the next carried values, the
        scan outputs)."""
        bound = dict(zip(self.names, [i, c, *vs]))
        bound.update(self.scope.bind(inner))
        outs = import_graph(self.ctx, self.body, bb, bound, self.scope.known)
        c_next = outs[0]
        if c_next.type.rank:
            c_next = bb.reshape(c_next, shape=[])
        return c_next, outs[1 : 1 + self.nv], outs[1 + self.nv :]

    def guarded(self, bb: Builder, i: Value, c: Value, vs, inner) -> tuple[Value, list, list]:
        """`step` when `c` holds, else the values unchanged (and zero scan outputs)."""
        if self.always:
            return self.step(bb, i, c, vs, inner)
        types: list = []
        trip = self.ctx.known_value(i)  # unrolled: the iteration number stays known
        lead = [c] if trip is not None else [i, c]

        def then(tb, *args):
            if trip is not None:
                args = (_constant(self.ctx, tb, trip), *args)
            i, c, rest = args[0], args[1], args[2:]
            c2, v2, ys = self.step(tb, i, c, rest[: self.nv], rest[self.nv :])
            types[:] = ys
            return [c2, *v2, *ys]

        def skip(eb, *args):
            c, rest = args[len(lead) - 1], args[len(lead) :]
            return [c, *rest[: self.nv], *(self.zeros(eb, y.type) for y in types)]

        out = build_if(bb, c, [*lead, *vs, *inner], then, skip)
        return out[0], out[1 : 1 + self.nv], out[1 + self.nv :]

    def zeros(self, b: Builder, t) -> Value:
        """The scan output of a trip that did not run (its rows are dropped)."""
        if not all(isinstance(d, int) for d in t.shape):
            raise self.ctx.error(
                self.node, f"a scan output of symbolic shape {t} under a run-time condition"
            )
        return b.constant(np.zeros(t.shape, t.dtype.numpy), t.dtype)

    def while_(self) -> list[Value]:
        """No scan outputs: kiln.while carrying (i, cond, values, captured[, M])."""
        b = self.b
        i0 = b.constant(np.asarray(0, np.int64), "i64")
        c0 = self.true(b) if self.cond is None else self.cond
        m_arg = [] if self.trips is not None or self.m is None else [b.reshape(self.m, shape=[])]
        nv, p = self.nv, len(self.scope.values)

        def cond(bb, i, c, *rest):
            if self.m is None:
                return [c]
            m = bb.constant(np.asarray(self.trips, np.int64), "i64") if not m_arg else rest[-1]
            return [bb.logical_and(c, bb.less(i, bb.cast(m, dtype="i64")))]

        def body(bb, i, c, *rest):
            vs, inner = rest[:nv], rest[nv : nv + p]
            c2, v2, _ = self.step(bb, i, c, vs, inner)
            one = bb.constant(np.asarray(1, np.int64), "i64")
            return [bb.add(i, one), c2, *v2, *rest[nv:]]

        bound = -1 if self.trips is None else max(self.trips, 0)
        init = [i0, c0, *self.init, *self.scope.values, *m_arg]
        out = build_while(b, init, cond, body, max_iterations=bound)
        return out[2 : 2 + nv]

    def scan_(self) -> list[Value]:
        """Scan outputs, M known: kiln.scan over the iteration numbers 0..M-1."""
        b = self.b
        steps = b.iota(shape=[self.trips], dtype="i64")
        c0 = self.true(b) if self.cond is None else self.cond

        def body(bb, carried, slices, inner):
            c, vs = carried[0], carried[1:]
            c2, v2, ys = self.guarded(bb, slices[0], c, vs, inner)
            return [c2, *v2], [*ys, c]

        final, stacked = scan_with(self.ctx, [c0, *self.init], [steps], self.scope.values, body)
        return [*final[1:], *self.taken(stacked[:-1], stacked[-1])]

    def unrolled(self) -> list[Value]:
        """M known and small, the body needing the iteration number at import (a
        Slice at it): one copy of the body per trip, each its own kiln.if."""
        b, ctx = self.b, self.ctx
        c = self.true(b) if self.cond is None else self.cond
        vs, rows, flags = list(self.init), [], []
        for t in range(self.trips):
            i = ctx.constant(np.asarray(t, np.int64), "i64")
            flags.append(c)
            c, vs, ys = self.guarded(b, i, c, vs, self.scope.values)
            rows.append(ys)
        if not self.k:
            return vs
        stacked = [
            b.concat(*[b.expand_dims(r[k], axis=0) for r in rows], axis=0) for k in range(self.k)
        ]
        ran = b.concat(*[b.reshape(f, shape=[1]) for f in flags], axis=0)
        return [*vs, *self.taken(stacked, ran)]

    def taken(self, stacked: list[Value], ran: Value) -> list[Value]:
        """The scan outputs of the trips that ran (all M of them when the condition
        cannot turn false; else a run-time count of rows)."""
        if self.always:
            return stacked
        b = self.b
        rows = b.reshape(b.nonzero(ran), shape=[-1])
        return [b.gather(y, rows, axis=0) for y in stacked]


@converter("Loop", since=1)
def loop(ctx: Context, node: Node) -> list[Value]:
    """kiln.while (no scan outputs) or a kiln.scan over the trip numbers (scan
    outputs need M known at import); unrolled when the body needs the iteration
    number known at import and M <= UNROLL_LIMIT."""
    if _host_side(ctx, node):
        return _inlined_loop(ctx, node)
    lp = _Loop(ctx, node)
    if lp.trips is not None and lp.trips <= 0:
        if lp.k:
            raise ctx.error(node, "a Loop of zero trips with scan outputs is not supported")
        return lp.init
    try:
        if not lp.k:
            return lp.while_()
        if lp.trips is None:
            raise ctx.unknown(node, "the trip count M of a Loop with scan outputs")
        if lp.trips > SCAN_LIMIT:
            raise ctx.error(
                node,
                f"scan outputs of a Loop of up to M={lp.trips} trips: kiln stacks M rows, "
                f"at most {SCAN_LIMIT}",
            )
        return lp.scan_()
    except UnknownAtImport:
        if lp.trips is None or lp.trips > UNROLL_LIMIT:
            raise
        return lp.unrolled()


def _host_side(ctx: Context, node: Node) -> bool:
    """Whether the Loop carries or reads a sequence or optional (host-side values
    at import: onnx/convert/sequence.py), or its body yields one."""
    from .sequence import OptionalValue, SequenceValue

    body = node.attr("body")
    outer = [(ctx.values or {}).get(n) for n in free_names(body)]
    held = [*node.inputs[2:], *outer]
    return any(isinstance(v, (SequenceValue, OptionalValue)) for v in held) or any(
        o.type.WhichOneof("value") not in (None, "tensor_type") for o in body.output
    )


def _inlined_loop(ctx: Context, node: Node) -> list:
    """A Loop over host-side values: the body imported once per trip, M and the
    condition known at import (the sequence's length follows from them)."""
    body = node.attr("body")
    known = ctx.value_of(node.input(0)) if node.input(0) is not None else None
    cond = node.input(1)
    going = True if cond is None else ctx.value_of(cond)
    if known is None or going is None:
        raise ctx.unknown(node, "the trip count and condition of a Loop over sequences")
    trips, going = int(np.asarray(known).reshape(-1)[0]), bool(np.asarray(going).reshape(-1)[0])
    nv = len(node.inputs) - 2
    vs, rows = list(node.inputs[2:]), []
    names = [i.name for i in body.input]
    c = ctx.constant(np.asarray(going))
    t = 0
    while t < trips and going:
        if t >= UNROLL_LIMIT:
            raise ctx.error(node, f"a Loop over sequences of more than {t} trips")
        i = ctx.constant(np.asarray(t, np.int64), "i64")
        bound = {**(ctx.values or {}), **dict(zip(names, [i, c, *vs]))}
        outs = import_graph(ctx, body, ctx.b, bound)
        c, vs = outs[0], outs[1 : 1 + nv]
        rows.append(outs[1 + nv :])
        flag = ctx.value_of(c)
        if flag is None:
            raise ctx.unknown(node, "the condition of a Loop over sequences")
        going, t = bool(np.asarray(flag).reshape(-1)[0]), t + 1
    k = len(body.output) - 1 - nv
    if k and not rows:
        raise ctx.error(node, "a Loop of zero trips with scan outputs is not supported")
    b = ctx.b
    stacked = [b.concat(*[b.expand_dims(r[j], axis=0) for r in rows], axis=0) for j in range(k)]
    return [*vs, *stacked]
