"""kl.nn: activations, convolutions, pooling and losses with TensorFlow's
names and signatures. Composite ops (softmax, cross-entropies) are single IR
ops that the `decompose` pass expands, so graphs stay readable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .graph import GraphError, Tensor
from .ops import _pair, convert_to_tensor, make, sigmoid, tanh, transpose

__all__ = [
    "avg_pool", "bias_add", "conv2d", "elu", "gelu", "l2_loss", "leaky_relu", "log_softmax",
    "max_pool", "relu", "relu6", "selu", "sigmoid", "sigmoid_cross_entropy_with_logits",
    "softmax", "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
    "softplus", "sparse_softmax_cross_entropy_with_logits", "tanh",
]


def _activation(op_type: str, ir_op: str, **fixed: Any):
    def fn(features: Any, name: str | None = None, **attrs: Any) -> Tensor:
        return make(op_type, ir_op, [convert_to_tensor(features)], name, **fixed, **attrs)

    fn.__name__ = ir_op[5:]
    fn.__doc__ = f"tf.nn.{fn.__name__}."
    return fn


relu = _activation("Relu", "kiln.relu")
elu = _activation("Elu", "kiln.elu")
relu6 = _activation("Relu6", "kiln.relu6")
softplus = _activation("Softplus", "kiln.softplus")
selu = _activation("Selu", "kiln.selu")


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    return make("LeakyRelu", "kiln.leaky_relu", [convert_to_tensor(features)], name,
                alpha=float(alpha))


def gelu(features: Any, approximate: bool = False, name: str | None = None) -> Tensor:
    return make("Gelu", "kiln.gelu", [convert_to_tensor(features)], name,
                approximate=bool(approximate))


def softmax(logits: Any, axis: int = -1, name: str | None = None) -> Tensor:
    return make("Softmax", "kiln.softmax", [convert_to_tensor(logits)], name, axis=int(axis))


def log_softmax(logits: Any, axis: int = -1, name: str | None = None) -> Tensor:
    return make("LogSoftmax", "kiln.log_softmax", [convert_to_tensor(logits)], name,
                axis=int(axis))


def bias_add(value: Any, bias: Any, data_format: str = "NHWC", name: str | None = None):
    """value + bias along the channel (last) dim."""
    if data_format not in ("NHWC", "N...C"):
        raise GraphError(f"bias_add: data_format {data_format!r} is not supported (NHWC)")
    x, b = _pair(value, bias, "BiasAdd")
    if b.shape.ndims != 1:
        raise GraphError(f"bias_add: bias must be 1-D, got shape {b.shape}")
    return make("BiasAdd", "kiln.add", [x, b], name)


def _window(values: Sequence[int] | int, name: str) -> list[int]:
    """TF's 4-long NHWC lists (or 1 or 2 ints) -> the two spatial values."""
    v = [values] if isinstance(values, int) else list(values)
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise GraphError(f"{name}: only the spatial dims may differ from 1, got {v}")
        return v[1:3]
    if len(v) == 1:
        return v * 2
    if len(v) == 2:
        return v
    raise GraphError(f"{name}: expected 1, 2 or 4 values, got {v}")


def _nchw_in(x: Tensor, data_format: str) -> Tensor:
    if data_format == "NHWC":
        return x
    if data_format == "NCHW":
        return transpose(x, [0, 2, 3, 1])
    raise GraphError(f"data_format must be NHWC or NCHW, got {data_format!r}")


def _nchw_out(y: Tensor, data_format: str) -> Tensor:
    return y if data_format == "NHWC" else transpose(y, [0, 3, 1, 2])


def _nchw_window(v: Sequence[int] | int, data_format: str) -> Sequence[int] | int:
    if data_format == "NCHW" and not isinstance(v, int) and len(v) == 4:
        return [v[0], v[2], v[3], v[1]]
    return v


def conv2d(input: Any, filter: Any = None, strides: Any = 1, padding: str = "VALID",
           data_format: str = "NHWC", dilations: Any = 1, name: str | None = None,
           filters: Any = None) -> Tensor:
    """2-D convolution, HWIO filters (tf.nn.conv2d); NCHW is transposed to NHWC."""
    x = _nchw_in(convert_to_tensor(input), data_format)
    w = convert_to_tensor(filter if filter is not None else filters, dtype=x.dtype)
    y = make("Conv2D", "kiln.conv2d", [x, w], name,
             strides=_window(_nchw_window(strides, data_format), "conv2d strides"),
             dilations=_window(_nchw_window(dilations, data_format), "conv2d dilations"),
             padding=padding.upper())
    return _nchw_out(y, data_format)


def _pool(op_type: str, ir_op: str):
    def fn(value: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC",
           name: str | None = None, input: Any = None) -> Tensor:
        x = _nchw_in(convert_to_tensor(value if value is not None else input), data_format)
        y = make(op_type, ir_op, [x], name,
                 ksize=_window(_nchw_window(ksize, data_format), f"{ir_op[5:]} ksize"),
                 strides=_window(_nchw_window(strides, data_format), f"{ir_op[5:]} strides"),
                 padding=padding.upper())
        return _nchw_out(y, data_format)

    fn.__name__ = ir_op[5:]
    fn.__doc__ = f"tf.nn.{fn.__name__} (NHWC; NCHW is transposed)."
    return fn


max_pool = _pool("MaxPool", "kiln.max_pool")
avg_pool = _pool("AvgPool", "kiln.avg_pool")


def _labels_logits(labels: Any, logits: Any, op_type: str) -> tuple[Tensor, Tensor]:
    if labels is None or logits is None:
        raise GraphError(f"{op_type}: pass labels= and logits= by name")
    z, x = _pair(labels, logits, op_type)
    return z, x


def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, name: str | None = None) -> Tensor:
    """max(x, 0) - x*z + log(1 + exp(-|x|)), elementwise (stable)."""
    z, x = _labels_logits(labels, logits, "SigmoidCrossEntropyWithLogits")
    return make("SigmoidCrossEntropyWithLogits", "kiln.sigmoid_cross_entropy", [x, z], name)


def softmax_cross_entropy_with_logits_v2(_sentinel: Any = None, labels: Any = None,
                                         logits: Any = None, axis: int = -1,
                                         name: str | None = None, dim: Any = None) -> Tensor:
    """-sum(labels * log_softmax(logits)) along `axis`: one loss per example."""
    z, x = _labels_logits(labels, logits, "SoftmaxCrossEntropyWithLogits")
    return make("SoftmaxCrossEntropyWithLogits", "kiln.softmax_cross_entropy", [x, z], name,
                axis=int(axis if dim is None else dim))


def softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, axis: int = -1,
                                      name: str | None = None, dim: Any = None) -> Tensor:
    """TF 1.x's v1: gradients do not flow into the labels (kl.stop_gradient on them)."""
    from .ops import stop_gradient
    if labels is not None:
        labels = stop_gradient(labels)
    return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=axis,
                                                name=name, dim=dim)


def sparse_softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                             logits: Any = None,
                                             name: str | None = None) -> Tensor:
    if labels is None or logits is None:
        raise GraphError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits=")
    return make("SparseSoftmaxCrossEntropyWithLogits", "kiln.sparse_softmax_cross_entropy",
                [convert_to_tensor(logits), convert_to_tensor(labels)], name)


def l2_loss(t: Any, name: str | None = None) -> Tensor:
    return make("L2Loss", "kiln.l2_loss", [convert_to_tensor(t)], name)
