"""TensorFlow's indexing ops beyond `t[...]`: strided_slice with its bit masks,
scatter_nd (gather_nd's transpose) and sequence_mask.

Each is built from existing graph ops (kiln.slice, kiln.scatter_add,
kiln.less), so gradients and native kernels come with them. As elsewhere in
the frontend, the sizes TensorFlow may take from tensors (slice bounds, the
scatter shape, maxlen) are Python ints here: kiln's IR shapes are static
except for symbolic dims.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .array_ops import range as range_
from .dtypes import as_dtype, bool_
from .graph import GraphError, Tensor, get_default_graph
from .operators import _getitem
from .ops import (
    cast,
    constant,
    convert_to_tensor,
    expand_dims,
    less,
    make,
    multiply,
    reduce_sum,
    reshape,
    zeros,
)

__all__ = ["scatter_nd", "sequence_mask", "strided_slice"]


def _ints(values: Any, what: str) -> list[int]:
    """Python ints from a list, a numpy array or a constant/eager tensor."""
    if hasattr(values, "numpy"):  # an eager tensor
        values = values.numpy()
    elif isinstance(values, Tensor):
        if values.op.type != "Const":
            raise GraphError(f"{what}: {values.name} must be a constant (kiln's shapes are static)")
        values = values.op.attrs["value"]
    return [int(v) for v in np.asarray(values).reshape(-1)]


def strided_slice(
    input_: Any,
    begin: Any,
    end: Any,
    strides: Any = None,
    begin_mask: int = 0,
    end_mask: int = 0,
    ellipsis_mask: int = 0,
    new_axis_mask: int = 0,
    shrink_axis_mask: int = 0,
    var: Any = None,
    name: str | None = None,
) -> Tensor:
    """input_[begin:end:strides] spelled as TensorFlow's StridedSlice
    (tf.strided_slice): bit i of a mask applies to entry i of the spec, the
    same rules as Python indexing, which is how it is built (t[...])."""
    x = convert_to_tensor(input_)
    b, e = _ints(begin, "strided_slice begin"), _ints(end, "strided_slice end")
    s = _ints(strides, "strided_slice strides") if strides is not None else [1] * len(b)
    if not len(b) == len(e) == len(s):
        raise GraphError(
            f"strided_slice: begin, end and strides must have one length, got "
            f"{len(b)}, {len(e)}, {len(s)}"
        )
    key: list[Any] = []
    for i, (lo, hi, step) in enumerate(zip(b, e, s)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(lo)
        else:
            if step == 0:
                raise GraphError("strided_slice: a stride cannot be 0")
            key.append(
                slice(None if begin_mask & bit else lo, None if end_mask & bit else hi, step)
            )
    with get_default_graph().name_scope(name or "StridedSlice"):
        return _getitem(x, tuple(key))


def scatter_nd(indices: Any, updates: Any, shape: Any, name: str | None = None) -> Tensor:
    """A zero tensor of `shape` with `updates` added at the index tuples in the
    last dim of `indices` (tf.scatter_nd; repeated indices add up): a
    scatter-add into the first k dims flattened, at each tuple's linear index."""
    idx, upd = convert_to_tensor(indices), convert_to_tensor(updates)
    dims = _ints(shape, "scatter_nd shape")
    if not idx.dtype.is_integer:
        raise GraphError(f"scatter_nd: indices {idx.name} must be integers")
    k = idx.shape[-1] if idx.shape.ndims else None
    if k is None or not 1 <= k <= len(dims):
        raise GraphError(
            f"scatter_nd: the last dim of {idx.name} ({k}) must be static and in "
            f"[1, rank of shape {dims}]"
        )
    want = idx.shape.as_list()[:-1] + dims[k:]
    got = upd.shape.as_list()
    if len(got) != len(want) or any(
        g is not None and w is not None and g != w for g, w in zip(got, want)
    ):
        raise GraphError(
            f"scatter_nd: updates {upd.name} must have shape {want} (indices' leading dims, "
            f"then shape[{k}:]), got {got}"
        )
    lead = dims[:k]
    with get_default_graph().name_scope(name or "ScatterNd"):
        strides = np.cumprod([1] + lead[::-1])[:-1][::-1].copy()
        linear = reduce_sum(multiply(idx, constant(strides, dtype=idx.dtype)), axis=-1)
        flat = zeros([int(np.prod(lead))] + dims[k:], dtype=upd.dtype)
        out = make("ScatterNd", "kiln.scatter_add", [flat, linear, upd], None, axis=0)
        return reshape(out, dims)


def sequence_mask(
    lengths: Any, maxlen: Any = None, dtype: Any = bool_, name: str | None = None
) -> Tensor:
    """mask[..., j] = j < lengths[...] (tf.sequence_mask), of width `maxlen`;
    without maxlen the width is max(lengths), which kiln needs to know when
    the graph is built (a constant or eager `lengths`)."""
    n = convert_to_tensor(lengths)
    if not n.dtype.is_integer:
        raise GraphError(f"sequence_mask: lengths {n.name} must be integers, got {n.dtype.name}")
    if maxlen is None:
        known = _ints(lengths, "sequence_mask without maxlen: lengths")
        width = max(known, default=0)
    else:
        width = _ints(maxlen, "sequence_mask maxlen")[0]
    with get_default_graph().name_scope(name or "SequenceMask"):
        mask = less(range_(width, dtype=n.dtype), expand_dims(n, -1))
        dt = as_dtype(dtype)
        return mask if dt is bool_ else cast(mask, dt)
