"""Converters of ONNX's Sequence and Optional values, held host-side at import.

kiln's IR has tensors only. An ONNX sequence whose length is known at import
(built by SequenceConstruct, SplitToSequence over a static dim, a graph input
the backend specialises on its length) is a Python list of kiln Values
(`SequenceValue`); an optional is `OptionalValue` (a value or None). The ops on
them (SequenceAt/Insert/Erase/Length, ConcatFromSequence, OptionalHasElement,
...) pick, insert and count list entries at import, so no sequence reaches the
compiled function: a sequence graph input arrives as one argument per entry,
a sequence output leaves as one result per entry, and kiln.onnx.backend
groups them back (onnx/importer.py records the structure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter, dtype_of_elem


@dataclass(eq=False)
class SequenceValue:
    """An ONNX sequence of known length: its tensors, in order."""

    items: list[Value]
    dtype: DType  # the element type (an empty sequence has one too)


@dataclass(eq=False)
class OptionalValue:
    """An ONNX optional: a tensor, a sequence, or None (empty)."""

    value: Value | SequenceValue | None


def _sequence(ctx: Context, node: Node, i: int = 0) -> SequenceValue:
    seq = node.input(i)
    if isinstance(seq, OptionalValue):
        seq = seq.value
    if not isinstance(seq, SequenceValue):
        raise ctx.error(node, f"input {i} must be a sequence")
    return seq


def _position(ctx: Context, node: Node, i: int, n: int, default: int, insert: bool) -> int:
    """The position input (negative counts from the end), checked against `n`
    entries (an insert may also go at `n`)."""
    if node.input(i) is None:
        return default
    (pos,) = ctx.ints_of(node.input(i), node, "the position")
    high = n if insert else n - 1
    if not -n <= pos <= high:
        raise ctx.error(node, f"position {pos} is out of range for a sequence of {n}")
    return pos + n if pos < 0 else pos


def _tensor(ctx: Context, node: Node, v, seq: SequenceValue) -> Value:
    if not isinstance(v, Value):
        raise ctx.error(node, "a sequence holds tensors only")
    if seq.items and v.type.dtype != seq.dtype:
        raise ctx.error(node, f"a {v.type.dtype} tensor in a sequence of {seq.dtype}")
    return v


@converter("SequenceConstruct", since=11)
def sequence_construct(ctx: Context, node: Node) -> list:
    items = list(node.inputs)
    dtypes = {v.type.dtype for v in items}
    if len(dtypes) != 1:
        got = sorted(map(str, dtypes))
        raise ctx.error(node, f"the tensors of a sequence share one type, got {got}")
    return [SequenceValue(items, items[0].type.dtype)]


@converter("SequenceEmpty", since=11)
def sequence_empty(ctx: Context, node: Node) -> list:
    dtype = dtype_of_elem(int(node.attr("dtype", 1)), f"node '{node.name}'")
    return [SequenceValue([], dtype)]


@converter("SequenceLength", since=11)
def sequence_length(ctx: Context, node: Node) -> list:
    return [ctx.constant(np.int64(len(_sequence(ctx, node).items)), DType.i64)]


@converter("SequenceAt", since=11)
def sequence_at(ctx: Context, node: Node) -> list:
    seq = _sequence(ctx, node)
    n = len(seq.items)
    if node.input(1) is None:
        raise ctx.error(node, "the position input is required")
    return [seq.items[_position(ctx, node, 1, n, 0, insert=False)]]


@converter("SequenceInsert", since=11)
def sequence_insert(ctx: Context, node: Node) -> list:
    seq = _sequence(ctx, node)
    x = _tensor(ctx, node, node.input(1), seq)
    items = list(seq.items)
    items.insert(_position(ctx, node, 2, len(items), len(items), insert=True), x)
    return [SequenceValue(items, x.type.dtype)]


@converter("SequenceErase", since=11)
def sequence_erase(ctx: Context, node: Node) -> list:
    seq = _sequence(ctx, node)
    items = list(seq.items)
    if not items:
        raise ctx.error(node, "erasing from an empty sequence")
    del items[_position(ctx, node, 1, len(items), len(items) - 1, insert=False)]
    return [SequenceValue(items, seq.dtype)]


@converter("SplitToSequence", since=11)
def split_to_sequence(ctx: Context, node: Node) -> list:
    x = node.inputs[0]
    rank = x.type.rank
    axis = int(node.attr("axis", 0))
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    axis %= rank
    size = x.type.shape[axis]
    if not isinstance(size, int):
        raise ctx.error(node, f"the split axis of {x.type} must be static (the length is)")
    b = ctx.b
    split = node.input(1)
    if split is None:  # one entry per index, the axis kept or dropped
        parts = [b.slice(x, axes=[axis], starts=[i], stops=[i + 1]) for i in range(size)]
        if not int(node.attr("keepdims", 1)):
            parts = [b.squeeze(p, axes=[axis]) for p in parts]
        return [SequenceValue(parts, x.type.dtype)]
    sizes = ctx.ints_of(split, node, "split")
    if ctx.value_of(split).ndim == 0:  # a chunk size: the last chunk may be shorter
        step = sizes[0]
        if step <= 0:
            raise ctx.error(node, f"split {step} must be positive")
        sizes = [min(step, size - at) for at in range(0, size, step)]
    if sum(sizes) != size or any(s < 0 for s in sizes):
        raise ctx.error(node, f"split {sizes} does not add up to the axis's {size}")
    parts, at = [], 0
    for s in sizes:
        parts.append(b.slice(x, axes=[axis], starts=[at], stops=[at + s]))
        at += s
    return [SequenceValue(parts, x.type.dtype)]


@converter("ConcatFromSequence", since=11)
def concat_from_sequence(ctx: Context, node: Node) -> list:
    seq = _sequence(ctx, node)
    if not seq.items:
        raise ctx.error(node, "concatenating an empty sequence")
    rank = seq.items[0].type.rank
    axis = int(node.attr("axis"))
    stack = bool(int(node.attr("new_axis", 0)))
    out_rank = rank + stack
    if not -out_rank <= axis < out_rank:
        raise ctx.error(node, f"axis {axis} is out of range for rank {rank} entries")
    axis %= out_rank
    items = seq.items
    if stack:
        items = [ctx.b.expand_dims(v, axis=axis) for v in items]
    return [items[0] if len(items) == 1 else ctx.b.concat(*items, axis=axis)]


@converter("SequenceMap", since=17)
def sequence_map(ctx: Context, node: Node) -> list:
    """The body graph imported once per entry (inlined: the length is known)."""
    from .control import import_graph

    body = node.attr("body")
    seqs = [v for v in node.inputs if isinstance(v, SequenceValue)]
    n = len(seqs[0].items) if seqs else 0
    if any(len(s.items) != n for s in seqs):
        raise ctx.error(node, f"the sequences have lengths {[len(s.items) for s in seqs]}")
    outputs: list[list[Value]] = [[] for _ in body.output]
    for k in range(n):
        bound = dict(ctx.values or {})
        for g, v in zip(body.input, node.inputs):
            bound[g.name] = v.items[k] if isinstance(v, SequenceValue) else v
        for out, value in zip(outputs, import_graph(ctx, body, ctx.b, bound)):
            out.append(value)
    dtypes = [_elem_dtype(ctx, node, o) for o in body.output]
    return [SequenceValue(items, d) for items, d in zip(outputs, dtypes)]


def _elem_dtype(ctx: Context, node: Node, info) -> DType:
    t = info.type
    if t.WhichOneof("value") == "sequence_type":
        t = t.sequence_type.elem_type
    return dtype_of_elem(t.tensor_type.elem_type, f"node '{node.name}'")


@converter("Optional", since=15)
def optional(ctx: Context, node: Node) -> list:
    return [OptionalValue(node.input(0))]


@converter("OptionalHasElement", since=15)
def optional_has_element(ctx: Context, node: Node) -> list:
    v = node.input(0)
    present = v.value is not None if isinstance(v, OptionalValue) else v is not None
    return [ctx.constant(np.bool_(present), DType.bool)]


@converter("OptionalGetElement", since=15)
def optional_get_element(ctx: Context, node: Node) -> list:
    v = node.input(0)
    if isinstance(v, OptionalValue):
        if v.value is None:
            raise ctx.error(node, "the optional is empty")
        v = v.value
    return [v]
