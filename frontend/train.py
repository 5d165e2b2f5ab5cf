"""kl.train: optimizers whose update math is TensorFlow 1.x's, the global step,
learning-rate decay (and the Saver, from saver.py).

An optimizer builds its update as ordinary graph ops (Assign nodes), so
the whole training step, gradients included, is one IR function compiled
once; every update reads the values the variables had at the start of the
step, as TensorFlow's fused apply kernels do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .checkpoint import (  # noqa: F401  (kl.train.*: checkpoint bookkeeping, TF 2 checkpoints)
    Checkpoint,
    CheckpointManager,
    CheckpointState,
    checkpoint_exists,
    get_checkpoint_state,
    update_checkpoint_state,
)
from .dtypes import int64
from .gradients import gradients
from .graph import GraphError, Operation, Tensor, get_default_graph
from .learning_rates import (  # noqa: F401  (kl.train.*: learning-rate schedules)
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)
from .moving_averages import ExponentialMovingAverage  # noqa: F401  (kl.train.*)
from .ops import (
    abs,
    constant,
    convert_to_tensor,
    greater,
    group,
    maximum,
    pow,
    sign,
    sqrt,
    where,
    zeros_like,
)
from .queues import (  # noqa: F401  (kl.train.*: queue runners and input producers)
    QUEUE_RUNNERS,
    Coordinator,
    LooperThread,
    QueueRunner,
    add_queue_runner,
    batch,
    batch_join,
    input_producer,
    range_input_producer,
    shuffle_batch,
    shuffle_batch_join,
    slice_input_producer,
    start_queue_runners,
    string_input_producer,
)
from .records import (  # noqa: F401  (kl.train.*: the Example protos)
    BytesList,
    Example,
    Feature,
    Features,
    FloatList,
    Int64List,
)
from .saver import Saver, import_meta_graph, latest_checkpoint  # noqa: F401  (kl.train.*)
from .variables import GLOBAL_VARIABLES, Variable, trainable_variables

GLOBAL_STEP = "global_step"


class Optimizer:
    """The TF 1.x optimizer interface: minimize, compute_gradients, apply_gradients."""

    name = "Optimizer"

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str | None = None):
        self.learning_rate = learning_rate
        self.name = name or type(self).name
        self._slots: dict[tuple[Variable, str], Variable] = {}

    # ------------------------------------------------------------ public
    def minimize(
        self,
        loss: Any,
        global_step: Variable | None = None,
        var_list: Sequence[Variable] | None = None,
        name: str | None = None,
        **_: Any,
    ) -> Operation:
        """compute_gradients then apply_gradients; returns the training op."""
        grads_and_vars = self.compute_gradients(loss, var_list)
        if not any(g is not None for g, _ in grads_and_vars):
            names = ", ".join(v.name for _, v in grads_and_vars)
            raise GraphError(
                f"no gradients for any variable ({names}): the loss does not depend on them"
            )
        return self.apply_gradients(grads_and_vars, global_step, name)

    def compute_gradients(
        self, loss: Any, var_list: Sequence[Variable] | None = None, **_: Any
    ) -> list[tuple[Tensor | None, Variable]]:
        loss = convert_to_tensor(loss)
        variables = list(var_list) if var_list is not None else trainable_variables()
        if not variables:
            raise GraphError("no variables to optimize")
        with get_default_graph().name_scope("gradients"):
            grads = gradients(loss, [v._as_tensor() for v in variables])
        return list(zip(grads, variables))

    def apply_gradients(
        self,
        grads_and_vars: Sequence[tuple[Any, Variable]],
        global_step: Variable | None = None,
        name: str | None = None,
    ):
        pairs = [(convert_to_tensor(g), v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise GraphError("apply_gradients: every gradient is None")
        g = get_default_graph()
        with g.name_scope(name or self.name):
            self._prepare([v for _, v in pairs])
            updates = [self._apply(grad, var) for grad, var in pairs]
            updates += self._finish()
            if global_step is None:
                return group(*updates, name=name or self.name)
            with g.control_dependencies(updates):
                return global_step.assign_add(constant(1, dtype=global_step.dtype)).op

    # ------------------------------------------------------------ for subclasses
    def _prepare(self, variables: list[Variable]) -> None:
        self._lr = convert_to_tensor(self.learning_rate, dtype=variables[0].dtype)

    def _apply(self, grad: Tensor, var: Variable) -> Any:
        raise NotImplementedError

    def _finish(self) -> list[Any]:
        return []

    def _slot(self, var: Variable, slot: str, value: float) -> Variable:
        """A non-trainable variable beside `var`, named `<var>/<Optimizer>[_k]`."""
        name = f"{var.name.rsplit(':', 1)[0]}/{self.name}"
        return self._variable((var, slot), value, var.dtype, var.shape.as_list(), name)

    def get_slot(self, var: Variable, name: str) -> Variable | None:
        return self._slots.get((var, name))

    def _scalar_variable(self, name: str, value: float, like: Variable) -> Variable:
        return self._variable((None, name), value, like.dtype, None, name)

    def _variable(self, key: tuple, value: float, dtype: Any, shape: Any, name: str) -> Variable:
        """The optimizer's variable `key`, made once outside any name scope and any
        control_dependencies (TF makes slots in an init_scope: minimize() under
        control_dependencies(UPDATE_OPS) must not tie their initializers to those ops)."""
        if key not in self._slots:
            g = get_default_graph()
            with g.name_scope(None), g.control_dependencies(None):
                self._slots[key] = Variable(
                    constant(value, dtype=dtype, shape=shape), trainable=False, name=name
                )
        return self._slots[key]


class GradientDescentOptimizer(Optimizer):
    """var -= lr * grad."""

    name = "GradientDescent"

    def _apply(self, grad, var):
        return var.assign(var - self._lr * grad)


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + grad; var -= lr * accum (nesterov: var -= lr *
    (grad + momentum * accum)), as TF's ApplyMomentum."""

    name = "Momentum"

    def __init__(
        self,
        learning_rate: Any,
        momentum: float,
        use_locking: bool = False,
        name: str | None = None,
        use_nesterov: bool = False,
    ):
        super().__init__(learning_rate, use_locking, name)
        self.momentum, self.use_nesterov = momentum, use_nesterov

    def _apply(self, grad, var):
        accum = self._slot(var, "momentum", 0.0)
        new_accum = accum * self.momentum + grad
        if self.use_nesterov:
            step = grad * self._lr + new_accum * self.momentum * self._lr
        else:
            step = new_accum * self._lr
        return group(accum.assign(new_accum), var.assign(var - step))


class AdamOptimizer(Optimizer):
    """TF 1.x Adam: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; var -= lr_t m / (sqrt(v) + eps)
    (epsilon outside the square root, where TF puts it)."""

    name = "Adam"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        use_locking: bool = False,
        name: str | None = None,
    ):
        super().__init__(learning_rate, use_locking, name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def _prepare(self, variables):
        super()._prepare(variables)
        first = variables[0]
        self._beta1_power = self._scalar_variable("beta1_power", self.beta1, first)
        self._beta2_power = self._scalar_variable("beta2_power", self.beta2, first)
        self._lr_t = (
            self._lr
            * sqrt(1 - self._beta2_power._as_tensor())
            / (1 - self._beta1_power._as_tensor())
        )

    def _apply(self, grad, var):
        m = self._slot(var, "m", 0.0)
        v = self._slot(var, "v", 0.0)
        new_m = m * self.beta1 + grad * (1 - self.beta1)
        new_v = v * self.beta2 + grad * grad * (1 - self.beta2)
        update = self._lr_t * new_m / (sqrt(new_v) + self.epsilon)
        return group(m.assign(new_m), v.assign(new_v), var.assign(var - update))

    def _finish(self):
        return [
            self._beta1_power.assign(self._beta1_power * self.beta1),
            self._beta2_power.assign(self._beta2_power * self.beta2),
        ]


class RMSPropOptimizer(Optimizer):
    """TF 1.x RMSProp: ms = decay ms + (1 - decay) g^2 (ms starts at 1);
    mom = momentum mom + lr g / sqrt(ms + eps); var -= mom."""

    name = "RMSProp"

    def __init__(
        self,
        learning_rate: Any,
        decay: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str | None = None,
    ):
        super().__init__(learning_rate, use_locking, name)
        self.decay, self.momentum, self.epsilon, self.centered = decay, momentum, epsilon, centered

    def _apply(self, grad, var):
        ms = self._slot(var, "rms", 1.0)
        mom = self._slot(var, "momentum", 0.0)
        new_ms = ms * self.decay + grad * grad * (1 - self.decay)
        denom = new_ms
        updates = [ms.assign(new_ms)]
        if self.centered:
            mg = self._slot(var, "mg", 0.0)
            new_mg = mg * self.decay + grad * (1 - self.decay)
            denom = new_ms - new_mg * new_mg
            updates.append(mg.assign(new_mg))
        new_mom = mom * self.momentum + self._lr * grad / sqrt(denom + self.epsilon)
        return group(*updates, mom.assign(new_mom), var.assign(var - new_mom))


class AdagradOptimizer(Optimizer):
    """accum += g^2; var -= lr g / sqrt(accum) (accum starts at 0.1, as TF)."""

    name = "Adagrad"

    def __init__(
        self,
        learning_rate: Any,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str | None = None,
    ):
        super().__init__(learning_rate, use_locking, name)
        self.initial = initial_accumulator_value

    def _apply(self, grad, var):
        accum = self._slot(var, "accumulator", self.initial)
        new_accum = accum + grad * grad
        return group(accum.assign(new_accum), var.assign(var - self._lr * grad / sqrt(new_accum)))


class AdadeltaOptimizer(Optimizer):
    """TF 1.x Adadelta: accum = rho accum + (1 - rho) g^2; update =
    sqrt(accum_update + eps) / sqrt(accum + eps) g; accum_update = rho
    accum_update + (1 - rho) update^2; var -= lr update."""

    name = "Adadelta"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-8,
        use_locking: bool = False,
        name: str | None = None,
    ):
        super().__init__(learning_rate, use_locking, name)
        self.rho, self.epsilon = rho, epsilon

    def _apply(self, grad, var):
        accum = self._slot(var, "accum", 0.0)
        accum_update = self._slot(var, "accum_update", 0.0)
        new_accum = accum * self.rho + grad * grad * (1 - self.rho)
        update = sqrt(accum_update + self.epsilon) / sqrt(new_accum + self.epsilon) * grad
        new_update = accum_update * self.rho + update * update * (1 - self.rho)
        return group(
            accum.assign(new_accum),
            accum_update.assign(new_update),
            var.assign(var - self._lr * update),
        )


class FtrlOptimizer(Optimizer):
    """TF 1.x FTRL-Proximal (McMahan et al. 2013), as TF's ApplyFtrl:
    n' = n + g^2; z += g - (n'^-p - n^-p) / lr var (p = learning_rate_power);
    var = (sign(z) l1 - z) / (n'^-p / lr + 2 l2) where |z| > l1, else 0."""

    name = "Ftrl"

    def __init__(
        self,
        learning_rate: Any,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        use_locking: bool = False,
        name: str | None = None,
        accum_name: str | None = None,
        linear_name: str | None = None,
        l2_shrinkage_regularization_strength: float = 0.0,
    ):
        super().__init__(learning_rate, use_locking, name)
        if learning_rate_power > 0 or initial_accumulator_value < 0:
            raise GraphError(
                "FtrlOptimizer: learning_rate_power must be <= 0 and initial_accumulator_value >= 0"
            )
        if l2_shrinkage_regularization_strength:
            raise GraphError("FtrlOptimizer: l2_shrinkage_regularization_strength is not supported")
        self.power, self.initial = learning_rate_power, initial_accumulator_value
        self.l1, self.l2 = l1_regularization_strength, l2_regularization_strength

    def _apply(self, grad, var):
        accum = self._slot(var, "accum", self.initial)
        linear = self._slot(var, "linear", 0.0)
        new_accum = accum + grad * grad
        p = -self.power
        sigma = (pow(new_accum, p) - pow(accum._as_tensor(), p)) / self._lr
        new_linear = linear + grad - sigma * var
        quadratic = pow(new_accum, p) / self._lr + 2 * self.l2
        shrunk = (sign(new_linear) * self.l1 - new_linear) / quadratic
        new_var = where(greater(abs(new_linear), self.l1), shrunk, zeros_like(shrunk))
        return group(accum.assign(new_accum), linear.assign(new_linear), var.assign(new_var))


class ProximalGradientDescentOptimizer(Optimizer):
    """A gradient step then the l1/l2 proximal map (TF's ApplyProximalGradientDescent):
    v = var - lr g; var = sign(v) max(|v| - lr l1, 0) / (1 + lr l2)."""

    name = "ProximalGradientDescent"

    def __init__(
        self,
        learning_rate: Any,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        use_locking: bool = False,
        name: str | None = None,
    ):
        super().__init__(learning_rate, use_locking, name)
        self.l1, self.l2 = l1_regularization_strength, l2_regularization_strength

    def _apply(self, grad, var):
        v = var - self._lr * grad
        shrunk = maximum(abs(v) - self._lr * self.l1, 0.0)
        return var.assign(sign(v) * shrunk / (1.0 + self._lr * self.l2))


# ------------------------------------------------------------------ global step, decay


def get_global_step(graph: Any = None) -> Variable | None:
    items = (graph or get_default_graph()).get_collection(GLOBAL_STEP)
    return items[0] if items else None


def get_or_create_global_step(graph: Any = None) -> Variable:
    """The graph's int64 step counter (non-trainable), made on first use."""
    g = graph or get_default_graph()
    step = get_global_step(g)
    if step is None:
        with g.as_default(), g.name_scope(None):
            step = Variable(
                constant(0, dtype=int64),
                trainable=False,
                name="global_step",
                collections=[GLOBAL_VARIABLES, GLOBAL_STEP],
            )
    return step


create_global_step = get_or_create_global_step
