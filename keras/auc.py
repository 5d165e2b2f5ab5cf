"""keras.metrics.AUC: the area under the ROC or precision-recall curve,
TensorFlow's way: confusion counts at `num_thresholds` thresholds spread over
[0, 1] (plus one just below 0 and one just above 1), accumulated over
batches, and a Riemann sum of the curve through them ("interpolation":
trapezoids for ROC, the Davis & Goadrich interpolation for PR).

Counts update with kl ops (so update_state works eagerly and inside a
kl.function); result() reads them and sums in numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..frontend.array_ops import stack
from ..frontend.dtypes import float32
from ..frontend.eager import EagerVariable, eager_mode, init_scope
from ..frontend.graph import GraphError
from ..frontend.ops import (
    cast,
    constant,
    convert_to_tensor,
    expand_dims,
    greater,
    reduce_mean,
    reduce_sum,
    reshape,
)
from .metrics import Metric, _computing, _float

EPSILON = 1e-7


class AUC(Metric):
    """Area under the ROC (curve="ROC") or PR (curve="PR") curve of binary labels."""

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Any = None,
        **_: Any,
    ):
        if curve.upper() not in ("ROC", "PR"):
            raise GraphError(f"AUC: curve must be ROC or PR, got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise GraphError(f"AUC: unknown summation_method {summation_method!r}")
        self.curve, self.summation_method = curve.upper(), summation_method
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
        else:
            if num_thresholds < 2:
                raise GraphError("AUC: num_thresholds must be at least 2")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON], np.float32)
        super().__init__(name or "auc", dtype)
        n = len(self.thresholds)
        with init_scope(), eager_mode():
            self.counts = {
                k: EagerVariable(np.zeros(n, np.float32), trainable=False, name=f"{self.name}/{k}")
                for k in ("tp", "fp", "tn", "fn")
            }

    @property
    def variables(self):
        return list(self.counts.values())

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        with _computing():
            p = reshape(_float(y_pred), [-1, 1])
            t = reshape(cast(greater(_float(y_true), 0.5), float32), [-1, 1])
            w = 1.0
            if sample_weight is not None:
                w = reshape(cast(convert_to_tensor(sample_weight), float32), [-1, 1])
            above = cast(greater(p, expand_dims(constant(self.thresholds), 0)), float32)
            below = 1.0 - above
            self.counts["tp"].assign_add(reduce_sum(above * t * w, axis=0))
            self.counts["fp"].assign_add(reduce_sum(above * (1.0 - t) * w, axis=0))
            self.counts["tn"].assign_add(reduce_sum(below * (1.0 - t) * w, axis=0))
            self.counts["fn"].assign_add(reduce_sum(below * t * w, axis=0))

    def batch_counts(self, y_true: Any, y_pred: Any) -> Any:
        """The batch's confusion counts per threshold, as fractions of the batch
        (tp, fp, tn, fn stacked: [4, thresholds]). model.compile's form of AUC: the
        batch-size-weighted mean of these over an epoch is the epoch's counts over
        the number of examples, and the curve is the same for counts at any scale."""
        p = reshape(_float(y_pred), [-1, 1])
        t = reshape(cast(greater(_float(y_true), 0.5), float32), [-1, 1])
        above = cast(greater(p, expand_dims(constant(self.thresholds), 0)), float32)
        below = 1.0 - above
        parts = [above * t, above * (1.0 - t), below * (1.0 - t), below * t]
        return stack([reduce_mean(x, axis=0) for x in parts])

    def area_of_counts(self, counts: Any) -> float:
        """The area under the curve through `counts` ([4, thresholds], batch_counts')."""
        tp, fp, tn, fn = np.asarray(counts, np.float64)
        return self._area(tp, fp, tn, fn)

    def result(self) -> Any:
        with _computing():
            tp, fp, tn, fn = (
                np.asarray(self.counts[k].numpy(), np.float64) for k in ("tp", "fp", "tn", "fn")
            )
            return constant(np.float32(self._area(tp, fp, tn, fn)))

    def _area(self, tp, fp, tn, fn) -> float:
        def div(a, b):
            return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[:-1] - tp[1:]
            p = tp + fp
            dp = p[:-1] - p[1:]
            slope = div(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            both = (p[:-1] > 0) & (p[1:] > 0)
            ratio = np.where(both, div(p[:-1], np.maximum(p[1:], 0)), np.ones_like(p[1:]))
            inc = div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
            return float(inc.sum())
        recall = div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = div(fp, fp + tn), recall
        else:
            x, y = recall, div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def reset_states(self) -> None:
        with _computing():
            for v in self.variables:
                v.assign(np.zeros(len(self.thresholds), np.float32))

    reset_state = reset_states
