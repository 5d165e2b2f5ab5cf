"""Tensor contractions by TensorFlow's names: tf.tensordot and tf.einsum.

Both become one batched kiln.matmul between transposes and reshapes (the
way TensorFlow's own einsum is lowered), so they run in the matmul kernel
and differentiate through ops that already have gradient rules. Dims that
are merged into one matmul dim must be static, except a single unknown dim
(a batch size) that a reshape can infer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .graph import GraphError, Tensor, get_default_graph
from .ops import convert_to_tensor, matmul, reduce_sum, reshape, transpose

__all__ = ["einsum", "tensordot"]


def _dims(x: Tensor, what: str) -> list[int | None]:
    if x.shape.ndims is None:
        raise GraphError(f"{what}: the rank of {x.name} must be known")
    return x.shape.as_list()


def _reshape(x: Tensor, dims: Sequence[int | None], what: str) -> Tensor:
    """Reshape to `dims` (None as -1, at most one), a no-op when they match."""
    if list(dims) == _dims(x, what):
        return x
    if sum(d is None for d in dims) > 1:
        raise GraphError(
            f"{what}: {x.name} {x.shape} has more than one unknown dim to merge or split; "
            "kiln needs them static"
        )
    return reshape(x, [-1 if d is None else int(d) for d in dims])


def _group(x: Tensor, sizes: Sequence[int], what: str) -> Tensor:
    """Merge consecutive dims of `x` into groups of `sizes` dims each (a group
    of 0 dims becomes a new dim of 1; a group with an unknown dim is unknown,
    which the reshape infers when it is the only one)."""
    dims, out, at = _dims(x, what), [], 0
    for n in sizes:
        part = dims[at : at + n]
        out.append(None if None in part else int(np.prod(part, dtype=np.int64)))
        at += n
    return _reshape(x, out, what)


def _transpose(x: Tensor, perm: Sequence[int]) -> Tensor:
    return x if list(perm) == list(range(len(perm))) else transpose(x, list(perm))


def tensordot(a: Any, b: Any, axes: Any, name: str | None = None) -> Tensor:
    """Sum of a * b over a's `axes[0]` and b's `axes[1]` (tf.tensordot); an int
    N contracts a's last N dims with b's first N. The result's dims are a's
    free dims, then b's."""
    a, b = convert_to_tensor(a), convert_to_tensor(b)
    ra, rb = len(_dims(a, "tensordot")), len(_dims(b, "tensordot"))
    if isinstance(axes, int):
        if not 0 <= axes <= min(ra, rb):
            raise GraphError(f"tensordot: axes={axes} is out of range for ranks {ra} and {rb}")
        ax_a, ax_b = list(range(ra - axes, ra)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise GraphError(f"tensordot: axes {ax_a} and {ax_b} have different lengths")
        ax_a = [int(i) % ra for i in ax_a]
        ax_b = [int(i) % rb for i in ax_b]
    free_a = [i for i in range(ra) if i not in ax_a]
    free_b = [i for i in range(rb) if i not in ax_b]
    da, db = _dims(a, "tensordot"), _dims(b, "tensordot")
    for i, j in zip(ax_a, ax_b):
        if da[i] is not None and db[j] is not None and da[i] != db[j]:
            raise GraphError(
                f"tensordot: dim {i} of {a.name} ({da[i]}) and dim {j} of {b.name} ({db[j]}) differ"
            )
    with get_default_graph().name_scope(name or "Tensordot"):
        x = _group(_transpose(a, free_a + ax_a), [len(free_a), len(ax_a)], "tensordot")
        y = _group(_transpose(b, ax_b + free_b), [len(ax_b), len(free_b)], "tensordot")
        out = matmul(x, y)
        return _reshape(out, [da[i] for i in free_a] + [db[j] for j in free_b], "tensordot")


# ------------------------------------------------------------------ einsum

_TERM = re.compile(r"^[A-Za-z]*$")


def _parse(equation: str, n: int) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    if "." in eq:
        raise GraphError(f"einsum {equation!r}: kiln does not support '...' yet; name the dims")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != n:
        raise GraphError(f"einsum {equation!r}: {len(terms)} terms for {n} inputs")
    if not arrow:  # implicit output: the labels used once, in alphabetical order
        counts = {c: lhs.count(c) for c in set(lhs) if c != ","}
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    for t in [*terms, out]:
        if not _TERM.match(t):
            raise GraphError(f"einsum {equation!r}: bad term {t!r} (letters only)")
        if len(set(t)) != len(t):
            raise GraphError(
                f"einsum {equation!r}: repeated label in {t!r} (diagonals) is not supported"
            )
    for c in out:
        if c not in lhs:
            raise GraphError(f"einsum {equation!r}: output label {c!r} is in no input")
    return terms, out


def _sum_out(x: Tensor, labels: str, keep: str) -> tuple[Tensor, str]:
    """Sum `x` over its labels not in `keep`."""
    gone = [i for i, c in enumerate(labels) if c not in keep]
    if not gone:
        return x, labels
    return reduce_sum(x, axis=gone), "".join(c for c in labels if c in keep)


def _pair(a: Tensor, la: str, b: Tensor, lb: str, keep: str) -> tuple[Tensor, str]:
    """a (labels la) times b (labels lb) summed over the shared labels not in
    `keep`: one batched matmul (batch = shared and kept, contracted = shared
    and not kept)."""
    a, la = _sum_out(a, la, lb + keep)
    b, lb = _sum_out(b, lb, la + keep)
    batch = [c for c in la if c in lb and c in keep]
    contract = [c for c in la if c in lb and c not in keep]
    free_a = [c for c in la if c not in lb]
    free_b = [c for c in lb if c not in la]
    dim = {}
    for x, labels in ((a, la), (b, lb)):
        for c, d in zip(labels, _dims(x, "einsum")):
            if d is not None and dim.get(c) not in (None, d):
                raise GraphError(f"einsum: label {c!r} has sizes {dim[c]} and {d}")
            dim[c] = d if dim.get(c) is None else dim[c]
    nb = len(batch)
    x = _transpose(a, [la.index(c) for c in batch + free_a + contract])
    y = _transpose(b, [lb.index(c) for c in batch + contract + free_b])
    x = _group(x, [1] * nb + [len(free_a), len(contract)], "einsum")
    y = _group(y, [1] * nb + [len(contract), len(free_b)], "einsum")
    out = matmul(x, y)
    labels = batch + free_a + free_b
    return _reshape(out, [dim[c] for c in labels], "einsum"), "".join(labels)


def einsum(equation: str, *inputs: Any, name: str | None = None, **kwargs: Any) -> Tensor:
    """Einstein summation (tf.einsum): "ij,jk->ik", "bij,bjk->bik", "i,i->",
    "ij->ji", ... Operands are contracted left to right, each pair as one
    batched matmul. Not supported: '...' and repeated labels in one term."""
    if len(inputs) == 1 and isinstance(inputs[0], list | tuple):
        inputs = tuple(inputs[0])
    if not inputs:
        raise GraphError(f"einsum {equation!r}: needs at least one input")
    tensors = [convert_to_tensor(x) for x in inputs]
    terms, out = _parse(equation, len(tensors))
    for t, term in zip(tensors, terms):
        if len(_dims(t, "einsum")) != len(term):
            raise GraphError(
                f"einsum {equation!r}: term {term!r} has {len(term)} labels but "
                f"{t.name} has rank {t.shape.ndims}"
            )
    with get_default_graph().name_scope(name or "einsum"):
        x, labels = tensors[0], terms[0]
        for i in range(1, len(tensors)):
            later = "".join(terms[i + 1 :]) + out
            x, labels = _pair(x, labels, tensors[i], terms[i], later)
        x, labels = _sum_out(x, labels, out)
        if not out:
            return x
        return _transpose(x, [labels.index(c) for c in out]) if labels != out else x
