"""tf.train.ExponentialMovingAverage: shadow variables that follow variables
or tensors, as TF 1.x keeps them (batch-norm population statistics, Polyak
averaging of weights).

    ema = kl.train.ExponentialMovingAverage(decay=0.9)
    update = ema.apply([batch_mean, batch_var])    # an op: shadow -= (1 - decay) (shadow - value)
    ema.average(batch_mean)                         # the shadow variable

A variable's shadow starts at the variable's initial value, a tensor's at
zeros; `num_updates` lowers the decay early on to min(decay, (1 + n) / (10 + n));
`zero_debias` divides a tensor's average by 1 - decay^steps (TF's biased and
local_step variables beside the shadow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .dtypes import float32
from .graph import GraphError, Operation, Tensor, get_default_graph
from .ops import cast, constant, convert_to_tensor, divide, group, minimum, pow, zeros
from .variables import (
    GLOBAL_VARIABLES,
    Variable,
    get_variable_scope,
    global_variables,
    trainable_variables,
)

MOVING_AVERAGE_VARIABLES = "moving_average_variables"


def _base(value: Any) -> str:
    return value.name.rsplit(":", 1)[0]


def moving_average_variables(scope: str | None = None) -> list[Variable]:
    """The variables an ExponentialMovingAverage follows (tf.moving_average_variables)."""
    return get_default_graph().get_collection(MOVING_AVERAGE_VARIABLES, scope)


class ExponentialMovingAverage:
    """Moving averages of variables and tensors (tf.train.ExponentialMovingAverage)."""

    def __init__(
        self,
        decay: Any,
        num_updates: Any = None,
        zero_debias: bool = False,
        name: str = "ExponentialMovingAverage",
    ):
        self._decay, self._num_updates = decay, num_updates
        self._zero_debias, self.name = zero_debias, name
        self._averages: dict[int, tuple[Any, Variable]] = {}
        self._debias: dict[int, tuple[Variable, Variable]] = {}

    def apply(self, var_list: Sequence[Any] | None = None) -> Operation | None:
        """Make the shadows of `var_list` (default: the trainable variables) and
        return the op that moves each one toward its value."""
        items = list(var_list) if var_list is not None else trainable_variables()
        g = get_default_graph()
        scope = get_variable_scope().name
        for item in items:
            if id(item) in self._averages:
                raise GraphError(f"ExponentialMovingAverage: {item.name} already has an average")
            value = item if isinstance(item, Variable) else convert_to_tensor(item)
            if not value.dtype.is_floating:
                raise GraphError(
                    f"ExponentialMovingAverage: {item.name} is {value.dtype.name}; "
                    "averages need floats"
                )
            if not value.shape.is_fully_defined():
                raise GraphError(
                    f"ExponentialMovingAverage: {item.name} needs a static shape, got {value.shape}"
                )
            full = f"{scope}/{_base(item)}/{self.name}" if scope else f"{_base(item)}/{self.name}"
            with g.name_scope(None):
                if isinstance(item, Variable):
                    start = getattr(item, "initial_value", None)
                    start = item.read_value() if start is None else start
                    g.add_to_collection(MOVING_AVERAGE_VARIABLES, item)
                else:
                    start = zeros(value.shape.as_list(), dtype=value.dtype)
                avg = Variable(start, trainable=False, name=full, collections=[GLOBAL_VARIABLES])
                if self._zero_debias and not isinstance(item, Variable):
                    shape, dt = value.shape.as_list(), value.dtype
                    biased = Variable(
                        zeros(shape, dt), False, f"{full}/biased", collections=[GLOBAL_VARIABLES]
                    )
                    step = Variable(
                        constant(0.0, dtype=dt),
                        False,
                        f"{full}/local_step",
                        collections=[GLOBAL_VARIABLES],
                    )
                    self._debias[id(item)] = (biased, step)
            self._averages[id(item)] = (item, avg)
        with g.name_scope(self.name) as scope:
            decay = convert_to_tensor(self._decay, dtype=float32)
            if self._num_updates is not None:
                n = cast(convert_to_tensor(self._num_updates), float32)
                decay = minimum(decay, divide(1.0 + n, 10.0 + n))
            updates = [self._update(item, decay) for item in items]
        if g.executes_eagerly:
            return None
        with g.name_scope(None):  # the op is named as its scope, as TF's
            return g.create_op(
                "NoOp",
                [],
                name=scope[:-1],
                output_types=[],
                control_inputs=[group(*updates)],
                unique=False,
            )

    def _update(self, item: Any, decay: Tensor) -> Any:
        _, avg = self._averages[id(item)]
        value = convert_to_tensor(item)
        keep = 1.0 - cast(decay, value.dtype)
        if id(item) not in self._debias:
            return avg.assign_sub((avg - value) * keep)
        biased, step = self._debias[id(item)]
        new_biased = biased - (biased - value) * keep
        new_step = step + 1.0
        unbiased = new_biased / (1.0 - pow(cast(decay, value.dtype), new_step))
        return group(biased.assign(new_biased), step.assign(new_step), avg.assign(unbiased))

    def average(self, var: Any) -> Variable | None:
        """The shadow of `var`, or None before apply() made one (as TF)."""
        found = self._averages.get(id(var))
        return found[1] if found else None

    def average_name(self, var: Any) -> str:
        """The shadow's name (what a Saver stores it under)."""
        avg = self.average(var)
        return _base(avg) if avg is not None else f"{_base(var)}/{self.name}"

    def variables_to_restore(self, moving_avg_variables: Sequence[Variable] | None = None):
        """{checkpoint name: variable}: a Saver built on it restores each
        averaged variable from its shadow's value, the rest as they are."""
        if moving_avg_variables is None:
            moving_avg_variables = trainable_variables() + moving_average_variables()
        averaged = {id(v) for v in moving_avg_variables}
        names: dict[str, Variable] = {}
        for v in global_variables():
            if id(v) in averaged:
                names[self.average_name(v)] = v
            elif _base(v) not in names:
                names[_base(v)] = v
        return names


__all__ = ["ExponentialMovingAverage", "moving_average_variables"]
