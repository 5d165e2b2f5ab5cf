"""Which ops may be merged, moved or dropped.

An op is pure when it has no side effect: its results depend only on its
operands and attributes, and running it changes nothing else. CSE merges
only pure ops and DCE drops only pure ops. Impure are ops with
`Trait.SIDE_EFFECT` (kiln.print), ops whose regions hold one, and calls to
a function that holds one. A random draw is pure: kiln.random is counter
based (its seed is an attribute), so the same op gives the same numbers; a
frontend that wants a fresh draw per step threads a seed through the graph.
"""

from __future__ import annotations

from ..ir import Function, Module, Operation, Trait


class Effects:
    """Answers `is_pure(op)` for one module, caching per callee."""

    def __init__(self, module: Module | None):
        self.module = module
        self._callee_pure: dict[str, bool] = {}

    def is_pure(self, op: Operation) -> bool:
        if op.has_trait(Trait.SIDE_EFFECT) or op.has_trait(Trait.TERMINATOR):
            return False
        if op.name == "kiln.call":
            return self._function_pure(op.callee.name)
        return all(
            self.is_pure(inner)
            for inner in op.walk()
            if inner is not op and not inner.has_trait(Trait.TERMINATOR)
        )

    def _function_pure(self, name: str) -> bool:
        if self.module is None or name not in self.module:
            return False
        if name not in self._callee_pure:
            self._callee_pure[name] = False  # recursion: assume impure while looking
            func: Function = self.module[name]
            self._callee_pure[name] = all(
                self.is_pure(op) for op in func.ops if not op.has_trait(Trait.TERMINATOR)
            )
        return self._callee_pure[name]
