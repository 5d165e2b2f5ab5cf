"""tf.nn.conv3d, max_pool3d and avg_pool3d (NDHWC) as 2-D ops per depth tap.

Output depth od reads padded input depth od*sd + kd*dd through tap kd: the
depth slices a tap reads are one strided slice of the depth-padded input;
folded into the batch ([N*OD, H, W, C]) they go through the 2-D op with the
tap's [KH, KW, C, O] filter (or the 2-D pool window), height and width keeping
the 2-D op's SAME/VALID padding; the taps are summed (conv), maxed (max pool,
depth padded with -inf) or summed and divided by the number of real depths in
each window (avg pool: the 2-D op already leaves H/W padding out of its mean,
as TF). Every piece is a kl op, so gradients come through the decomposition.
Depth, height, width and channels must be static; the batch may be unknown.
(kiln/onnx/convert/conv_transpose_3d.py does the same for ONNX's transposed
3-D convolution.) Bound into kl.nn by frontend/__init__.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .graph import GraphError, Tensor
from .nn import _window, avg_pool, conv2d, max_pool
from .ops import add_n, constant, convert_to_tensor, maximum, multiply, reshape, transpose
from .padding import pad

__all__ = ["avg_pool3d", "conv3d", "max_pool3d"]


def _three(values: Any, name: str, data_format: str) -> list[int]:
    """TF's 5-long NDHWC / NCDHW lists (or 1 or 3 ints) -> the three spatial values."""
    if data_format == "NCDHW" and not isinstance(values, int) and len(values) == 5:
        values = [values[0], *values[2:], values[1]]
    return [int(v) for v in _window(values, name, 3)]


def _ndhwc_in(x: Tensor, data_format: str, what: str) -> Tensor:
    if data_format == "NCDHW":
        x = transpose(x, [0, 2, 3, 4, 1])
    elif data_format != "NDHWC":
        raise GraphError(f"{what}: data_format must be NDHWC or NCDHW, got {data_format!r}")
    dims = x.shape.dims
    if dims is None or len(dims) != 5 or any(d is None for d in dims[1:]):
        raise GraphError(
            f"{what}: kiln needs a rank-5 input with static depth, height, width and "
            f"channels, got {x.name} of shape {x.shape}"
        )
    return x


def _ndhwc_out(y: Tensor, data_format: str) -> Tensor:
    return y if data_format == "NDHWC" else transpose(y, [0, 4, 1, 2, 3])


def _depth_plan(
    depth: int, size: int, stride: int, dilation: int, padding: str, what: str
) -> tuple[int, int, int]:
    """(output depth, pad before, pad after) as TF's SAME/VALID pick them."""
    span = (size - 1) * dilation + 1
    if padding == "VALID":
        out, total = (depth - span) // stride + 1, 0
    elif padding == "SAME":
        out = -(-depth // stride)
        total = max((out - 1) * stride + span - depth, 0)
    else:
        raise GraphError(f"{what}: padding must be SAME or VALID, got {padding!r}")
    if out <= 0:
        raise GraphError(f"{what}: a depth window of {span} does not fit in depth {depth}")
    return out, total // 2, total - total // 2


def _taps(
    x: Tensor, size: int, stride: int, dilation: int, padding: str, value: float, what: str
) -> tuple[list[Tensor], int, tuple[int, int]]:
    """Each depth tap's input slices, folded into the batch: [N*OD, H, W, C]."""
    _, depth, h, w, c = x.shape.dims
    out, before, after = _depth_plan(depth, size, stride, dilation, padding, what)
    if before or after:
        x = pad(x, [[0, 0], [before, after], [0, 0], [0, 0], [0, 0]], constant_values=value)
    taps = []
    for k in range(size):
        start = k * dilation
        piece = x[:, start : start + (out - 1) * stride + 1 : stride]
        taps.append(reshape(piece, [-1, h, w, c]))
    return taps, out, (before, depth)


def _unfold(y: Tensor, out: int) -> Tensor:
    """[N*OD, OH, OW, C] -> [N, OD, OH, OW, C]."""
    oh, ow, c = y.shape.dims[1:]
    return reshape(y, [-1, out, oh, ow, c])


def conv3d(
    input: Any,
    filter: Any = None,
    strides: Sequence[int] | int = 1,
    padding: str = "VALID",
    data_format: str = "NDHWC",
    dilations: Sequence[int] | int = 1,
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """3-D convolution with [KD, KH, KW, C, O] filters (tf.nn.conv3d)."""
    x = _ndhwc_in(convert_to_tensor(input), data_format, "conv3d")
    w = convert_to_tensor(filter if filter is not None else filters, dtype=x.dtype)
    wd = w.shape.dims
    if wd is None or len(wd) != 5 or any(d is None for d in wd):
        raise GraphError(f"conv3d: the filter must be a static [KD, KH, KW, C, O], got {w.shape}")
    if wd[3] != x.shape.dims[4]:
        raise GraphError(
            f"conv3d: the filter takes {wd[3]} channels, the input {x.name} has {x.shape.dims[4]}"
        )
    sd, sh, sw = _three(strides, "conv3d strides", data_format)
    dd, dh, dw = _three(dilations, "conv3d dilations", data_format)
    taps, out, _ = _taps(x, wd[0], sd, dd, padding.upper(), 0.0, "conv3d")
    terms = [
        conv2d(t, w[k], strides=[1, sh, sw, 1], padding=padding, dilations=[1, dh, dw, 1])
        for k, t in enumerate(taps)
    ]
    y = _unfold(terms[0] if len(terms) == 1 else add_n(terms), out)
    return _ndhwc_out(y, data_format)


def _pooled_taps(
    pool2d: Any, input: Any, ksize: Any, strides: Any, padding: str, data_format: str, what: str
) -> tuple[list[Tensor], int, np.ndarray, Tensor]:
    """Each depth tap pooled in 2-D ([N*OD, OH, OW, C]), the output depth, the
    number of real (unpadded) depths in each output's window, and the input."""
    x = _ndhwc_in(convert_to_tensor(input), data_format, what)
    kd, kh, kw = _three(ksize, f"{what} ksize", data_format)
    sd, sh, sw = _three(strides, f"{what} strides", data_format)
    value = -np.inf if pool2d is max_pool else 0.0
    taps, out, (before, depth) = _taps(x, kd, sd, 1, padding.upper(), value, what)
    pooled = [pool2d(t, [1, kh, kw, 1], [1, sh, sw, 1], padding) for t in taps]
    starts = np.arange(out) * sd - before  # each window's first depth, unpadded
    counts = np.clip(starts + kd, 0, depth) - np.clip(starts, 0, depth)
    return pooled, out, counts, x


def _pool3d(pool2d: Any, what: str, doc: str) -> Any:
    def fn(
        input: Any,
        ksize: Any,
        strides: Any,
        padding: str,
        data_format: str = "NDHWC",
        name: str | None = None,
    ) -> Tensor:
        pooled, out, counts, x = _pooled_taps(
            pool2d, input, ksize, strides, padding, data_format, what
        )
        if pool2d is max_pool:
            y = pooled[0]
            for p in pooled[1:]:
                y = maximum(y, p)
            return _ndhwc_out(_unfold(y, out), data_format)
        y = _unfold(pooled[0] if len(pooled) == 1 else add_n(pooled), out)
        scale = constant((1.0 / counts).reshape(1, out, 1, 1, 1), dtype=x.dtype)
        return _ndhwc_out(multiply(y, scale), data_format)

    fn.__name__, fn.__doc__ = what, doc
    return fn


max_pool3d = _pool3d(
    max_pool, "max_pool3d", "The largest value of each 3-D window (tf.nn.max_pool3d)."
)
avg_pool3d = _pool3d(
    avg_pool, "avg_pool3d", "The mean of each 3-D window, padding left out (tf.nn.avg_pool3d)."
)
