"""Learning-rate schedules (keras.optimizers.schedules): `schedule(step)` is
the rate after `step` updates, written with kl ops so a traced training step
reads it from the optimizer's iteration counter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..frontend.graph import GraphError
from ..frontend.namespaces import floor
from ..frontend.ops import cast, convert_to_tensor, greater, minimum, pow, where


def _step(step: Any) -> Any:
    return cast(convert_to_tensor(step), "float32")


class LearningRateSchedule:
    """A callable step -> learning rate (keras LearningRateSchedule)."""

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))


class ExponentialDecay(LearningRateSchedule):
    """initial * decay_rate ^ (step / decay_steps), the exponent floored if staircase."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ):
        if decay_steps <= 0:
            raise GraphError(f"ExponentialDecay: decay_steps must be positive, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), bool(staircase)

    def __call__(self, step):
        p = _step(step) / float(self.decay_steps)
        if self.staircase:
            p = floor(p)
        return self.initial_learning_rate * pow(convert_to_tensor(self.decay_rate), p)


class InverseTimeDecay(ExponentialDecay):
    """initial / (1 + decay_rate * step / decay_steps)."""

    def __call__(self, step):
        p = _step(step) / float(self.decay_steps)
        if self.staircase:
            p = floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (and values[-1] after the last)."""

    def __init__(self, boundaries: Sequence[float], values: Sequence[float], name: Any = None):
        if len(values) != len(boundaries) + 1:
            raise GraphError(
                f"PiecewiseConstantDecay: {len(values)} values for {len(boundaries)} "
                "boundaries (needs one more value)"
            )
        self.boundaries = [float(b) for b in boundaries]
        self.values = [float(v) for v in values]

    def __call__(self, step):
        s = _step(step)
        out = convert_to_tensor(self.values[-1])
        for b, v in reversed(list(zip(self.boundaries, self.values[:-1]))):
            out = where(greater(s, b), out, convert_to_tensor(v))
        return out


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ^ power + end, step capped."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: Any = None,
    ):
        if cycle:
            raise GraphError("PolynomialDecay: cycle=True is not supported")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.end_learning_rate, self.power = float(end_learning_rate), float(power)

    def __call__(self, step):
        s = minimum(_step(step), float(self.decay_steps))
        frac = 1.0 - s / float(self.decay_steps)
        span = self.initial_learning_rate - self.end_learning_rate
        return span * pow(frac, convert_to_tensor(self.power)) + self.end_learning_rate


__all__ = [
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]
