"""Transposes sunk through elementwise ops at import, so NCHW <-> NHWC pairs meet.

ONNX is channels-first and kiln's convolutions and pools are channels-last, so
each converter transposes in and out. Between two convolutions the transposes
are separated by the elementwise ops of the model (BatchNorm, Relu, a residual
Add): this rewrite moves a transpose below an elementwise op whose operands are
transposes by the same permutation, scalars or constants (transposed the other
way, which the fold pass then computes), so the pair becomes adjacent and
canonicalize's transpose-of-transpose rule removes it.
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Function, Operation, Trait, Value

_SINKABLE = {"kiln.batch_norm"}  # broadcasting, per-element composites
_PURE_CONSTANT = {"kiln.constant", "kiln.reshape", "kiln.transpose", "kiln.cast"}


def _is_constant(v: Value, memo: dict) -> bool:
    owner = v.owner
    if not isinstance(owner, Operation):
        return False
    if owner in memo:
        return memo[owner]
    stack, result = [owner], True
    seen = set()
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if op.name not in _PURE_CONSTANT:
            result = False
            break
        for x in op.operands:
            if not isinstance(x.owner, Operation):
                result = False
                break
            stack.append(x.owner)
        if not result:
            break
    memo[owner] = result
    return result


def _perm_of(v: Value) -> tuple[int, ...] | None:
    owner = v.owner
    if isinstance(owner, Operation) and owner.name == "kiln.transpose":
        return tuple(owner.perm)
    return None


def _inverse(perm: tuple[int, ...]) -> list[int]:
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return out


def sink_transposes(func: Function) -> int:
    """Move transposes below elementwise ops; returns how many ops were rewritten."""
    memo: dict = {}
    rewritten = 0
    for op in list(func.ops):
        if not (op.has_trait(Trait.ELEMENTWISE) or op.name in _SINKABLE) or op.regions:
            continue
        if len(op.results) != 1:
            continue
        rank = op.result.type.rank
        perms = {_perm_of(x) for x in op.operands if _perm_of(x) is not None}
        if len(perms) != 1:
            continue
        perm = perms.pop()
        if len(perm) != rank:
            continue
        ok = True
        for x in op.operands:
            p = _perm_of(x)
            if p == perm and x.type.rank == rank:
                continue
            if x.type.rank == 0 or _is_constant(x, memo):
                continue
            ok = False
            break
        if not ok:
            continue
        b = Builder.before(op)
        inverse = _inverse(perm)
        operands = []
        for x in op.operands:
            if _perm_of(x) == perm and x.type.rank == rank:
                operands.append(x.owner.x)
            elif x.type.rank == 0:
                operands.append(x)
            else:  # a constant: to the rank, then the other way round
                if x.type.rank < rank:
                    x = b.reshape(x, shape=[1] * (rank - x.type.rank) + list(x.type.shape))
                operands.append(b.transpose(x, perm=inverse))
        attrs = {k: getattr(op, k) for k in type(op).attr_specs}
        inner = b.create(op.name, *operands, loc=op.loc, **attrs).result
        out = b.transpose(inner, perm=list(perm))
        op.result.replace_all_uses_with(out)
        op.parent.erase(op)
        rewritten += 1
    return rewritten
