"""The converter of ONNX DFT: a discrete Fourier transform along one axis as two
matmuls with import-time cos/sin matrices (O(n^2) per signal: the sizes models
use it at are small), forward or inverse, full or one-sided, with dft_length
truncating or zero-padding the signal. The last dim holds (real) or (real,
imaginary)."""

from __future__ import annotations

import copy
import math

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def _along(ctx: Context, v: Value, axis: int, matrix: np.ndarray) -> Value:
    """v ([..., n at axis, ...]) times matrix [n, m] along `axis`."""
    b = ctx.b
    rank = v.type.rank
    perm = [d for d in range(rank) if d != axis] + [axis]
    moved = b.transpose(v, perm=perm) if axis != rank - 1 else v
    shape = [v.type.shape[d] for d in perm]
    flat = b.reshape(moved, shape=[-1, shape[-1]])
    y = b.matmul(flat, ctx.constant(matrix.astype(v.type.dtype.numpy), v.type.dtype))
    y = b.reshape(
        y, shape=[d if isinstance(d, int) else -1 for d in shape[:-1]] + [matrix.shape[1]]
    )
    if axis == rank - 1:
        return y
    return b.transpose(y, perm=[perm.index(d) for d in range(rank)])


@converter("DFT", 17)
def dft(ctx: Context, node: Node) -> list[Value]:
    x, b = node.inputs[0], ctx.b
    rank = x.type.rank
    if ctx.opset >= 20:
        given = node.input(2)
        axis = ctx.ints_of(given, node, "axis")[0] if given is not None else -2
    else:
        axis = int(node.attr("axis", 1))
    if not -rank <= axis < rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    axis %= rank
    if axis == rank - 1:
        raise ctx.error(node, "the axis may not be the last (real, imaginary) dim")
    inverse, onesided = bool(node.attr("inverse", 0)), bool(node.attr("onesided", 0))
    shape = list(x.type.shape)
    symbolic = sum(not isinstance(d, int) for d in shape)
    if symbolic > 1 or not isinstance(shape[axis], int) or shape[-1] not in (1, 2):
        raise ctx.error(
            node, f"needs a static shape (but for one dim) ending in 1 or 2, got {x.type}"
        )
    n = shape[axis]
    length = node.input(1)
    size = ctx.ints_of(length, node, "dft_length")[0] if length is not None else None
    parts = [b.squeeze(b.slice(x, axes=[rank - 1], starts=[i], stops=[i + 1]), axes=[rank - 1])
             for i in range(shape[-1])]  # fmt: skip
    sign = 1.0 if inverse else -1.0
    if inverse and onesided:  # a half spectrum in, a real signal out
        size = size or 2 * (n - 1)
        k = np.arange(n)[:, None]
        t = np.arange(size)[None, :]
        weight = np.where((k == 0) | (2 * k == size), 1.0, 2.0)
        theta = 2 * math.pi * k * t / size
        real = _along(ctx, parts[0], axis, weight * np.cos(theta) / size)
        if len(parts) > 1:
            real = b.sub(real, _along(ctx, parts[1], axis, weight * np.sin(theta) / size))
        return [b.expand_dims(real, axis=rank - 1)]
    size = size or n
    bins = size // 2 + 1 if onesided else size
    t = np.arange(n)[:, None]
    k = np.arange(bins)[None, :]
    theta = 2 * math.pi * t * k / size
    keep = (t < size).astype(np.float64)  # a shorter dft_length truncates the signal
    scale = 1.0 / size if inverse else 1.0
    cos, sin = keep * np.cos(theta) * scale, keep * np.sin(theta) * scale
    xr = parts[0]
    yr, yi = _along(ctx, xr, axis, cos), _along(ctx, xr, axis, sign * sin)
    if len(parts) > 1:
        xi = parts[1]
        yr = b.sub(yr, _along(ctx, xi, axis, sign * sin))
        yi = b.add(yi, _along(ctx, xi, axis, cos))
    return [
        b.concat(b.expand_dims(yr, axis=rank - 1), b.expand_dims(yi, axis=rank - 1), axis=rank - 1)
    ]


@converter("STFT", 17)
def stft(ctx: Context, node: Node) -> list[Value]:
    """Frames of the signal (a gather at import-time indices), weighted by the
    window, each transformed by the DFT above along its frame axis."""
    x, b = node.inputs[0], ctx.b
    window, given_length = node.input(2), node.input(3)
    if x.type.rank != 3 or not isinstance(x.type.shape[1], int):
        raise ctx.error(node, f"expected a signal [batch, static length, 1 or 2], got {x.type}")
    step = ctx.ints_of(node.input(1), node, "frame_step")[0]
    if given_length is not None:
        length = ctx.ints_of(given_length, node, "frame_length")[0]
    elif window is not None and isinstance(window.type.shape[0], int):
        length = window.type.shape[0]
    elif window is None:
        length = x.type.shape[1]
    else:
        raise ctx.error(node, f"the window {window.type} needs a static length")
    taps = window.type.shape[0] if window is not None else length
    if step < 1 or not 1 <= taps <= x.type.shape[1]:
        raise ctx.error(node, f"frame_step {step}, window {taps} do not fit {x.type}")
    frames = 1 + (x.type.shape[1] - taps) // step
    index = np.arange(frames)[:, None] * step + np.arange(taps)[None, :]
    framed = b.gather(x, ctx.constant(index.astype(np.int64), "i64"), axis=1)  # [B, F, L, C]
    if window is not None:
        w = window if window.type.dtype == x.type.dtype else b.cast(window, dtype=x.type.dtype)
        framed = b.mul(framed, b.reshape(w, shape=[1, 1, taps, 1]))
    shadow = copy.copy(node)
    sized = [None if length == taps else ctx.constant(np.int64(length), "i64")]
    shadow.inputs = [framed, *sized]
    shadow.attrs = {"onesided": int(node.attr("onesided", 1)), "axis": 2}
    return dft(ctx, shadow)
