"""autodiff: reverse-mode differentiation as an IR-to-IR transform.

`differentiate(module, "f", wrt=[0, 1])` adds to the module a function
``@f_grad`` with f's arguments that returns f's results followed by the
gradients with respect to arguments 0 and 1. It

1. copies f's body into the new function, inlining calls and decomposing
   composite ops that have no gradient rule of their own;
2. marks the values that depend on a `wrt` argument (floating point only:
   integers and bools carry no gradient; not-differentiable ops cut the path);
3. walks the copied ops backwards (a block lists its ops in a topological
   order, so its reverse is a reverse topological order; the walk is a loop,
   so deep graphs are fine) and, for each op whose results have cotangents,
   calls its rule (the `vjp` its op class declares, ir/ops/), sums each
   operand's cotangent back to the operand's shape (`unbroadcast`, the one
   place broadcasting is undone) and accumulates cotangents with kiln.add;
4. erases the gradient ops nobody uses (the cotangents of constants).

The new function is ordinary IR, so applying the transform to it gives
second derivatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import (
    Block,
    Builder,
    Function,
    KilnError,
    Module,
    Operation,
    Region,
    Value,
)
from ..ir.gradient import set_region_adjoint, zeros_like
from ..ir.registry import has_gradient_rule
from ..ir.types import may_equal
from .manager import register_pass


def differentiate(
    module: Module,
    func_name: str,
    wrt: int | Sequence[int],
    of: int | Sequence[int] = (0,),
    seeds: bool = False,
    name: str | None = None,
) -> Function:
    """Add the function `name` (default ``<func_name>_grad``) to `module` and return it.

    It takes `func_name`'s arguments and, when `seeds` is true, one cotangent
    per result in `of` (typed like it); it returns `func_name`'s results, then
    the gradient of (the sum of cotangent * result over `of`) with respect to
    each argument in `wrt`, typed like that argument. Without seeds every
    result in `of` must hold one element, and its cotangent is 1, as in
    tf.gradients. An argument the results do not depend on gets zeros.
    """
    func = module[func_name]
    wrt, of = _indices(wrt, len(func.args), "wrt"), _indices(of, len(func.result_types), "of")
    name = name or f"{func_name}_grad"
    _check(module, func, wrt, of, seeds, name)

    seed_types = [func.result_types[i] for i in of] if seeds else []
    grad = Function(
        name, func.arg_types + seed_types, [a.name for a in func.args] + [f"seed{i}" for i in of]
    )
    b = Builder.at_end(grad.body)
    mapping: dict[Value, Value] = dict(zip(func.args, grad.args))
    for op in func.ops:
        clone(op, b, mapping)
    _expand(grad.body, module)
    results = _take_results(grad.body)
    forward = list(grad.body.ops)

    if seeds:
        seed_values = grad.args[len(func.args) :]
    else:
        seed_values = [
            b.constant(np.ones(t.shape, t.dtype.numpy), t.dtype)
            for t in (results[i].type for i in of)
        ]
    wrt_args = [grad.args[i] for i in wrt]
    cotangents = backward(forward, b, wrt_args, [(results[i], s) for i, s in zip(of, seed_values)])
    gradients = [cotangents[a] if a in cotangents else zeros_like(b, a) for a in wrt_args]
    b.ret(*results, *gradients)
    _erase_unused(grad.body, len(forward))
    return module.add(grad)


def backward(
    ops: Sequence[Operation],
    b: Builder,
    wrt: Sequence[Value],
    seeds: Sequence[tuple[Value, Value]],
    overrides: dict[Operation, Any] | None = None,
) -> dict[Value, Value]:
    """Cotangents of the values on a path from `wrt` to the seeded values: the
    ops of `ops` (one block, in order) differentiated in reverse, built with `b`.
    `overrides` maps an op to a rule used in place of its registered one (the
    frontend's RegisterGradient). A rule may give a dict, value -> cotangent, in
    place of one cotangent per operand, and name in `rule.inputs` values it
    reaches that are not operands (tf.custom_gradient's inputs): autodiff takes
    its op as depending on them, even an op declared not differentiable."""
    varied = _varied(ops, wrt, overrides)
    cotangents: dict[Value, Value] = {}

    def accumulate(value: Value, cotangent: Value) -> None:
        if value in cotangents:
            cotangents[value] = b.add(cotangents[value], cotangent)
        else:
            cotangents[value] = cotangent

    for value, seed in seeds:
        if value in varied:
            accumulate(value, seed)
    for op in reversed(ops):
        outputs = [cotangents.get(r) for r in op.results]
        if all(g is None for g in outputs):
            continue
        b.loc = op.loc
        rule = overrides.get(op) if overrides else None
        inputs = rule(op, b, *outputs) if rule else _vjp(op, b, outputs)
        if isinstance(inputs, dict):
            for value, g in inputs.items():
                if g is not None and value in varied:
                    accumulate(value, unbroadcast(b, g, value, op))
            continue
        if len(inputs) != len(op.operands):
            raise op.error(
                f"its gradient rule gave {len(inputs)} cotangents for {len(op.operands)} operands",
                KilnError,
            )
        for operand, g in zip(op.operands, inputs):
            if g is not None and operand in varied:
                accumulate(operand, unbroadcast(b, g() if callable(g) else g, operand, op))
    return cotangents


def region_adjoint(
    b: Builder, block: Block, args: Sequence[Value], seeds: dict[int, Value]
) -> list[Value | None]:
    """The reverse walk inside a region op's rule (ir.gradient.region_adjoint):
    `block`'s ops copied with `b` onto `args`, then differentiated from
    `seeds` (yield position -> cotangent); the cotangent of each of `args`."""
    mapping: dict[Value, Value] = dict(zip(block.args, args))
    copied = [clone(op, b, mapping) for op in block.ops[:-1]]
    yielded = [mapping[v] for v in block.terminator.operands]
    wrt = [a for a in args if a.type.dtype.is_float]
    cotangents = backward(copied, b, wrt, [(yielded[k], g) for k, g in seeds.items()])
    return [cotangents.get(a) if a.type.dtype.is_float else None for a in args]


set_region_adjoint(region_adjoint)


def unbroadcast(b: Builder, g: Value, operand: Value, op: Operation) -> Value:
    """The cotangent `g` summed back to `operand`'s shape: over the leading dims
    the operand lacks and over its static 1 dims where `g` is not 1 (the dims
    broadcasting added). Where the dims then differ only by a symbol's name
    (`?` for `N`), broadcast_like retypes it.

    A symbolic dim of the operand is taken as not broadcast: a `?` that is 1
    at run time against a larger dim is not supported.
    """
    want, have = operand.type, g.type
    lead = have.rank - want.rank
    if have.dtype != want.dtype or lead < 0:
        raise op.error(f"its gradient rule gave {have} for an operand of type {want}", KilnError)
    ones = [lead + i for i, d in enumerate(want.shape) if d == 1 and have.shape[lead + i] != 1]
    if ones:
        g = b.reduce_sum(g, axes=list(range(lead)) + ones, keepdims=True)
        if lead:
            g = b.squeeze(g, axes=list(range(lead)))
    elif lead:
        g = b.reduce_sum(g, axes=list(range(lead)))
    if g.type == want:
        return g
    if not all(may_equal(got, expected) for got, expected in zip(g.type.shape, want.shape)):
        raise op.error(f"its gradient rule gave {have} for an operand of type {want}", KilnError)
    return b.broadcast_like(g, operand)


def clone(op: Operation, b: Builder, mapping: dict[Value, Value]) -> Operation:
    """A copy of `op` inserted with `b`: its operands are looked up in `mapping`
    (old value -> new value), which then maps `op`'s results to the copy's."""
    regions = [_clone_region(r, mapping) for r in op.regions]
    copy = type(op)(
        [mapping[v] for v in op.operands],
        dict(op.attrs),
        [r.type for r in op.results],
        regions,
        op.loc,
    )
    b.insert(copy)
    for old, new in zip(op.results, copy.results):
        new.name = old.name
        mapping[old] = new
    return copy


def _clone_region(region: Region, mapping: dict[Value, Value]) -> Region:
    copy = Region()
    for block in region.blocks:
        new = copy.add_block(Block([a.type for a in block.args], [a.name for a in block.args]))
        mapping.update(zip(block.args, new.args))
        b = Builder.at_end(new)
        for op in block.ops:
            clone(op, b, mapping)
    return copy


def inline(b: Builder, callee: Function, args: Sequence[Value]) -> list[Value]:
    """Copy `callee`'s body with `b`, its arguments bound to `args`; returns what it returns."""
    mapping = dict(zip(callee.args, args))
    for op in callee.ops[:-1]:
        clone(op, b, mapping)
    return [mapping[v] for v in callee.body.terminator.operands]


# ------------------------------------------------------------------ steps


def _indices(given: int | Sequence[int], count: int, what: str) -> list[int]:
    out = [given] if isinstance(given, int) else list(given)
    for i in out:
        if not isinstance(i, int) or not 0 <= i < count:
            raise KilnError(f"{what}={given!r}: expected indices in [0, {count})")
    return out


def _check(
    module: Module, func: Function, wrt: list[int], of: list[int], seeds: bool, name: str
) -> None:
    where = f"differentiate @{func.name}"
    if name in module:
        raise KilnError(f"{where}: the module already has a function @{name}")
    for i in wrt:
        if not func.arg_types[i].dtype.is_float:
            raise KilnError(
                f"{where}: argument {i} is {func.arg_types[i]}; only "
                "floating-point arguments have gradients"
            )
    for i in of:
        t = func.result_types[i]
        if not t.dtype.is_float:
            raise KilnError(
                f"{where}: result {i} is {t}; only floating-point results can be differentiated"
            )
        if not seeds and t.num_elements != 1:
            raise KilnError(
                f"{where}: result {i} is {t}, not a scalar; pass seeds=True to give its cotangent"
            )
    _check_not_recursive(module, func, where)


def _check_not_recursive(module: Module, func: Function, where: str) -> None:
    edges = [(f.name, op.callee.name) for f in module for op in f.walk() if op.name == "kiln.call"]
    if not any(caller == func.name for caller, _ in edges):
        return  # no calls: networkx (0.1 s to import) is not needed
    import networkx as nx

    calls = nx.DiGraph(edges)
    try:
        cycle = nx.find_cycle(calls, source=func.name)
    except nx.NetworkXNoCycle:
        return
    raise KilnError(
        f"{where}: calls are inlined, and @{cycle[0][0]} calls itself through "
        f"{' -> '.join('@' + caller for caller, _ in cycle)}"
    )


def _expand(block: Block, module: Module) -> None:
    """Inline calls and decompose composite ops without a rule, in place. The ops
    an expansion builds are looked at next, so nested ones expand too."""
    op = block.first
    while op is not None:
        before = op.prev_op
        b = Builder.before(op)
        if op.name == "kiln.call":
            out = inline(b, module[op.callee.name], op.operands)
        elif has_gradient_rule(type(op)):
            out = None
        else:
            out = op.decompose(b)
        if out is None:
            op = op.next_op
            continue
        for result, value in zip(op.results, out if isinstance(out, (list, tuple)) else [out]):
            if value.type != result.type:
                raise op.error(
                    f"expanded to {value.type} for a result of type {result.type}", KilnError
                )
            result.replace_all_uses_with(value)
        block.erase(op)
        op = block.first if before is None else before.next_op  # the first op it built


def _take_results(block: Block) -> list[Value]:
    """Remove the copied kiln.return and give its operands."""
    ret = block.detach(block.last)
    results = list(ret.operands)
    ret.drop_operands()
    return results


def _varied(
    ops: Sequence[Operation], wrt: Sequence[Value], overrides: dict | None = None
) -> set[Value]:
    """The floating-point values that depend on a value of `wrt` (through an
    overriding rule's `inputs` too)."""
    varied = set(wrt)
    for op in ops:
        rule = overrides.get(op) if overrides else None
        extra = getattr(rule, "inputs", None)
        if extra is not None:
            if any(v in varied for v in (*op.operands, *extra)):
                varied.update(r for r in op.results if r.type.dtype.is_float)
        elif not op.not_differentiable and any(v in varied for v in op.operands):
            varied.update(r for r in op.results if r.type.dtype.is_float)
    return varied


def _vjp(op: Operation, b: Builder, outputs: list[Value | None]) -> Sequence[Any]:
    """The cotangents of `op`'s operands by the rule its class declares."""
    if not op.has_vjp():
        raise KilnError(
            f"{op.describe()} has no gradient rule: give its class a `vjp` "
            "method (ir/ops/), or declare it not_differentiable"
        )
    return op.vjp(b, *outputs)


def _erase_unused(block: Block, start: int) -> None:
    """Erase the gradient ops (from `start`, the return excepted) whose results
    nobody uses, last first, so that a dead chain goes in one sweep."""
    for op in reversed(block.ops[start:-1]):
        if not any(r.uses for r in op.results):
            block.erase(op)


@register_pass("autodiff")
def autodiff(module: Module, func: str = "", wrt: str = "all", of: int = 0) -> dict[str, int]:
    """`kiln opt --passes "autodiff{func=loss wrt=0:2}"`: add @<func>_grad, the gradient
    of result `of` with respect to the arguments listed in `wrt` (indices joined by
    ':'; "all": every floating-point argument)."""
    if not func:
        raise KilnError("autodiff needs the function: autodiff{func=NAME}")
    f = module[func]
    if wrt == "all":
        indices = [i for i, t in enumerate(f.arg_types) if t.dtype.is_float]
    else:
        try:
            indices = [int(i) for i in str(wrt).split(":")]
        except ValueError:
            raise KilnError(f"autodiff: wrt={wrt!r} is not indices joined by ':'") from None
    before = sum(1 for _ in f.walk())
    grad = differentiate(module, func, indices, of=[of])
    return {"gradient ops": sum(1 for _ in grad.walk()) - before}
