"""padded_batch's stacking: elements of different shapes padded to one.

TensorFlow pads each component at the end of every dim, to the shape given
in `padded_shapes` (a dim of None or -1: the longest in the batch), with
`padding_values` (0, or b"" for strings, by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..frontend.graph import GraphError
from ..frontend.nest import flatten, pack_sequence_as


def _value(x: Any) -> Any:
    return x.numpy() if hasattr(x, "numpy") else x


def _shape_leaves(padded_shapes: Any, n: int) -> list:
    """padded_shapes per component: a TensorShape/list per leaf."""
    if padded_shapes is None:
        return [None] * n
    if n == 1 and _is_shape(padded_shapes):
        return [padded_shapes]
    leaves = _shape_flatten(padded_shapes)
    if len(leaves) != n:
        raise GraphError(f"padded_batch: {len(leaves)} padded_shapes for {n} components")
    return leaves


def _is_shape(x: Any) -> bool:
    if hasattr(x, "as_list") or x is None:
        return True
    return isinstance(x, list | tuple) and all(
        d is None or isinstance(d, int | np.integer) for d in x
    )


def _shape_flatten(structure: Any) -> list:
    if _is_shape(structure):
        return [structure]
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in _shape_flatten(structure[k])]
    return [leaf for item in structure for leaf in _shape_flatten(item)]


def _dims(shape: Any) -> list | None:
    if shape is None:
        return None
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return [None if d is None or int(d) < 0 else int(d) for d in dims]


def pad_stack(items: list, padded_shapes: Any, padding_values: Any) -> Any:
    """The elements `items` stacked into one batch, each component padded."""
    columns = list(zip(*[flatten(e) for e in items]))
    shapes = _shape_leaves(padded_shapes, len(columns))
    if padding_values is None:
        pads = [None] * len(columns)
    else:
        pads = [_value(v) for v in flatten(padding_values)]
        if len(pads) == 1 and len(columns) > 1:
            pads = pads * len(columns)
        if len(pads) != len(columns):
            raise GraphError(
                f"padded_batch: {len(pads)} padding_values for {len(columns)} components"
            )
    out = []
    for column, shape, pad in zip(columns, shapes, pads):
        arrays = [np.asarray(x) for x in column]
        rank = arrays[0].ndim
        if any(a.ndim != rank for a in arrays):
            raise GraphError("padded_batch: a component changes rank between elements")
        longest = [max(a.shape[d] for a in arrays) for d in range(rank)]
        want = _dims(shape) or [None] * rank
        if len(want) != rank:
            raise GraphError(f"padded_batch: padded shape {want} for a component of rank {rank}")
        target = []
        for d, (w, m) in enumerate(zip(want, longest)):
            if w is not None and w < m:
                raise GraphError(
                    f"padded_batch: an element's dim {d} is {m}, longer than the padded shape {w}"
                )
            target.append(m if w is None else w)
        dtype = arrays[0].dtype
        fill = pad if pad is not None else (b"" if dtype.kind == "O" else 0)
        batch = np.full((len(arrays), *target), fill, dtype=dtype)
        for i, a in enumerate(arrays):
            batch[(i, *[slice(0, n) for n in a.shape])] = a
        out.append(batch)
    return pack_sequence_as(items[0], out)
