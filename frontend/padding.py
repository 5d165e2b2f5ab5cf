"""tf.pad in its three modes, and tf.eye.

CONSTANT padding is the IR's kiln.pad; REFLECT and SYMMETRIC are built
from slices, reverses and a concat per padded dim (TensorFlow's own
MirrorPad semantics: REFLECT leaves out the edge, SYMMETRIC repeats it),
so all three differentiate through existing rules. Paddings are Python
ints (kiln's shapes are static).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .array_ops import reverse
from .dtypes import as_dtype, float32
from .graph import GraphError, Tensor, get_default_graph
from .indexing import _ints
from .ops import concat, constant, convert_to_tensor, make

__all__ = ["eye", "pad"]


def pad(
    tensor: Any,
    paddings: Any,
    mode: str = "CONSTANT",
    constant_values: Any = 0,
    name: str | None = None,
) -> Tensor:
    """`tensor` with paddings[i] = [before, after] entries added on dim i
    (tf.pad): zeros (or `constant_values`), or the mirror image of the edge
    ("REFLECT" without the edge row, "SYMMETRIC" with it)."""
    x = convert_to_tensor(tensor)
    flat = _ints(paddings, "pad paddings")
    rank = x.shape.ndims
    if rank is None or len(flat) != 2 * rank:
        raise GraphError(
            f"pad: paddings must be [rank, 2] = [{rank}, 2] for {x.name} {x.shape}, got "
            f"{np.asarray(flat).size} values"
        )
    low, high = flat[0::2], flat[1::2]
    if min(flat, default=0) < 0:
        raise GraphError(f"pad: paddings must be non-negative, got {list(zip(low, high))}")
    kind = mode.upper()
    if kind == "CONSTANT":
        value = float(np.asarray(getattr(constant_values, "numpy", lambda: constant_values)()))
        return make("PadV2", "kiln.pad", [x], name or "Pad", low=low, high=high, value=value)
    if kind not in ("REFLECT", "SYMMETRIC"):
        raise GraphError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    edge = 1 if kind == "REFLECT" else 0
    with get_default_graph().name_scope(name or "MirrorPad"):
        for axis, (lo, hi) in enumerate(zip(low, high)):
            if not lo and not hi:
                continue
            size = x.shape[axis]
            if size is None or max(lo, hi) > size - edge:
                raise GraphError(
                    f"pad: {kind} padding {lo, hi} on dim {axis} of {x.name} needs a static "
                    f"size of at least {max(lo, hi) + edge}, got {size}"
                )
            parts = []
            if lo:
                parts.append(reverse(_take(x, axis, edge, edge + lo), axis))
            parts.append(x)
            if hi:
                parts.append(reverse(_take(x, axis, size - hi - edge, size - edge), axis))
            x = concat(parts, axis=axis)
        return x


def _take(x: Tensor, axis: int, start: int, stop: int) -> Tensor:
    return make(
        "StridedSlice",
        "kiln.slice",
        [x],
        None,
        axes=[axis],
        starts=[start],
        stops=[stop],
        steps=[1],
    )


def eye(
    num_rows: int,
    num_columns: int | None = None,
    batch_shape: Any = None,
    dtype: Any = float32,
    name: str | None = None,
) -> Tensor:
    """The identity matrix (tf.eye), num_rows x num_columns, optionally
    repeated over `batch_shape`: a constant."""
    cols = num_rows if num_columns is None else int(num_columns)
    value = np.eye(int(num_rows), cols, dtype=as_dtype(dtype).ir.numpy)
    if batch_shape is not None:
        value = np.broadcast_to(value, (*_ints(batch_shape, "eye batch_shape"), *value.shape))
    return constant(np.ascontiguousarray(value), dtype=dtype, name=name or "eye")
