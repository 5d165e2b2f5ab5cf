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


class Iterator:
    """An iterator over a kl.data.Dataset in eager mode (tfe.Iterator): Python
    iteration, and TF 1.x's `.next()` / `get_next()`."""

    def __init__(self, dataset: Any):
        self._it = iter(dataset)

    def __iter__(self) -> Iterator:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    next = get_next = __next__


class Network:
    """TF 1.x's eager model container (tfe.Network): a subclass builds layers in
    __init__ with `track_layer` and runs them in `call`; `variables` are the
    tracked layers' variables, made on the first call."""

    def __init__(self, name: str | None = None):
        self.name = name or type(self).__name__.lower()
        self._layers: list = []

    def track_layer(self, layer: Any) -> Any:
        self._layers.append(layer)
        return layer

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: a tfe.Network subclass defines call()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    @property
    def layers(self) -> list:
        return list(self._layers)

    @property
    def variables(self) -> list:
        return [v for layer in self._layers for v in layer.variables]

    weights = variables

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if getattr(v, "trainable", True)]

    trainable_weights = trainable_variables


def num_gpus() -> int:
    return 0


__all__ = [
    "Iterator",
    "Network",
    "Variable",
    "enable_eager_execution",
    "executing_eagerly",
    "gradients_function",
    "implicit_gradients",
    "implicit_value_and_gradients",
    "num_gpus",
    "value_and_gradients_function",
]
