"""scan-hoist: a scan body's matmul of a scanned slice by a loop-invariant matrix
becomes one matmul over all steps in front of the scan.

x_t @ W for t = 0..T-1, with x_t slice t of an xs [T, B, K] and W a carried
value the body yields unchanged (a weight), is xs @ W: one matmul [T, B, K]
x [K, N] -> [T, B, N], which codegen runs as one BLAS-sized GEMM of T*B rows
(codegen/contraction.py folds the batch into M when W is shared), whose
rows come in as a new xs, instead of T small ones inside the loop. Recurrent
layers have this shape twice: a step's input projection (when a frontend
leaves it in the step; dynamic_rnn and the Keras layers hoist it already,
frontend/rnn.py), and autodiff's backward scan, which recomputes each step's
gates from the stacked residual h_{t-1} (ir/ops/control.py, Scan.vjp):
hoisted, that recomputation is one GEMM before the backward loop, much as
cuDNN and PyTorch's LSTM backward keep the gates of the forward.

Then a hoisted matmul of a scan's stacked carried value (a residual: each
step's h_{t-1}) by the matrix of one of its invariants is what the scan's
body computes already (the forward's h_{t-1} @ U): the scan yields that
product as one more stacked output instead, and the backward recomputes
nothing.

Last, a body matmul that reads an invariant matrix transposed (autodiff's
backward step dH = dG W^T, ONNX's h R^T) reads it through a transpose made
once in front of the scan, a new invariant carried value (a constant of the
body, as an ONNX initializer, is replaced by its transpose): the GEMM packs a
transposed operand by gathering across its rows, every step, while a row-major
one it copies by vectors (the LSTM's dG W^T step: ~1.8x faster), much as
oneDNN and MKL take weights packed once for every step.
"""

from __future__ import annotations

import numpy as np

from ..ir import Block, Builder, Module, Operation, Region
from .licm import add_carried
from .manager import register_pass
from .rewrite import blocks


def _hoistable(scan: Operation, op: Operation) -> tuple[int, int] | None:
    """(xs index, carried index) when `op` is matmul(slice of xs j, invariant k)."""
    if op.name != "kiln.matmul" or op.transpose_a or op.lhs_perm or op.rhs_perm or op.regions:
        return None
    body, n = scan.body, scan.num_carried
    lhs, rhs = op.operands
    args = list(body.args)
    j = next((i for i in range(n, len(args)) if args[i] is lhs), None)
    k = next((i for i in range(n) if args[i] is rhs), None)
    if j is None or k is None or body.terminator.operands[k] is not rhs:
        return None
    if lhs.type.rank != 2 or rhs.type.rank != 2 or op.result.type.rank != 2:
        return None
    return j - n, k


def _hoist(scan: Operation) -> int:
    """Hoist every such matmul of one scan; returns how many moved."""
    found = [(op, _hoistable(scan, op)) for op in scan.body.ops]
    found = [(op, where) for op, where in found if where is not None]
    if not found:
        return 0
    n = scan.num_carried
    b = Builder.before(scan)
    b.loc = scan.loc
    stacked = []
    for op, (j, k) in found:
        xs, w = scan.operands[n + j], scan.operands[k]
        stacked.append(b.matmul(xs, w, transpose_b=op.transpose_b))
    old = scan.body
    types = [a.type for a in old.args] + [op.result.type for op, _ in found]
    new = Block(types, [a.name for a in old.args])
    for a, fresh in zip(old.args, new.args):
        a.replace_all_uses_with(fresh)
    for (op, _), arg in zip(found, new.args[len(old.args) :]):
        op.result.replace_all_uses_with(arg)
        old.erase(op)
    for op in list(old.ops):
        old.detach(op)
        new.append(op)
    rebuilt = b.create(
        "kiln.scan", *scan.operands, *stacked, regions=[Region([new])], **dict(scan.attrs)
    )
    for before, after in zip(scan.results, rebuilt.results):
        after.name = before.name
        before.replace_all_uses_with(after)
    scan.parent.erase(scan)
    return len(found)


def _reuse(scan: Operation) -> int:
    """Replace matmul(stacked carried k, invariant operand k2) after `scan` by a new
    stacked output of the body's matmul(arg k, arg k2); returns how many."""
    body, n = scan.body, scan.num_carried
    args, yielded = list(body.args), list(body.terminator.operands)
    invariant = {k for k in range(n) if yielded[k] is args[k]}
    products = {}
    for op in body.ops:
        if op.name == "kiln.matmul" and not (op.transpose_a or op.lhs_perm or op.rhs_perm):
            products[(id(op.operands[0]), id(op.operands[1]), op.transpose_b)] = op.result
    found = []  # (outside matmul, body value to stack)
    for j in range(n, len(yielded)):
        k = next((i for i in range(n) if yielded[j] is args[i]), None)
        if k is None:
            continue
        for use in list(scan.results[j].uses):
            if (
                use.name != "kiln.matmul"
                or use.transpose_a
                or use.lhs_perm
                or use.rhs_perm
                or use.operands[0] is not scan.results[j]
            ):
                continue
            k2 = next((i for i in invariant if scan.operands[i] is use.operands[1]), None)
            value = (
                None if k2 is None else products.get((id(args[k]), id(args[k2]), use.transpose_b))
            )
            if (
                value is not None
                and use.result.type.with_shape(use.result.type.shape[1:]) == value.type
            ):
                found.append((use, value))
    if not found:
        return 0
    new = Block([a.type for a in args], [a.name for a in args])
    for a, fresh in zip(args, new.args):
        a.replace_all_uses_with(fresh)
    for op in list(body.ops):
        body.detach(op)
        new.append(op)
    end = new.terminator
    outputs = list(end.operands) + [value for _, value in found]
    end.drop_operands()
    new.erase(end)
    Builder.at_end(new).create("kiln.yield", *outputs)
    rebuilt = Builder.before(scan).create(
        "kiln.scan", *scan.operands, regions=[Region([new])], loc=scan.loc, **dict(scan.attrs)
    )
    for before, after in zip(scan.results, rebuilt.results):
        after.name = before.name
        before.replace_all_uses_with(after)
    for (use, _), stacked in zip(found, rebuilt.results[len(scan.results) :]):
        use.result.replace_all_uses_with(stacked)
        use.parent.erase(use)
    scan.parent.erase(scan)
    return len(found)


def _pretranspose(scan: Operation) -> int:
    """Give every body matmul of an invariant matrix as its transposed right
    operand that matrix transposed once before `scan`; returns how many."""
    body, n = scan.body, scan.num_carried
    yielded = body.terminator.operands
    invariant = {body.args[k]: k for k in range(n) if yielded[k] is body.args[k]}
    constant = {r for op in body.ops if op.name == "kiln.constant" for r in op.results}
    found = [
        op
        for op in body.ops
        if op.name == "kiln.matmul"
        and op.transpose_b
        and not op.rhs_perm
        and (op.operands[1] in invariant or op.operands[1] in constant)
        and op.operands[1].type.rank == 2
    ]
    if not found:
        return 0
    stand_in: dict = {}  # invariant -> its transpose in the body, until it comes in carried
    folded: dict = {}  # a constant matrix (an ONNX initializer) -> its transpose, a constant
    for op in found:
        w = op.operands[1]
        at = Builder.before(op)
        at.loc = op.loc
        if w in constant:
            if w not in folded:
                folded[w] = at.constant(np.ascontiguousarray(w.op.value.array.T), w.type.dtype)
            operand = folded[w]
        else:
            if w not in stand_in:
                stand_in[w] = at.transpose(w, perm=[1, 0])
            operand = stand_in[w]
        attrs = {k: v for k, v in op.attrs.items() if k != "transpose_b"}
        op.result.replace_all_uses_with(at.matmul(op.operands[0], operand, **attrs))
        body.erase(op)
        if w in constant and not w.uses:
            body.erase(w.op)
    if not stand_in:
        return len(found)
    b = Builder.before(scan)
    b.loc = scan.loc
    outer = [b.transpose(scan.operands[invariant[w]], perm=[1, 0]) for w in stand_in]
    inner = list(stand_in.values())
    add_carried(scan, outer, inner)
    for v in inner:
        v.op.parent.erase(v.op)
    return len(found)


@register_pass("scan-hoist")
def scan_hoist(module: Module) -> dict[str, int]:
    """Hoist matmuls of a scanned slice by an invariant matrix out of kiln.scan bodies."""
    hoisted = reused = 0
    for block in reversed(list(blocks(module))):
        for op in list(block.ops):
            if op.name == "kiln.scan":
                hoisted += _hoist(op)
    for block in reversed(list(blocks(module))):
        for op in list(block.ops):
            if op.name == "kiln.scan":
                reused += _reuse(op)
    transposed = 0
    for block in reversed(list(blocks(module))):
        for op in list(block.ops):
            if op.name == "kiln.scan":
                transposed += _pretranspose(op)
    return {
        "matmuls hoisted": hoisted,
        "products reused": reused,
        "operands transposed once": transposed,
    }
