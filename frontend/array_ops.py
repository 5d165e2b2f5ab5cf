"""Array ops users reach for (TensorFlow's names and signatures): stack,
unstack, split, tile, gather, gather_nd, one_hot, where with one argument,
cumsum, reverse, range, linspace, shape/size/rank as tensors, boolean_mask,
clip_by_norm, clip_by_global_norm.

Most are a few existing graph ops each (slices, broadcasts, gathers), so
they need no gradient rules of their own and run in native kernels; cumsum,
top_k, nonzero (tf.where's indices) and shape are IR ops (ir/ops/array.py).
Sizes that TensorFlow may take from tensors (split sizes, tile multiples,
range bounds) must be Python ints here: kiln's IR types are static, and
only dims may be symbolic.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import as_dtype, float32, int32
from .graph import GraphError, Tensor, get_default_graph
from .ops import (
    add,
    cast,
    concat,
    constant,
    convert_to_tensor,
    divide,
    equal,
    expand_dims,
    less,
    make,
    maximum,
    multiply,
    reduce_prod,
    reduce_sum,
    reshape,
    sqrt,
    squeeze,
    where,
    where_indices,
)

__all__ = [
    "boolean_mask",
    "clip_by_global_norm",
    "clip_by_norm",
    "cumsum",
    "gather",
    "gather_nd",
    "global_norm",
    "linspace",
    "lin_space",
    "one_hot",
    "pack",
    "range",
    "rank",
    "reverse",
    "reverse_sequence",
    "reverse_v2",
    "shape",
    "size",
    "split",
    "stack",
    "tile",
    "unpack",
    "unstack",
]


def _tensors(values: Sequence[Any], what: str) -> list[Tensor]:
    """Tensors of one dtype: Python values take the first tensor's dtype."""
    if not values:
        raise GraphError(f"{what}: needs at least one value")
    first = next((v for v in values if isinstance(v, Tensor) or hasattr(v, "_as_tensor")), None)
    dtype = convert_to_tensor(first).dtype if first is not None else None
    out = [convert_to_tensor(v, dtype if not isinstance(v, Tensor) else None) for v in values]
    if len({t.dtype for t in out}) > 1:
        raise GraphError(
            f"{what}: values have different dtypes: "
            + ", ".join(f"{t.name} {t.dtype.name}" for t in out)
        )
    return out


def _rank(x: Tensor, what: str) -> int:
    if x.shape.ndims is None:
        raise GraphError(f"{what}: the rank of {x.name} must be known")
    return x.shape.ndims


def _axis(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise GraphError(f"{what}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def _target(dims: Sequence[int | None], what: str) -> list[int]:
    """A reshape target for `dims` (None as -1, at most one)."""
    if builtins.sum(d is None for d in dims) > 1:
        raise GraphError(f"{what}: more than one unknown dim in {list(dims)}")
    return [-1 if d is None else int(d) for d in dims]


def _slice(x: Tensor, axis: int, start: int, stop: int, name: str | None = None) -> Tensor:
    return make(
        "StridedSlice",
        "kiln.slice",
        [x],
        name,
        axes=[axis],
        starts=[start],
        stops=[stop],
        steps=[1],
    )


# ------------------------------------------------------------------ joining, splitting


def stack(values: Sequence[Any], axis: int = 0, name: str = "stack") -> Tensor:
    """Join tensors of one shape along a new `axis` (tf.stack)."""
    tensors = _tensors(values, "stack")
    rank = _rank(tensors[0], "stack") + 1
    axis = _axis(axis, rank, "stack")
    with get_default_graph().name_scope(name):
        return concat([expand_dims(t, axis) for t in tensors], axis=axis)


def unstack(
    value: Any, num: int | None = None, axis: int = 0, name: str = "unstack"
) -> list[Tensor]:
    """The slices of `value` along `axis`, that axis removed (tf.unstack)."""
    x = convert_to_tensor(value)
    axis = _axis(axis, _rank(x, "unstack"), "unstack")
    n = x.shape[axis]
    if n is None:
        n = num
    if n is None:
        raise GraphError(f"unstack: dim {axis} of {x.name} is unknown; pass num=")
    with get_default_graph().name_scope(name):
        return [squeeze(_slice(x, axis, i, i + 1), axis=[axis]) for i in builtins.range(n)]


pack, unpack = stack, unstack  # TF 0.x's names (renamed in TF 1.0)


def split(
    value: Any, num_or_size_splits: Any, axis: int = 0, num: int | None = None, name: str = "split"
) -> list[Tensor]:
    """Pieces of `value` along `axis` (tf.split): an int makes that many equal
    pieces; a list gives their sizes, one of which may be -1 (the rest)."""
    x = convert_to_tensor(value)
    axis = _axis(axis, _rank(x, "split"), "split")
    n = x.shape[axis]
    if isinstance(num_or_size_splits, Tensor):
        raise GraphError("split: num_or_size_splits must be a Python int or list")
    if isinstance(num_or_size_splits, int | np.integer):
        count = int(num_or_size_splits)
        dims = x.shape.as_list()
        if n is None and count > 0 and dims.count(None) == 1:
            # an unknown dim in `count` equal pieces (TF checks at run time): reshape that dim
            # to [count, -1] and take each row of the new axis
            with get_default_graph().name_scope(name):
                rows = reshape(x, dims[:axis] + [count, -1] + dims[axis + 1 :])
                return [
                    squeeze(_slice(rows, axis, i, i + 1), axis=[axis])
                    for i in builtins.range(count)
                ]
        if n is None or count <= 0 or n % count:
            raise GraphError(
                f"split: dim {axis} of {x.name} ({n}) does not split into {count} equal pieces"
            )
        sizes = [n // count] * count
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sizes.count(-1) > 1 or builtins.min(sizes, default=0) < -1:
            raise GraphError(f"split: sizes {sizes} may hold one -1 and no other negative")
        if -1 in sizes:
            if n is None:
                raise GraphError(f"split: a -1 size needs dim {axis} of {x.name} known")
            sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
        if n is not None and builtins.sum(sizes) != n or builtins.min(sizes, default=0) < 0:
            raise GraphError(f"split: sizes {sizes} do not add up to dim {axis} of {x.name} ({n})")
    pieces, start = [], 0
    with get_default_graph().name_scope(name):
        for s in sizes:
            pieces.append(_slice(x, axis, start, start + s))
            start += s
    return pieces


def tile(input: Any, multiples: Sequence[int], name: str | None = None) -> Tensor:
    """`input` repeated `multiples[i]` times along each dim i (tf.tile)."""
    x = convert_to_tensor(input)
    rank = _rank(x, "tile")
    if isinstance(multiples, Tensor):
        raise GraphError("tile: multiples must be a Python list of ints")
    reps = [int(m) for m in multiples]
    if len(reps) != rank or builtins.min(reps, default=1) < 0:
        raise GraphError(f"tile: need {rank} non-negative multiples for {x.name}, got {reps}")
    if all(m == 1 for m in reps):
        return x
    dims = x.shape.as_list()
    with get_default_graph().name_scope(name or "Tile"):
        spread = x
        for i in builtins.range(rank):
            spread = expand_dims(spread, 2 * i)  # [1, d0, 1, d1, ...]
        target = [v for m in reps for v in (m, -1)]
        spread = make("BroadcastTo", "kiln.broadcast_to", [spread], None, shape=target)
        out = [None if d is None else m * d for m, d in zip(reps, dims)]
        return reshape(spread, _target(out, "tile"))


# ------------------------------------------------------------------ indexing


def gather(
    params: Any,
    indices: Any,
    validate_indices: Any = None,
    axis: int = 0,
    batch_dims: int = 0,
    name: str | None = None,
) -> Tensor:
    """params taken at `indices` along `axis` (tf.gather); an index out of
    range is an error at run time."""
    if batch_dims != 0:
        raise GraphError("gather: batch_dims other than 0 is not supported")
    p, i = convert_to_tensor(params), convert_to_tensor(indices)
    return make("GatherV2", "kiln.gather", [p, i], name, axis=int(axis))


def gather_nd(params: Any, indices: Any, batch_dims: int = 0, name: str | None = None) -> Tensor:
    """Slices of params at the index tuples in the last dim of `indices`
    (tf.gather_nd): a gather of the first k dims flattened, at the linear
    index of each tuple. The dims after those k must be static; of the k, dims
    1..k-1 are read at run time where the graph does not know them."""
    if batch_dims != 0:
        raise GraphError("gather_nd: batch_dims other than 0 is not supported")
    p, idx = convert_to_tensor(params), convert_to_tensor(indices)
    if not idx.dtype.is_integer:
        raise GraphError(f"gather_nd: indices {idx.name} must be integers")
    k = idx.shape[-1] if idx.shape.ndims else None
    p_rank = _rank(p, "gather_nd")
    if k is None or k > p_rank:
        raise GraphError(
            f"gather_nd: the last dim of {idx.name} ({k}) must be static and "
            f"at most the rank of {p.name} ({p_rank})"
        )
    lead, rest = p.shape.as_list()[:k], p.shape.as_list()[k:]
    if None in rest:
        raise GraphError(f"gather_nd: the dims of {p.name} after the first {k} must be static")
    with get_default_graph().name_scope(name or "GatherNd"):
        if None in lead[1:]:  # a stride from the dims only known at run time
            dims = [cast(shape(p)[j], idx.dtype) if d is None else d for j, d in enumerate(lead)]
            strides = [constant(1, dtype=idx.dtype)]
            for d in dims[:0:-1]:
                strides.insert(0, multiply(strides[0], d))
            strides = stack(strides)
        else:
            strides = constant(np.cumprod([1] + lead[:0:-1])[::-1].copy(), dtype=idx.dtype)
        linear = reduce_sum(multiply(idx, strides), axis=-1)
        return gather(reshape(p, [-1] + rest), linear)


def one_hot(
    indices: Any,
    depth: int,
    on_value: Any = None,
    off_value: Any = None,
    axis: int | None = None,
    dtype: Any = None,
    name: str | None = None,
) -> Tensor:
    """on_value where the position along the new `axis` equals the index, else
    off_value (tf.one_hot): an index outside [0, depth) gives a row of off_value."""
    idx = convert_to_tensor(indices)
    if not idx.dtype.is_integer:
        raise GraphError(f"one_hot: indices {idx.name} must be integers")
    rank = _rank(idx, "one_hot") + 1
    axis = _axis(-1 if axis is None else axis, rank, "one_hot")
    dt = (
        as_dtype(dtype)
        if dtype is not None
        else (convert_to_tensor(on_value).dtype if isinstance(on_value, Tensor) else float32)
    )
    with get_default_graph().name_scope(name or "one_hot"):
        on = convert_to_tensor(1 if on_value is None else on_value, dtype=dt)
        off = convert_to_tensor(0 if off_value is None else off_value, dtype=dt)
        positions = make(
            "Range",
            "kiln.iota",
            [],
            None,
            shape=[int(depth)] + [1] * (rank - 1 - axis),
            dtype=idx.dtype.ir,
        )
        hit = equal(expand_dims(idx, axis), positions)
        return where(hit, on, off)


def boolean_mask(
    tensor: Any, mask: Any, name: str = "boolean_mask", axis: int | None = None
) -> Tensor:
    """The elements (or slices) of `tensor` where the bool `mask` is true
    (tf.boolean_mask): mask covers dims [axis, axis + mask rank) of tensor,
    which become one dim whose size is known at run time."""
    x, m = convert_to_tensor(tensor), convert_to_tensor(mask)
    if not m.dtype.is_bool:
        raise GraphError(f"boolean_mask: the mask {m.name} must be bool")
    k = _rank(m, "boolean_mask")
    start = 0 if axis is None else _axis(axis, _rank(x, "boolean_mask"), "boolean_mask")
    dims = x.shape.as_list()
    if k == 0 or start + k > len(dims):
        raise GraphError(f"boolean_mask: a mask of rank {k} does not fit {x.name} {x.shape}")
    covered = dims[start : start + k]
    merged = None if None in covered else int(np.prod(covered))
    with get_default_graph().name_scope(name):
        flat = reshape(x, _target(dims[:start] + [merged] + dims[start + k :], "boolean_mask"))
        picks = squeeze(where_indices(reshape(m, [-1])), axis=[1])
        return gather(flat, picks, axis=start)


# ------------------------------------------------------------------ running sums, orders


def cumsum(
    x: Any, axis: int = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None
) -> Tensor:
    """Running sums along `axis` (tf.math.cumsum)."""
    return make(
        "Cumsum",
        "kiln.cumsum",
        [convert_to_tensor(x)],
        name,
        axis=int(axis),
        exclusive=bool(exclusive),
        reverse=bool(reverse),
    )


def reverse(tensor: Any, axis: Sequence[int] | int, name: str | None = None) -> Tensor:
    """`tensor` with the dims in `axis` reversed (tf.reverse)."""
    x = convert_to_tensor(tensor)
    rank = _rank(x, "reverse")
    axes = sorted({_axis(int(a), rank, "reverse") for a in np.atleast_1d(axis)})
    if not axes:
        return x
    far = 2**62
    return make(
        "ReverseV2",
        "kiln.slice",
        [x],
        name,
        axes=axes,
        starts=[-1] * len(axes),
        stops=[-far] * len(axes),
        steps=[-1] * len(axes),
    )


reverse_v2 = reverse


def reverse_sequence(
    input: Any,
    seq_lengths: Any,
    seq_axis: int | None = None,
    batch_axis: int | None = None,
    name: str | None = None,
    seq_dim: int | None = None,
    batch_dim: int | None = None,
) -> Tensor:
    """Each batch entry's first seq_lengths[b] steps along `seq_axis` reversed,
    the rest left in place (tf.reverse_sequence); the seq dim must be static."""
    x = convert_to_tensor(input)
    rank = _rank(x, "reverse_sequence")
    seq = _axis(seq_axis if seq_axis is not None else seq_dim, rank, "reverse_sequence")
    bat = _axis(
        batch_axis if batch_axis is not None else (batch_dim or 0), rank, "reverse_sequence"
    )
    steps = x.shape[seq]
    if steps is None or seq == bat:
        raise GraphError(
            f"reverse_sequence: {x.name} {x.shape} needs a static seq dim {seq} apart from "
            f"the batch dim {bat}"
        )
    with get_default_graph().name_scope(name or "ReverseSequence"):
        lens = convert_to_tensor(seq_lengths)
        if not lens.dtype.is_integer:
            raise GraphError(f"reverse_sequence: seq_lengths {lens.name} must be integers")
        lens = cast(lens, int32)
        view = [1] * rank
        view[seq] = steps
        t = constant(np.arange(steps).reshape(view), dtype=int32)
        view = [1] * rank
        view[bat] = -1
        n = reshape(lens, view)
        index = where(less(t, n), n - 1 - t, t)  # broadcast [.., B, .., T, ..]
        index = make("BroadcastTo", "kiln.broadcast_like", [index, x], None)
        return make("ReverseSequence", "kiln.gather_elements", [x, index], None, axis=seq)


# ------------------------------------------------------------------ sequences


def range(
    start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str = "range"
) -> Tensor:
    """start, start + delta, ... up to (not including) limit (tf.range), with
    Python numbers: ints give int32, any float float32, unless `dtype` says."""
    if limit is None:
        start, limit = 0, start
    bounds = (start, limit, delta)
    if builtins.any(isinstance(v, Tensor) or hasattr(v, "_as_tensor") for v in bounds):
        dim = _dim_of(limit) if isinstance(limit, Tensor) else None
        if dim is None or not (_is_python_int(start, 0) and _is_python_int(delta, 1)):
            raise GraphError(
                "kl.range needs Python numbers, or range(tf.shape(x)[k]) (a run-time dim of a "
                "tensor): kiln's shapes are static"
            )
        return _count_along(*dim, as_dtype(dtype) if dtype is not None else limit.dtype, name)
    if delta == 0:
        raise GraphError("kl.range: delta must not be 0")
    floating = builtins.any(isinstance(v, float | np.floating) for v in bounds)
    dt = as_dtype(dtype) if dtype is not None else (float32 if floating else int32)
    values = np.arange(start, limit, delta).astype(dt.ir.numpy)
    return constant(values, dtype=dt, name=name)


def _is_python_int(value: Any, want: int) -> bool:
    return isinstance(value, int | np.integer) and int(value) == want


def _dim_of(t: Tensor) -> tuple[Tensor, int] | None:
    """(x, k) when `t` is tf.shape(x)[k] (Squeeze of a one-element slice of a
    Shape op), else None."""
    if t.op.type != "Squeeze" or t.shape.ndims != 0:
        return None
    sl = t.op.inputs[0]
    a = sl.op.ir_attrs
    if sl.op.ir_op != "kiln.slice" or a.get("steps") != [1] or sl.op.inputs[0].op.type != "Shape":
        return None
    start, stop = a["starts"][0], a["stops"][0]
    if stop != start + 1 or start < 0:
        return None
    return sl.op.inputs[0].op.inputs[0], start


def _count_along(x: Tensor, axis: int, dt: Any, name: str) -> Tensor:
    """0, 1, ..., n-1 for n = x's dim `axis` (symbolic): an exclusive running
    sum of ones over that dim of x's first slice along every other dim."""
    rank = _rank(x, "range")
    if x.shape[axis] is not None:
        return constant(np.arange(x.shape[axis]), dtype=dt, name=name)
    with get_default_graph().name_scope(name):
        line = x
        for k in builtins.range(rank):
            if k != axis:
                line = _slice(line, k, 0, 1)
        line = reshape(line, [-1])
        ones = make("OnesLike", "kiln.broadcast_like", [constant(1, dtype=dt), line], None)
        return cumsum(ones, exclusive=True)


def linspace(start: Any, stop: Any, num: int, name: str | None = None) -> Tensor:
    """`num` evenly spaced values from start to stop, both included (tf.linspace);
    start and stop may be tensors (scalars), num must be an int."""
    num = int(num)
    if num < 1:
        raise GraphError(f"linspace: num must be >= 1, got {num}")
    with get_default_graph().name_scope(name or "LinSpace"):
        lo = convert_to_tensor(start, dtype=None if isinstance(start, Tensor) else float32)
        hi = convert_to_tensor(stop, dtype=lo.dtype)
        if not lo.dtype.is_floating:
            raise GraphError(f"linspace: start must be floating point, got {lo.dtype.name}")
        steps = make("Range", "kiln.iota", [], None, shape=[num], dtype=lo.dtype.ir)
        if num == 1:
            return reshape(lo, [1])
        ramp = add(lo, multiply(steps, divide(hi - lo, float(num - 1))))
        return where(equal(steps, float(num - 1)), hi, ramp)  # stop exactly, as TensorFlow


lin_space = linspace


# ------------------------------------------------------------------ shapes as tensors


def shape(input: Any, name: str | None = None, out_type: Any = int32) -> Tensor:
    """The shape of `input` as a 1-D tensor (tf.shape): a constant when it is
    static, else computed when the graph runs."""
    x = convert_to_tensor(input)
    dt = as_dtype(out_type)
    if x.shape.is_fully_defined():
        return constant(np.array(x.shape.as_list(), dt.ir.numpy), dtype=dt, name=name or "Shape")
    return make("Shape", "kiln.shape", [x], name, dtype=dt.ir)


def size(input: Any, name: str | None = None, out_type: Any = int32) -> Tensor:
    """How many elements `input` has (tf.size), a scalar."""
    x = convert_to_tensor(input)
    dt = as_dtype(out_type)
    if x.shape.is_fully_defined():
        return constant(int(np.prod(x.shape.as_list())), dtype=dt, name=name or "Size")
    return reduce_prod(shape(x, out_type=dt), name=name or "Size")


def rank(input: Any, name: str | None = None) -> Tensor:
    """The rank of `input` as an int32 scalar (tf.rank)."""
    x = convert_to_tensor(input)
    if x.shape.ndims is not None:
        return constant(x.shape.ndims, dtype=int32, name=name or "Rank")
    return squeeze(shape(shape(x)), axis=[0], name=name or "Rank")


# ------------------------------------------------------------------ norms


def _sum_of_squares(x: Tensor, axes: Any = None, keepdims: bool = False) -> Tensor:
    return reduce_sum(multiply(x, x), axis=axes, keepdims=keepdims)


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: str | None = None) -> Tensor:
    """t * clip_norm / max(l2norm(t), clip_norm), the norm over `axes` (all by
    default), as tf.clip_by_norm (whose gradient at t = 0 is finite)."""
    x = convert_to_tensor(t)
    with get_default_graph().name_scope(name or "clip_by_norm"):
        total = _sum_of_squares(x, axes, keepdims=True)
        positive = total > 0.0
        norm = where(positive, sqrt(where(positive, total, 1.0)), total)
        clip = convert_to_tensor(clip_norm, dtype=x.dtype)
        return divide(multiply(x, clip), maximum(norm, clip))


def global_norm(t_list: Sequence[Any], name: str | None = None) -> Tensor:
    """sqrt(sum of the squares of every element of every tensor) (tf.global_norm)."""
    tensors = [convert_to_tensor(t) for t in t_list if t is not None]
    if not tensors:
        raise GraphError("global_norm: no tensors")
    with get_default_graph().name_scope(name or "global_norm"):
        sums = [_sum_of_squares(t) for t in tensors]
        total = sums[0]
        for s in sums[1:]:
            total = add(total, cast(s, total.dtype))
        return sqrt(total, name="global_norm")


def clip_by_global_norm(
    t_list: Sequence[Any], clip_norm: Any, use_norm: Any = None, name: str | None = None
) -> tuple[list[Tensor | None], Tensor]:
    """Every tensor times clip_norm / max(global_norm, clip_norm), and the
    global norm (tf.clip_by_global_norm); None entries stay None."""
    items = list(t_list)
    with get_default_graph().name_scope(name or "clip_by_global_norm"):
        norm = convert_to_tensor(use_norm) if use_norm is not None else global_norm(items)
        clip = convert_to_tensor(clip_norm, dtype=norm.dtype)
        scale = divide(clip, maximum(norm, clip))
        clipped = [
            None
            if t is None
            else multiply(convert_to_tensor(t), cast(scale, (convert_to_tensor(t).dtype)))
            for t in items
        ]
    return clipped, norm
