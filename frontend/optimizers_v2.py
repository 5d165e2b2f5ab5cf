"""kl.optimizers: TF 2 / Keras optimizers for eager variables (SGD, Adam, RMSprop).

    opt = kl.optimizers.Adam(1e-3)
    opt.apply_gradients(zip(grads, model.trainable_variables))

The update is written with kl ops and `var.assign*`, so the same code runs
eagerly (each op at once) and inside a kl.function (graph updates compiled
with the step, variables updated in place). Slots (momentum, Adam's moments)
and the `iterations` counter are eager variables made on first use, outside
any trace. The formulas are Keras's (epsilon 1e-7, outside the square root);
TF 1.x's graph optimizers stay in kl.train.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .dtypes import int64
from .eager import EagerVariable, init_scope
from .graph import GraphError
from .ops import cast, convert_to_tensor, pow, sqrt, zeros
from .tape import GradientTape

__all__ = ["SGD", "Adam", "RMSprop", "Optimizer", "get"]


class Optimizer:
    """Base class: `apply_gradients(zip(grads, vars))`, `minimize(loss, var_list, tape)`."""

    def __init__(self, learning_rate: float = 0.01, name: str | None = None, **_: Any):
        self.learning_rate = learning_rate
        self.name = name or type(self).__name__
        self._iterations: EagerVariable | None = None
        self._slots: dict[tuple[int, str], EagerVariable] = {}

    @property
    def iterations(self) -> EagerVariable:
        """How many updates were applied (an int64 variable)."""
        if self._iterations is None:
            with init_scope():
                self._iterations = EagerVariable(
                    0, trainable=False, dtype=int64, name=f"{self.name}/iter"
                )
        return self._iterations

    def get_slot(self, var: EagerVariable, name: str) -> EagerVariable:
        key = (id(var), name)
        if key not in self._slots:
            with init_scope():
                self._slots[key] = EagerVariable(
                    zeros(var.shape.as_list(), var.dtype),
                    trainable=False,
                    name=f"{var._name}/{name}",
                )
        return self._slots[key]

    def variables(self) -> list[EagerVariable]:
        return [self.iterations, *self._slots.values()]

    def apply_gradients(
        self, grads_and_vars: Iterable[tuple[Any, Any]], name: str | None = None, **_: Any
    ) -> Any:
        """Update each variable from its gradient (None gradients are skipped)."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise GraphError(f"{self.name}.apply_gradients: no gradients for any variable")
        for _, v in pairs:
            if not isinstance(v, EagerVariable):
                raise GraphError(
                    f"{self.name}: {v!r} is not an eager variable (TF 1.x graph "
                    "variables take kl.train optimizers)"
                )
            self._create_slots(v)
        step = self.iterations.assign_add(1)
        for g, v in pairs:
            self._apply(cast(convert_to_tensor(g), v.dtype), v, step)
        return step

    def minimize(self, loss: Any, var_list: Any, tape: Any = None) -> Any:
        """`loss` a callable (differentiated here) or a tensor recorded by `tape`."""
        variables = list(var_list() if callable(var_list) else var_list)
        if callable(loss):
            with GradientTape() as tape:
                value = loss()
        elif tape is None:
            raise GraphError(
                f"{self.name}.minimize: give a callable loss or the tape that recorded it"
            )
        else:
            value = loss
        return self.apply_gradients(zip(tape.gradient(value, variables), variables))

    def _lr(self, dtype: Any) -> Any:
        lr = self.learning_rate
        return cast(lr, dtype) if hasattr(lr, "_as_tensor") else lr

    def _create_slots(self, var: EagerVariable) -> None:
        pass

    def _apply(self, grad: Any, var: EagerVariable, step: Any) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": float(self.learning_rate)}


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum (keras SGD)."""

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        name: str | None = None,
        **kw: Any,
    ):
        super().__init__(learning_rate, name, **kw)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _create_slots(self, var):
        if self.momentum:
            self.get_slot(var, "momentum")

    def _apply(self, grad, var, step):
        lr = self._lr(var.dtype)
        if not self.momentum:
            var.assign_sub(grad * lr)
            return
        m = self.get_slot(var, "momentum")
        velocity = m.assign(m * self.momentum - grad * lr)
        if self.nesterov:
            var.assign_add(velocity * self.momentum - grad * lr)
        else:
            var.assign_add(velocity)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (keras): bias-corrected step size, epsilon outside the square root."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        name: str | None = None,
        **kw: Any,
    ):
        super().__init__(learning_rate, name, **kw)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _create_slots(self, var):
        self.get_slot(var, "m")
        self.get_slot(var, "v")

    def _apply(self, grad, var, step):
        t = cast(step, var.dtype)
        lr = (
            self._lr(var.dtype)
            * sqrt(1.0 - pow(convert_to_tensor(self.beta_2, var.dtype), t))
            / (1.0 - pow(convert_to_tensor(self.beta_1, var.dtype), t))
        )
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        m_t = m.assign(m * self.beta_1 + grad * (1.0 - self.beta_1))
        v_t = v.assign(v * self.beta_2 + grad * grad * (1.0 - self.beta_2))
        var.assign_sub(lr * m_t / (sqrt(v_t) + self.epsilon))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class RMSprop(Optimizer):
    """RMSprop (keras): a moving mean square of gradients, optional momentum."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        name: str | None = None,
        **kw: Any,
    ):
        super().__init__(learning_rate, name, **kw)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)

    def _create_slots(self, var):
        self.get_slot(var, "rms")
        if self.momentum:
            self.get_slot(var, "momentum")

    def _apply(self, grad, var, step):
        lr = self._lr(var.dtype)
        rms = self.get_slot(var, "rms")
        ms = rms.assign(rms * self.rho + grad * grad * (1.0 - self.rho))
        delta = grad * lr / (sqrt(ms) + self.epsilon)
        if self.momentum:
            m = self.get_slot(var, "momentum")
            delta = m.assign(m * self.momentum + delta)
        var.assign_sub(delta)

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier: Any) -> Optimizer:
    """An optimizer from itself or its name ("sgd", "adam", "rmsprop")."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise GraphError(f"unknown optimizer {identifier!r} (sgd, adam, rmsprop or an instance)")
