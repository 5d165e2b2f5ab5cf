"""canonicalize: algebraic identities and shape no-ops, as rewrite patterns.

Every pattern keeps the result type exactly, so it never changes a shape
that broadcasting would have produced. Floating-point identities are the
ones that hold for every input, NaN and infinity included: x*1, x/1, x+0
(only the sign of a zero result may change, as in TensorFlow's grappler and
XLA), x-0, -(-x). Identities that hold only for finite floats (x-x = 0,
x*0 = 0) apply to integers only.
"""

from __future__ import annotations

from ..ir import KilnError, Module, Operation, Trait, Value
from .manager import register_pass
from .rewrite import (
    Patterns,
    Rewriter,
    apply_patterns,
    constant_array,
    defining_op,
    inline_block,
    same_body,
    splat_value,
)

CANONICAL = Patterns("canonicalize")
pattern = CANONICAL.pattern


def _same(v: Value, op: Operation) -> bool:
    """Whether `v` can stand for `op`'s result (the same type)."""
    return v.type == op.type


# ------------------------------------------------------------ arithmetic


@pattern("*")
def constant_to_the_right(op: Operation, rw: Rewriter) -> None:
    """c + x -> x + c for commutative ops, so other patterns and CSE see one form."""
    if (
        op.has_trait(Trait.COMMUTATIVE)
        and len(op.operands) == 2
        and constant_array(op.operands[0]) is not None
        and constant_array(op.operands[1]) is None
    ):
        swapped = rw.b.create(
            type(op), op.operands[1], op.operands[0], **_declared_attrs(op)
        ).result
        rw.replace(op, swapped)


def _declared_attrs(op: Operation) -> dict:
    return {k: v for k, v in op.attrs.items() if k in op.attr_specs}


@pattern("kiln.add", "kiln.sub")
def add_zero(op: Operation, rw: Rewriter) -> None:
    """x + 0 -> x, x - 0 -> x."""
    if splat_value(op.rhs) == 0 and _same(op.lhs, op):
        rw.replace(op, op.lhs)


@pattern("kiln.mul", "kiln.div", "kiln.pow")
def times_one(op: Operation, rw: Rewriter) -> None:
    """x * 1 -> x, x / 1 -> x, x ** 1 -> x."""
    if splat_value(op.rhs) == 1 and _same(op.lhs, op):
        rw.replace(op, op.lhs)


@pattern("kiln.pow")
def pow_two(op: Operation, rw: Rewriter) -> None:
    """x ** 2 -> square(x)."""
    if splat_value(op.rhs) == 2 and _same(op.lhs, op):
        rw.replace(op, rw.b.square(op.lhs))


@pattern("kiln.mul")
def times_minus_one(op: Operation, rw: Rewriter) -> None:
    """x * -1 -> -x."""
    if splat_value(op.rhs) == -1 and _same(op.lhs, op):
        rw.replace(op, rw.b.neg(op.lhs))


@pattern("kiln.sub")
def int_self_difference(op: Operation, rw: Rewriter) -> None:
    """x - x -> 0 for integers with a static shape (for floats inf - inf is NaN)."""
    if op.lhs is op.rhs and op.type.dtype.is_int and op.type.is_static:
        rw.replace(
            op,
            rw.b.constant(0, op.type.dtype)
            if op.type.rank == 0
            else rw.b.broadcast_to(rw.constant(0, op.lhs), shape=op.type.shape),
        )


@pattern("kiln.mul")
def int_times_zero(op: Operation, rw: Rewriter) -> None:
    """x * 0 -> 0 for integers with a static shape (for floats inf * 0 is NaN)."""
    if (
        splat_value(op.rhs) == 0
        and op.type.dtype.is_int
        and op.type.is_static
        and op.type == op.rhs.type
    ):
        rw.replace(op, op.rhs)


@pattern("kiln.add")
def add_negated(op: Operation, rw: Rewriter) -> None:
    """x + (-y) -> x - y."""
    neg = defining_op(op.rhs, "kiln.neg")
    if neg is not None:
        rw.replace(op, rw.b.sub(op.lhs, neg.x))


@pattern("kiln.sub")
def sub_negated(op: Operation, rw: Rewriter) -> None:
    """x - (-y) -> x + y."""
    neg = defining_op(op.rhs, "kiln.neg")
    if neg is not None:
        rw.replace(op, rw.b.add(op.lhs, neg.x))


@pattern("kiln.max", "kiln.min")
def extreme_of_self(op: Operation, rw: Rewriter) -> None:
    """max(x, x) -> x, min(x, x) -> x."""
    if op.lhs is op.rhs and _same(op.lhs, op):
        rw.replace(op, op.lhs)


# ------------------------------------------------------------ involutions


@pattern("kiln.neg", "kiln.logical_not")
def double_negation(op: Operation, rw: Rewriter) -> None:
    """-(-x) -> x, not(not x) -> x."""
    inner = defining_op(op.x, op.name)
    if inner is not None:
        rw.replace(op, inner.x)


@pattern("kiln.relu", "kiln.abs")
def idempotent(op: Operation, rw: Rewriter) -> None:
    """relu(relu(x)) -> relu(x), abs(abs(x)) -> abs(x)."""
    if defining_op(op.x, op.name) is not None:
        rw.replace(op, op.x)


@pattern("kiln.abs")
def abs_of_negation(op: Operation, rw: Rewriter) -> None:
    """|-x| -> |x|."""
    neg = defining_op(op.x, "kiln.neg")
    if neg is not None:
        rw.replace(op, rw.b.abs(neg.x))


@pattern("kiln.select")
def select_constant_condition(op: Operation, rw: Rewriter) -> None:
    """select(true, a, b) -> a; select(false, a, b) -> b."""
    cond = splat_value(op.cond)
    chosen = {True: op.on_true, False: op.on_false}.get(cond) if cond is not None else None
    if chosen is not None and _same(chosen, op):
        rw.replace(op, chosen)


@pattern("kiln.cast")
def cast_to_same(op: Operation, rw: Rewriter) -> None:
    """cast(x: T) to T -> x."""
    if _same(op.x, op):
        rw.replace(op, op.x)


# ------------------------------------------------------------ shapes


@pattern("kiln.transpose")
def transpose_of_transpose(op: Operation, rw: Rewriter) -> None:
    """transpose(transpose(x, p), q) -> transpose(x, p o q); identity -> x."""
    inner = defining_op(op.x, "kiln.transpose")
    if inner is not None:
        perm = tuple(inner.perm[i] for i in op.perm)
        rw.replace(op, rw.b.transpose(inner.x, perm=perm))
    elif tuple(op.perm) == tuple(range(len(op.perm))):
        rw.replace(op, op.x)


def swaps_last_two(op: Operation | None) -> bool:
    """Whether `op` is a kiln.transpose that swaps its last two axes and keeps
    every other one in place."""
    if op is None or op.name != "kiln.transpose" or len(op.perm) < 2:
        return False
    rank = len(op.perm)
    return tuple(op.perm) == (*range(rank - 2), rank - 1, rank - 2)


@pattern("kiln.matmul")
def transpose_into_matmul(op: Operation, rw: Rewriter) -> None:
    """matmul(transpose(a), b) -> matmul(a, b, transpose_a = not transpose_a)
    where the transpose swaps a's last two axes (b likewise): the GEMM reads
    the transposed operand in place of a transposed copy."""
    flags = [op.transpose_a, op.transpose_b]
    operands = list(op.operands)
    for i, v in enumerate(operands):
        inner = defining_op(v, "kiln.transpose")
        if swaps_last_two(inner):
            operands[i], flags[i] = inner.x, not flags[i]
    if operands != list(op.operands):
        y = rw.b.matmul(*operands, transpose_a=flags[0], transpose_b=flags[1])
        rw.replace(op, y)


@pattern("kiln.transpose")
def transposed_matmul(op: Operation, rw: Rewriter) -> None:
    """transpose(matmul(a, b)) swapping the last two axes -> matmul(b, a) with
    both flags toggled and swapped ((A B)^T = B^T A^T) when the transpose is
    the product's only use and both operands are matrices (not vectors)."""
    mm = defining_op(op.x, "kiln.matmul")
    if (
        mm is None
        or not swaps_last_two(op)
        or set(mm.result.uses) != {op}
        or min(v.type.rank for v in mm.operands) < 2
    ):
        return
    y = rw.b.matmul(mm.rhs, mm.lhs, transpose_a=not mm.transpose_b, transpose_b=not mm.transpose_a)
    rw.replace(op, y)


@pattern("kiln.reshape", "kiln.expand_dims", "kiln.squeeze", "kiln.broadcast_to")
def shape_no_op(op: Operation, rw: Rewriter) -> None:
    """A reshape (or expand_dims, squeeze, broadcast_to) to the operand's own type -> x.

    With symbolic dims too: a reshape's attribute holds at most one -1, so
    equal types mean equal shapes."""
    if _same(op.x, op):
        rw.replace(op, op.x)


@pattern("kiln.reshape")
def reshape_of_reshape(op: Operation, rw: Rewriter) -> None:
    """reshape(reshape(x)) -> reshape(x): the middle shape does not matter."""
    inner = defining_op(op.x, "kiln.reshape")
    if inner is not None:
        new = rw.b.reshape(inner.x, shape=op.shape)
        if new.type == op.type:
            rw.replace(op, new)


@pattern("kiln.expand_dims", "kiln.squeeze")
def as_reshape(op: Operation, rw: Rewriter) -> None:
    """expand_dims / squeeze -> reshape, the one view op (when the shape allows it)."""
    symbolic = [i for i, d in enumerate(op.type.shape) if not isinstance(d, int)]
    if len(symbolic) > 1:
        return
    shape = [-1 if i in symbolic else d for i, d in enumerate(op.type.shape)]
    new = rw.b.reshape(op.x, shape=shape)
    if new.type == op.type:
        rw.replace(op, new)


@pattern("kiln.broadcast_to")
def broadcast_of_broadcast(op: Operation, rw: Rewriter) -> None:
    """broadcast_to(broadcast_to(x)) -> broadcast_to(x)."""
    inner = defining_op(op.x, "kiln.broadcast_to")
    if inner is not None and op.type.is_static:
        rw.replace(op, rw.b.broadcast_to(inner.x, shape=op.type.shape))


@pattern("*")
def implicit_broadcast(op: Operation, rw: Rewriter) -> None:
    """f(broadcast_to(y), z) -> f(y, z) (or broadcast_like) for elementwise f when
    the result type stays: elementwise ops broadcast their operands themselves."""
    if not op.has_trait(Trait.ELEMENTWISE):
        return
    for i, v in enumerate(op.operands):
        bcast = defining_op(v, "kiln.broadcast_to") or defining_op(v, "kiln.broadcast_like")
        if bcast is None:
            continue
        operands = list(op.operands)
        operands[i] = bcast.x
        try:
            trial = type(op)(operands, _declared_attrs(op))
        except KilnError:  # the smaller operand does not broadcast the same way
            continue
        same = trial.type == op.type
        trial.drop_operands()
        if same:
            rw.replace(op, rw.b.create(type(op), *operands, **_declared_attrs(op)).result)
            return


@pattern("kiln.concat")
def concat_of_one(op: Operation, rw: Rewriter) -> None:
    """concat([x]) -> x."""
    if len(op.operands) == 1 and _same(op.operands[0], op):
        rw.replace(op, op.operands[0])


@pattern("kiln.slice", "kiln.pad")
def whole_slice_or_empty_pad(op: Operation, rw: Rewriter) -> None:
    """A slice that keeps everything, a pad that adds nothing -> x."""
    if op.name == "kiln.pad":
        keeps = not any(op.low) and not any(op.high)
    else:  # a step of -1 reverses; with symbolic dims ?x4 from ?x4 may still cut rows
        keeps = op.type.is_static and all(s == 1 for s in op.steps or ())
    if keeps and _same(op.x, op):
        rw.replace(op, op.x)


@pattern(
    "kiln.reduce_sum", "kiln.reduce_mean", "kiln.reduce_max", "kiln.reduce_min", "kiln.reduce_prod"
)
def reduce_nothing(op: Operation, rw: Rewriter) -> None:
    """A reduction over no axes -> x."""
    if op.axes == () and _same(op.x, op):
        rw.replace(op, op.x)


@pattern(
    "kiln.reduce_sum",
    "kiln.reduce_mean",
    "kiln.reduce_max",
    "kiln.reduce_min",
    "kiln.reduce_prod",
    "kiln.logsumexp",
)
def non_negative_axes(op: Operation, rw: Rewriter) -> None:
    """axes = [-1] -> axes = [rank - 1], so CSE and fusion see one spelling."""
    if op.axes is None or all(a >= 0 for a in op.axes):
        return
    axes = sorted(a % op.x.type.rank for a in op.axes)
    rw.replace(op, rw.b.create(type(op), op.x, **{**_declared_attrs(op), "axes": axes}).result)


# ------------------------------------------------------------ control flow


@pattern("kiln.if")
def if_constant_predicate(op: Operation, rw: Rewriter) -> None:
    """kiln.if on a constant predicate -> the branch it takes, inlined."""
    pred = splat_value(op.pred)
    if pred is None:
        return
    block = op.then_block if bool(pred) else op.else_block
    rw.replace(op, *inline_block(rw.b, block, list(op.args)))


@pattern("kiln.while")
def while_never_runs(op: Operation, rw: Rewriter) -> None:
    """A kiln.while whose cond yields a constant false, or bounded to 0 trips,
    -> its initial values."""
    go = splat_value(op.cond_block.terminator.operands[0])
    if op.max_iterations == 0 or (go is not None and not bool(go)):
        rw.replace(op, *op.init)


@pattern("kiln.scan")
def merge_scans(op: Operation, rw: Rewriter) -> None:
    """Two scans over the same operands, the other's body computing this one's
    and yielding more (the residual scan a gradient builds, which also stacks
    each step's carried inputs) -> one loop: the other moves here and this
    one's results are the first of its results."""
    for user in op.operands[op.num_carried].uses:
        other = user
        if (
            other is op
            or other.name != "kiln.scan"
            or other.parent is not op.parent
            or other.operands != op.operands
            or other.attrs != op.attrs
            or len(other.results) <= len(op.results)
            or not same_body(op.body, other.body)
        ):
            continue
        block = op.parent
        block.detach(other)
        block.insert_before(op, other)
        rw.replace(op, *other.results[: len(op.results)])
        return


@register_pass("canonicalize")
def canonicalize(module: Module) -> dict[str, int]:
    """Apply the canonical patterns to a fixed point; drop ops left unused."""
    return apply_patterns(module, CANONICAL)
