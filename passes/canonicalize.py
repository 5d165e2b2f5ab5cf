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
from ..ir.types import known_equal
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


def _matmul(rw: Rewriter, mm: Operation, lhs: Value, rhs: Value, **changed) -> Value:
    """`mm` rebuilt on `lhs`, `rhs` with its attributes, `changed` ones replaced."""
    attrs = {k: mm.attrs.get(k, spec.default) for k, spec in mm.attr_specs.items()}
    return rw.b.matmul(lhs, rhs, **(attrs | changed))


def _composed(outer: tuple[int, ...], inner: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """The perm of transpose(transpose(x, inner), outer); empty for the identity."""
    outer, inner = outer or tuple(range(rank)), inner or tuple(range(rank))
    perm = tuple(inner[i] for i in outer)
    return () if perm == tuple(range(rank)) else perm


@pattern("kiln.matmul")
def transpose_into_matmul(op: Operation, rw: Rewriter) -> None:
    """matmul(transpose(a), b) -> matmul(a, b, transpose_a = not transpose_a)
    where the transpose swaps a's last two axes (b likewise): the GEMM reads
    the transposed operand in place of a transposed copy.

    Any other transpose of a batched operand (both operands of one rank >= 3,
    so each batch element is a GEMM call of its own: attention's
    [B, S, H, D] -> [B, H, S, D] head split) goes into `lhs_perm` / `rhs_perm`
    when the stored last axis stays among the last two: the GEMM reads the
    stored tensor with the permuted strides."""
    flags = [op.transpose_a, op.transpose_b]
    perms = [op.lhs_perm, op.rhs_perm]
    operands = list(op.operands)
    batched = operands[0].type.rank == operands[1].type.rank >= 3
    for i, v in enumerate(operands):
        inner = defining_op(v, "kiln.transpose")
        if inner is None:
            continue
        if swaps_last_two(inner) and not perms[i]:
            operands[i], flags[i] = inner.x, not flags[i]
            continue
        rank = v.type.rank
        perm = _composed(perms[i], inner.perm, rank)
        if batched and (not perm or perm.index(rank - 1) >= rank - 2):
            operands[i], perms[i] = inner.x, perm
    if operands != list(op.operands):
        y = _matmul(
            rw,
            op,
            *operands,
            transpose_a=flags[0],
            transpose_b=flags[1],
            lhs_perm=perms[0],
            rhs_perm=perms[1],
        )
        rw.replace(op, y)


@pattern("kiln.matmul")
def transpose_after_matmul(op: Operation, rw: Rewriter) -> None:
    """matmul(transpose(x, p), w) -> transpose(matmul(x, w), p) for a matrix w
    and a transpose that keeps x's last axis: the rows are the same rows in
    another order, so the product of x's rows as stored is one GEMM (its batch
    folded into M) and the transpose moves to the result, where it meets the
    next reshape or transpose (attention's [B, S, D] -> [S, B, D] before its
    input projection). Only when the product's one use is a reshape or a
    transpose: before a bias (an LSTM's input projection) the transpose would
    stay, on the wider result, and split the bias from the GEMM's epilogue."""
    inner = defining_op(op.lhs, "kiln.transpose")
    rank = op.lhs.type.rank
    if (
        inner is None
        or op.rhs.type.rank != 2
        or rank < 3
        or op.transpose_a
        or op.lhs_perm
        or inner.perm[-1] != rank - 1
        or len(op.result.uses) != 1
        or next(iter(op.result.uses)).name not in ("kiln.reshape", "kiln.transpose")
    ):
        return  # moved to a result with other uses (a bias) it would stay a copy, larger
    y = _matmul(rw, op, inner.x, op.rhs)
    rw.replace(op, rw.b.transpose(y, perm=list(inner.perm)))


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
    y = _matmul(
        rw,
        mm,
        mm.rhs,
        mm.lhs,
        transpose_a=not mm.transpose_b,
        transpose_b=not mm.transpose_a,
        lhs_perm=mm.rhs_perm,
        rhs_perm=mm.lhs_perm,
    )
    rw.replace(op, y)


def split_axes(source: tuple, target: tuple) -> dict[int, list[int]] | None:
    """How a reshape from `source` to `target` only splits axes (and drops or
    adds axes of size 1): source axis -> the consecutive target axes it splits
    into, for each source axis of size other than 1; None when it does more
    (merges axes). Static sizes and equal named dims match exactly; one
    source axis of another symbolic size may take the target axes that the
    axes around it leave (the reshape's element count is the same)."""
    src = [(i, d) for i, d in enumerate(source) if d != 1]
    dst = [(j, d) for j, d in enumerate(target) if d != 1]

    def exact(d, dims) -> int | None:  # how many of `dims` (in order) make d
        if not isinstance(d, int):
            return 1 if dims and known_equal(dims[0], d) else None
        product, n = 1, 0
        while product < d and n < len(dims) and isinstance(dims[n], int):
            product, n = product * dims[n], n + 1
        return n if product == d and n else None

    groups: dict[int, list[int]] = {}
    lo, hi = 0, len(dst)
    i = 0
    while i < len(src):  # from the left, up to an axis that matches no exact group
        n = exact(src[i][1], [d for _, d in dst[lo:hi]])
        if n is None:
            break
        groups[src[i][0]] = [j for j, _ in dst[lo : lo + n]]
        lo, i = lo + n, i + 1
    k = len(src) - 1
    while k > i:  # from the right, down to it
        n = exact(src[k][1], [d for _, d in reversed(dst[lo:hi])])
        if n is None:
            return None
        groups[src[k][0]] = [j for j, _ in dst[hi - n : hi]]
        hi, k = hi - n, k - 1
    if i < len(src):  # the one left takes what remains
        if hi <= lo:
            return None
        groups[src[i][0]] = [j for j, _ in dst[lo:hi]]
    elif lo != hi:
        return None
    return groups


@pattern("kiln.reshape")
def reshape_before_transpose(op: Operation, rw: Rewriter) -> None:
    """reshape(transpose(x, p)) -> transpose(reshape(x), p') when the reshape (or
    a chain of reshapes, each the only use of the one before) only splits axes
    (or drops or adds axes of size 1): each of x's axes split as its
    transposed axis is, then transposed. Reshapes then gather before
    transposes, where transposes meet and compose and matmul reads them as
    strides (attention's [S, B, H*D] -> [S, B*H, D] -> [B*H, S, D] ->
    [B, H, S, D] head split)."""
    source = op.x
    while (inner := defining_op(source, "kiln.reshape")) is not None and len(source.uses) == 1:
        source = inner.x
    inner = defining_op(source, "kiln.transpose")
    if inner is None or len(source.uses) != 1:
        return
    target = op.type.shape
    groups = split_axes(tuple(source.type.shape), tuple(target))
    if groups is None:
        return
    new_shape: list = []
    position: dict[int, int] = {}  # target axis -> its axis in the new reshape of x
    where = {p: j for j, p in enumerate(inner.perm)}  # x's axis -> the transpose's
    for a in range(inner.x.type.rank):
        for t in groups.get(where[a], []):
            position[t] = len(new_shape)
            new_shape.append(target[t])
    for t in range(len(target)):  # the target's axes of size 1, after x's
        if t not in position:
            position[t] = len(new_shape)
            new_shape.append(1)
    reshaped = _reshaped(rw, inner.x, new_shape)
    if reshaped is None:
        return
    y = rw.b.transpose(reshaped, perm=[position[t] for t in range(len(target))])
    if y.type == op.type:
        rw.replace(op, y)


def _reshaped(rw: Rewriter, x: Value, shape: list) -> Value | None:
    """x reshaped to the dims `shape` (at most one symbolic), the symbolic one
    anonymous (`?`) where `shape` has it so: reshaped through a flat view
    first, which forgets the name of x's symbol, when a direct reshape would
    infer it (a rewrite keeps its result type exactly)."""
    symbolic = [d for d in shape if not isinstance(d, int)]
    if len(symbolic) > 1:
        return None
    attr = [d if isinstance(d, int) else -1 for d in shape]
    y = rw.b.reshape(x, shape=attr)
    if list(y.type.shape) != list(shape) and symbolic and symbolic[0].anonymous:
        y = rw.b.reshape(rw.b.reshape(x, shape=[-1]), shape=attr)
    return y if list(y.type.shape) == list(shape) else None


@pattern("kiln.gather")
def gather_before_transpose(op: Operation, rw: Rewriter) -> None:
    """gather(transpose(x, p), i, axis) -> transpose(gather(x, i, p[axis])) for a
    scalar index i: the element's slice of x, then the other axes in p's order
    (the q, k, v of a fused input projection, each taken from a transpose)."""
    inner = defining_op(op.params, "kiln.transpose")
    if inner is None or op.indices.type.rank != 0:
        return
    rank = op.params.type.rank
    axis = op.axis % rank
    taken = inner.perm[axis]
    rest = [p - (p > taken) for j, p in enumerate(inner.perm) if j != axis]
    y = rw.b.gather(inner.x, op.indices, axis=taken)
    if rest != list(range(len(rest))):
        y = rw.b.transpose(y, perm=rest)
    if y.type == op.type:
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
