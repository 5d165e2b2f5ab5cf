"""The converter of ONNX Einsum: the equation decomposed into kiln's
transpose, reduce_sum, reshape and matmul (batched), two operands at a time.

For a pair, every letter is a batch letter (in both and kept), a contracted
one (in both, not needed later), or belongs to one side; each side is summed
over the letters nothing else needs, transposed to (batch, own, contracted)
and reshaped to 3-D, so one kiln.matmul does the work. A letter repeated in
one operand (a diagonal) is first reduced to one axis with an identity mask.
The dims of the letters that a reshape merges must be static.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def _parse(ctx: Context, node: Node, equation: str, ranks: list[int]):
    """([letters of each operand], letters of the result), '...' spelled out
    as upper-case letters."""
    equation = equation.replace(" ", "")
    lhs, arrow, out = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ctx.error(
            node, f"equation {equation!r} names {len(terms)} operands, got {len(ranks)}"
        )
    ellipsis = ""
    spelled = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            n = rank - (len(term) - 3)
            dots = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[26 - n :] if n else ""
            if len(dots) > len(ellipsis):
                ellipsis = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[26 - len(dots) :]
            term = term.replace("...", dots)
        if len(term) != rank:
            raise ctx.error(node, f"term {term!r} does not fit an operand of rank {rank}")
        spelled.append(term)
    if arrow:
        out = out.replace("...", ellipsis)
    else:
        counts = {}
        for term in spelled:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        out = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1 and c.islower()))
    return spelled, out


def _diagonals(ctx: Context, node: Node, x: Value, term: str) -> tuple[Value, str]:
    """x with each letter repeated in its term reduced to one axis: the entries
    where the repeated indices agree (an identity mask, then a sum)."""
    b = ctx.b
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        p, q = term.index(c), term.index(c, term.index(c) + 1)
        n, m = x.type.shape[p], x.type.shape[q]
        if not isinstance(n, int) or n != m:
            raise ctx.error(node, f"the diagonal of {c!r} needs equal static dims, got {n} and {m}")
        shape = [1] * len(term)
        shape[p] = shape[q] = n
        eye = np.eye(n, dtype=x.type.dtype.numpy).reshape(shape)
        x = b.reduce_sum(b.mul(x, ctx.constant(eye, x.type.dtype)), axes=[q])
        term = term[:q] + term[q + 1 :]
    return x, term


def _sum_out(b, x: Value, term: str, keep: set) -> tuple[Value, str]:
    axes = [i for i, c in enumerate(term) if c not in keep]
    if not axes:
        return x, term
    return b.reduce_sum(x, axes=axes), "".join(c for c in term if c in keep)


def _permute(b, x: Value, term: str, order: str) -> Value:
    if term == order:
        return x
    return b.transpose(x, perm=[term.index(c) for c in order])


def _size(ctx, node, dims: dict, letters: str) -> int:
    sizes = [dims[c] for c in letters]
    if not all(isinstance(n, int) for n in sizes):
        raise ctx.error(node, f"the dims of {letters!r} must be static to contract them")
    return math.prod(sizes)


def _broadcast_dims(ctx, node, dims: dict, term: str, shape) -> None:
    for c, n in zip(term, shape):
        if c in dims and dims[c] != n and n != 1 and dims[c] != 1:
            raise ctx.error(node, f"letter {c!r} has sizes {dims[c]} and {n}")
        if c not in dims or dims[c] == 1:
            dims[c] = n


def _pair(ctx, node, x: Value, xt: str, y: Value, yt: str, later: set, dims: dict):
    """x and y contracted into one value and its letters (in a fixed order)."""
    b = ctx.b
    x, xt = _sum_out(b, x, xt, set(yt) | later)
    y, yt = _sum_out(b, y, yt, set(xt) | later)
    batch = "".join(c for c in xt if c in yt and c in later)
    contracted = "".join(c for c in xt if c in yt and c not in later)
    left = "".join(c for c in xt if c not in yt)
    right = "".join(c for c in yt if c not in xt)
    for c in batch + contracted:  # broadcasting size-1 dims of one side is not folded
        xn, yn = x.type.shape[xt.index(c)], y.type.shape[yt.index(c)]
        if xn != yn:
            raise ctx.error(node, f"letter {c!r} has sizes {xn} and {yn}")
    x = _permute(b, x, xt, batch + left + contracted)
    y = _permute(b, y, yt, batch + contracted + right)
    batch_dims = [dims[c] for c in batch]
    nb = -1 if batch else 1
    x = b.reshape(x, shape=[nb, _size(ctx, node, dims, left), _size(ctx, node, dims, contracted)])
    y = b.reshape(y, shape=[nb, _size(ctx, node, dims, contracted), _size(ctx, node, dims, right)])
    z = b.matmul(x, y)
    shape = batch_dims + [dims[c] for c in left + right]
    if sum(1 for n in shape if not isinstance(n, int)) > 1:
        raise ctx.error(node, "at most one symbolic dim can survive a contraction")
    z = b.reshape(z, shape=[n if isinstance(n, int) else -1 for n in shape])
    return z, batch + left + right


@converter("Einsum", 12)
def einsum(ctx: Context, node: Node) -> list[Value]:
    operands = [v for v in node.inputs if v is not None]
    terms, out = _parse(ctx, node, node.attr("equation"), [v.type.rank for v in operands])
    dims: dict = {}
    for v, term in zip(operands, terms):
        _broadcast_dims(ctx, node, dims, term, v.type.shape)
    missing = [c for c in out if c not in dims]
    if missing:
        raise ctx.error(node, f"output letters {missing} appear in no operand")
    for k, (v, term) in enumerate(zip(operands, terms)):
        operands[k], terms[k] = _diagonals(ctx, node, v, term)
    x, xt = operands[0], terms[0]
    for k in range(1, len(operands)):
        later = set(out).union(*terms[k + 1 :])
        x, xt = _pair(ctx, node, x, xt, operands[k], terms[k], later, dims)
    x, xt = _sum_out(ctx.b, x, xt, set(out))
    return [_permute(ctx.b, x, xt, out)]
