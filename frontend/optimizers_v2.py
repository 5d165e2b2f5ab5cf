"""kl.optimizers: TF 2 / Keras optimizers for eager variables (SGD, Adam,
RMSprop, Adagrad, Adadelta, Adamax, Nadam).

    opt = kl.optimizers.Adam(1e-3)
    opt.apply_gradients(zip(grads, model.trainable_variables))

The update is written with kl ops and `var.assign*`, so the same code runs
eagerly (each op at once) and inside a kl.function (graph updates compiled
with the step, variables updated in place). Slots (momentum, Adam's moments)
and the `iterations` counter are eager variables made on first use, outside
any trace. The formulas are Keras's (epsilon 1e-7, outside the square root);
TF 1.x's graph optimizers stay in kl.train.

The learning rate is an eager variable (`opt.learning_rate = 0.01`, or
`opt.lr`, changes it between traced steps, as callbacks do), or a schedule:
any callable step -> rate that is not a number (kl.keras.optimizers.schedules),
called with the number of updates applied before this one. `clipnorm`,
`clipvalue` and `global_clipnorm` clip the gradients first; legacy `lr=` and
`decay=` (rate / (1 + decay * iterations)) are taken as Keras 2 took them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .array_ops import clip_by_global_norm, clip_by_norm
from .dtypes import float64, int64
from .eager import EagerVariable, init_scope
from .graph import GraphError
from .ops import abs as abs_
from .ops import cast, clip_by_value, convert_to_tensor, maximum, pow, sqrt, zeros
from .tape import GradientTape

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "Adamax", "Nadam", "Optimizer", "RMSprop", "get"]


class Optimizer:
    """Base class: `apply_gradients(zip(grads, vars))`, `minimize(loss, var_list, tape)`."""

    def __init__(
        self,
        learning_rate: Any = 0.01,
        name: str | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        decay: float = 0.0,
        **kw: Any,
    ):
        if "lr" in kw:  # Keras 2's old name
            learning_rate = kw.pop("lr")
        self.name = name or type(self).__name__
        self._iterations: EagerVariable | None = None
        self._slots: dict[tuple[int, str], EagerVariable] = {}
        self._lr_var: EagerVariable | None = None
        self._schedule: Any = None
        self.learning_rate = learning_rate
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.decay = float(decay)
        self._step_lr: Any = None

    @property
    def learning_rate(self) -> Any:
        """The rate variable, or the schedule given."""
        return self._schedule if self._schedule is not None else self._lr_var

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if callable(value) and not hasattr(value, "_as_tensor"):
            self._schedule = value
            return
        self._schedule = None
        number = float(value.numpy() if hasattr(value, "numpy") else value)
        if self._lr_var is None:
            with init_scope():
                self._lr_var = EagerVariable(  # float64: exact for float64 weights
                    number, trainable=False, name=f"{self.name}/learning_rate", dtype=float64
                )
        else:
            self._lr_var.assign(number)

    lr = learning_rate

    @property
    def iterations(self) -> EagerVariable:
        """How many updates were applied (an int64 variable)."""
        if self._iterations is None:
            with init_scope():
                self._iterations = EagerVariable(
                    0, trainable=False, dtype=int64, name=f"{self.name}/iter"
                )
        return self._iterations

    def get_slot(self, var: EagerVariable, name: str, initial: float = 0.0) -> EagerVariable:
        key = (id(var), name)
        if key not in self._slots:
            with init_scope():
                self._slots[key] = EagerVariable(
                    zeros(var.shape.as_list(), var.dtype) + initial,
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
        pairs = self._clip(pairs)
        before = self.iterations + 0  # updates applied before this one
        if self._schedule is not None:
            self._step_lr = convert_to_tensor(self._schedule(before))
        else:
            self._step_lr = self._lr_var + 0.0
        if self.decay:
            self._step_lr = self._step_lr / (1.0 + self.decay * cast(before, self._step_lr.dtype))
        self._prepare(before)
        step = self.iterations.assign_add(1)
        for g, v in pairs:
            self._apply(cast(convert_to_tensor(g), v.dtype), v, step)
        return step

    def _clip(self, pairs: list) -> list:
        grads = [convert_to_tensor(g) for g, _ in pairs]
        if self.clipvalue is not None:
            grads = [clip_by_value(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            grads = [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            grads, _ = clip_by_global_norm(grads, self.global_clipnorm)
        return [(g, v) for g, (_, v) in zip(grads, pairs)]

    def _prepare(self, before: Any) -> None:
        """Work shared by every variable of one step (Nadam's momentum schedule)."""

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
        return cast(self._step_lr, dtype)

    def _variable(self, name: str, value: float) -> EagerVariable:
        """A scalar state variable of the optimizer (not per weight)."""
        key = (0, name)
        if key not in self._slots:
            with init_scope():
                self._slots[key] = EagerVariable(value, trainable=False, name=f"{self.name}/{name}")
        return self._slots[key]

    def _create_slots(self, var: EagerVariable) -> None:
        pass

    def _apply(self, grad: Any, var: EagerVariable, step: Any) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        if self._schedule is not None:
            raise GraphError(f"{self.name}: a learning-rate schedule cannot be saved")
        return {"name": self.name, "learning_rate": float(self._lr_var)}


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


class Adagrad(Optimizer):
    """Adagrad (keras): var -= lr * g / (sqrt(sum of g^2) + epsilon)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        name: str | None = None,
        **kw: Any,
    ):
        super().__init__(learning_rate, name, **kw)
        self.initial, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def _create_slots(self, var):
        self.get_slot(var, "accumulator", self.initial)

    def _apply(self, grad, var, step):
        acc = self.get_slot(var, "accumulator")
        a = acc.assign_add(grad * grad)
        var.assign_sub(self._lr(var.dtype) * grad / (sqrt(a) + self.epsilon))


class Adadelta(Optimizer):
    """Adadelta (keras): steps scaled by the ratio of running RMS of updates and gradients."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        name: str | None = None,
        **kw: Any,
    ):
        super().__init__(learning_rate, name, **kw)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _create_slots(self, var):
        self.get_slot(var, "accum_grad")
        self.get_slot(var, "accum_var")

    def _apply(self, grad, var, step):
        ag, av = self.get_slot(var, "accum_grad"), self.get_slot(var, "accum_var")
        ag_t = ag.assign(ag * self.rho + grad * grad * (1.0 - self.rho))
        update = sqrt(av + self.epsilon) / sqrt(ag_t + self.epsilon) * grad
        av.assign(av * self.rho + update * update * (1.0 - self.rho))
        var.assign_sub(self._lr(var.dtype) * update)


class Adamax(Adam):
    """Adamax (keras): Adam with the infinity norm, v = max(beta_2 v, |g|)."""

    def _apply(self, grad, var, step):
        t = cast(step, var.dtype)
        lr = self._lr(var.dtype) / (1.0 - pow(convert_to_tensor(self.beta_1, var.dtype), t))
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        m_t = m.assign(m * self.beta_1 + grad * (1.0 - self.beta_1))
        v_t = v.assign(maximum(v * self.beta_2, abs_(grad)))
        var.assign_sub(lr * m_t / (v_t + self.epsilon))


class Nadam(Adam):
    """Nadam (keras): Adam with Nesterov momentum and Keras's momentum
    schedule mu_t = beta_1 (1 - 0.5 * 0.96^(0.004 t))."""

    def _prepare(self, before):
        t = cast(before, "float32") + 1.0
        self._mu_t = self.beta_1 * (1.0 - 0.5 * pow(convert_to_tensor(0.96), 0.004 * t))
        self._mu_t1 = self.beta_1 * (1.0 - 0.5 * pow(convert_to_tensor(0.96), 0.004 * (t + 1.0)))
        schedule = self._variable("m_schedule", 1.0)
        self._m_schedule_new = schedule.assign(schedule * self._mu_t)
        self._m_schedule_next = self._m_schedule_new * self._mu_t1

    def _apply(self, grad, var, step):
        dt = var.dtype
        t = cast(step, dt)
        mu_t, mu_t1 = cast(self._mu_t, dt), cast(self._mu_t1, dt)
        new, nxt = cast(self._m_schedule_new, dt), cast(self._m_schedule_next, dt)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        g_prime = grad / (1.0 - new)
        m_t = m.assign(m * self.beta_1 + grad * (1.0 - self.beta_1))
        m_prime = m_t / (1.0 - nxt)
        v_t = v.assign(v * self.beta_2 + grad * grad * (1.0 - self.beta_2))
        v_prime = v_t / (1.0 - pow(convert_to_tensor(self.beta_2, dt), t))
        m_bar = g_prime * (1.0 - mu_t) + m_prime * mu_t1
        var.assign_sub(self._lr(dt) * m_bar / (sqrt(v_prime) + self.epsilon))


_BY_NAME = {
    "sgd": SGD,
    "adam": Adam,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adamax": Adamax,
    "nadam": Nadam,
}


def get(identifier: Any) -> Optimizer:
    """An optimizer from itself or its name ("sgd", "adam", "rmsprop")."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise GraphError(f"unknown optimizer {identifier!r} ({', '.join(_BY_NAME)} or an instance)")
