"""The converter of ONNX TensorScatter (a KV-cache update): `update`'s rows written
into `past_cache` along `axis`, from each batch entry's write index on (wrapping
modulo the cache length in circular mode).

Written as a select: a cache position p of batch b holds update row p - w[b]
(mod the length when circular) where that row exists, else the old entry; the
rows are read with kiln.gather_elements at the clamped row index."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


@converter("TensorScatter", 24)
def tensor_scatter(ctx: Context, node: Node) -> list[Value]:
    cache, update = node.inputs[:2]
    writes = node.input(2)
    b = ctx.b
    rank = cache.type.rank
    axis = int(node.attr("axis", -2))
    if not -rank <= axis < rank or axis % rank == 0:
        raise ctx.error(node, f"axis {axis} must name a dim after the batch of {cache.type}")
    axis %= rank
    mode = node.attr("mode", "linear")
    if mode not in ("linear", "circular"):
        raise ctx.error(node, f"mode {mode!r} is not linear or circular")
    length, rows = cache.type.shape[axis], update.type.shape[axis]
    if not (isinstance(length, int) and isinstance(rows, int)) or update.type.rank != rank:
        raise ctx.error(node, f"needs static {cache.type} and {update.type} along axis {axis}")
    view = [1] * rank
    view[axis] = length
    p = ctx.constant(np.arange(length, dtype=np.int64).reshape(view), "i64")
    if writes is None:
        rel = p
    else:
        w = b.cast(writes, dtype="i64") if writes.type.dtype.value != "i64" else writes
        rel = b.sub(p, b.reshape(w, shape=[-1] + [1] * (rank - 1)))
    if mode == "circular":
        n = ctx.constant(np.int64(length), "i64")
        rel = b.sub(rel, b.mul(b.div(rel, n), n))
        rel = b.select(b.less(rel, ctx.constant(np.int64(0), "i64")), b.add(rel, n), rel)
    written = b.logical_and(
        b.greater_equal(rel, ctx.constant(np.int64(0), "i64")),
        b.less(rel, ctx.constant(np.int64(rows), "i64")),
    )
    zero, last = ctx.constant(np.int64(0), "i64"), ctx.constant(np.int64(rows - 1), "i64")
    shape = [d if isinstance(d, int) else -1 for d in cache.type.shape]
    if -1 in shape[1:] or (-1 in shape and writes is None):  # -1 keeps index's own dim
        raise ctx.error(node, f"needs static dims after the batch, got {cache.type}")
    index = b.broadcast_to(b.min(b.max(rel, zero), last), shape=shape)
    rows_read = b.gather_elements(update, index, axis=axis)
    return [b.select(written, rows_read, cache)]
