"""Control flow with TensorFlow 1.x's names: kl.cond, kl.case, kl.while_loop,
kl.scan, kl.map_fn, kl.foldl and kl.foldr.

In eager mode they are plain Python (a branch runs when its predicate's
value says so; a loop is a Python loop). In a graph (a kl.function trace
too) each call traces its functions into the same graph between two marks
and adds one node (If, While or Scan) that holds those traced regions;
lowering.py lowers the node to kiln.if / kiln.while / kiln.scan. Regions are
isolated from above: every outer tensor a region reads (a variable, a
closure) becomes an operand of the node, the way jax.lax.cond closes over
values, and a loop passes such values through as extra carried values.

Mistakes are found while the graph is built: a predicate that is not a
scalar bool, branches that yield different types, a loop body that changes
a loop variable's dtype or its shape against its invariant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dtypes import bool_, int32
from .graph import Graph, GraphError, Operation, Tensor, TensorShape, get_default_graph
from .nest import flatten, pack_sequence_as
from .ops import concat, convert_to_tensor, expand_dims, less, logical_and, reshape

__all__ = ["case", "cond", "foldl", "foldr", "map_fn", "scan", "while_loop"]

REGION_KINDS = ("If", "While", "Scan")


@dataclass
class Region:
    """A traced region: the tensors its block arguments stand for, the graph ops
    it runs (in graph order) and the tensors it yields."""

    args: list[Tensor]
    ops: list[Operation] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)


# ------------------------------------------------------------------ tracing


def _region_arg(g: Graph, like: Tensor, shape: TensorShape, name: str) -> Tensor:
    op = g.create_op("RegionArg", [], name=name, output_types=[(like.dtype, shape)])
    return op.outputs[0]


def _collect(
    g: Graph, start: int, args: Sequence[Tensor], outputs: Sequence[Tensor], what: str
) -> tuple[list[Operation], list[Tensor]]:
    """The ops made since op number `start` that `outputs` need (stopping at the
    region's `args`), and the outer tensors they read (the captures)."""
    window = set(g.get_operations()[start:])
    arg_set = set(args)
    inside: set[Operation] = set()
    captures: list[Tensor] = []
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if t in arg_set:
            continue
        op = t.op
        if op not in window or op.type in ("VariableV2", "RegionArg"):
            if t not in captures:
                captures.append(t)
            continue
        if op in inside:
            continue
        if op.type in ("Assign", "AssignAdd", "AssignSub"):
            raise GraphError(
                f"{what}: {op.name} ({op.type}) updates variable {op.inputs[0].op.name} inside "
                "the region; kiln's control-flow regions do not update variables"
            )
        inside.add(op)
        stack.extend(op.inputs)
    ordered = [op for op in g.get_operations()[start:] if op in inside]
    return ordered, captures


def _as_tensor_like(value: Any, like: Tensor | None, what: str) -> Tensor:
    try:
        return convert_to_tensor(value, dtype=None if like is None else like.dtype)
    except GraphError as e:
        raise GraphError(f"{what}: {e}") from None


def _compatible(shape: TensorShape, invariant: TensorShape) -> bool:
    if invariant.dims is None:
        return True
    if shape.dims is None or len(shape.dims) != len(invariant.dims):
        return False
    return all(i is None or s == i for s, i in zip(shape.dims, invariant.dims))


def _refined(value: Tensor, like: Tensor) -> Tensor:
    """`value` with the static dims of `like` where value's are unknown: a carried
    state entering as [1, n] (a cell's zero_state(1)) that the body computes as
    [?, n] (the step's input has an unknown batch) is [1, n], as TensorFlow's
    cells make it by concatenating input and state (a run with another batch is
    a shape error at run time)."""
    dims, want = value.shape.dims, like.shape.dims
    if dims is None or want is None or len(dims) != len(want) or value.dtype is not like.dtype:
        return value
    if not all(d is None or d == w for d, w in zip(dims, want)) or dims == want:
        return value
    if sum(w is None for w in want) > 1:
        return value
    return reshape(value, [-1 if w is None else w for w in want])


def _flatten_up_to(structure: Any, values: Any) -> list:
    """The parts of `values` at the leaves of `structure` (a shape invariant is
    itself a list: it is a leaf where the loop variable is one)."""
    if isinstance(structure, dict) and isinstance(values, dict):
        return [x for k in sorted(structure) for x in _flatten_up_to(structure[k], values[k])]
    if isinstance(structure, (list, tuple)) and isinstance(values, (list, tuple)):
        if len(structure) == len(values):
            return [x for s, v in zip(structure, values) for x in _flatten_up_to(s, v)]
    return [values]


def _is_eager(g: Graph) -> bool:
    return g.executes_eagerly


# ------------------------------------------------------------------ cond / case


def cond(
    pred: Any,
    true_fn: Callable[[], Any] | None = None,
    false_fn: Callable[[], Any] | None = None,
    strict: bool = False,
    name: str | None = None,
    fn1: Callable[[], Any] | None = None,
    fn2: Callable[[], Any] | None = None,
) -> Any:
    """true_fn() if pred else false_fn() (tf.cond). Both functions give the same
    nested structure of tensors of the same dtypes and shapes; a one-element
    list result is unpacked unless `strict`."""
    true_fn = true_fn or fn1
    false_fn = false_fn or fn2
    label = f"kl.cond ({name or 'cond'})"
    if not callable(true_fn) or not callable(false_fn):
        raise GraphError(f"{label}: true_fn and false_fn must both be callables")
    g = get_default_graph()
    if isinstance(pred, bool) or _is_eager(g):
        if not isinstance(pred, bool):
            p = convert_to_tensor(pred)
            _check_pred(p, label)
            pred = bool(p)
        return _unpack(true_fn() if pred else false_fn(), strict)
    p = convert_to_tensor(pred)
    _check_pred(p, label)
    with g.name_scope(name or "cond"):
        regions, structures = [], []
        for which, fn in (("true_fn", true_fn), ("false_fn", false_fn)):
            start = len(g.get_operations())
            with g.name_scope(which):
                out = fn()
                leaves = [_as_tensor_like(v, None, f"{label} {which}") for v in flatten(out)]
            ops, caps = _collect(g, start, [], leaves, label)
            regions.append(Region([], ops, leaves))
            structures.append((out, caps))
        (t_out, t_caps), (f_out, f_caps) = structures
        tl, fl = regions[0].outputs, regions[1].outputs
        if len(tl) != len(fl):
            raise GraphError(
                f"{label}: true_fn yields {len(tl)} tensors and false_fn {len(fl)}; "
                "both branches must yield the same structure"
            )
        for i, (a, c) in enumerate(zip(tl, fl)):
            if a.dtype is not c.dtype or a.shape != c.shape:
                raise GraphError(
                    f"{label}: output {i} is {a.dtype.name}{a.shape} ({a.name}) in true_fn "
                    f"but {c.dtype.name}{c.shape} ({c.name}) in false_fn; both branches "
                    "must yield the same types"
                )
        captures = list(dict.fromkeys([*t_caps, *f_caps]))
        for r in regions:
            r.args = captures
        op = g.create_op(
            "If",
            [p, *captures],
            name="If",
            attrs={"regions": regions},
            output_types=[(t.dtype, t.shape) for t in tl],
        )
    return _unpack(pack_sequence_as(t_out, op.outputs), strict)


def _check_pred(p: Tensor, label: str) -> None:
    if p.dtype is not bool_:
        raise GraphError(f"{label}: the predicate {p.name} is {p.dtype.name}, expected bool")
    if p.shape.dims is not None and len(p.shape.dims) != 0:
        raise GraphError(f"{label}: the predicate {p.name} has shape {p.shape}, expected a scalar")


def _unpack(out: Any, strict: bool) -> Any:
    if not strict and isinstance(out, (list, tuple)) and len(out) == 1:
        return out[0]
    return out


def case(
    pred_fn_pairs: Any,
    default: Callable[[], Any] | None = None,
    exclusive: bool = False,
    strict: bool = False,
    name: str = "case",
) -> Any:
    """The function of the first true predicate, else `default` (tf.case); with
    no default the last pair's function is the default. `exclusive` is accepted
    (kiln takes the first true predicate either way)."""
    pairs = list(pred_fn_pairs.items() if isinstance(pred_fn_pairs, dict) else pred_fn_pairs)
    if not pairs:
        if default is None:
            raise GraphError("kl.case: no pred_fn_pairs and no default")
        return _unpack(default(), strict)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2 or not callable(pair[1]):
            raise GraphError(f"kl.case ({name}): {pair!r} is not a (predicate, callable) pair")
    if default is None:
        default = pairs[-1][1]
        pairs = pairs[:-1]

    def chain(i: int) -> Any:
        if i == len(pairs):
            return default()
        pred, fn = pairs[i]
        return cond(pred, fn, lambda: chain(i + 1), strict=True, name=name)

    return _unpack(chain(0), strict)


# ------------------------------------------------------------------ while_loop


def while_loop(
    cond: Callable[..., Any],
    body: Callable[..., Any],
    loop_vars: Any,
    shape_invariants: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    name: str | None = None,
    maximum_iterations: Any = None,
    return_same_structure: bool = False,
) -> Any:
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (tf.while_loop),
    at most `maximum_iterations` times. A loop variable keeps its dtype, and its
    shape within its shape invariant (default: its shape on entry)."""
    label = f"kl.while_loop ({name or 'while'})"
    if not callable(cond) or not callable(body):
        raise GraphError(f"{label}: cond and body must be callables")
    single = not isinstance(loop_vars, (list, tuple)) or (
        isinstance(loop_vars, (list, tuple)) and len(loop_vars) == 1 and not return_same_structure
    )
    structure = loop_vars
    g = get_default_graph()
    as_args = (lambda vs: vs) if isinstance(loop_vars, (list, tuple)) else (lambda vs: [vs])

    def call_body(vs: Any) -> Any:
        out = body(*as_args(vs))
        if isinstance(loop_vars, (list, tuple)) and len(loop_vars) == 1:
            if not isinstance(out, (list, tuple)):
                out = [out]
        return out

    if _is_eager(g):
        vs = pack_sequence_as(structure, [convert_to_tensor(v) for v in flatten(structure)])
        i = 0
        while (maximum_iterations is None or i < int(maximum_iterations)) and bool(
            convert_to_tensor(cond(*as_args(vs)))
        ):
            vs = call_body(vs)
            i += 1
        return vs[0] if single and isinstance(vs, (list, tuple)) else vs

    init = [_as_tensor_like(v, None, label) for v in flatten(structure)]
    if shape_invariants is None:
        invariants = [t.shape for t in init]
    else:
        inv = _flatten_up_to(structure, shape_invariants)
        if len(inv) != len(init):
            raise GraphError(f"{label}: {len(inv)} shape invariants for {len(init)} loop variables")
        invariants = [v if isinstance(v, TensorShape) else TensorShape(v) for v in inv]
    for k, (t, s) in enumerate(zip(init, invariants)):
        if not _compatible(t.shape, s):
            raise GraphError(
                f"{label}: loop variable {k} ({t.name}) enters the loop with shape {t.shape}, "
                f"which is not within its shape invariant {s}"
            )
    counted = maximum_iterations is not None
    # a Python bound is also the IR's max_iterations (what the loop's gradient needs)
    bound = -1
    if isinstance(maximum_iterations, int) or hasattr(maximum_iterations, "__index__"):
        if not isinstance(maximum_iterations, Tensor):
            bound = max(int(maximum_iterations), 0)
    with g.name_scope(name or "while"):
        if counted:
            limit = convert_to_tensor(maximum_iterations, dtype=int32)
            init = [convert_to_tensor(0, dtype=int32), limit, *init]
            invariants = [TensorShape([]), TensorShape([]), *invariants]
        user = 2 if counted else 0

        def trace(fn: Callable[[list[Tensor]], list[Tensor]], which: str):
            start = len(g.get_operations())
            with g.name_scope(which):
                args = [_region_arg(g, t, t.shape, f"loop_var_{k}") for k, t in enumerate(init)]
                outs = fn(args)
            ops, caps = _collect(g, start, args, outs, label)
            return Region(args, ops, outs), caps

        def cond_fn(args: list[Tensor]) -> list[Tensor]:
            p = convert_to_tensor(cond(*as_args(pack_sequence_as(structure, args[user:]))))
            _check_pred(p, label)
            if counted:
                p = logical_and(less(args[0], args[1]), p)
            return [p]

        def body_fn(args: list[Tensor]) -> list[Tensor]:
            out = call_body(pack_sequence_as(structure, args[user:]))
            leaves = flatten(out)
            if len(leaves) != len(init) - user:
                raise GraphError(
                    f"{label}: body yields {len(leaves)} tensors for {len(init) - user} "
                    "loop variables"
                )
            new = [
                v if isinstance(v, Tensor) else _as_tensor_like(v, t, label)
                for v, t in zip(leaves, init[user:])
            ]
            if counted:
                new = [args[0] + 1, args[1], *new]
            return new

        cond_region, c_caps = trace(cond_fn, "cond")
        body_region, b_caps = trace(body_fn, "body")
        for k, (t, new, s) in enumerate(zip(init, body_region.outputs, invariants)):
            var = f"loop variable {k - user} ({t.name})"
            if new.dtype is not t.dtype:
                raise GraphError(
                    f"{label}: {var} enters the loop as {t.dtype.name} but the body "
                    f"yields {new.dtype.name} ({new.name})"
                )
            if not _compatible(new.shape, s):
                raise GraphError(
                    f"{label}: {var} has shape {t.shape} on entry but shape {new.shape} "
                    f"after one iteration ({new.name}); it is not within the shape "
                    f"invariant {s} (give shape_invariants)"
                )
            if new.shape != t.shape:
                raise GraphError(
                    f"{label}: {var} changes shape from {t.shape} to {new.shape} in the "
                    "body; kiln's loop variables keep one shape"
                )
        captures = list(dict.fromkeys([*c_caps, *b_caps]))
        n = len(init)
        carried = [*init, *captures]
        cond_region.args = [*cond_region.args, *captures]
        body_region.args = [*body_region.args, *captures]
        body_region.outputs = [*body_region.outputs, *captures]
        op = g.create_op(
            "While",
            carried,
            name="While",
            attrs={"regions": [cond_region, body_region], "n_vars": n, "max_iterations": bound},
            output_types=[(t.dtype, t.shape) for t in carried],
        )
    results = op.outputs[user:n]
    out = pack_sequence_as(structure, results)
    if single and isinstance(out, (list, tuple)):
        return out[0]
    return out


# ------------------------------------------------------------------ scan


def scan_loop(
    body: Callable[[list[Tensor], list[Tensor]], tuple[list[Any], list[Any]]],
    init: Sequence[Any],
    xs: Sequence[Any],
    reverse: bool = False,
    name: str = "scan",
) -> tuple[list[Tensor], list[Tensor]]:
    """The scan primitive under kl.scan, map_fn, foldl/foldr and dynamic_rnn:
    `body(carry, x_slices) -> (new_carry, ys)` over the leading dim of every xs;
    returns the final carry and each ys stacked on a new leading dim (ys[t]
    belongs to xs[t], also when `reverse`)."""
    label = f"kl.scan ({name})"
    g = get_default_graph()
    xs = [_as_tensor_like(x, None, label) for x in xs]
    if not xs:
        raise GraphError(f"{label}: nothing to scan over")
    for x in xs:
        if x.shape.dims is None or len(x.shape.dims) == 0:
            raise GraphError(f"{label}: {x.name} has shape {x.shape}; scan needs rank >= 1")
    lengths = {x.shape.dims[0] for x in xs} - {None}
    if len(lengths) > 1:
        raise GraphError(f"{label}: the scanned tensors have different leading dims {lengths}")
    if _is_eager(g):
        n = int(xs[0].shape[0])
        carry = [convert_to_tensor(c) for c in init]
        per_step: list[list[Tensor]] = []
        steps = range(n - 1, -1, -1) if reverse else range(n)
        for t in steps:
            carry, ys = body(carry, [x[t] for x in xs])
            carry = [convert_to_tensor(c, like.dtype) for c, like in zip(carry, init)]
            per_step.append([convert_to_tensor(y) for y in ys])
        if reverse:
            per_step.reverse()
        stacked = []
        if per_step:
            for k in range(len(per_step[0])):
                stacked.append(concat([expand_dims(s[k], 0) for s in per_step], axis=0))
        return carry, stacked
    init = [_as_tensor_like(c, None, label) for c in init]
    with g.name_scope(name):
        start = len(g.get_operations())
        carry_args = [_region_arg(g, t, t.shape, f"carry_{k}") for k, t in enumerate(init)]
        x_args = [
            _region_arg(g, x, TensorShape(x.shape.dims[1:]), f"elem_{k}") for k, x in enumerate(xs)
        ]
        new, ys = body(list(carry_args), list(x_args))
        if len(new) != len(init):
            raise GraphError(f"{label}: the body yields {len(new)} carried values, not {len(init)}")
        new = [_refined(_as_tensor_like(v, t, label), t) for v, t in zip(new, init)]
        ys = [_as_tensor_like(y, None, label) for y in ys]
        for k, (t, v) in enumerate(zip(init, new)):
            if v.dtype is not t.dtype or v.shape != t.shape:
                raise GraphError(
                    f"{label}: carried value {k} ({t.name}) is {t.dtype.name}{t.shape} on "
                    f"entry but the body yields {v.dtype.name}{v.shape} ({v.name})"
                )
        args = [*carry_args, *x_args]
        ops, caps = _collect(g, start, args, [*new, *ys], label)
        region = Region([*carry_args, *caps, *x_args], ops, [*new, *caps, *ys])
        op = g.create_op(
            "Scan",
            [*init, *caps, *xs],
            name="Scan",
            attrs={
                "regions": [region],
                "num_carried": len(init) + len(caps),
                "reverse": bool(reverse),
            },
            output_types=[(t.dtype, t.shape) for t in [*init, *caps]]
            + [(y.dtype, TensorShape([xs[0].shape.dims[0], *(y.shape.dims or [])])) for y in ys],
        )
    finals = op.outputs[: len(init)]
    stacked = op.outputs[len(init) + len(caps) :]
    return list(finals), list(stacked)


def scan(
    fn: Callable[[Any, Any], Any],
    elems: Any,
    initializer: Any = None,
    parallel_iterations: int = 10,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    reverse: bool = False,
    name: str | None = None,
) -> Any:
    """Every accumulator of `acc = fn(acc, elem)` over the leading dim of `elems`
    (tf.scan), stacked; without an initializer the first (last when `reverse`)
    element starts it and is the first output."""
    flat = [convert_to_tensor(x) for x in flatten(elems)]
    if initializer is None:
        first = -1 if reverse else 0
        init_struct = pack_sequence_as(elems, [x[first] for x in flat])
        rest = [x[:-1] if reverse else x[1:] for x in flat]
    else:
        init_struct = initializer
        rest = flat
    init_leaves = flatten(init_struct)

    def body(carry: list[Tensor], xs: list[Tensor]):
        acc = fn(pack_sequence_as(init_struct, carry), pack_sequence_as(elems, xs))
        leaves = flatten(acc)
        return leaves, leaves

    _, ys = scan_loop(body, init_leaves, rest, reverse, name or "scan")
    if initializer is None:
        head = [expand_dims(convert_to_tensor(c), 0) for c in init_leaves]
        ys = [concat([y, h] if reverse else [h, y], axis=0) for y, h in zip(ys, head)]
    return pack_sequence_as(init_struct, ys)


def map_fn(
    fn: Callable[[Any], Any],
    elems: Any,
    dtype: Any = None,
    parallel_iterations: int | None = None,
    back_prop: bool = True,
    swap_memory: bool = False,
    infer_shape: bool = True,
    name: str | None = None,
    fn_output_signature: Any = None,
) -> Any:
    """fn applied to each slice of `elems` along its leading dim, stacked (tf.map_fn)."""
    flat = flatten(elems)
    holder: list[Any] = []

    def body(carry: list[Tensor], xs: list[Tensor]):
        out = fn(pack_sequence_as(elems, xs))
        holder.append(out)
        return [], flatten(out)

    _, ys = scan_loop(body, [], flat, False, name or "map")
    return pack_sequence_as(holder[0], ys)


def _fold(fn, elems, initializer, reverse: bool, name: str) -> Any:
    flat = [convert_to_tensor(x) for x in flatten(elems)]
    if initializer is None:
        first = -1 if reverse else 0
        init_struct = pack_sequence_as(elems, [x[first] for x in flat])
        flat = [x[:-1] if reverse else x[1:] for x in flat]
    else:
        init_struct = initializer

    def body(carry: list[Tensor], xs: list[Tensor]):
        acc = fn(pack_sequence_as(init_struct, carry), pack_sequence_as(elems, xs))
        return flatten(acc), []

    finals, _ = scan_loop(body, flatten(init_struct), flat, reverse, name)
    return pack_sequence_as(init_struct, finals)


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None) -> Any:  # fmt: skip
    """fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[-1]) (tf.foldl)."""
    return _fold(fn, elems, initializer, False, name or "foldl")


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None) -> Any:  # fmt: skip
    """foldl from the last element to the first (tf.foldr)."""
    return _fold(fn, elems, initializer, True, name or "foldr")
