"""What model.compile gives a custom `train_step(self, data)`, as Keras 2 does:
`self.compiled_loss(y, y_pred, regularization_losses=self.losses)` and
`self.compiled_metrics.update_state(y, y_pred)`, with `self.metrics` the
loss tracker and the compiled metrics as stateful Metric objects.

(Keras's own names: keras/engine/compile_utils.py's LossesContainer and
MetricsContainer.) Each compiled metric is the batch function model.compile
already makes (a batch mean), accumulated weighted by the batch size, so the
epoch value equals the per-example mean the built-in fit reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..frontend.array_ops import shape
from ..frontend.dtypes import float32
from ..frontend.graph import GraphError
from ..frontend.ops import add_n, cast, convert_to_tensor, ones_like, reduce_sum
from .metrics import Mean, Metric, _computing


def _batch_size(y_pred: Any) -> Any:
    t = convert_to_tensor(y_pred)
    if t.shape.ndims == 0:
        return 1.0
    dims = t.shape.as_list() if t.shape.ndims is not None else None
    if dims and dims[0] is not None:
        return float(dims[0])
    if dims and None not in dims[1:]:  # a symbolic batch: count elements (no shape kernel)
        per_row = float(np.prod(dims[1:], dtype=np.float64))
        return reduce_sum(ones_like(cast(t, float32))) / per_row
    return cast(shape(t)[0], float32)


class CompiledMetric(Metric):
    """One compiled metric: batch means of `fn`, weighted by the batch size."""

    def __init__(self, name: str, fn: Callable, finish: Callable | None = None):
        super().__init__(name)
        self._fn, self._finish = fn, finish

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        with _computing():
            value = cast(convert_to_tensor(self._fn(y_true, y_pred)), float32)
            n = _batch_size(y_pred)
            self.total.assign_add(value * n)
            self.count.assign_add(n if isinstance(n, float) else n + 0.0)

    def finish(self, mean: Any) -> Any:
        return mean if self._finish is None else self._finish(mean)


class LossesContainer:
    """`self.compiled_loss`: the compiled loss plus any regularization losses,
    tracked by a Mean named "loss" (the first of model.metrics)."""

    def __init__(self, loss: Any):
        self._loss = loss
        self.metric = Mean(name="loss")

    def __call__(
        self,
        y_true: Any,
        y_pred: Any,
        sample_weight: Any = None,
        regularization_losses: Any = None,
    ) -> Any:
        if self._loss is None:
            raise GraphError("compiled_loss: model.compile was given no loss")
        loss = (
            self._loss(y_true, y_pred)
            if sample_weight is None
            else self._loss(y_true, y_pred, sample_weight)
        )
        extra = [convert_to_tensor(r) for r in (regularization_losses or [])]
        total = add_n([loss, *extra]) if extra else loss
        self.metric.update_state(total, sample_weight=_batch_size(y_pred))
        return total

    @property
    def metrics(self) -> list[Metric]:
        return [self.metric]


class MetricsContainer:
    """`self.compiled_metrics`: update_state updates every compiled metric."""

    def __init__(self, metrics: list[CompiledMetric]):
        self.metrics = list(metrics)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        for m in self.metrics:
            m.update_state(y_true, y_pred, sample_weight)

    def reset_state(self) -> None:
        for m in self.metrics:
            m.reset_states()
