"""Streaming metrics (tf.metrics): each returns (value, update_op).

    acc, acc_op = kl.metrics.accuracy(labels, predictions)
    sess.run(kl.local_variables_initializer())
    for batch in ...: sess.run(acc_op, feed)     # accumulate
    sess.run(acc)                                # over every batch so far

The running totals are local variables (LOCAL_VARIABLES and
METRIC_VARIABLES), as TensorFlow's: local_variables_initializer() resets
them, a Saver leaves them out. `update_op` adds a batch and gives the
metric after it; `value` reads the totals. Ratios with a zero denominator
are 0, as TF's div_no_nan. `auc` is TF's: confusion counts at
num_thresholds thresholds and a trapezoidal ROC (or PR) curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .array_ops import expand_dims, reshape
from .dtypes import bool_, float32
from .graph import Tensor, get_default_graph
from .local import local_variable
from .ops import (
    add,
    cast,
    convert_to_tensor,
    divide,
    equal,
    greater,
    logical_and,
    logical_not,
    multiply,
    reduce_sum,
    subtract,
    where,
)

METRIC_VARIABLES = "metric_variables"


def _metric_variable(shape: list[int], name: str) -> Any:
    var = local_variable(np.zeros(shape, np.float32), name=name, dtype=float32)
    get_default_graph().add_to_collection(METRIC_VARIABLES, var)
    return var


def _div_no_nan(a: Tensor, b: Tensor) -> Tensor:
    safe = where(greater(b, 0.0), b, b * 0.0 + 1.0)
    return where(greater(b, 0.0), divide(a, safe), a * 0.0)


def _weights(weights: Any, like: Tensor) -> Tensor:
    ones = like * 0.0 + 1.0
    if weights is None:
        return ones
    return multiply(ones, cast(convert_to_tensor(weights), float32))


def _collect(
    name: str | None, value: Tensor, update: Tensor, metrics_collections, updates_collections
) -> tuple[Tensor, Tensor]:
    g = get_default_graph()
    for key in metrics_collections or ():
        g.add_to_collection(key, value)
    for key in updates_collections or ():
        g.add_to_collection(key, update)
    return value, update


def mean(
    values: Any,
    weights: Any = None,
    metrics_collections=None,
    updates_collections=None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """The (weighted) mean of every value seen (tf.metrics.mean)."""
    with get_default_graph().name_scope(name or "mean"):
        value, update = _mean(cast(convert_to_tensor(values), float32), weights)
    return _collect(name, value, update, metrics_collections, updates_collections)


def _mean(v: Tensor, weights: Any) -> tuple[Tensor, Tensor]:
    w = _weights(weights, v)
    total = _metric_variable([], "total")
    count = _metric_variable([], "count")
    add_total = total.assign_add(reduce_sum(multiply(v, w)))
    add_count = count.assign_add(reduce_sum(w))
    value = _div_no_nan(total._as_tensor(), count._as_tensor())
    return value, _div_no_nan(add_total, add_count)  # the assigns' results: the new totals


def accuracy(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections=None,
    updates_collections=None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """How often predictions equal labels (tf.metrics.accuracy)."""
    labels, predictions = convert_to_tensor(labels), convert_to_tensor(predictions)
    if labels.dtype is not predictions.dtype:
        predictions = cast(predictions, labels.dtype)
    with get_default_graph().name_scope(name or "accuracy"):
        value, update = _mean(cast(equal(labels, predictions), float32), weights)
    return _collect(name, value, update, metrics_collections, updates_collections)


def _counts(labels: Any, predictions: Any, weights: Any, kinds: list[str], name: str):
    g = get_default_graph()
    with g.name_scope(name):
        y = cast(convert_to_tensor(labels), bool_)
        p = cast(convert_to_tensor(predictions), bool_)
        w = _weights(weights, cast(y, float32))
        test = {
            "tp": logical_and(y, p),
            "fp": logical_and(logical_not(y), p),
            "fn": logical_and(y, logical_not(p)),
        }
        variables, updates = [], []
        for kind in kinds:
            var = _metric_variable(
                [], {"tp": "true_positives", "fp": "false_positives", "fn": "false_negatives"}[kind]
            )
            variables.append(var)
            updates.append(var.assign_add(reduce_sum(multiply(cast(test[kind], float32), w))))
    return variables, updates


def precision(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections=None,
    updates_collections=None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """tp / (tp + fp) over every batch seen (tf.metrics.precision)."""
    counts = _counts(labels, predictions, weights, ["tp", "fp"], name or "precision")
    return _collect(name, *_share_of_tp(*counts), metrics_collections, updates_collections)


def recall(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections=None,
    updates_collections=None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """tp / (tp + fn) over every batch seen (tf.metrics.recall)."""
    counts = _counts(labels, predictions, weights, ["tp", "fn"], name or "recall")
    return _collect(name, *_share_of_tp(*counts), metrics_collections, updates_collections)


def _share_of_tp(variables, updates) -> tuple[Tensor, Tensor]:
    """tp / (tp + other) from the two count variables, and after their updates."""
    (tp, other), (utp, uother) = variables, updates
    value = _div_no_nan(tp._as_tensor(), add(tp._as_tensor(), other._as_tensor()))
    return value, _div_no_nan(utp, add(utp, uother))


def auc(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    num_thresholds: int = 200,
    metrics_collections=None,
    updates_collections=None,
    curve: str = "ROC",
    name: str | None = None,
    summation_method: str = "trapezoidal",
    thresholds: Any = None,
) -> tuple[Tensor, Tensor]:
    """The area under the ROC (or PR) curve from confusion counts at
    num_thresholds thresholds (tf.metrics.auc, trapezoidal)."""
    eps = 1e-7
    if thresholds is None:
        inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        thresholds = [0.0 - eps, *inner, 1.0 + eps]
    n = len(thresholds)
    g = get_default_graph()
    with g.name_scope(name or "auc"):
        y = reshape(cast(convert_to_tensor(labels), bool_), [1, -1])
        p = reshape(cast(convert_to_tensor(predictions), float32), [1, -1])
        w = reshape(_weights(weights, cast(convert_to_tensor(labels), float32)), [1, -1])
        t = expand_dims(convert_to_tensor(np.asarray(thresholds, np.float32)), 1)  # [n, 1]
        above = greater(p, t)  # [n, batch]
        cases = {
            "true_positives": logical_and(above, y),
            "false_negatives": logical_and(logical_not(above), y),
            "true_negatives": logical_and(logical_not(above), logical_not(y)),
            "false_positives": logical_and(above, logical_not(y)),
        }
        counts, updates = {}, {}
        for key, test in cases.items():
            var = _metric_variable([n], key)
            counts[key] = var._as_tensor()
            updates[key] = var.assign_add(reduce_sum(multiply(cast(test, float32), w), axis=1))

        def area(c: dict) -> Tensor:
            tp, fn, tn, fp = (c[k] for k in cases)
            if curve == "PR":
                x = divide(tp + eps, tp + fp + eps)  # precision
                yv = divide(tp + eps, tp + fn + eps)  # recall
                x, yv = yv, x
            else:
                x = divide(fp, fp + tn + eps)  # false positive rate
                yv = divide(tp + eps, tp + fn + eps)  # true positive rate
            widths = subtract(x[: n - 1], x[1:])
            heights = divide(add(yv[: n - 1], yv[1:]), 2.0)
            return reduce_sum(multiply(widths, heights))

        value = area(counts)
        update = area(updates)
    return _collect(name, value, update, metrics_collections, updates_collections)


def mean_squared_error(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections=None,
    updates_collections=None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    d = subtract(
        cast(convert_to_tensor(predictions), float32), cast(convert_to_tensor(labels), float32)
    )
    with get_default_graph().name_scope(name or "mean_squared_error"):
        value, update = _mean(multiply(d, d), weights)
    return _collect(name, value, update, metrics_collections, updates_collections)


__all__ = ["accuracy", "auc", "mean", "mean_squared_error", "precision", "recall"]
