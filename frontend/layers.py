"""kl.layers: the TF 1.x functional layers, with variables from get_variable
so that `variable_scope(..., reuse=True)` shares them."""

from __future__ import annotations

from typing import Any

from .graph import GraphError, Tensor, get_default_graph
from .ops import add, convert_to_tensor, matmul, reshape
from .variables import get_variable, glorot_uniform_initializer, variable_scope, zeros_initializer

__all__ = ["dense", "flatten"]


def dense(inputs: Any, units: int, activation: Any = None, use_bias: bool = True,
          kernel_initializer: Any = None, bias_initializer: Any = None,
          trainable: bool = True, name: str | None = None, reuse: Any = None) -> Tensor:
    """activation(inputs @ kernel + bias) (tf.layers.dense): variables
    `<name>/kernel` and `<name>/bias` under the current variable scope."""
    x = convert_to_tensor(inputs)
    if x.shape.ndims is None or x.shape[-1] is None:
        raise GraphError(f"dense: the last dim of {x.name} must be known, got {x.shape}")
    scope = name or get_default_graph().unique_name("dense", mark_as_used=False).split("/")[-1]
    with variable_scope(scope, reuse=reuse):
        kernel = get_variable("kernel", [x.shape[-1], units], dtype=x.dtype,
                              initializer=kernel_initializer or glorot_uniform_initializer(),
                              trainable=trainable)
        y = matmul(x, kernel) if x.shape.ndims == 2 else _matmul_last(x, kernel, units)
        if use_bias:
            bias = get_variable("bias", [units], dtype=x.dtype,
                                initializer=bias_initializer or zeros_initializer(),
                                trainable=trainable)
            y = add(y, bias)
        if activation is not None:
            y = activation(y)
    return y


def _matmul_last(x: Tensor, kernel: Any, units: int) -> Tensor:
    flat = reshape(x, [-1, x.shape[-1]])
    dims = [-1 if d is None else d for d in x.shape.as_list()[:-1]]
    return reshape(matmul(flat, kernel), [*dims, units])


def flatten(inputs: Any, name: str | None = None) -> Tensor:
    """[batch, ...] -> [batch, prod(...)] (tf.layers.flatten)."""
    x = convert_to_tensor(inputs)
    rest = x.shape.as_list()[1:]
    if None in rest:
        raise GraphError(f"flatten: the non-batch dims of {x.name} must be known")
    size = 1
    for d in rest:
        size *= d
    return reshape(x, [-1, size], name=name)
