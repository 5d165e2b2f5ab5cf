"""Check a module's invariants; the first violation raises VerifyError.

- every operand is defined before its use, in the same block or as an
  argument of it (regions are isolated from above, as functions are);
- every op's result types are what its type rule infers;
- a function body ends with exactly one terminator whose operand types are
  the function's result types; calls name a function with a matching type;
- a function's `aliases` attribute pairs results with arguments of their type.
"""

from __future__ import annotations

from .core import Block, Function, Module, Operation, Trait
from .errors import KilnError, VerifyError


def verify(module: Module) -> None:
    for func in module:
        verify_function(func, module)


def verify_function(func: Function, module: Module | None = None) -> None:
    where = f"function @{func.name}"
    if func.result_types is None:
        raise VerifyError(f"{where} has no result types (build it with Builder.ret)")
    _verify_block(func.body, module, where)
    ret = func.body.terminator
    if ret is None:
        raise VerifyError(f"{where} does not end with kiln.return")
    got = [v.type for v in ret.operands]
    if got != func.result_types:
        raise ret.error(
            f"returns ({', '.join(map(str, got))}) but {where} declares "
            f"({', '.join(map(str, func.result_types))})"
        )
    _verify_aliases(func, where)


def _verify_aliases(func: Function, where: str) -> None:
    """`aliases[i] = j` says result i is the new value of argument j (a variable
    update, done in place); -1 for a fresh result. The types must agree."""
    aliases = func.attrs.get("aliases")
    if aliases is None:
        return
    if not isinstance(aliases, tuple) or len(aliases) != len(func.result_types):
        raise VerifyError(
            f"{where}: aliases must list one argument index (or -1) per "
            f"result, got {aliases!r} for {len(func.result_types)} results"
        )
    taken = set()
    for i, j in enumerate(aliases):
        if j == -1:
            continue
        if not isinstance(j, int) or not 0 <= j < len(func.args) or j in taken:
            raise VerifyError(f"{where}: aliases[{i}] = {j!r} is not a free argument index")
        taken.add(j)
        if func.args[j].type != func.result_types[i]:
            raise VerifyError(
                f"{where}: result {i} ({func.result_types[i]}) cannot alias "
                f"argument {j} ({func.args[j].type})"
            )


def _verify_block(block: Block, module: Module | None, where: str) -> None:
    visible = {id(a) for a in block.args}
    for op in block:
        if op.parent is not block:
            raise op.error(f"is in {where} but its parent link is wrong")
        for k, v in enumerate(op.operands):
            if id(v) not in visible:
                raise op.error(f"operand {k} ({v.type}) is not defined before this use in {where}")
        if op.has_trait(Trait.TERMINATOR) and op is not block.last:
            raise op.error("is a terminator but is not last in its block")
        try:
            _verify_types(op)
            if module is not None:
                op.verify_in(module)
        except KilnError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            # a type rule tripped over attributes it did not expect (text from
            # elsewhere): still a VerifyError naming the op and its place
            raise op.error(f"has attributes or operands its type rule cannot read ({e})") from e
        for region in op.regions:
            for inner in region.blocks:
                _verify_block(inner, module, f"a region of {op.name}")
        visible.update(id(r) for r in op.results)


def _verify_types(op: Operation) -> None:
    if op.num_results is None and type(op).infer is Operation.infer:
        return  # result types come from elsewhere (a callee), checked by verify_in
    inferred = op.infer_types()
    declared = [r.type for r in op.results]
    if inferred != declared:
        raise op.error(
            f"result types ({', '.join(map(str, declared))}) differ from the "
            f"inferred ({', '.join(map(str, inferred))})"
        )
