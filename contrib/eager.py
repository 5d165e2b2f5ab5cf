"""tf.contrib.eager (tfe): TF 1.x's eager API, onto kiln's eager mode and tape.

tfe.enable_eager_execution()
grad = tfe.gradients_function(lambda x: x * x)
grad(3.0)                                # [6.0]
tfe.implicit_gradients(loss_fn)(x, y)    # [(gradient, variable), ...]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..frontend import Variable, enable_eager_execution, executing_eagerly  # noqa: F401
from ..frontend.eager import to_eager
from ..frontend.graph import GraphError
from ..frontend.tape import GradientTape


def _args(args: tuple) -> list:
    return [a if hasattr(a, "_as_tensor") else to_eager(a, None) for a in args]


def gradients_function(f: Callable, params: Any = None) -> Callable:
    """A function returning df/dx for each argument (or those in `params`)."""

    def grad(*args: Any, **kwargs: Any) -> list:
        return value_and_gradients_function(f, params)(*args, **kwargs)[1]

    return grad


def value_and_gradients_function(f: Callable, params: Any = None) -> Callable:
    def grad(*args: Any, **kwargs: Any):
        xs = _args(args)
        with GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            value = f(*xs, **kwargs)
        wanted = xs if params is None else [xs[i] for i in params]
        return value, tape.gradient(value, wanted)

    return grad


def implicit_value_and_gradients(f: Callable) -> Callable:
    """A function returning (f(...), [(gradient, variable), ...]) over the
    trainable variables f reads."""

    def grad(*args: Any, **kwargs: Any):
        with GradientTape() as tape:
            value = f(*args, **kwargs)
        variables = tape.watched_variables()
        if not variables:
            raise GraphError("implicit_gradients: the function reads no trainable variables")
        return value, list(zip(tape.gradient(value, variables), variables))

    return grad


def implicit_gradients(f: Callable) -> Callable:
    """A function returning [(gradient, variable), ...] (tfe.implicit_gradients)."""

    def grad(*args: Any, **kwargs: Any):
        return implicit_value_and_gradients(f)(*args, **kwargs)[1]

    return grad


def Iterator(dataset: Any):  # noqa: N802  (tfe.Iterator(dataset) is a class in TF)
    """An iterator over a kl.data.Dataset in eager mode (tfe.Iterator)."""
    return iter(dataset)


def num_gpus() -> int:
    return 0


__all__ = [
    "Iterator",
    "Variable",
    "enable_eager_execution",
    "executing_eagerly",
    "gradients_function",
    "implicit_gradients",
    "implicit_value_and_gradients",
    "num_gpus",
    "value_and_gradients_function",
]
