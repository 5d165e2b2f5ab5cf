"""TF 1.x's learning-rate schedules (tf.train.*_decay, piecewise_constant):
graph ops of the global step, so the rate moves as training runs.

    lr = kl.train.exponential_decay(0.1, global_step, 100, 0.96, staircase=True)

Each follows TensorFlow 1.15's formula (stated in its docstring); `staircase`
floors step / decay_steps first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .dtypes import float32
from .graph import GraphError, Tensor, get_default_graph
from .ops import (
    cast,
    constant,
    convert_to_tensor,
    cos,
    divide,
    exp,
    floordiv,
    greater,
    minimum,
    multiply,
    negative,
    pow,
    where,
)


def _progress(step: Any, decay_steps: Any, staircase: bool, dtype: Any) -> Tensor:
    """step / decay_steps as `dtype`, floored when staircase (TF casts the step first,
    so an integer or a float step both work)."""
    step = cast(convert_to_tensor(step), dtype)
    return (floordiv if staircase else divide)(step, float(decay_steps))


def _rate(learning_rate: Any) -> Tensor:
    lr = convert_to_tensor(learning_rate)
    return lr if lr.dtype.is_floating else cast(lr, float32)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None) -> Tensor:  # fmt: skip
    """lr * decay_rate ^ (global_step / decay_steps)."""
    with get_default_graph().name_scope(name or "ExponentialDecay"):
        lr = _rate(learning_rate)
        p = _progress(global_step, decay_steps, staircase, lr.dtype)
        return multiply(lr, pow(constant(decay_rate, dtype=lr.dtype), p))


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                       name=None) -> Tensor:  # fmt: skip
    """lr / (1 + decay_rate * global_step / decay_steps)."""
    with get_default_graph().name_scope(name or "InverseTimeDecay"):
        lr = _rate(learning_rate)
        p = _progress(global_step, decay_steps, staircase, lr.dtype)
        return divide(lr, 1.0 + multiply(constant(decay_rate, dtype=lr.dtype), p))


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None) -> Tensor:  # fmt: skip
    """lr * exp(-decay_rate * global_step / decay_steps)."""
    with get_default_graph().name_scope(name or "NaturalExpDecay"):
        lr = _rate(learning_rate)
        p = _progress(global_step, decay_steps, staircase, lr.dtype)
        return multiply(lr, exp(negative(multiply(constant(decay_rate, dtype=lr.dtype), p))))


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001,
                     power=1.0, cycle=False, name=None) -> Tensor:  # fmt: skip
    """(lr - end) * (1 - step / decay_steps) ^ power + end, the step held at
    decay_steps; with `cycle` decay_steps grows to the next multiple past the step."""
    with get_default_graph().name_scope(name or "PolynomialDecay"):
        lr = _rate(learning_rate)
        step = cast(convert_to_tensor(global_step), lr.dtype)
        steps = constant(float(decay_steps), dtype=lr.dtype)
        if cycle:
            # decay_steps * ceil(step / decay_steps), 1 at step 0 (as TF)
            ceil = negative(floordiv(negative(step), steps))
            steps = multiply(steps, where(greater(step, 0.0), ceil, constant(1.0, lr.dtype)))
        else:
            step = minimum(step, steps)
        end = constant(end_learning_rate, dtype=lr.dtype)
        frac = pow(1.0 - divide(step, steps), constant(power, dtype=lr.dtype))
        return multiply(lr - end, frac) + end


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None) -> Tensor:
    """lr * ((1 - alpha) * 0.5 (1 + cos(pi * step / decay_steps)) + alpha), the
    step held at decay_steps."""
    with get_default_graph().name_scope(name or "CosineDecay"):
        lr = _rate(learning_rate)
        step = minimum(cast(convert_to_tensor(global_step), lr.dtype), float(decay_steps))
        cosine = 0.5 * (1.0 + cos(multiply(step, math.pi / decay_steps)))
        return multiply(lr, cosine * (1.0 - alpha) + alpha)


def check_piecewise(boundaries: Sequence[Any], values: Sequence[Any], where: str) -> None:
    """A piecewise-constant schedule needs one more value than boundaries."""
    if len(values) != len(boundaries) + 1:
        raise GraphError(
            f"{where}: {len(values)} values for {len(boundaries)} boundaries "
            "(needs one more value than boundaries)"
        )


def piecewise_constant(x: Any, boundaries: Sequence[Any], values: Sequence[Any],
                       name: str | None = None) -> Tensor:  # fmt: skip
    """values[0] while x <= boundaries[0], values[i] for boundaries[i-1] < x <=
    boundaries[i], values[-1] past the last boundary."""
    check_piecewise(boundaries, values, "piecewise_constant")
    with get_default_graph().name_scope(name or "PiecewiseConstant"):
        x = convert_to_tensor(x)
        first = convert_to_tensor(values[0])
        out = first
        for bound, value in zip(boundaries, values[1:]):
            b = cast(convert_to_tensor(bound), x.dtype)
            out = where(greater(x, b), convert_to_tensor(value, dtype=first.dtype), out)
        return out


__all__ = [
    "cosine_decay",
    "exponential_decay",
    "inverse_time_decay",
    "natural_exp_decay",
    "piecewise_constant",
    "polynomial_decay",
]
