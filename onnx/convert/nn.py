"""Converters of ONNX's network ops: Conv, ConvTranspose, Gemm, MatMul, the
pools, the normalisations and Softmax/LogSoftmax.

ONNX is channels-first (NCHW, OIHW filters); kiln's convolutions and pools are
TensorFlow's NHWC with HWIO filters, so a converter transposes around them
(the transposes of a filter that is a constant fold at compile time). A 1-D
convolution or pool runs as a 2-D one over a height of 1.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ...ir.core import Operation, Value
from ...ir.dtypes import DType
from . import Context, Node, converter
from .conv_transpose_3d import conv_transpose_3d
from .elementwise import like
from .pool_taps import needs_taps, tap_pool

TO_NHWC, TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _spatial(ctx: Context, node: Node, x: Value) -> int:
    """The number of spatial dims (1 or 2: what kiln's 2-D kernels serve)."""
    n = x.type.rank - 2
    if n not in (1, 2):
        raise ctx.error(node, f"{n}-D spatial input {x.type} is not supported (1-D and 2-D are)")
    return n


def _to_2d(ctx: Context, x: Value, n: int) -> Value:
    return x if n == 2 else ctx.b.expand_dims(x, axis=2)


def _ints(node: Node, name: str, n: int, default: int) -> list[int]:
    value = node.attr(name, None)
    return [default] * n if value is None else [int(v) for v in value]


def window_pads(
    ctx: Context,
    node: Node,
    sizes: list,
    kernels: list[int],
    strides: list[int],
    dilations: list[int],
) -> list[tuple[int, int]]:
    """(before, after) padding per spatial dim from pads / auto_pad."""
    n = len(kernels)
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = _ints(node, "pads", 2 * n, 0)
        if len(pads) != 2 * n:
            raise ctx.error(node, f"pads {pads} must hold {2 * n} entries")
        return [(pads[i], pads[i + n]) for i in range(n)]
    if auto == "VALID":
        return [(0, 0)] * n
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise ctx.error(node, f"auto_pad={auto!r} is not supported")
    out = []
    for size, k, s, d in zip(sizes, kernels, strides, dilations):
        if not isinstance(size, int):
            raise ctx.error(node, f"auto_pad={auto!r} over the run-time dim {size}")
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        out.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return out


def _explicit(pads: list[tuple[int, int]]) -> dict:
    if len(pads) == 1:
        pads = [(0, 0)] + pads
    flat = [p for pair in pads for p in pair]
    if not any(flat):
        return {"padding": "VALID"}
    return {"padding": "EXPLICIT", "explicit_padding": flat}


def _pair(values: list[int], n: int, fill: int) -> list[int]:
    return [fill] + values if n == 1 else values


@converter("Conv")
def conv(ctx: Context, node: Node) -> list[Value]:
    x, w = node.inputs[0], node.inputs[1]
    bias = node.input(2)
    n = _spatial(ctx, node, x)
    kernels = [int(k) for k in w.type.shape[2:]]
    strides = _ints(node, "strides", n, 1)
    dilations = _ints(node, "dilations", n, 1)
    pads = window_pads(ctx, node, list(x.type.shape[2:]), kernels, strides, dilations)
    group = int(node.attr("group", 1))
    b = ctx.b
    xh = b.transpose(_to_2d(ctx, x, n), perm=TO_NHWC)
    attrs = dict(strides=_pair(strides, n, 1), dilations=_pair(dilations, n, 1), **_explicit(pads))
    cout = w.type.shape[0]
    if group > 1 and group == x.type.shape[1] and isinstance(cout, int) and cout % group == 0:
        y = _depthwise(ctx, xh, _to_2d(ctx, w, n), group, attrs)
        if bias is not None:
            y = b.add(y, bias)
        y = b.transpose(y, perm=TO_NCHW)
        return [y if n == 2 else b.squeeze(y, axes=[2])]
    wh = b.transpose(_to_2d(ctx, w, n), perm=[2, 3, 1, 0])  # OIHW -> HWIO
    if group == 1:
        y = b.conv2d(xh, wh, **attrs)
    else:
        cin, cout = x.type.shape[1], w.type.shape[0]
        if not isinstance(cin, int) or cin % group or cout % group:
            raise ctx.error(node, f"group={group} does not divide the channels of {x.type}")
        gi, go = cin // group, cout // group
        parts = []
        for g in range(group):
            xg = b.slice(xh, axes=[3], starts=[g * gi], stops=[(g + 1) * gi])
            wg = b.slice(wh, axes=[3], starts=[g * go], stops=[(g + 1) * go])
            parts.append(b.conv2d(xg, wg, **attrs))
        y = b.concat(*parts, axis=3)
    if bias is not None:
        y = b.add(y, bias)
    y = b.transpose(y, perm=TO_NCHW)
    return [y if n == 2 else b.squeeze(y, axes=[2])]


def _depthwise(ctx, xh, w, channels: int, attrs: dict) -> Value:
    """group == channels: kiln.depthwise_conv2d, with the OIHW filter
    [channels * m, 1, kh, kw] read as [kh, kw, channels, m] (output channel
    c * m + k is ONNX's too)."""
    b = ctx.b
    kh, kw = (int(k) for k in w.type.shape[2:])
    m = int(w.type.shape[0]) // channels
    hwcm = b.transpose(b.reshape(w, shape=[channels, m, kh, kw]), perm=[2, 3, 0, 1])
    return b.depthwise_conv2d(xh, hwcm, **attrs)


@converter("ConvTranspose")
def conv_transpose(ctx: Context, node: Node) -> list[Value]:
    x, w = node.inputs[0], node.inputs[1]
    bias = node.input(2)
    n = 3 if x.type.rank == 5 else _spatial(ctx, node, x)
    kernels = [int(k) for k in w.type.shape[2:]]
    strides = _ints(node, "strides", n, 1)
    dilations = _ints(node, "dilations", n, 1)
    out_pad = _ints(node, "output_padding", n, 0)
    group = int(node.attr("group", 1))
    sizes = list(x.type.shape[2:])
    if not all(isinstance(s, int) for s in sizes):
        raise ctx.error(node, f"the spatial dims of {x.type} must be static")
    eff = [(k - 1) * d + 1 for k, d in zip(kernels, dilations)]
    full = [s * (i - 1) + p + e for s, i, p, e in zip(strides, sizes, out_pad, eff)]
    output_shape = node.attr("output_shape", None)
    auto = node.attr("auto_pad", "NOTSET")
    if output_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = (
            [int(v) for v in output_shape][-n:]
            if output_shape is not None
            else [i * s for i, s in zip(sizes, strides)]
        )
        pads = []
        for f, t in zip(full, target):
            total = f - t
            if total < 0:  # an output_padding implied by output_shape
                pads.append((0, total))
                continue
            pads.append(
                (total // 2, total - total // 2)
                if auto == "SAME_UPPER"
                else (total - total // 2, total // 2)
            )
    elif auto == "VALID":
        pads = [(0, 0)] * n
    else:
        pads = window_pads(ctx, node, sizes, kernels, strides, dilations)
    outs = [f - p0 - p1 for f, (p0, p1) in zip(full, pads)]
    if n == 3:
        return [conv_transpose_3d(ctx, node, x, w, bias, strides, dilations, pads, outs, full)]
    pads = [(p0, max(p1, 0)) for p0, p1 in pads]
    b = ctx.b
    xh = b.transpose(_to_2d(ctx, x, n), perm=TO_NHWC)
    wh = b.transpose(
        _to_2d(ctx, w, n), perm=[2, 3, 1, 0]
    )  # [in, out/g, kh, kw] -> [kh, kw, out, in]
    attrs = dict(
        strides=_pair(strides, n, 1),
        dilations=_pair(dilations, n, 1),
        output_size=_pair(outs, n, 1),
        **_explicit(pads),
    )
    if group == 1:
        y = b.conv2d_transpose(xh, wh, **attrs)
    else:
        cin, go = x.type.shape[1], w.type.shape[1]
        if not isinstance(cin, int) or cin % group:
            raise ctx.error(node, f"group={group} does not divide the channels of {x.type}")
        gi = cin // group
        parts = []
        for g in range(group):
            xg = b.slice(xh, axes=[3], starts=[g * gi], stops=[(g + 1) * gi])
            wg = b.slice(wh, axes=[3], starts=[g * gi], stops=[(g + 1) * gi])
            parts.append(b.conv2d_transpose(xg, wg, **attrs))
        y = b.concat(*parts, axis=3)
        _ = go
    if bias is not None:
        y = b.add(y, bias)
    y = b.transpose(y, perm=TO_NCHW)
    return [y if n == 2 else b.squeeze(y, axes=[2])]


# ------------------------------------------------------------------ pools


def _pool(ctx: Context, node: Node, kind: str) -> list[Value]:
    x = node.inputs[0]
    if needs_taps(node, x):  # 3-D, dilated, with Indices
        return tap_pool(ctx, node, kind)
    n = _spatial(ctx, node, x)
    kernels = [int(k) for k in node.attr("kernel_shape")]
    strides = _ints(node, "strides", n, 1)
    dilations = _ints(node, "dilations", n, 1)
    sizes = list(x.type.shape[2:])
    pads = window_pads(ctx, node, sizes, kernels, strides, dilations)
    if node.attr("ceil_mode", 0):  # the last windows may start in the end padding
        grown = []
        for size, k, st, (p0, p1) in zip(sizes, kernels, strides, pads):
            if not isinstance(size, int):
                raise ctx.error(node, f"ceil_mode over the run-time dim {size}")
            out = -(-(size + p0 + p1 - k) // st) + 1
            if (out - 1) * st >= size + p0:
                out -= 1
            grown.append((p0, p1, max(0, (out - 1) * st + k - size - p0 - p1)))
    else:
        grown = [(p0, p1, 0) for p0, p1 in pads]
    b = ctx.b
    xh = b.transpose(_to_2d(ctx, x, n), perm=TO_NHWC)
    if kind == "avg" and node.attr("count_include_pad", 0) and any(p for pr in pads for p in pr):
        # the pads count as zeros; the ceil_mode extension does not count
        low = [0] + _pair([p0 for p0, _, _ in grown], n, 0) + [0]
        high = [0] + _pair([p1 for _, p1, _ in grown], n, 0) + [0]
        xh = b.pad(xh, low=low, high=high, value=0.0)
        pads = [(0, extra) for _, _, extra in grown]
    else:
        pads = [(p0, p1 + extra) for p0, p1, extra in grown]
    attrs = dict(ksize=_pair(kernels, n, 1), strides=_pair(strides, n, 1), **_explicit(pads))
    y = b.max_pool(xh, **attrs) if kind == "max" else b.avg_pool(xh, **attrs)
    y = b.transpose(y, perm=TO_NCHW)
    return [y if n == 2 else b.squeeze(y, axes=[2])]


@converter("MaxPool")
def max_pool(ctx: Context, node: Node) -> list[Value]:
    return _pool(ctx, node, "max")


@converter("AveragePool")
def average_pool(ctx: Context, node: Node) -> list[Value]:
    return _pool(ctx, node, "avg")


@converter("GlobalAveragePool")
def global_average_pool(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    return [ctx.b.reduce_mean(x, axes=list(range(2, x.type.rank)), keepdims=True)]


@converter("GlobalMaxPool")
def global_max_pool(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    return [ctx.b.reduce_max(x, axes=list(range(2, x.type.rank)), keepdims=True)]


# ------------------------------------------------------------------ matmuls


@converter("MatMul")
def matmul(ctx: Context, node: Node) -> list[Value]:
    """A MatMul whose operands are a transpose of their last two axes or a
    product with a scalar constant (attention's `q @ k^T`, torch scaling q and k
    each by d**-0.25) reads the transposed tensor with the matmul's own
    transpose flag and applies the scales to the result (an epilogue the matmul
    kernel fuses): no transposed copy, no pass over q or k."""
    a, b_ = node.inputs
    if a.type.rank < 2 or b_.type.rank < 2:
        return [ctx.b.matmul(a, b_)]
    a, transpose_a, scale_a = _matmul_operand(ctx, a)
    b_, transpose_b, scale_b = _matmul_operand(ctx, b_)
    y = ctx.b.matmul(a, b_, transpose_a=transpose_a, transpose_b=transpose_b)
    scale = scale_a * scale_b
    return [y if scale == 1.0 else ctx.b.mul(y, like(ctx, y, scale))]


SWAP_LAST_TWO = 2  # a transpose whose perm is the identity but for its last two axes
# scales move past the matmul only where the rounding that changes stays far
# inside the tolerance (f16 models compare against f16-rounded references)
WIDE_FLOATS = (DType.f32, DType.f64)


def _matmul_operand(ctx: Context, v: Value) -> tuple[Value, bool, float]:
    """`v` without the scalar multiplies and last-two-axes transposes that
    produce it: (the tensor read, whether the matmul transposes it, the scale).
    The peeled ops stay for any other user (dce drops them otherwise)."""
    transposed, scale = False, 1.0
    while isinstance(v.owner, Operation):
        op = v.owner
        if op.name == "kiln.transpose":
            perm, rank = list(op.attrs["perm"]), v.type.rank
            if rank < 2 or perm != [*range(rank - SWAP_LAST_TWO), rank - 1, rank - 2]:
                break
            v, transposed = op.operands[0], not transposed
        elif op.name == "kiln.mul" and v.type.dtype in WIDE_FLOATS:
            rest = _scaled(ctx, op, v)
            if rest is None:
                break
            v, factor = rest
            scale *= factor
        else:
            break
    return v, transposed, scale


def _scaled(ctx: Context, op: Operation, v: Value) -> tuple[Value, float] | None:
    """(x, s) when `op` computes x * s with s a known one-element constant that
    leaves x's shape and dtype as they are."""
    for s, x in (op.operands, op.operands[::-1]):
        if not s.type.is_static or s.type.num_elements != 1 or x.type != v.type:
            continue
        known = ctx.value_of(s)  # folds a constant's chain (torch: sqrt(1 / sqrt(d)))
        if known is not None:
            return x, float(known.reshape(()))
    return None


@converter("Gemm")
def gemm(ctx: Context, node: Node) -> list[Value]:
    a, w = node.inputs[0], node.inputs[1]
    c = node.input(2)
    b = ctx.b
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    y = b.matmul(
        a, w, transpose_a=bool(node.attr("transA", 0)), transpose_b=bool(node.attr("transB", 0))
    )
    if alpha != 1.0:
        y = b.mul(y, like(ctx, y, alpha))
    if c is not None and beta != 0.0:
        if beta != 1.0:
            c = b.mul(c, like(ctx, c, beta))
        y = b.add(y, c)
    return [y]


# ------------------------------------------------------------------ normalisations


def _per_channel(ctx: Context, v: Value, rank: int) -> Value:
    """A [C] parameter shaped [C, 1, ...] to broadcast against NC... input."""
    if rank <= 2:
        return v
    return ctx.b.reshape(v, shape=[-1] + [1] * (rank - 2))


@converter("BatchNormalization")
def batch_norm(ctx: Context, node: Node) -> list[Value]:
    x, scale, offset, mean, var = node.inputs[:5]
    if ctx.opset < 7 and not node.attr("is_test", 0) and node.num_outputs > 1:
        raise ctx.error(node, "training mode (is_test=0) is not supported before opset 7")
    eps = float(node.attr("epsilon", 1e-5))
    r = x.type.rank
    if node.attr("training_mode", 0):
        return _batch_norm_training(ctx, node, x, scale, offset, mean, var, eps)
    args = [_per_channel(ctx, v, r) for v in (mean, var, offset, scale)]
    return [ctx.b.batch_norm(x, *args, epsilon=eps)]


def _batch_norm_training(ctx, node, x, scale, offset, mean, var, eps) -> list[Value]:
    """Training mode: normalised with the batch's moments (the population
    variance), and the running statistics moved toward them by `momentum`."""
    b = ctx.b
    r = x.type.rank
    axes = [0] + list(range(2, r))
    batch_mean = b.reduce_mean(x, axes=axes, keepdims=True)
    centered = b.sub(x, batch_mean)
    batch_var = b.reduce_mean(b.mul(centered, centered), axes=axes, keepdims=True)
    y = b.mul(b.mul(centered, b.rsqrt(b.add(batch_var, like(ctx, x, eps)))),
              _per_channel(ctx, scale, r))  # fmt: skip
    y = b.add(y, _per_channel(ctx, offset, r))
    momentum = float(node.attr("momentum", 0.9))
    flat_mean, flat_var = (b.reshape(v, shape=[-1]) for v in (batch_mean, batch_var))
    keep, move = like(ctx, mean, momentum), like(ctx, mean, 1 - momentum)
    running_mean = b.add(b.mul(mean, keep), b.mul(flat_mean, move))
    running_var = b.add(b.mul(var, keep), b.mul(flat_var, move))
    return [y, running_mean, running_var]


@converter("LpNormalization")
def lp_normalization(ctx: Context, node: Node) -> list[Value]:
    """x / ||x||_p along `axis` (p 1 or 2); a zero norm gives 0, as onnx's reference."""
    x, b = node.inputs[0], ctx.b
    axis, p = int(node.attr("axis", -1)), int(node.attr("p", 2))
    if p not in (1, 2):
        raise ctx.error(node, f"p={p} is not supported (1 or 2)")
    parts = b.abs(x) if p == 1 else b.mul(x, x)
    norm = b.reduce_sum(parts, axes=[axis], keepdims=True)
    norm = norm if p == 1 else b.sqrt(norm)
    zero = b.equal(norm, like(ctx, norm, 0))
    return [b.select(zero, like(ctx, x, 0), b.div(x, b.select(zero, like(ctx, norm, 1), norm)))]


@converter("InstanceNormalization", 6)
def instance_norm(ctx: Context, node: Node) -> list[Value]:
    x, scale, offset = node.inputs
    eps = float(node.attr("epsilon", 1e-5))
    r = x.type.rank
    return [
        ctx.b.layer_norm(
            x,
            _per_channel(ctx, scale, r),
            _per_channel(ctx, offset, r),
            axes=list(range(2, r)),
            epsilon=eps,
        )
    ]


@converter("LayerNormalization", 17)
def layer_norm(ctx: Context, node: Node) -> list[Value]:
    x, scale = node.inputs[0], node.inputs[1]
    offset = node.input(2)
    r = x.type.rank
    axis = int(node.attr("axis", -1))
    axis = axis + r if axis < 0 else axis
    axes = list(range(axis, r))
    eps = float(node.attr("epsilon", 1e-5))
    b = ctx.b
    if not any(node.output_names[1:]):
        offset = like(ctx, x, 0) if offset is None else offset
        return [b.layer_norm(x, scale, offset, axes=axes, epsilon=eps)]
    # Mean and InvStdDev asked for too: the moments spelled out
    mean = b.reduce_mean(x, axes=axes, keepdims=True)
    centered = b.sub(x, mean)
    variance = b.reduce_mean(b.mul(centered, centered), axes=axes, keepdims=True)
    inv = b.rsqrt(b.add(variance, like(ctx, x, eps)))
    y = b.mul(b.mul(centered, inv), scale)
    if offset is not None:
        y = b.add(y, offset)
    return [y, mean, inv]


@converter("LRN")
def lrn(ctx: Context, node: Node) -> list[Value]:
    """x / (bias + alpha / size * (sum of x^2 over `size` neighbouring channels))^beta."""
    x = node.inputs[0]
    size = int(node.attr("size"))
    alpha, beta = float(node.attr("alpha", 1e-4)), float(node.attr("beta", 0.75))
    bias = float(node.attr("bias", 1.0))
    b = ctx.b
    c = x.type.shape[1]
    if not isinstance(c, int):
        raise ctx.error(node, f"the channel dim of {x.type} must be static")
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    r = x.type.rank
    sq = b.mul(x, x)
    padded = b.pad(sq, low=[0, before] + [0] * (r - 2), high=[0, after] + [0] * (r - 2), value=0.0)
    total = None
    for k in range(size):
        part = b.slice(padded, axes=[1], starts=[k], stops=[k + c])
        total = part if total is None else b.add(total, part)
    scale = b.add(like(ctx, x, bias), b.mul(total, like(ctx, x, alpha / size)))
    return [b.div(x, b.pow(scale, like(ctx, x, beta)))]


@converter("RMSNormalization", 23)
def rms_norm(ctx: Context, node: Node) -> list[Value]:
    x, scale = node.inputs[0], node.inputs[1]
    r = x.type.rank
    axis = int(node.attr("axis", -1))
    axis = axis + r if axis < 0 else axis
    eps = float(node.attr("epsilon", 1e-5))
    b = ctx.b
    wide = x if x.type.dtype.is_float and x.type.dtype.itemsize >= 4 else b.cast(x, dtype="f32")
    ms = b.reduce_mean(b.mul(wide, wide), axes=list(range(axis, r)), keepdims=True)
    y = b.mul(wide, b.rsqrt(b.add(ms, like(ctx, wide, eps))))
    if y.type.dtype != x.type.dtype:
        y = b.cast(y, dtype=x.type.dtype)
    return [b.mul(y, scale)]


def _softmax(ctx: Context, node: Node, kiln_name: str) -> list[Value]:
    x = node.inputs[0]
    r = x.type.rank
    fn = getattr(ctx.b, kiln_name)
    if ctx.opset >= 13:
        return [fn(x, axis=int(node.attr("axis", -1)))]
    axis = int(node.attr("axis", 1))
    axis = axis + r if axis < 0 else axis
    if axis == r - 1:
        return [fn(x, axis=-1)]
    shape = x.type.shape
    head, tail = shape[:axis], shape[axis:]
    if not all(isinstance(d, int) for d in tail):
        raise ctx.error(node, f"axis {axis} of {x.type} needs static trailing dims")
    flat = ctx.b.reshape(x, shape=[-1, math.prod(tail)])
    y = fn(flat, axis=-1)
    return [ctx.b.reshape(y, shape=[d if isinstance(d, int) else -1 for d in head] + list(tail))]


@converter("Softmax")
def softmax(ctx: Context, node: Node) -> list[Value]:
    return _softmax(ctx, node, "softmax")


@converter("LogSoftmax")
def log_softmax(ctx: Context, node: Node) -> list[Value]:
    return _softmax(ctx, node, "log_softmax")


_ = np


@converter("Det", 11)
def det(ctx: Context, node: Node) -> list[Value]:
    """The determinant of [..., M, M] by Leibniz's formula (M <= 4: at most 24
    products of M entries, no pivots to choose)."""
    x, b = node.inputs[0], ctx.b
    m = x.type.shape[-1]
    if x.type.rank < 2 or m != x.type.shape[-2] or not isinstance(m, int) or m > 4:
        raise ctx.error(node, f"needs square matrices of a static size up to 4, got {x.type}")
    r = x.type.rank
    entry = [[b.reshape(b.slice(x, axes=[r - 2, r - 1], starts=[i, j], stops=[i + 1, j + 1]),
                        shape=[d if isinstance(d, int) else -1 for d in x.type.shape[:-2]])
              for j in range(m)] for i in range(m)]  # fmt: skip
    total = None
    for perm in itertools.permutations(range(m)):
        term = entry[0][perm[0]]
        for i in range(1, m):
            term = b.mul(term, entry[i][perm[i]])
        inversions = sum(perm[i] > perm[j] for i in range(m) for j in range(i + 1, m))
        if total is None:
            total = term if inversions % 2 == 0 else b.neg(term)
        else:
            total = b.sub(total, term) if inversions % 2 else b.add(total, term)
    return [total]
