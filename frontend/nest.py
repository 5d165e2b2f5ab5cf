"""Nested structures of tensors: lists, tuples, namedtuples and dicts (TF's tf.nest).

kl.function, GradientTape, kiln.data and kiln.keras take and give nested
arguments; `flatten` lists the leaves in a fixed order and
`pack_sequence_as` puts leaves back.
"""

from __future__ import annotations

from typing import Any

__all__ = ["flatten", "pack_sequence_as"]


def flatten(structure: Any) -> list:
    """The leaves of nested lists, tuples and dicts (sorted keys), in order."""
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in flatten(item)]
    return [structure]


def pack_sequence_as(structure: Any, leaves: list) -> Any:
    """`leaves` put back into the shape of `structure` (flatten's inverse)."""
    return _build(structure, iter(leaves))


def _build(s: Any, it: Any) -> Any:
    # a module function, not a closure: a nested function that calls itself is a
    # reference cycle (function, cell), which would keep the leaves, results a
    # caller dropped, alive until the cycle collector runs
    if isinstance(s, dict):
        return {k: _build(s[k], it) for k in sorted(s)}
    if isinstance(s, (list, tuple)):
        items = [_build(v, it) for v in s]
        if hasattr(s, "_fields"):
            return type(s)(*items)
        return type(s)(items)
    return next(it)
