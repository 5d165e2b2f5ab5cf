"""Contractions and windows: matmul, conv2d, max_pool, avg_pool.

Images are NHWC and filters HWIO, as in TensorFlow. `padding` is "SAME",
"VALID" or "EXPLICIT" (then `explicit_padding` = [top, bottom, left, right]).
"""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, bool_, ints, one_of
from ..builder import Builder
from ..core import Operation, Value
from ..cost import Cost, elements, moved
from ..errors import KilnError, ShapeError
from ..gradient import END, declared_attrs, interleave_zeros, reverse
from ..registry import op
from ..types import ANY, Dim, TensorType, broadcast_shapes, may_equal


def _permuted(t: TensorType, perm: tuple[int, ...], name: str) -> TensorType:
    """The type of `t` read through matmul's `perm` (empty: `t`)."""
    if not perm:
        return t
    if sorted(perm) != list(range(t.rank)) or t.rank < 2:
        raise ShapeError(f"{name} {list(perm)} is not a permutation of the axes of {t}")
    if perm.index(t.rank - 1) < t.rank - 2:
        raise ShapeError(f"{name} {list(perm)} moves the last axis of {t} out of the last two")
    return TensorType(t.dtype, [t.shape[i] for i in perm])


def _same_dtype(a: TensorType, b: TensorType) -> None:
    if a.dtype != b.dtype:
        raise ShapeError(f"operands must have one dtype, got {a} and {b}")


@op(
    "kiln.matmul",
    ["lhs", "rhs"],
    {
        "transpose_a": Attr(bool_, False),
        "transpose_b": Attr(bool_, False),
        "lhs_perm": Attr(ints, ()),
        "rhs_perm": Attr(ints, ()),
    },
    tf="BatchMatMulV2",
    onnx="MatMul",
)
class MatMul(Operation):
    """numpy.matmul with optional transposes of the two innermost dims.

    Rank >= 2 operands broadcast their batch dims; a rank-1 operand is a
    vector (and may not be transposed).

    `lhs_perm` / `rhs_perm` (empty: none) read an operand through a transpose
    of its axes, applied before transpose_a / transpose_b: the operand is
    `numpy.transpose(lhs, lhs_perm)`. The kernels then read the stored tensor
    with the permuted strides instead of a transposed copy (canonicalize folds
    a kiln.transpose into them, `transpose_into_matmul`). The stored last axis
    must stay among the last two, so the GEMM reads rows or columns of unit
    stride.
    """

    def infer(self, a: TensorType, b: TensorType) -> TensorType:
        _same_dtype(a, b)
        if a.dtype.is_bool:
            raise ShapeError(f"expected numeric operands, got {a}")
        if a.rank == 0 or b.rank == 0:
            raise ShapeError(f"operands must have rank >= 1, got {a} and {b}")
        a = _permuted(a, self.lhs_perm, "lhs_perm")
        b = _permuted(b, self.rhs_perm, "rhs_perm")
        if (a.rank == 1 and self.transpose_a) or (b.rank == 1 and self.transpose_b):
            raise ShapeError("a rank-1 operand cannot be transposed")
        a_shape = _mat(a.shape, self.transpose_a) if a.rank >= 2 else (1, a.shape[0])
        b_shape = _mat(b.shape, self.transpose_b) if b.rank >= 2 else (b.shape[0], 1)
        k_a, k_b = a_shape[-1], b_shape[-2]
        if not may_equal(k_a, k_b):
            raise ShapeError(f"contraction dims differ: lhs {a} has {k_a}, rhs {b} has {k_b}")
        batch = broadcast_shapes(a_shape[:-2], b_shape[:-2])
        out = list(batch)
        if a.rank >= 2:
            out.append(a_shape[-2])
        if b.rank >= 2:
            out.append(b_shape[-1])
        return TensorType(a.dtype, out)

    def reference(self, a, b):
        if self.lhs_perm:
            a = np.transpose(a, self.lhs_perm)
        if self.rhs_perm:
            b = np.transpose(b, self.rhs_perm)
        if self.transpose_a:
            a = np.swapaxes(a, -1, -2)
        if self.transpose_b:
            b = np.swapaxes(b, -1, -2)
        return np.matmul(a, b)

    def vjp(self, b, g):
        """C = A' B' with A' = A or A^T (transpose_a), B' likewise:
        dA' = g B'^T and dB' = A'^T g, each written as one matmul of the stored
        operands. A vector operand is a 1-row (lhs) or 1-column (rhs) matrix.
        A permuted operand (lhs_perm, rhs_perm) is differentiated as its
        transpose, the gradient transposed back."""
        a, w = self.lhs, self.rhs
        if self.lhs_perm:
            a = b.transpose(a, perm=list(self.lhs_perm))
        if self.rhs_perm:
            w = b.transpose(w, perm=list(self.rhs_perm))
        ta, tb = self.transpose_a, self.transpose_b
        if w.type.rank == 1:
            w, g = b.expand_dims(w, axis=-1), b.expand_dims(g, axis=-1)
        if a.type.rank == 1:
            a, g = b.expand_dims(a, axis=0), b.expand_dims(g, axis=-2)
        if ta:
            da = b.matmul(w, g, transpose_a=tb, transpose_b=True)
        else:
            da = b.matmul(g, w, transpose_b=not tb)
        if tb:
            dw = b.matmul(g, a, transpose_a=True, transpose_b=ta)
        else:
            dw = b.matmul(a, g, transpose_a=not ta)
        if self.lhs.type.rank == 1:
            da = b.squeeze(da, axes=[-2])  # batch dims remain: the driver sums them
        if self.rhs.type.rank == 1:
            dw = b.squeeze(dw, axes=[-1])
        if self.lhs_perm:
            da = b.transpose(da, perm=[int(i) for i in np.argsort(self.lhs_perm)])
        if self.rhs_perm:
            dw = b.transpose(dw, perm=[int(i) for i in np.argsort(self.rhs_perm)])
        return [da, dw]

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """2 M N K per batch: a multiply and an add per term."""
        lhs = operand_shapes[0]
        if self.lhs_perm:
            lhs = [lhs[i] for i in self.lhs_perm]
        k = lhs[-2] if self.transpose_a and len(lhs) > 1 else lhs[-1]
        return Cost(
            2 * elements(result_shapes[0]) * int(k), 0, moved(self, operand_shapes, result_shapes)
        )


def _mat(shape: tuple[Dim, ...], transpose: bool) -> tuple[Dim, ...]:
    return shape[:-2] + (shape[-1], shape[-2]) if transpose else shape


# ------------------------------------------------------------------ windows

WINDOW_PADDING = one_of("SAME", "VALID", "EXPLICIT")


def _pairs(values: tuple[int, ...], what: str, positive: bool = True) -> tuple[int, int]:
    if len(values) != 2 or any(v < 1 if positive else v < 0 for v in values):
        raise ShapeError(
            f"{what} must be two {'positive' if positive else 'non-negative'} "
            f"ints, got {list(values)}"
        )
    return values[0], values[1]


def window_padding(
    op_: Operation, size: Dim, window: int, stride: int, axis: int
) -> tuple[int, int] | None:
    """(before, after) padding of one spatial axis; None if `size` is symbolic under SAME."""
    if op_.padding == "VALID":
        return 0, 0
    if op_.padding == "EXPLICIT":
        pads = op_.explicit_padding
        if pads is None or len(pads) != 4 or min(pads) < 0:
            raise ShapeError(
                "padding EXPLICIT needs explicit_padding = [top, bottom, left, right], non-negative"
            )
        return pads[2 * axis], pads[2 * axis + 1]
    if not isinstance(size, int):
        return None
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def window_out(op_: Operation, size: Dim, window: int, stride: int, axis: int) -> Dim:
    """The output size of one spatial axis of a convolution or pool."""
    if op_.padding != "EXPLICIT" and op_.explicit_padding is not None:
        raise ShapeError("explicit_padding is only allowed with padding EXPLICIT")
    pad = window_padding(op_, size, window, stride, axis)
    if not isinstance(size, int):
        keeps = stride == 1 and (op_.padding == "SAME" or (window == 1 and pad == (0, 0)))
        return size if keeps else ANY
    if op_.padding == "SAME":
        return -(-size // stride)
    padded = size + pad[0] + pad[1]
    if padded < window:
        raise ShapeError(f"window {window} is larger than the padded input {padded}")
    return (padded - window) // stride + 1


def pad_spatial(x: np.ndarray, pads: list[tuple[int, int]], value: float) -> np.ndarray:
    return np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)], constant_values=value)


def spatial_pads(
    op_: Operation, x: np.ndarray, windows: tuple[int, int], strides: tuple[int, int]
) -> list[tuple[int, int]]:
    return [window_padding(op_, x.shape[1 + i], windows[i], strides[i], i) for i in range(2)]


WINDOW_ATTRS = {
    "strides": Attr(ints, (1, 1)),
    "padding": Attr(WINDOW_PADDING, "VALID"),
    "explicit_padding": Attr(lambda v: None if v is None else ints(v), None),
}


@op(
    "kiln.conv2d",
    ["input", "filter"],
    {**WINDOW_ATTRS, "dilations": Attr(ints, (1, 1))},
    tf="Conv2D",
    onnx="Conv",
)
class Conv2D(Operation):
    """2-D convolution (cross-correlation, as tf.nn.conv2d): NHWC input, HWIO filter."""

    def infer(self, x: TensorType, w: TensorType) -> TensorType:
        _same_dtype(x, w)
        if not x.dtype.is_float:
            raise ShapeError(f"expected floating-point operands, got {x}")
        if x.rank != 4 or w.rank != 4:
            raise ShapeError(f"expected an NHWC input and an HWIO filter (rank 4), got {x} and {w}")
        sh, sw = _pairs(self.strides, "strides")
        dh, dw = _pairs(self.dilations, "dilations")
        kh, kw = w.shape[0], w.shape[1]
        if not (isinstance(kh, int) and isinstance(kw, int)):
            raise ShapeError(f"the filter's spatial dims must be static, got {w}")
        if not may_equal(x.shape[3], w.shape[2]):
            raise ShapeError(f"input channels {x.shape[3]} differ from the filter's {w.shape[2]}")
        eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        return TensorType(
            x.dtype,
            [
                x.shape[0],
                window_out(self, x.shape[1], eh, sh, 0),
                window_out(self, x.shape[2], ew, sw, 1),
                w.shape[3],
            ],
        )

    def reference(self, x, w):
        kh, kw = w.shape[:2]
        (sh, sw), (dh, dw) = self.strides, self.dilations
        eff = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
        xp = pad_spatial(x, spatial_pads(self, x, eff, (sh, sw)), 0)
        oh = (xp.shape[1] - eff[0]) // sh + 1
        ow = (xp.shape[2] - eff[1]) // sw + 1
        out = np.zeros((x.shape[0], oh, ow, w.shape[3]), np.result_type(x, w))
        for i in range(kh):
            for j in range(kw):
                patch = xp[
                    :,
                    i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                    j * dw : j * dw + (ow - 1) * sw + 1 : sw,
                    :,
                ]
                out += np.tensordot(patch, w[i, j], axes=([3], [0]))
        return out

    def vjp(self, b, g):
        return [lambda: conv_input_vjp(self, b, g), lambda: conv_filter_vjp(self, b, g)]

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """2 per multiply-add: KH KW C_in of them per output element."""
        kh, kw, cin = operand_shapes[1][:3]
        return Cost(
            2 * elements(result_shapes[0]) * int(kh * kw * cin),
            0,
            moved(self, operand_shapes, result_shapes),
        )


class Pool(Operation):
    """A 2-D window reduction over NHWC input (tf.nn.max_pool / avg_pool)."""

    def infer(self, x: TensorType) -> TensorType:
        if x.rank != 4:
            raise ShapeError(f"expected an NHWC input (rank 4), got {x}")
        if x.dtype.is_bool:
            raise ShapeError(f"expected a numeric input, got {x}")
        kh, kw = _pairs(self.ksize, "ksize")
        sh, sw = _pairs(self.strides, "strides")
        return x.with_shape(
            [
                x.shape[0],
                window_out(self, x.shape[1], kh, sh, 0),
                window_out(self, x.shape[2], kw, sw, 1),
                x.shape[3],
            ]
        )

    def windows(self, x: np.ndarray, fill: float) -> np.ndarray:
        """All windows as an array [N, OH, OW, C, KH*KW]."""
        (kh, kw), (sh, sw) = self.ksize, self.strides
        xp = pad_spatial(x, spatial_pads(self, x, (kh, kw), (sh, sw)), fill)
        oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
        views = [
            xp[:, i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw, :]
            for i in range(kh)
            for j in range(kw)
        ]
        return np.stack(views, axis=-1)

    def cost(self, operand_shapes, result_shapes) -> Cost:
        """One operation per window element of each result element."""
        return Cost(
            elements(result_shapes[0]) * elements(self.ksize),
            0,
            moved(self, operand_shapes, result_shapes),
        )


POOL_ATTRS = {"ksize": Attr(ints), **WINDOW_ATTRS}


@op("kiln.max_pool", ["input"], POOL_ATTRS, tf="MaxPool", onnx="MaxPool")
class MaxPool(Pool):
    def reference(self, x):
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        return self.windows(x, low).max(axis=-1)

    def vjp(self, b, g):
        return [b.max_pool_grad(self.input, g, **declared_attrs(self))]


@op("kiln.avg_pool", ["input"], POOL_ATTRS, tf="AvgPool", onnx="AveragePool")
class AvgPool(Pool):
    """Average over each window; padded positions are not counted (as TensorFlow)."""

    def infer(self, x: TensorType) -> TensorType:
        if not x.dtype.is_float:
            raise ShapeError(f"expected a floating-point input, got {x}")
        return super().infer(x)

    def reference(self, x):
        total = self.windows(x, 0).sum(axis=-1)
        count = self.windows(np.ones(x.shape[:3] + (1,), x.dtype), 0).sum(axis=-1)
        return total / count

    def vjp(self, b, g):
        return [b.avg_pool_grad(self.input, g, **declared_attrs(self))]


# ------------------------------------------------------------------ pool gradients
# Gradient ops of the pools, as TensorFlow's MaxPoolGrad, MaxPoolGradGrad and
# AvgPoolGrad. Each is linear in its second operand, and each pair is the
# other's transpose, so gradients of gradients stay inside this set.


class PoolGradient(Pool):
    """(input, operand) with the pool attributes of the pool they belong to."""

    def pool_type(self, x: TensorType, other: TensorType, other_like_output: bool) -> TensorType:
        out = Pool.infer(self, x)
        want = out if other_like_output else x
        if (
            other.dtype != x.dtype
            or other.rank != 4
            or not all(may_equal(a, b) for a, b in zip(other.shape, want.shape))
        ):
            raise ShapeError(f"the second operand must be {want}, got {other}")
        return out

    def scatter(self, x: np.ndarray, per_window: np.ndarray) -> np.ndarray:
        """Sum `per_window` [N, OH, OW, C, KH*KW] into the input positions it came from."""
        (kh, kw), (sh, sw) = self.ksize, self.strides
        (top, bottom), (left, right) = spatial_pads(self, x, (kh, kw), (sh, sw))
        out = np.zeros(
            (x.shape[0], x.shape[1] + top + bottom, x.shape[2] + left + right, x.shape[3]),
            per_window.dtype,
        )
        oh, ow = per_window.shape[1:3]
        for i in range(kh):
            for j in range(kw):
                out[:, i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw, :] += (
                    per_window[..., i * kw + j]
                )
        return out[:, top : top + x.shape[1], left : left + x.shape[2], :]

    @property
    def positions(self) -> int:
        """How many positions a window has."""
        return self.ksize[0] * self.ksize[1]

    def first_max(self, x: np.ndarray) -> np.ndarray:
        """Which position of each window holds its maximum (the first, on ties)."""
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        return self.windows(x, low).argmax(axis=-1)


@op("kiln.max_pool_grad", ["input", "grad"], POOL_ATTRS, tf="MaxPoolGrad")
class MaxPoolGrad(PoolGradient):
    """The gradient of max_pool(input): `grad` (output-shaped) goes to each
    window's maximum (the first, on ties). Result: input-shaped."""

    def infer(self, x: TensorType, g: TensorType) -> TensorType:
        self.pool_type(x, g, other_like_output=True)
        return x

    def reference(self, x, g):
        chosen = self.first_max(x)[..., None] == np.arange(self.positions)
        return self.scatter(x, np.where(chosen, g[..., None], 0).astype(g.dtype))

    def vjp(self, b, g):
        """Linear in `grad`; which position each window picks is constant in `input`."""
        return [None, b.max_pool_grad_grad(self.input, g, **declared_attrs(self))]


@op("kiln.max_pool_grad_grad", ["input", "tangent"], POOL_ATTRS, tf="MaxPoolGradGrad")
class MaxPoolGradGrad(PoolGradient):
    """`tangent` (input-shaped) read at each window's maximum: the transpose of
    max_pool_grad. Result: output-shaped."""

    def infer(self, x: TensorType, t: TensorType) -> TensorType:
        return self.pool_type(x, t, other_like_output=False)

    def reference(self, x, t):
        return np.take_along_axis(self.windows(t, 0), self.first_max(x)[..., None], -1)[..., 0]

    def vjp(self, b, g):
        return [None, b.max_pool_grad(self.input, g, **declared_attrs(self))]


@op("kiln.avg_pool_grad", ["input", "grad"], POOL_ATTRS, tf="AvgPoolGrad")
class AvgPoolGrad(PoolGradient):
    """The gradient of avg_pool(input): each window's `grad` shared among the
    input positions it averaged (padding not counted). Only `input`'s shape is
    read. Its transpose is avg_pool itself."""

    def infer(self, x: TensorType, g: TensorType) -> TensorType:
        if not x.dtype.is_float:
            raise ShapeError(f"expected a floating-point input, got {x}")
        self.pool_type(x, g, other_like_output=True)
        return x

    def reference(self, x, g):
        count = self.windows(np.ones(x.shape[:3] + (1,), x.dtype), 0).sum(axis=-1)
        share = (g / count)[..., None]
        return self.scatter(x, np.broadcast_to(share, share.shape[:-1] + (self.positions,)))

    def vjp(self, b, g):
        return [None, b.avg_pool(g, **declared_attrs(self))]


# ------------------------------------------------------------------ conv2d's gradients
# Both gradients of conv2d are conv2d again (plus transposes, a reversed filter
# and zeros between the output gradient's elements for a stride), so a backend
# that runs conv2d runs its gradients, and gradients of gradients.


def _pointwise_filter_vjp(op: Operation, b: Builder, g: Value) -> Value:
    """The filter gradient of a 1x1 convolution without padding: the pixels it
    reads (every stride-th) as rows, x^T g, one matmul over [pixels, channels]
    with no transposes of the images and no im2col (ResNet's bottlenecks are
    mostly such convolutions)."""
    x = op.input
    if tuple(op.strides) != (1, 1):
        x = b.slice(x, axes=[1, 2], starts=[0, 0], stops=[END, END], steps=list(op.strides))
    c, o = op.filter.type.shape[2:]
    rows = b.matmul(b.reshape(x, shape=[-1, c]), b.reshape(g, shape=[-1, o]), transpose_a=True)
    return b.reshape(rows, shape=[1, 1, c, o])


def conv_axis(op: Operation, axis: int) -> tuple[int, int, int]:
    """(low pad, high pad, unused tail) of spatial `axis` of a conv2d: the tail is
    the input the last window leaves out when the stride does not divide evenly."""
    size, k = op.input.type.shape[1 + axis], op.filter.type.shape[axis]
    stride, dilation = op.strides[axis], op.dilations[axis]
    extent = (k - 1) * dilation + 1
    if isinstance(size, int):
        low, high = window_padding(op, size, extent, stride, axis)
        return low, high, (size + low + high - extent) % stride
    if stride != 1:
        raise op.error(
            f"the gradient of a strided convolution needs static spatial dims, got {op.input.type}",
            KilnError,
        )
    if op.padding == "SAME":  # stride 1: the padding does not depend on the size
        return (extent - 1) // 2, extent // 2, 0
    low, high = window_padding(op, size, extent, stride, axis)
    return low, high, 0


def conv_input_vjp(op: Operation, b: Builder, g: Value) -> Value:
    """With strides and a static image, conv2d_transpose of `g` (which
    decomposes into one dense conv2d per output phase, ir/ops/conv.py); else
    the full correlation of the stride-spread `g` with the reversed filter (its
    in and out channels swapped), with the forward padding taken back off."""
    w = op.filter
    size = op.input.type.shape[1:3]
    if tuple(op.strides) != (1, 1) and all(isinstance(d, int) for d in size):
        return b.create(
            "kiln.conv2d_transpose",
            g,
            w,
            output_size=list(size),
            **{k: op.attrs[k] for k in ("strides", "padding", "explicit_padding", "dilations")},
        ).result
    flipped = reverse(b, reverse(b, b.transpose(w, perm=[0, 1, 3, 2]), 0), 1)
    pads, crop_low, crop_high = [], [], []
    for axis in (0, 1):
        if op.strides[axis] > 1:
            g = interleave_zeros(b, g, 1 + axis, op.strides[axis], op)
        low, high, tail = conv_axis(op, axis)
        reach = (w.type.shape[axis] - 1) * op.dilations[axis]
        before, after = reach - low, reach - high + tail
        pads += [max(before, 0), max(after, 0)]
        crop_low.append(max(-before, 0))
        crop_high.append(after if after < 0 else END)
    dx = b.conv2d(g, flipped, dilations=op.dilations, padding="EXPLICIT", explicit_padding=pads)
    if crop_low != [0, 0] or crop_high != [END, END]:  # padding wider than the window
        dx = b.slice(dx, axes=[1, 2], starts=crop_low, stops=crop_high)
    return dx


def conv_filter_vjp(op: Operation, b: Builder, g: Value) -> Value:
    """A convolution of the input (channels as the batch) with `g` (batch as the
    channels) as the filter: strides and dilations trade places. A 1x1 filter
    without padding is one matmul instead (`_pointwise_filter_vjp`)."""
    kh, kw = op.filter.type.shape[:2]
    if not all(isinstance(d, int) for d in g.type.shape[1:3]):
        raise op.error(
            f"its filter gradient needs static output spatial dims, got {g.type}", KilnError
        )
    pads = []
    for axis in (0, 1):
        low, high, tail = conv_axis(op, axis)
        pads += [low, max(high - tail, 0)]
    if (kh, kw) == (1, 1) and not any(pads):
        return _pointwise_filter_vjp(op, b, g)
    images = b.transpose(op.input, perm=[3, 1, 2, 0])
    dw = b.conv2d(
        images,
        b.transpose(g, perm=[1, 2, 0, 3]),
        strides=op.dilations,
        dilations=op.strides,
        padding="EXPLICIT",
        explicit_padding=pads,
    )
    if dw.type.shape[1:3] != (kh, kw):  # an unused tail wider than the high padding
        dw = b.slice(dw, axes=[1, 2], starts=[0, 0], stops=[kh, kw])
    return b.transpose(dw, perm=[1, 2, 0, 3])
