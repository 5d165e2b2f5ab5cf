"""tf.estimator.BoostedTreesClassifier / BoostedTreesRegressor (TF 1.15 / 2.x)
over kiln's Estimator, with the ensemble grown on the host (tree_ensemble.py).

    cols = [tf.feature_column.numeric_column("x", shape=(13,))]
    est = tf.estimator.BoostedTreesClassifier(cols, n_batches_per_layer=1, n_trees=10)
    est.train(input_fn, max_steps=100)
    est.evaluate(input_fn)   # accuracy, auc, average_loss, loss, precision, recall, ...

The model is a pair of host ops, like TensorFlow's boosted-trees kernels: in
training, each run hands the batch to the ensemble (its loss at the current
ensemble comes back, and after `n_batches_per_layer` batches the growing tree
gains a layer); in evaluation and prediction, each run gives the batch's
logits, and the metrics are TensorFlow's, computed over every evaluated
example. Training ends at `max_steps` / `steps`, at the end of the input, or
when the ensemble has its `n_trees` trees (TensorFlow stops there too).

Differences: the ensemble lives on the estimator object, not in model_dir's
checkpoints (train, evaluate and predict of one estimator share it; a new
estimator on the same model_dir starts empty); bucket boundaries are set
from the first training batch (TF sketches quantiles over the data); "auc" is
the exact ROC area, not TF's 200-threshold approximation; several classes use
one tree of vector leaves (a diagonal hessian). weight_column is not provided.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .. import frontend as kf
from ..frontend.dtypes import float32, int32, int64, string
from ..frontend.errors import InvalidArgumentError, OutOfRangeError
from ..frontend.graph import GraphError, Tensor, TensorShape
from ..frontend.strings import host_effect, host_op
from . import Estimator, EstimatorSpec, ModeKeys, RunConfig
from .tree_ensemble import BoostingParams, TreeEnsemble, loss_and_derivatives


class ClassifierHead:
    """Labels, predictions and metrics of a classifier of `n_classes` classes."""

    def __init__(self, n_classes: int, contrib: bool = False):
        if int(n_classes) < 2:
            raise GraphError(f"a classifier needs n_classes >= 2, got {n_classes}")
        self.n_classes = int(n_classes)
        self.contrib = contrib  # tf.contrib.learn's keys, not tf.estimator's
        self.loss = "logistic" if self.n_classes == 2 else "softmax"
        self.n_outputs = 1 if self.n_classes == 2 else self.n_classes

    def labels(self, y: np.ndarray, n: int, what: str) -> np.ndarray:
        y = np.asarray(y).reshape(-1)
        k = self.n_classes
        if len(y) != n:
            raise InvalidArgumentError(f"{what}: {n} examples but {len(y)} labels")
        ids = y.astype(np.int64)
        bad = (ids != y) | (ids < 0) | (ids >= k)
        if bad.any():
            raise InvalidArgumentError(
                f"{what}: labels must be class ids in [0, {k}) (n_classes), got {y[bad][0]}"
            )
        return ids

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        if self.n_classes == 2:
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def prediction_types(self, batch: int | None) -> dict[str, tuple]:
        k, d = self.n_classes, self.n_outputs
        if self.contrib:
            return {
                "logits": (float32, TensorShape([batch, d])),
                "probabilities": (float32, TensorShape([batch, k])),
                "classes": (int64, TensorShape([batch])),
            }
        types = {
            "logits": (float32, TensorShape([batch, d])),
            "probabilities": (float32, TensorShape([batch, k])),
            "class_ids": (int64, TensorShape([batch, 1])),
            "classes": (string, TensorShape([batch, 1])),
            "all_class_ids": (int32, TensorShape([batch, k])),
            "all_classes": (string, TensorShape([batch, k])),
        }
        if k == 2:
            types["logistic"] = (float32, TensorShape([batch, 1]))
        return types

    def predictions(self, logits: np.ndarray) -> dict[str, np.ndarray]:
        p = self.probabilities(logits)
        ids = p.argmax(1)
        if self.contrib:
            return {"logits": logits, "probabilities": p, "classes": ids}
        names = np.array([str(i).encode() for i in range(self.n_classes)], dtype=object)
        out = {
            "logits": logits,
            "probabilities": p,
            "class_ids": ids[:, None],
            "classes": names[ids][:, None],
            "all_class_ids": np.tile(np.arange(self.n_classes), (len(ids), 1)),
            "all_classes": np.tile(names, (len(ids), 1)),
        }
        if self.n_classes == 2:
            out["logistic"] = p[:, 1:]
        return out

    def metric_keys(self) -> list[str]:
        if self.contrib:
            return ["accuracy", "loss"]
        if self.n_classes == 2:
            return [
                "accuracy",
                "accuracy_baseline",
                "auc",
                "auc_precision_recall",
                "average_loss",
                "label/mean",
                "loss",
                "precision",
                "prediction/mean",
                "recall",
            ]
        return ["accuracy", "average_loss", "loss"]

    def metrics(self, logits: np.ndarray, y: np.ndarray) -> dict[str, float]:
        losses, _, _ = loss_and_derivatives(self.loss, logits, y)
        p = self.probabilities(logits)
        predicted = p.argmax(1)
        out = {"accuracy": np.mean(predicted == y), "average_loss": losses.mean()}
        out["loss"] = out["average_loss"]
        if self.n_classes == 2 and not self.contrib:
            positive = y == 1
            chosen = predicted == 1
            out["accuracy_baseline"] = max(positive.mean(), 1.0 - positive.mean())
            out["auc"] = _roc_auc(p[:, 1], positive)
            out["auc_precision_recall"] = _pr_auc(p[:, 1], positive)
            out["label/mean"] = positive.mean()
            out["prediction/mean"] = p[:, 1].mean()
            out["precision"] = (chosen & positive).sum() / max(chosen.sum(), 1)
            out["recall"] = (chosen & positive).sum() / max(positive.sum(), 1)
        return out


class RegressorHead:
    """Labels, predictions and metrics of a regressor of `label_dimension` outputs."""

    loss = "squared"

    def __init__(self, label_dimension: int = 1, contrib: bool = False):
        self.n_outputs = int(label_dimension)
        self.contrib = contrib

    def labels(self, y: np.ndarray, n: int, what: str) -> np.ndarray:
        y = np.asarray(y, np.float64)
        if y.size != n * self.n_outputs:
            raise InvalidArgumentError(
                f"{what}: {n} examples need {n} x {self.n_outputs} (label_dimension) labels, "
                f"got shape {list(y.shape)}"
            )
        return y.reshape(n, self.n_outputs)

    def prediction_types(self, batch: int | None) -> dict[str, tuple]:
        key = "scores" if self.contrib else "predictions"
        return {key: (float32, TensorShape([batch, self.n_outputs]))}

    def predictions(self, logits: np.ndarray) -> dict[str, np.ndarray]:
        return {"scores" if self.contrib else "predictions": logits}

    def metric_keys(self) -> list[str]:
        return (
            ["loss"] if self.contrib else ["average_loss", "label/mean", "loss", "prediction/mean"]
        )

    def metrics(self, logits: np.ndarray, y: np.ndarray) -> dict[str, float]:
        average = np.mean((logits - y) ** 2)
        return {
            "average_loss": average,
            "loss": average,
            "label/mean": y.mean(),
            "prediction/mean": logits.mean(),
        }


def _roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """The area under the ROC curve: the Mann-Whitney statistic (ties count half)."""
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return 0.0
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0  # the average 1-based rank of each tie group
    ranks[order] = np.repeat(mid, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _pr_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """The area under the precision-recall curve (average precision, step-wise)."""
    if positive.sum() == 0:
        return 0.0
    order = np.argsort(-score, kind="stable")
    hits = positive[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


class _Evaluation:
    """The logits and labels of the examples evaluated so far, and their metrics."""

    def __init__(self, estimator: BoostedTreesEstimator):
        self.estimator = estimator
        self.logits: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self._result: dict | None = None

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        what = f"{type(self.estimator).__name__}.evaluate"
        logits = self.estimator._logits(x, what)
        self.logits.append(logits)
        self.labels.append(self.estimator._head.labels(y, len(logits), what))
        self._result = None

    def value(self, key: str) -> list[np.ndarray]:
        if self._result is None:
            if not self.logits:
                raise GraphError("evaluate: the input_fn gave no batches")
            self._result = self.estimator._head.metrics(
                np.concatenate(self.logits), np.concatenate(self.labels)
            )
        return [np.float32(self._result[key])]


class BoostedTreesEstimator(Estimator):
    """An Estimator whose model is a host-side boosted ensemble (the base of the
    tf.estimator and tf.contrib boosted-trees estimators)."""

    def __init__(
        self,
        head: ClassifierHead | RegressorHead,
        params: BoostingParams,
        feature_columns: Any = None,
        model_dir: str | None = None,
        config: RunConfig | None = None,
    ):
        super().__init__(self._model, model_dir=model_dir, config=config)
        self._head = head
        self._boosting = params
        self._feature_columns = list(feature_columns) if feature_columns else None
        self._ensemble: TreeEnsemble | None = None

    # ------------------------------------------------------------ host side
    def _examples(self, x: np.ndarray, what: str) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 2:
            raise InvalidArgumentError(f"{what}: expected dense features [batch, n], got {x.shape}")
        if self._ensemble is not None and x.shape[1] != self._ensemble.n_features:
            raise InvalidArgumentError(
                f"{what}: the ensemble was trained on {self._ensemble.n_features} features, "
                f"got {x.shape[1]}"
            )
        return x

    def _train_batch(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        what = f"{type(self).__name__}.train"
        x = self._examples(x, what)
        labels = self._head.labels(y, len(x), what)
        if self._ensemble is None:
            self._ensemble = TreeEnsemble(self._boosting, x.shape[1])
        if self._ensemble.finished:
            # TF's training hook stops here; the Estimator's loop ends on this error
            raise OutOfRangeError(f"{what}: the ensemble is complete")
        return [np.float32(self._ensemble.train(x, labels))]

    def _logits(self, x: np.ndarray, what: str) -> np.ndarray:
        x = self._examples(x, what)
        if self._ensemble is None:
            raise GraphError(f"{what}: the ensemble is not trained yet: call train first")
        return self._ensemble.logits(x)

    # ------------------------------------------------------------ graph side
    def _dense(self, features: Any) -> Tensor:
        """The [batch, n] float32 features: feature_columns' input layer, or (tf.contrib,
        no columns) every feature of the dict, by name, each flattened per example."""
        if self._feature_columns is not None:
            if not isinstance(features, dict):
                raise GraphError("feature_columns need the input_fn's features as a dict")
            return kf.feature_column.input_layer(features, self._feature_columns)
        items = (
            [features[k] for k in sorted(features)] if isinstance(features, dict) else [features]
        )
        blocks = []
        for t in items:
            t = kf.cast(t, kf.float32)
            dims = t.shape.dims
            if dims is None or any(d is None for d in dims[1:]):
                raise GraphError(f"{t.name}: a feature needs a known shape per example")
            blocks.append(kf.reshape(t, [-1, int(np.prod(dims[1:]))]) if len(dims) != 2 else t)
        return blocks[0] if len(blocks) == 1 else kf.concat(blocks, axis=1)

    def _model(self, features: Any, labels: Any, mode: str) -> EstimatorSpec:
        x = self._dense(features)
        batch = x.shape.dims[0] if x.shape.dims is not None else None
        if mode == ModeKeys.PREDICT:
            types = self._head.prediction_types(batch)
            what = f"{type(self).__name__}.predict"

            def predict(xs: np.ndarray) -> list[np.ndarray]:
                values = self._head.predictions(self._logits(xs, what))
                return [values[key] for key in types]

            outputs = host_op("BoostedTreesPredict", [x], predict, list(types.values()))
            return EstimatorSpec(mode, predictions=dict(zip(types, outputs)))
        if labels is None:
            raise GraphError(f"{type(self).__name__}: the input_fn must give labels to {mode}")
        if mode == ModeKeys.TRAIN:
            loss = host_op(
                "BoostedTreesTrain", [x, labels], self._train_batch, [(float32, TensorShape([]))]
            )[0]
            step = kf.train.get_global_step()
            return EstimatorSpec(mode, loss=loss, train_op=kf.group(loss, step.assign_add(1)))
        evaluation = _Evaluation(self)
        update = host_effect("BoostedTreesEvaluate", [x, labels], evaluation.add)
        metrics = {}
        for key in self._head.metric_keys():
            value = host_op(
                "BoostedTreesMetric",
                [],
                lambda key=key: evaluation.value(key),
                [(float32, TensorShape([]))],
            )[0]
            metrics[key] = (value, update)
        return EstimatorSpec(mode, eval_metric_ops=metrics)


class BoostedTreesClassifier(BoostedTreesEstimator):
    """tf.estimator.BoostedTreesClassifier: gradient-boosted trees on the logistic
    (two classes) or softmax loss; TF's arguments and defaults."""

    def __init__(
        self,
        feature_columns: Any,
        n_batches_per_layer: int,
        model_dir: str | None = None,
        n_classes: int = 2,
        weight_column: Any = None,
        label_vocabulary: Any = None,
        n_trees: int = 100,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        l1_regularization: float = 0.0,
        l2_regularization: float = 0.0,
        tree_complexity: float = 0.0,
        min_node_weight: float = 0.0,
        config: RunConfig | None = None,
        center_bias: bool = False,
        pruning_mode: str = "none",
        quantile_sketch_epsilon: float = 0.01,
        train_in_memory: bool = False,
    ):
        _unsupported(weight_column=weight_column, label_vocabulary=label_vocabulary)
        head = ClassifierHead(n_classes)
        super().__init__(
            head,
            _params(head, n_batches_per_layer, n_trees, max_depth, learning_rate,
                    l1_regularization, l2_regularization, tree_complexity, min_node_weight,
                    center_bias, quantile_sketch_epsilon),
            feature_columns,
            model_dir,
            config,
        )  # fmt: skip


class BoostedTreesRegressor(BoostedTreesEstimator):
    """tf.estimator.BoostedTreesRegressor: gradient-boosted trees on the squared
    error; TF's arguments and defaults."""

    def __init__(
        self,
        feature_columns: Any,
        n_batches_per_layer: int,
        model_dir: str | None = None,
        label_dimension: int = 1,
        weight_column: Any = None,
        n_trees: int = 100,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        l1_regularization: float = 0.0,
        l2_regularization: float = 0.0,
        tree_complexity: float = 0.0,
        min_node_weight: float = 0.0,
        config: RunConfig | None = None,
        center_bias: bool = False,
        pruning_mode: str = "none",
        quantile_sketch_epsilon: float = 0.01,
        train_in_memory: bool = False,
    ):
        _unsupported(weight_column=weight_column)
        head = RegressorHead(label_dimension)
        super().__init__(
            head,
            _params(head, n_batches_per_layer, n_trees, max_depth, learning_rate,
                    l1_regularization, l2_regularization, tree_complexity, min_node_weight,
                    center_bias, quantile_sketch_epsilon),
            feature_columns,
            model_dir,
            config,
        )  # fmt: skip


def _params(head, per_layer, n_trees, max_depth, lr, l1, l2, complexity, min_weight, center,
            epsilon) -> BoostingParams:  # fmt: skip
    if int(per_layer) < 1:
        raise GraphError(f"n_batches_per_layer must be at least 1, got {per_layer}")
    if int(max_depth) < 1:
        raise GraphError(f"max_depth must be at least 1, got {max_depth}")
    return BoostingParams(
        loss=head.loss,
        n_outputs=head.n_outputs,
        n_trees=int(n_trees) if n_trees else sys.maxsize,
        max_depth=int(max_depth),
        learning_rate=float(lr),
        l1=float(l1),
        l2=float(l2),
        tree_complexity=float(complexity),
        min_node_weight=float(min_weight),
        batches_per_layer=int(per_layer),
        center_bias=bool(center),
        max_buckets=max(2, min(256, int(round(1.0 / max(epsilon, 1e-6))))),
    )


def _unsupported(**given: Any) -> None:
    for name, value in given.items():
        if value is not None:
            raise GraphError(f"boosted trees: kiln does not provide {name} yet")


__all__ = ["BoostedTreesClassifier", "BoostedTreesRegressor", "BoostedTreesEstimator"]
