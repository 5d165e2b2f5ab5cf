"""Composite neural-network ops: softmax, losses, normalizations, activations.

Each op is one declaration with its type rule, a numerically stable numpy
reference and `decompose`, which builds the same result from primitive ops
(elementwise ops, reductions, iota, select, constants), so that passes and
backends after the `decompose` pass never meet these ops. Decompositions
work on symbolic dims: they reduce with keepdims and let elementwise ops
broadcast, and their scalars are 0-d constants of the operand's dtype.

Where an op mirrors TensorFlow, its docstring names the TF function; the
operands always come in the order (logits, labels) and the `_with_logits`
suffix is dropped. `kiln.erf` is the one primitive here: the exact GELU
needs it and no cheaper op computes it.
"""

from __future__ import annotations

import math

import numpy as np

from ..attributes import Attr, bool_, float_, int_, ints
from ..builder import Builder
from ..core import Operation, Trait, Value
from ..cost import Cost, elements, moved
from ..errors import KilnError, ShapeError
from ..gradient import scalar_like
from ..registry import op
from ..types import TensorType, broadcast_shapes
from .elementwise import Binary, Unary
from .reduce import (
    REDUCE_ATTRS,
    Reduce,
    ReduceMean,
    keep_reduced,
    normalize_axes,
    normalize_axis,
    spread,
)

EW, FLOAT = Trait.ELEMENTWISE, Trait.FLOAT_ONLY

SELU_ALPHA = 1.6732632423543772848170429916717  # as tf.nn.selu (Klambauer et al., 2017)
SELU_SCALE = 1.0507009873554804934193349852946
GELU_TANH_COEFF = 0.044715
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
SQRT_HALF = math.sqrt(0.5)


# ------------------------------------------------------------------ shared pieces


class PerInputElement:
    """A composite's cost: `flops_per_element` operations per element of its
    first operand (a rough count of its decomposition; the cost model sees a
    composite only when it was not decomposed)."""

    flops_per_element = 1

    def cost(self, operand_shapes, result_shapes) -> Cost:
        return Cost(
            self.flops_per_element * elements(operand_shapes[0]),
            0,
            moved(self, operand_shapes, result_shapes),
        )


def _float_operands(*types: TensorType) -> None:
    """ShapeError unless every operand is floating point, all of one dtype."""
    for t in types:
        if not t.dtype.is_float:
            raise ShapeError(f"expected floating-point operands, got {t}")
    if len({t.dtype for t in types}) > 1:
        raise ShapeError("operands must have one dtype, got " + ", ".join(map(str, types)))


def _scalar(b: Builder, value: float, like: Value) -> Value:
    """A 0-d constant of `like`'s dtype: it broadcasts against any shape."""
    dtype = like.type.dtype
    return b.constant(np.array(value, dtype.numpy), dtype)


def _mean(b: Builder, x: Value, axes: tuple[int, ...]) -> Value:
    """The mean over `axes`, kept as size-1 dims: a sum times 1/count where the
    count is static, else a kiln.reduce_mean (which then stays a primitive)."""
    mean = ReduceMean.sum_times_reciprocal(b, x, axes, keepdims=True)
    return mean if mean is not None else b.reduce_mean(x, axes=axes, keepdims=True)


def _shifted(b: Builder, x: Value, axes: tuple[int, ...]) -> Value:
    """x minus its max over `axes`: every exp of it is at most 1."""
    return b.sub(x, b.reduce_max(x, axes=axes, keepdims=True))


def _log_softmax(b: Builder, x: Value, axis: int) -> Value:
    shifted = _shifted(b, x, (axis,))
    return b.sub(shifted, b.log(b.reduce_sum(b.exp(shifted), axes=[axis], keepdims=True)))


def _normalize(
    b: Builder, centered: Value, variance: Value, epsilon: float, scale: Value, offset: Value
) -> Value:
    """centered * (rsqrt(variance + epsilon) * scale) + offset: in batch norm
    the factor is per channel, so only two ops touch every element of x."""
    factor = b.mul(b.rsqrt(b.add(variance, _scalar(b, epsilon, variance))), scale)
    return b.add(b.mul(centered, factor), offset)


def _np_shifted(x: np.ndarray, axis) -> np.ndarray:
    return x - np.max(x, axis=axis, keepdims=True)


def _np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = _np_shifted(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _np_softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _np_normalize(centered, variance, epsilon, scale, offset) -> np.ndarray:
    eps = np.asarray(epsilon, centered.dtype)
    return centered / np.sqrt(variance + eps) * scale + offset


# ------------------------------------------------------------------ softmax family


class AlongAxis(Operation):
    """A float op of x along one `axis` whose result has x's type."""

    def infer(self, x: TensorType) -> TensorType:
        _float_operands(x)
        normalize_axis(self.axis, x.rank)
        return x


@op("kiln.softmax", ["x"], {"axis": Attr(int_, -1)}, tf="Softmax", onnx="Softmax")
class Softmax(PerInputElement, AlongAxis):
    """exp(x) / sum(exp(x)) along `axis`, computed on x - max(x) (tf.nn.softmax)."""

    flops_per_element = 5

    def reference(self, x):
        e = np.exp(_np_shifted(x, self.axis))
        return e / np.sum(e, axis=self.axis, keepdims=True)

    def decompose(self, b):
        e = b.exp(_shifted(b, self.x, (self.axis,)))
        return b.div(e, b.reduce_sum(e, axes=[self.axis], keepdims=True))

    def vjp(self, b, g):
        """y (g - sum(g y)) along the axis."""
        y = self.result
        return [b.mul(y, b.sub(g, b.reduce_sum(b.mul(g, y), axes=[self.axis], keepdims=True)))]


@op("kiln.log_softmax", ["x"], {"axis": Attr(int_, -1)}, tf="LogSoftmax", onnx="LogSoftmax")
class LogSoftmax(PerInputElement, AlongAxis):
    """x - logsumexp(x) along `axis`, computed on x - max(x) (tf.nn.log_softmax)."""

    flops_per_element = 5

    def reference(self, x):
        return _np_log_softmax(x, self.axis)

    def decompose(self, b):
        return _log_softmax(b, self.x, self.axis)

    def vjp(self, b, g):
        """g - softmax(x) sum(g) along the axis."""
        total = b.reduce_sum(g, axes=[self.axis], keepdims=True)
        return [b.sub(g, b.mul(b.exp(self.result), total))]


def _np_logsumexp(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis)


@op("kiln.logsumexp", ["x"], REDUCE_ATTRS, onnx="ReduceLogSumExp")
class LogSumExp(PerInputElement, Reduce):
    """log(sum(exp(x))) over `axes` (all when not given), as
    tf.math.reduce_logsumexp: the max is subtracted first, unless it is
    infinite (a slice of all -inf gives -inf, not NaN)."""

    flops_per_element = 4

    needs_elements = True
    numpy_reduce = staticmethod(_np_logsumexp)

    def infer(self, x: TensorType) -> TensorType:
        _float_operands(x)
        return super().infer(x)

    def decompose(self, b):
        x = self.x
        axes = self.reduced_axes(x.type.rank)
        top = b.reduce_max(x, axes=axes, keepdims=True)
        finite = b.less(b.abs(top), _scalar(b, np.inf, x))
        top = b.select(finite, top, _scalar(b, 0.0, x))
        sums = b.reduce_sum(b.exp(b.sub(x, top)), axes=axes, keepdims=True)
        out = b.add(b.log(sums), top)
        return out if self.keepdims else b.squeeze(out, axes=axes)

    def vjp(self, b, g):
        """The softmax over the reduced axes: exp(x - y)."""
        return [b.mul(spread(self, b, g), b.exp(b.sub(self.x, keep_reduced(self, b, self.result))))]


# ------------------------------------------------------------------ losses


@op(
    "kiln.softmax_cross_entropy",
    ["logits", "labels"],
    {"axis": Attr(int_, -1)},
    tf="SoftmaxCrossEntropyWithLogits",
)
class SoftmaxCrossEntropy(PerInputElement, Operation):
    """-sum(labels * log_softmax(logits)) along `axis`: one loss per example
    (tf.nn.softmax_cross_entropy_with_logits, v2: labels are not treated as
    constants). Logits and labels have one rank; their dims broadcast."""

    flops_per_element = 7

    def infer(self, logits: TensorType, labels: TensorType) -> TensorType:
        _float_operands(logits, labels)
        if logits.rank != labels.rank:
            raise ShapeError(f"logits and labels must have one rank, got {logits} and {labels}")
        shape = broadcast_shapes(logits.shape, labels.shape)
        axis = normalize_axis(self.axis, len(shape))
        return logits.with_shape(shape[:axis] + shape[axis + 1 :])

    def reference(self, logits, labels):
        return -np.sum(labels * _np_log_softmax(logits, self.axis), axis=self.axis)

    def decompose(self, b):
        log_p = _log_softmax(b, self.logits, self.axis)
        return b.neg(b.reduce_sum(b.mul(self.labels, log_p), axes=[self.axis]))

    def vjp(self, b, g):
        """logits: softmax * sum(labels) - labels (labels need not sum to 1);
        labels: -log_softmax(logits)."""
        axis = normalize_axis(self.axis, self.logits.type.rank)
        g = b.expand_dims(g, axis=axis)
        log_p = b.log_softmax(self.logits, axis=axis)
        mass = b.reduce_sum(self.labels, axes=[axis], keepdims=True)
        d_logits = b.mul(g, b.sub(b.mul(b.exp(log_p), mass), self.labels))
        return [d_logits, b.neg(b.mul(g, log_p))]


@op(
    "kiln.sparse_softmax_cross_entropy",
    ["logits", "labels"],
    tf="SparseSoftmaxCrossEntropyWithLogits",
)
class SparseSoftmaxCrossEntropy(PerInputElement, Operation):
    """logsumexp(logits) - logits[label] over the last axis (the classes):
    one loss per example (tf.nn.sparse_softmax_cross_entropy_with_logits).

    `labels` are integers with the shape of logits less its last dim. A
    label outside [0, classes) names a class of probability 0: its loss is
    +inf (TF raises on CPU and gives NaN on GPU).
    """

    flops_per_element = 6

    def infer(self, logits: TensorType, labels: TensorType) -> TensorType:
        _float_operands(logits)
        if not labels.dtype.is_int:
            raise ShapeError(f"labels must be integers (class indices), got {labels}")
        if logits.rank < 1 or labels.rank != logits.rank - 1:
            raise ShapeError(
                f"labels must have the shape of logits less its last dim, "
                f"got logits {logits} and labels {labels}"
            )
        batch = logits.shape[:-1]
        for d, e in zip(batch, labels.shape):
            if isinstance(d, int) and isinstance(e, int) and d != e:
                raise ShapeError(f"labels {labels} do not match logits {logits}")
        return logits.with_shape(broadcast_shapes(batch, labels.shape))

    def reference(self, logits, labels):
        shifted = _np_shifted(logits, -1)
        classes = logits.shape[-1]
        inside = (labels >= 0) & (labels < classes)
        index = np.clip(labels, 0, max(classes - 1, 0))[..., None]
        picked = np.take_along_axis(shifted, index, axis=-1)[..., 0]
        picked = np.where(inside, picked, -np.inf)
        return np.log(np.sum(np.exp(shifted), axis=-1)) - picked

    def decompose(self, b):
        """The label's logit is picked with a one-hot mask (iota == label),
        so the class dim must be static; the op is kept otherwise."""
        classes = self.logits.type.shape[-1]
        if not isinstance(classes, int):
            return None
        shifted = _shifted(b, self.logits, (-1,))
        log_sum = b.log(b.reduce_sum(b.exp(shifted), axes=[-1]))
        class_ids = b.iota(shape=[classes], dtype=self.labels.type.dtype)
        one_hot = b.equal(b.expand_dims(self.labels, axis=-1), class_ids)
        masked = b.select(one_hot, shifted, _scalar(b, -np.inf, shifted))
        return b.sub(log_sum, b.reduce_max(masked, axes=[-1]))

    def vjp(self, b, g):
        """softmax(logits) - one_hot(labels) over the classes (the last axis)."""
        logits, labels = self.logits, self.labels
        classes = logits.type.shape[-1]
        if not isinstance(classes, int):
            raise self.error(
                f"its gradient needs a static number of classes, got {logits.type}", KilnError
            )
        class_ids = b.iota(shape=[classes], dtype=labels.type.dtype)
        hits = b.equal(b.expand_dims(labels, axis=-1), class_ids)
        one_hot = b.cast(hits, dtype=logits.type.dtype)
        return [b.mul(b.expand_dims(g, axis=-1), b.sub(b.softmax(logits), one_hot)), None]


@op("kiln.sigmoid_cross_entropy", ["logits", "labels"], traits=[EW, FLOAT])
class SigmoidCrossEntropy(Binary):
    """Elementwise logistic loss max(x, 0) - x * z + log(1 + exp(-|x|)) for
    logits x and labels z (tf.nn.sigmoid_cross_entropy_with_logits)."""

    def reference(self, x, z):
        return _np_softplus(x) - x * z

    def decompose(self, b):
        return b.sub(b.softplus(self.logits), b.mul(self.logits, self.labels))

    def vjp(self, b, g):
        """logits x, labels z: sigmoid(x) - z, and -x."""
        return [b.mul(g, b.sub(b.sigmoid(self.logits), self.labels)), b.neg(b.mul(g, self.logits))]


@op("kiln.l2_loss", ["x"], tf="L2Loss")
class L2Loss(PerInputElement, Operation):
    """sum(x ** 2) / 2, a scalar (tf.nn.l2_loss)."""

    flops_per_element = 2

    def infer(self, x: TensorType) -> TensorType:
        _float_operands(x)
        return x.with_shape([])

    def reference(self, x):
        return np.sum(x * x) / 2

    def decompose(self, b):
        return b.mul(b.reduce_sum(b.square(self.x)), _scalar(b, 0.5, self.x))

    def vjp(self, b, g):
        return [b.mul(g, self.x)]


# ------------------------------------------------------------------ normalization


@op(
    "kiln.layer_norm",
    ["x", "scale", "offset"],
    {"axes": Attr(ints, (-1,)), "epsilon": Attr(float_, 1e-3)},
    onnx="LayerNormalization",
)
class LayerNorm(PerInputElement, Operation):
    """(x - mean) * rsqrt(variance + epsilon) * scale + offset, the moments
    taken over `axes` (biased variance), as tf.keras.layers.LayerNormalization
    (its default epsilon, 1e-3; its gamma and beta are scale and offset here,
    given as operands that broadcast against x)."""

    flops_per_element = 8

    def infer(self, x: TensorType, scale: TensorType, offset: TensorType) -> TensorType:
        _float_operands(x, scale, offset)
        normalize_axes(self.axes, x.rank)
        return x.with_shape(broadcast_shapes(x.shape, scale.shape, offset.shape))

    def reference(self, x, scale, offset):
        axes = normalize_axes(self.axes, x.ndim)
        centered = x - np.mean(x, axis=axes, keepdims=True)
        variance = np.mean(centered * centered, axis=axes, keepdims=True)
        return _np_normalize(centered, variance, self.epsilon, scale, offset)

    def decompose(self, b):
        axes = normalize_axes(self.axes, self.x.type.rank)
        centered = b.sub(self.x, _mean(b, self.x, axes))
        variance = _mean(b, b.square(centered), axes)
        return _normalize(b, centered, variance, self.epsilon, self.scale, self.offset)


@op(
    "kiln.batch_norm",
    ["x", "mean", "variance", "offset", "scale"],
    {"epsilon": Attr(float_, 1e-3)},
    onnx="BatchNormalization",
)
class BatchNorm(PerInputElement, Operation):
    """(x - mean) * rsqrt(variance + epsilon) * scale + offset, every operand
    broadcasting (tf.nn.batch_normalization, whose variance_epsilon is
    `epsilon` here, defaulting to 1e-3 as tf.nn.fused_batch_norm; a missing
    offset or scale is a constant 0 or 1)."""

    flops_per_element = 5

    def infer(self, *types: TensorType) -> TensorType:
        _float_operands(*types)
        return types[0].with_shape(broadcast_shapes(*(t.shape for t in types)))

    def reference(self, x, mean, variance, offset, scale):
        return _np_normalize(x - mean, variance, self.epsilon, scale, offset)

    def decompose(self, b):
        return _normalize(
            b, b.sub(self.x, self.mean), self.variance, self.epsilon, self.scale, self.offset
        )


# ------------------------------------------------------------------ activations


@op("kiln.softplus", ["x"], traits=[EW, FLOAT], tf="Softplus", onnx="Softplus")
class Softplus(Unary):
    """log(1 + exp(x)) (tf.nn.softplus), as max(x, 0) + log1p(exp(-|x|)): exp
    never overflows, and log1p keeps the tiny values of a large negative x."""

    def reference(self, x):
        return _np_softplus(x)

    def vjp(self, b, g):
        return [b.mul(g, b.sigmoid(self.x))]

    def scalar(self, k, x):
        # log1p(e) = log(u) * e / (u - 1) with u = 1 + e, and e itself where u
        # rounds to 1 (Goldberg's log1p from log: exact to a few ulps)
        e = k.exp(k.neg(k.abs(x)))
        one = k.const(1.0)
        u = k.add(one, e)
        log1p = k.select(k.equal(u, one), e, k.div(k.mul(k.log(u), e), k.sub(u, one)))
        return k.add(k.max(x, k.const(0.0)), log1p)


@op("kiln.relu6", ["x"], traits=[EW, FLOAT], tf="Relu6")
class Relu6(Unary):
    """min(max(x, 0), 6) (tf.nn.relu6)."""

    def reference(self, x):
        return np.minimum(np.maximum(x, 0), 6)

    def decompose(self, b):
        return b.min(b.relu(self.x), _scalar(b, 6.0, self.x))


@op(
    "kiln.leaky_relu",
    ["x"],
    {"alpha": Attr(float_, 0.2)},
    traits=[EW, FLOAT],
    tf="LeakyRelu",
    onnx="LeakyRelu",
)
class LeakyRelu(Unary):
    """x if x > 0 else alpha * x (tf.nn.leaky_relu, alpha 0.2)."""

    def reference(self, x):
        return np.where(x > 0, x, x * np.asarray(self.alpha, x.dtype))

    def decompose(self, b):
        x = self.x
        positive = b.greater(x, _scalar(b, 0.0, x))
        return b.select(positive, x, b.mul(x, _scalar(b, self.alpha, x)))


@op("kiln.selu", ["x"], traits=[EW, FLOAT], tf="Selu", onnx="Selu")
class Selu(Unary):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)) with TF's constants
    (tf.nn.selu): a scaled kiln.elu."""

    def reference(self, x):
        alpha, scale = np.asarray(SELU_ALPHA, x.dtype), np.asarray(SELU_SCALE, x.dtype)
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))

    def decompose(self, b):
        return b.mul(b.elu(self.x, alpha=SELU_ALPHA), _scalar(b, SELU_SCALE, self.x))


def _np_erf(x: np.ndarray) -> np.ndarray:
    """math.erf on every element (numpy has no erf)."""
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


@op("kiln.erf", ["x"], traits=[EW, FLOAT], tf="Erf", onnx="Erf")
class Erf(Unary):
    """The error function (tf.math.erf). A primitive: the exact GELU needs it."""

    def reference(self, x):
        return _np_erf(x)

    def vjp(self, b, g):
        """2 / sqrt(pi) * exp(-x^2)."""
        bell = b.exp(b.neg(b.square(self.x)))
        return [b.mul(g, b.mul(bell, scalar_like(b, 2 / np.sqrt(np.pi), g)))]


@op(
    "kiln.gelu",
    ["x"],
    {"approximate": Attr(bool_, False)},
    traits=[EW, FLOAT],
    tf="Gelu",
    onnx="Gelu",
)
class Gelu(Unary):
    """x * P(X <= x) for a standard normal X (tf.nn.gelu): exactly
    0.5 * x * (1 + erf(x / sqrt(2))), or with `approximate` the tanh form
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x ** 3)))."""

    def reference(self, x):
        if self.approximate:
            cdf = 1 + np.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_COEFF * x**3))
        else:
            cdf = 1 + _np_erf(x * SQRT_HALF)
        return 0.5 * x * cdf

    def decompose(self, b):
        x = self.x
        if self.approximate:
            cube = b.mul(x, b.square(x))
            inner = b.add(x, b.mul(_scalar(b, GELU_TANH_COEFF, x), cube))
            squashed = b.tanh(b.mul(_scalar(b, SQRT_2_OVER_PI, x), inner))
        else:
            squashed = b.erf(b.mul(x, _scalar(b, SQRT_HALF, x)))
        half_x = b.mul(x, _scalar(b, 0.5, x))
        return b.mul(half_x, b.add(_scalar(b, 1.0, x), squashed))
