"""Gradient (VJP) rules: one small rule per op, as TensorFlow's RegisterGradient.

A rule takes the op, a Builder (where the gradient ops go) and the cotangent
of each of the op's results, and returns one cotangent per operand, or None
where no gradient flows (integer indices, the shape-only operand of
broadcast_like, an op that is constant almost everywhere). A rule may return
a cotangent in the broadcast shape of the op's result: the autodiff driver
sums it back to the operand's shape, once for every rule (passes/autodiff.py).
The driver drops the cotangents of operands that need none; a cotangent that
is costly, or not always possible, may be given as a function of no
arguments that builds it, called only when it is needed.

Ops whose outputs are constants to the gradient (comparisons, argmax, random
numbers, ...) are marked `not_differentiable` instead. Every op a rule builds
has a rule or that mark, so the gradient of a gradient is one more call of
the same transform.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import numpy as np

from ..ir import Builder, KilnError, Operation, Value
from ..ir.ops.linalg import window_padding
from ..ir.ops.reduce import normalize_axis
from ..ir.types import Dim, format_shape

Rule = Callable[..., Sequence[Value | Callable[[], Value] | None]]

VJP_RULES: dict[str, Rule] = {}
NOT_DIFFERENTIABLE: set[str] = set()

# A slice stop meaning "to the end of the axis" (Python's rules clamp it); on
# a symbolic dim, a stop from FAR on is taken to mean the same.
END = sys.maxsize
FAR = 2 ** 31


def vjp(*names: str) -> Callable[[Rule], Rule]:
    """Register `rule(op, b, *cotangents) -> operand cotangents` for the ops `names`."""

    def register(rule: Rule) -> Rule:
        for name in names:
            if name in VJP_RULES or name in NOT_DIFFERENTIABLE:
                raise KilnError(f"{name} has two gradient rules")
            VJP_RULES[name] = rule
        return rule

    return register


def not_differentiable(*names: str) -> None:
    """Mark ops whose results are constants to the gradient: no operand gets one."""
    NOT_DIFFERENTIABLE.update(names)


not_differentiable(
    "kiln.equal", "kiln.not_equal", "kiln.less", "kiln.less_equal", "kiln.greater",
    "kiln.greater_equal", "kiln.logical_and", "kiln.logical_or", "kiln.logical_not",
    "kiln.argmax", "kiln.argmin", "kiln.constant", "kiln.iota", "kiln.random",
    "kiln.stop_gradient")


# ------------------------------------------------------------------ helpers

def scalar(b: Builder, value: float, like: Value) -> Value:
    """A scalar constant of `like`'s dtype (it broadcasts in elementwise ops)."""
    dtype = like.type.dtype
    return b.constant(np.asarray(value, dtype.numpy), dtype)


def zeros_like(b: Builder, x: Value) -> Value:
    """Zeros of `x`'s type, symbolic dims included."""
    return b.broadcast_like(scalar(b, 0, x), x)


def declared_attrs(op: Operation) -> dict:
    """The op's own attributes (not annotations), to build a related op."""
    return {k: op.attrs[k] for k in op.attr_specs}


def reshape_target(shape: Sequence[Dim], op: Operation) -> list[int]:
    """`shape` as a kiln.reshape target: its one symbolic dim, if any, as -1."""
    if sum(not isinstance(d, int) for d in shape) > 1:
        raise op.error(f"its gradient reshapes to {format_shape(shape)}, which has more "
                       "than one symbolic dim", KilnError)
    return [d if isinstance(d, int) else -1 for d in shape]


def reverse(b: Builder, x: Value, axis: int) -> Value:
    """`x` reversed along a static `axis` (a slice with step -1)."""
    n = x.type.shape[axis]
    return b.slice(x, axes=[axis], starts=[-1], stops=[-n - 1], steps=[-1])


def interleave_zeros(b: Builder, x: Value, axis: int, step: int, op: Operation) -> Value:
    """`step - 1` zeros between neighbours of `x` along `axis` (the transpose of a
    strided slice): n elements become (n - 1) * step + 1."""
    n = x.type.shape[axis]
    if not isinstance(n, int):
        raise op.error(f"its gradient with step {step} needs a static dim, got {x.type}",
                       KilnError)
    high = [0] * (x.type.rank + 1)
    high[axis + 1] = step - 1
    spread = b.pad(b.expand_dims(x, axis=axis + 1), low=[0] * len(high), high=high)
    merged = list(x.type.shape)
    merged[axis] = n * step
    flat = b.reshape(spread, shape=reshape_target(merged, op))
    return b.slice(flat, axes=[axis], starts=[0], stops=[(n - 1) * step + 1])


def pad_axis(b: Builder, x: Value, axis: int, low: int, high: int) -> Value:
    lows, highs = [0] * x.type.rank, [0] * x.type.rank
    lows[axis], highs[axis] = low, high
    return b.pad(x, low=lows, high=highs)


# ------------------------------------------------------------------ unary

@vjp("kiln.neg")
def neg_vjp(op, b, g):
    return [b.neg(g)]


@vjp("kiln.abs")
def abs_vjp(op, b, g):
    return [b.mul(g, b.sign(op.x))]


@vjp("kiln.sign")
def sign_vjp(op, b, g):
    """Constant almost everywhere: no gradient."""
    return [None]


@vjp("kiln.square")
def square_vjp(op, b, g):
    return [b.mul(g, b.mul(op.x, scalar(b, 2, g)))]


@vjp("kiln.relu")
def relu_vjp(op, b, g):
    zero = scalar(b, 0, g)
    return [b.select(b.greater(op.x, zero), g, zero)]


@vjp("kiln.exp")
def exp_vjp(op, b, g):
    return [b.mul(g, op.result)]


@vjp("kiln.log")
def log_vjp(op, b, g):
    return [b.div(g, op.x)]


@vjp("kiln.sqrt")
def sqrt_vjp(op, b, g):
    return [b.div(g, b.mul(op.result, scalar(b, 2, g)))]


@vjp("kiln.rsqrt")
def rsqrt_vjp(op, b, g):
    """d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y / x."""
    return [b.mul(g, b.mul(b.div(op.result, op.x), scalar(b, -0.5, g)))]


@vjp("kiln.tanh")
def tanh_vjp(op, b, g):
    return [b.mul(g, b.sub(scalar(b, 1, g), b.square(op.result)))]


@vjp("kiln.sigmoid")
def sigmoid_vjp(op, b, g):
    y = op.result
    return [b.mul(g, b.mul(y, b.sub(scalar(b, 1, g), y)))]


@vjp("kiln.elu")
def elu_vjp(op, b, g):
    """1 for x > 0, else alpha * exp(x) = y + alpha."""
    below = b.mul(g, b.add(op.result, scalar(b, op.alpha, g)))
    return [b.select(b.greater(op.x, scalar(b, 0, g)), g, below)]


@vjp("kiln.erf")
def erf_vjp(op, b, g):
    """2 / sqrt(pi) * exp(-x^2)."""
    bell = b.exp(b.neg(b.square(op.x)))
    return [b.mul(g, b.mul(bell, scalar(b, 2 / np.sqrt(np.pi), g)))]


@vjp("kiln.print")
def print_vjp(op, b, g):
    """The identity to the gradient (the backward pass prints nothing)."""
    return [g]


# ------------------------------------------------------------------ binary

@vjp("kiln.add")
def add_vjp(op, b, g):
    return [g, g]


@vjp("kiln.sub")
def sub_vjp(op, b, g):
    return [g, b.neg(g)]


@vjp("kiln.mul")
def mul_vjp(op, b, g):
    return [b.mul(g, op.rhs), b.mul(g, op.lhs)]


@vjp("kiln.div")
def div_vjp(op, b, g):
    """x / y: 1 / y, and -x / y^2 = -(x / y) / y."""
    return [b.div(g, op.rhs), b.neg(b.div(b.mul(g, op.result), op.rhs))]


@vjp("kiln.pow")
def pow_vjp(op, b, g):
    """x^y: y x^(y-1), and x^y log x (taken as 0 where x <= 0, as TensorFlow)."""
    x, y = op.lhs, op.rhs
    one = scalar(b, 1, g)
    dx = b.mul(g, b.mul(y, b.pow(x, b.sub(y, one))))
    positive_x = b.select(b.greater(x, scalar(b, 0, g)), x, one)
    dy = b.mul(g, b.mul(op.result, b.log(positive_x)))
    return [dx, dy]


@vjp("kiln.max", "kiln.min")
def extreme_vjp(op, b, g):
    """The gradient goes to the chosen operand; to the left one on ties."""
    compare = b.greater_equal if op.name == "kiln.max" else b.less_equal
    left, zero = compare(op.lhs, op.rhs), scalar(b, 0, g)
    return [b.select(left, g, zero), b.select(left, zero, g)]


@vjp("kiln.select")
def select_vjp(op, b, g):
    zero = scalar(b, 0, g)
    return [None, b.select(op.cond, g, zero), b.select(op.cond, zero, g)]


@vjp("kiln.cast")
def cast_vjp(op, b, g):
    """Back to the operand's dtype; an integer or bool operand has no gradient."""
    source = op.x.type.dtype
    return [b.cast(g, dtype=source) if source.is_float else None]


# ------------------------------------------------------------------ reductions

def keep_reduced(op: Operation, b: Builder, v: Value) -> Value:
    """A reduction's result (or its cotangent) `v` with the reduced axes kept as 1,
    so it broadcasts against the operand. A full reduction's scalar already does."""
    axes = op.reduced_axes(op.x.type.rank)
    if op.keepdims or len(axes) == op.x.type.rank:
        return v
    for axis in axes:
        v = b.expand_dims(v, axis=axis)
    return v


def spread(op: Operation, b: Builder, g: Value) -> Value:
    """A reduction's cotangent broadcast back over the reduced axes."""
    return b.broadcast_like(keep_reduced(op, b, g), op.x)


def reduce_kept(b: Builder, reduce: str, x: Value, op: Operation) -> Value:
    """`reduce` over `op`'s axes of `x`, keeping them as 1."""
    return b.create(reduce, x, axes=op.reduced_axes(x.type.rank), keepdims=True).result


@vjp("kiln.reduce_sum")
def reduce_sum_vjp(op, b, g):
    return [spread(op, b, g)]


@vjp("kiln.reduce_mean")
def reduce_mean_vjp(op, b, g):
    x = op.x
    sizes = [x.type.shape[a] for a in op.reduced_axes(x.type.rank)]
    if all(isinstance(n, int) for n in sizes):
        count = scalar(b, int(np.prod(sizes)), g)
    else:  # a symbolic axis: count at run time
        count = reduce_kept(b, "kiln.reduce_sum", b.broadcast_like(scalar(b, 1, g), x), op)
    return [b.div(spread(op, b, g), count)]


@vjp("kiln.reduce_max", "kiln.reduce_min")
def reduce_extreme_vjp(op, b, g):
    """The gradient is shared equally among the positions that hold the extreme."""
    x = op.x
    hits = b.cast(b.equal(x, keep_reduced(op, b, op.result)), dtype=x.type.dtype)
    share = b.div(hits, reduce_kept(b, "kiln.reduce_sum", hits, op))
    return [b.mul(spread(op, b, g), share)]


def product_of_others(op: Operation, b: Builder) -> Value:
    """For each element of a reduce_prod, the product of the others in its
    reduction, without dividing by zero: rest / x times the product of the
    zeros (1 without zeros, 0 with, but its derivative is right) where x is
    not zero; at a zero, the product of the non-zeros if it is the only zero.
    Exact to the second derivative unless two elements of a reduction are 0."""
    x = op.x
    zero, one = scalar(b, 0, x), scalar(b, 1, x)
    is_zero = b.equal(x, zero)
    nonzero = b.select(is_zero, one, x)
    rest = reduce_kept(b, "kiln.reduce_prod", nonzero, op)
    zeros = reduce_kept(b, "kiln.reduce_prod", b.select(is_zero, x, one), op)
    count = reduce_kept(b, "kiln.reduce_sum", b.cast(is_zero, dtype=x.type.dtype), op)
    at_zero = b.select(b.equal(count, one), rest, zero)
    return b.select(is_zero, at_zero, b.mul(b.div(rest, nonzero), zeros))


@vjp("kiln.reduce_prod")
def reduce_prod_vjp(op, b, g):
    return [b.mul(spread(op, b, g), product_of_others(op, b))]


# ------------------------------------------------------------------ matmul

@vjp("kiln.matmul")
def matmul_vjp(op, b, g):
    """C = A' B' with A' = A or A^T (transpose_a), B' likewise:
    dA' = g B'^T and dB' = A'^T g, each written as one matmul of the stored
    operands. A vector operand is a 1-row (lhs) or 1-column (rhs) matrix."""
    a, w = op.lhs, op.rhs
    ta, tb = op.transpose_a, op.transpose_b
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
    if op.lhs.type.rank == 1:
        da = b.squeeze(da, axes=[-2])  # batch dims remain: the driver sums them
    if op.rhs.type.rank == 1:
        dw = b.squeeze(dw, axes=[-1])
    return [da, dw]


# ------------------------------------------------------------------ shapes

@vjp("kiln.reshape")
def reshape_vjp(op, b, g):
    return [b.reshape(g, shape=reshape_target(op.x.type.shape, op))]


@vjp("kiln.transpose")
def transpose_vjp(op, b, g):
    return [b.transpose(g, perm=[int(i) for i in np.argsort(op.perm)])]


@vjp("kiln.expand_dims")
def expand_dims_vjp(op, b, g):
    return [b.squeeze(g, axes=[normalize_axis(op.axis, op.x.type.rank + 1)])]


@vjp("kiln.squeeze")
def squeeze_vjp(op, b, g):
    rank = op.x.type.rank
    for axis in sorted(normalize_axis(a, rank) for a in op.axes):
        g = b.expand_dims(g, axis=axis)
    return [g]


@vjp("kiln.broadcast_to")
def broadcast_to_vjp(op, b, g):
    return [g]  # the driver sums the broadcast dims


@vjp("kiln.broadcast_like")
def broadcast_like_vjp(op, b, g):
    return [g, None]


def concat_pieces(sizes: Sequence[Dim], op: Operation) -> list[tuple[int, int]]:
    """(start, stop) of each operand of a concatenation along its axis. One size
    may be symbolic: the pieces after it are counted from the end."""
    symbolic = [i for i, n in enumerate(sizes) if not isinstance(n, int)]
    if len(symbolic) > 1:
        raise op.error("its gradient needs all but one operand static along the axis, got "
                       f"sizes {format_shape(sizes)}", KilnError)
    cut = symbolic[0] if symbolic else len(sizes)
    pieces, start = [], 0
    for n in sizes[:cut]:
        pieces.append((start, start + n))
        start += n
    if symbolic:
        end = -sum(sizes[cut + 1:])
        pieces.append((start, end or END))
        for n in sizes[cut + 1:]:
            pieces.append((end, end + n or END))
            end += n
    return pieces


@vjp("kiln.concat")
def concat_vjp(op, b, g):
    axis = normalize_axis(op.axis, g.type.rank)
    sizes = [v.type.shape[axis] for v in op.inputs]
    return [b.slice(g, axes=[axis], starts=[start], stops=[stop])
            for start, stop in concat_pieces(sizes, op)]


@vjp("kiln.pad")
def pad_vjp(op, b, g):
    shape = op.x.type.shape
    axes = [i for i in range(len(shape)) if op.low[i] or op.high[i]]
    stops = [op.low[i] + shape[i] if isinstance(shape[i], int) else -op.high[i] or END
             for i in axes]
    return [b.slice(g, axes=axes, starts=[op.low[i] for i in axes], stops=stops)
            if axes else g]


@vjp("kiln.slice")
def slice_vjp(op, b, g):
    """Put the slice back where it came from: zeros around it (pad), between its
    elements for a step > 1, and reversed first for a negative step."""
    shape = op.x.type.shape
    for axis, taken in enumerate(op.slices(len(shape))):
        if taken != slice(None):
            g = unslice_axis(op, b, g, axis, shape[axis], taken)
            if g is None:
                return [None]  # an empty slice: no gradient
    return [g]


def unslice_axis(op: Operation, b: Builder, g: Value, axis: int, size: Dim,
                 taken: slice) -> Value | None:
    """The cotangent `g` of what `taken` took from an axis of `size`, put back
    in place; None when the slice took nothing."""
    if not isinstance(size, int):
        start, stop, step = taken.start, taken.stop, taken.step
        if step != 1 or start < 0 or not (stop < 0 or stop >= FAR):
            raise op.error(f"its gradient on symbolic dim {axis} needs step 1, a start >= 0 "
                           "and a stop counted from the end", KilnError)
        return pad_axis(b, g, axis, start, -stop if stop < 0 else 0)
    start, stop, step = taken.indices(size)
    n = len(range(start, stop, step))
    if n == 0:
        return None
    if step < 0:
        g, start, step = reverse(b, g, axis), start + (n - 1) * step, -step
    if step > 1:
        g = interleave_zeros(b, g, axis, step, op)
    return pad_axis(b, g, axis, start, size - start - (n - 1) * step - 1)


@vjp("kiln.gather")
def gather_vjp(op, b, g):
    params = op.params
    return [b.scatter_add(zeros_like(b, params), op.indices, g, axis=op.axis), None]


@vjp("kiln.scatter_add")
def scatter_add_vjp(op, b, g):
    return [g, None, b.gather(g, op.indices, axis=op.axis)]


# ------------------------------------------------------------------ convolution
# Both gradients of conv2d are conv2d again (plus transposes, a reversed filter
# and zeros between the output gradient's elements for a stride), so a backend
# that runs conv2d runs its gradients, and gradients of gradients.

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
        raise op.error(f"the gradient of a strided convolution needs static spatial dims, "
                       f"got {op.input.type}", KilnError)
    if op.padding == "SAME":  # stride 1: the padding does not depend on the size
        return (extent - 1) // 2, extent // 2, 0
    low, high = window_padding(op, size, extent, stride, axis)
    return low, high, 0


def conv_input_vjp(op: Operation, b: Builder, g: Value) -> Value:
    """The full correlation of the stride-spread `g` with the reversed filter (its
    in and out channels swapped), with the forward padding taken back off."""
    w = op.filter
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
    dx = b.conv2d(g, flipped, dilations=op.dilations, padding="EXPLICIT",
                  explicit_padding=pads)
    if crop_low != [0, 0] or crop_high != [END, END]:  # padding wider than the window
        dx = b.slice(dx, axes=[1, 2], starts=crop_low, stops=crop_high)
    return dx


def conv_filter_vjp(op: Operation, b: Builder, g: Value) -> Value:
    """A convolution of the input (channels as the batch) with `g` (batch as the
    channels) as the filter: strides and dilations trade places."""
    kh, kw = op.filter.type.shape[:2]
    if not all(isinstance(d, int) for d in g.type.shape[1:3]):
        raise op.error(f"its filter gradient needs static output spatial dims, got {g.type}",
                       KilnError)
    pads = []
    for axis in (0, 1):
        low, high, tail = conv_axis(op, axis)
        pads += [low, max(high - tail, 0)]
    images = b.transpose(op.input, perm=[3, 1, 2, 0])
    dw = b.conv2d(images, b.transpose(g, perm=[1, 2, 0, 3]), strides=op.dilations,
                  dilations=op.strides, padding="EXPLICIT", explicit_padding=pads)
    if dw.type.shape[1:3] != (kh, kw):  # an unused tail wider than the high padding
        dw = b.slice(dw, axes=[1, 2], starts=[0, 0], stops=[kh, kw])
    return b.transpose(dw, perm=[1, 2, 0, 3])


@vjp("kiln.conv2d")
def conv2d_vjp(op, b, g):
    return [lambda: conv_input_vjp(op, b, g), lambda: conv_filter_vjp(op, b, g)]


# ------------------------------------------------------------------ pools

@vjp("kiln.max_pool")
def max_pool_vjp(op, b, g):
    return [b.max_pool_grad(op.input, g, **declared_attrs(op))]


@vjp("kiln.max_pool_grad")
def max_pool_grad_vjp(op, b, g):
    """Linear in `grad`; which position each window picks is constant in `input`."""
    return [None, b.max_pool_grad_grad(op.input, g, **declared_attrs(op))]


@vjp("kiln.max_pool_grad_grad")
def max_pool_grad_grad_vjp(op, b, g):
    return [None, b.max_pool_grad(op.input, g, **declared_attrs(op))]


@vjp("kiln.avg_pool")
def avg_pool_vjp(op, b, g):
    return [b.avg_pool_grad(op.input, g, **declared_attrs(op))]


@vjp("kiln.avg_pool_grad")
def avg_pool_grad_vjp(op, b, g):
    return [None, b.avg_pool(g, **declared_attrs(op))]



# ------------------------------------------------------------------ composite ops
# A composite op without a rule is differentiated through its decomposition
# (ir/ops/nn.py). These few have rules because theirs are much shorter.

@vjp("kiln.softmax")
def softmax_vjp(op, b, g):
    """y (g - sum(g y)) along the axis."""
    y = op.result
    return [b.mul(y, b.sub(g, b.reduce_sum(b.mul(g, y), axes=[op.axis], keepdims=True)))]


@vjp("kiln.log_softmax")
def log_softmax_vjp(op, b, g):
    """g - softmax(x) sum(g) along the axis."""
    total = b.reduce_sum(g, axes=[op.axis], keepdims=True)
    return [b.sub(g, b.mul(b.exp(op.result), total))]


@vjp("kiln.logsumexp")
def logsumexp_vjp(op, b, g):
    """The softmax over the reduced axes: exp(x - y)."""
    return [b.mul(spread(op, b, g), b.exp(b.sub(op.x, keep_reduced(op, b, op.result))))]


@vjp("kiln.softmax_cross_entropy")
def softmax_cross_entropy_vjp(op, b, g):
    """logits: softmax * sum(labels) - labels (labels need not sum to 1);
    labels: -log_softmax(logits)."""
    axis = normalize_axis(op.axis, op.logits.type.rank)
    g = b.expand_dims(g, axis=axis)
    log_p = b.log_softmax(op.logits, axis=axis)
    mass = b.reduce_sum(op.labels, axes=[axis], keepdims=True)
    d_logits = b.mul(g, b.sub(b.mul(b.exp(log_p), mass), op.labels))
    return [d_logits, b.neg(b.mul(g, log_p))]


@vjp("kiln.sparse_softmax_cross_entropy")
def sparse_softmax_cross_entropy_vjp(op, b, g):
    """softmax(logits) - one_hot(labels) over the classes (the last axis)."""
    logits, labels = op.logits, op.labels
    classes = logits.type.shape[-1]
    if not isinstance(classes, int):
        raise op.error(f"its gradient needs a static number of classes, got {logits.type}",
                       KilnError)
    class_ids = b.iota(shape=[classes], dtype=labels.type.dtype)
    one_hot = b.cast(b.equal(b.expand_dims(labels, axis=-1), class_ids), dtype=logits.type.dtype)
    return [b.mul(b.expand_dims(g, axis=-1), b.sub(b.softmax(logits), one_hot)), None]


@vjp("kiln.sigmoid_cross_entropy")
def sigmoid_cross_entropy_vjp(op, b, g):
    """logits x, labels z: sigmoid(x) - z, and -x."""
    return [b.mul(g, b.sub(b.sigmoid(op.logits), op.labels)), b.neg(b.mul(g, op.logits))]


@vjp("kiln.l2_loss")
def l2_loss_vjp(op, b, g):
    return [b.mul(g, op.x)]


# ------------------------------------------------------------------ array and nn ops (issue 7)

not_differentiable("kiln.nonzero", "kiln.shape")


@vjp("kiln.cumsum")
def cumsum_vjp(op, b, g):
    """The running sum taken the other way round."""
    return [b.cumsum(g, axis=op.axis, exclusive=op.exclusive, reverse=not op.reverse)]


@vjp("kiln.top_k")
def top_k_vjp(op, b, g_values, g_indices=None):
    """Each value's cotangent goes back to the position it was taken from:
    sum over the k picks of g * one_hot(index) along the last axis."""
    x, indices = op.x, op.results[1]
    n = x.type.shape[-1]
    if g_values is None:
        return [None]
    if not isinstance(n, int):
        raise op.error(f"its gradient needs a static last dim, got {x.type}", KilnError)
    positions = b.iota(shape=[n], dtype=indices.type.dtype)
    picked = b.cast(b.equal(b.expand_dims(indices, axis=-1), positions), dtype=x.type.dtype)
    return [b.reduce_sum(b.mul(picked, b.expand_dims(g_values, axis=-1)), axes=[-2])]


@vjp("kiln.conv2d_transpose")
def conv2d_transpose_vjp(op, b, g):
    """conv2d_transpose(v, w) is A_w^T v for A_w the convolution by w, so the
    value's cotangent is conv2d(g, w), and the filter's is conv2d's filter
    gradient with g as the input and v as the output's cotangent."""
    attrs = {k: op.attrs[k] for k in ("strides", "padding", "explicit_padding", "dilations")}
    built: list[Operation] = []

    def forward() -> Operation:
        if not built:
            built.append(b.create("kiln.conv2d", g, op.filter, **attrs))
        return built[0]

    return [lambda: forward().result, lambda: conv_filter_vjp(forward(), b, op.value)]
