"""Pools kiln's 2-D pooling kernels do not serve, as a combination over the
window's taps: 3-D (and N-D) windows, dilations, MaxPool's Indices output,
LpPool and GlobalLpPool.

Each tap of the window is one strided slice of the padded input (the whole
output's worth of that tap); max, sum or sum of |x|^p combine them
elementwise, in one fused kernel. The averages' divisors (how many taps fall
inside the input, or inside the input and its explicit pads) and the Indices
of each tap are import-time constants of the static spatial shape.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter
from .elementwise import like


def _ints(node: Node, name: str, n: int, default: int) -> list[int]:
    value = node.attr(name, None)
    return [default] * n if value is None else [int(v) for v in value]


def _geometry(ctx: Context, node: Node, x: Value):
    """(sizes, kernels, strides, dilations, pads, outs) of a pool over x."""
    from .nn import window_pads

    n = x.type.rank - 2
    sizes = list(x.type.shape[2:])
    if n < 1 or not all(isinstance(s, int) for s in sizes):
        raise ctx.error(node, f"the spatial dims of {x.type} must be static")
    kernels = [int(k) for k in node.attr("kernel_shape")]
    if len(kernels) != n:
        raise ctx.error(node, f"kernel_shape {kernels} does not match the input {x.type}")
    strides = _ints(node, "strides", n, 1)
    dilations = _ints(node, "dilations", n, 1)
    pads = window_pads(ctx, node, sizes, kernels, strides, dilations)
    ceil = bool(node.attr("ceil_mode", 0))
    outs = []
    for size, k, s, d, (p0, p1) in zip(sizes, kernels, strides, dilations, pads):
        span = size + p0 + p1 - ((k - 1) * d + 1)
        out = (-(-span // s) if ceil else span // s) + 1
        if ceil and (out - 1) * s >= size + p0:  # a window may not start in the end pad
            out -= 1
        if out < 1:
            raise ctx.error(node, f"the window {kernels} does not fit the input {x.type}")
        outs.append(out)
    return sizes, kernels, strides, dilations, pads, outs


def _taps(kernels: list[int], dilations: list[int]):
    """The offsets of the window's taps, in the window's row-major order."""
    return itertools.product(*[range(0, k * d, d) for k, d in zip(kernels, dilations)])


def _windows(ctx: Context, xp: Value, offsets, strides, outs, first: int = 2) -> Value:
    """The slice of xp holding tap `offsets` of every output's window."""
    axes = list(range(first, first + len(outs)))
    stops = [o + (n - 1) * s + 1 for o, n, s in zip(offsets, outs, strides)]
    return ctx.b.slice(xp, axes=axes, starts=list(offsets), stops=stops, steps=list(strides))


def _padded(ctx: Context, x: Value, pads, kernels, strides, dilations, outs, value) -> Value:
    sizes = x.type.shape[2:]
    low = [p0 for p0, _ in pads]
    high = [
        max(0, (n - 1) * s + (k - 1) * d + 1 - size - p0)
        for n, s, k, d, size, p0 in zip(outs, strides, kernels, dilations, sizes, low)
    ]
    if not any(low + high):
        return x
    return ctx.b.pad(x, low=[0, 0] + low, high=[0, 0] + high, value=value)


def _count(sizes, pads, kernels, strides, dilations, outs, include_pad: bool) -> np.ndarray:
    """How many of each window's taps count for an average."""
    low = [p0 for p0, _ in pads]
    inside = np.zeros([p0 + size + p1 + k * d for size, (p0, p1), k, d in
                       zip(sizes, pads, kernels, dilations)], np.float64)  # fmt: skip
    region = (
        tuple(slice(0, p0 + size + p1) for size, (p0, p1) in zip(sizes, pads))
        if include_pad
        else tuple(slice(p0, p0 + size) for size, p0 in zip(sizes, low))
    )
    inside[region] = 1
    total = np.zeros(outs)
    for offsets in _taps(kernels, dilations):
        total += inside[tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in
                              zip(offsets, outs, strides))]  # fmt: skip
    return total


def tap_pool(ctx: Context, node: Node, kind: str, p: float = 2.0) -> list[Value]:
    """MaxPool ("max"), AveragePool ("avg") or LpPool ("lp") over any rank."""
    x = node.inputs[0]
    b = ctx.b
    sizes, kernels, strides, dilations, pads, outs = _geometry(ctx, node, x)
    dt = x.type.dtype
    if kind == "max":
        fill = -np.inf if dt.is_float else np.iinfo(dt.numpy).min
    else:
        fill = 0.0
    xp = _padded(ctx, x, pads, kernels, strides, dilations, outs, fill)
    if kind == "lp":
        xp = b.mul(xp, xp) if p == 2 else b.pow(b.abs(xp), like(ctx, xp, p))
    want_indices = kind == "max" and node.num_outputs > 1 and bool(node.output_names[1])
    if want_indices:
        if not all(isinstance(d, int) for d in x.type.shape[:2]):
            raise ctx.error(node, f"Indices need static batch and channel dims, got {x.type}")
    total = index = None
    low = [p0 for p0, _ in pads]
    for offsets in _taps(kernels, dilations):
        tap = _windows(ctx, xp, offsets, strides, outs)
        if total is None:
            total = tap
            if want_indices:
                index = _tap_index(ctx, node, x, offsets, low, strides, outs)
        elif kind == "max":
            if want_indices:
                better = b.greater(tap, total)
                index = b.select(
                    better, _tap_index(ctx, node, x, offsets, low, strides, outs), index
                )
            total = b.max(total, tap)
        else:
            total = b.add(total, tap)
    if kind == "avg":
        include = bool(node.attr("count_include_pad", 0))
        count = _count(sizes, pads, kernels, strides, dilations, outs, include)
        total = b.div(total, ctx.constant(count.astype(dt.numpy), dt))
    elif kind == "lp":
        total = b.sqrt(total) if p == 2 else b.pow(total, like(ctx, total, 1.0 / p))
    return [total, index] if want_indices else [total]


def _tap_index(ctx: Context, node: Node, x: Value, offsets, low, strides, outs) -> Value:
    """The flat NC... index into x of tap `offsets` of every window (a constant);
    with storage_order=1 the spatial dims count column-major."""
    sizes = list(x.type.shape[2:])
    positions = np.meshgrid(
        *[np.arange(n) * s + o - p0 for n, s, o, p0 in zip(outs, strides, offsets, low)],
        indexing="ij",
    )
    spatial = np.zeros(outs, np.int64)
    dims = list(zip(positions, sizes))
    for pos, size in reversed(dims) if int(node.attr("storage_order", 0)) else dims:
        spatial = spatial * size + np.clip(pos, 0, size - 1)
    n, c = x.type.shape[:2]
    base = (np.arange(n * c, dtype=np.int64) * math.prod(sizes)).reshape([n, c] + [1] * len(outs))
    return ctx.constant(base + spatial, "i64")


def needs_taps(node: Node, x: Value) -> bool:
    """Whether a MaxPool/AveragePool is beyond kiln's 2-D pooling kernels."""
    n = x.type.rank - 2
    dilations = node.attr("dilations", None) or [1]
    indices = node.num_outputs > 1 and bool(node.output_names[1])
    return n not in (1, 2) or any(int(d) != 1 for d in dilations) or indices


@converter("LpPool")
def lp_pool(ctx: Context, node: Node) -> list[Value]:
    return tap_pool(ctx, node, "lp", float(node.attr("p", 2)))


@converter("GlobalLpPool")
def global_lp_pool(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    p = float(node.attr("p", 2))
    axes = list(range(2, x.type.rank))
    powered = b.mul(x, x) if p == 2 else b.pow(b.abs(x), like(ctx, x, p))
    total = b.reduce_sum(powered, axes=axes, keepdims=True)
    return [b.sqrt(total) if p == 2 else b.pow(total, like(ctx, total, 1.0 / p))]


@converter("MaxUnpool", 9)
def max_unpool(ctx: Context, node: Node) -> list[Value]:
    """X's values put at their MaxPool Indices (flat over the output) in zeros of
    the output's shape: output_shape, else (in - 1) * stride + kernel - pads."""
    x, indices = node.inputs[:2]
    b = ctx.b
    n = x.type.rank - 2
    shape = list(x.type.shape)
    if not all(isinstance(d, int) for d in shape):
        raise ctx.error(node, f"the input must have a static shape, got {x.type}")
    kernels = [int(k) for k in node.attr("kernel_shape")]
    strides = _ints(node, "strides", n, 1)
    pads = _ints(node, "pads", 2 * n, 0)
    out = shape[:2] + [(size - 1) * s + k - pads[i] - pads[i + n] for i, (size, s, k) in
                       enumerate(zip(shape[2:], strides, kernels))]  # fmt: skip
    zeros = ctx.constant(np.zeros(math.prod(out), x.type.dtype.numpy), x.type.dtype)
    flat = b.scatter_elements(
        zeros, b.reshape(indices, shape=[-1]), b.reshape(x, shape=[-1]), axis=0
    )
    y = b.reshape(flat, shape=out)
    if node.input(2) is None:
        return [y]
    # a larger output_shape: the indices still count in the inferred shape, and
    # the extra rows and columns come at the end (as onnx's reference)
    wanted = ctx.ints_of(node.input(2), node, "output_shape")
    if len(wanted) != len(out) or any(w < o for w, o in zip(wanted, out)):
        raise ctx.error(node, f"output_shape {wanted} is smaller than the inferred {out}")
    grow = [w - o for w, o in zip(wanted, out)]
    return [b.pad(y, low=[0] * len(out), high=grow, value=0.0) if any(grow) else y]
