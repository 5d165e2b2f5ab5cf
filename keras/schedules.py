"""Learning-rate schedules (keras.optimizers.schedules): `schedule(step)` is
the rate after `step` updates. Each class holds its configuration and calls
the TF 1.x schedule of the same formula (frontend/learning_rates.py), so a
traced training step reads the rate from the optimizer's iteration counter and
the two APIs cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..frontend import learning_rates as lr
from ..frontend.graph import GraphError


class LearningRateSchedule:
    """A callable step -> learning rate (keras LearningRateSchedule)."""

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))


def _positive(schedule: str, decay_steps: Any) -> None:
    if decay_steps <= 0:
        raise GraphError(f"{schedule}: decay_steps must be positive, got {decay_steps}")


class ExponentialDecay(LearningRateSchedule):
    """initial * decay_rate ^ (step / decay_steps), the exponent floored if staircase."""

    formula = staticmethod(lr.exponential_decay)

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ):
        _positive(type(self).__name__, decay_steps)
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase, self.name = float(decay_rate), bool(staircase), name

    def __call__(self, step):
        return self.formula(
            self.initial_learning_rate,
            step,
            self.decay_steps,
            self.decay_rate,
            staircase=self.staircase,
            name=self.name,
        )


class InverseTimeDecay(ExponentialDecay):
    """initial / (1 + decay_rate * step / decay_steps)."""

    formula = staticmethod(lr.inverse_time_decay)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (and values[-1] after the last)."""

    def __init__(self, boundaries: Sequence[float], values: Sequence[float], name: Any = None):
        self.boundaries, self.values, self.name = list(boundaries), list(values), name
        lr.check_piecewise(self.boundaries, self.values, "PiecewiseConstantDecay")

    def __call__(self, step):
        return lr.piecewise_constant(step, self.boundaries, self.values, name=self.name)


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ^ power + end, the step capped at
    decay_steps (or, with `cycle`, decay_steps grown to the next multiple past it)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: Any = None,
    ):
        _positive("PolynomialDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.end_learning_rate, self.power = float(end_learning_rate), float(power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        return lr.polynomial_decay(
            self.initial_learning_rate,
            step,
            self.decay_steps,
            self.end_learning_rate,
            power=self.power,
            cycle=self.cycle,
            name=self.name,
        )


class CosineDecay(LearningRateSchedule):
    """initial * ((1 - alpha) * 0.5 (1 + cos(pi * step / decay_steps)) + alpha), the
    step capped at decay_steps."""

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: Any = None
    ):
        _positive("CosineDecay", decay_steps)
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.alpha, self.name = float(alpha), name

    def __call__(self, step):
        return lr.cosine_decay(
            self.initial_learning_rate, step, self.decay_steps, alpha=self.alpha, name=self.name
        )


__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]
