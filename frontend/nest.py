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
    it = iter(leaves)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            return {k: build(s[k]) for k in sorted(s)}
        if isinstance(s, (list, tuple)):
            items = [build(v) for v in s]
            if hasattr(s, "_fields"):
                return type(s)(*items)
            return type(s)(items)
        return next(it)

    return build(structure)
