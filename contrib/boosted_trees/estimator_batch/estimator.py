"""tf.contrib.boosted_trees.estimator_batch.estimator (TF 1.15):
GradientBoostedDecisionTreeClassifier / Regressor, set up by a LearnerConfig.

    model = GradientBoostedDecisionTreeClassifier(
        learner_config=config, n_classes=10, examples_per_layer=1000, num_trees=10)
    model.fit(input_fn=train_input_fn, max_steps=1000)
    model.evaluate(input_fn=test_input_fn)    # {"accuracy", "loss", "global_step"}

kiln.estimator's boosted trees with tf.contrib's arguments: a layer grows
after `examples_per_layer` examples; learning rate (learning_rate_tuner.fixed,
0.1 when unset), l1 / l2 / tree_complexity, max_tree_depth (6 when unset) and
min_node_weight come from the LearnerConfig; center_bias is on by default, as
in tf.contrib; without feature_columns every feature of the input dict is
used (by name, each flattened per example); num_quantiles caps the buckets.
Differences: every growing mode grows layer by layer, and several classes
are always fitted with one tree of vector leaves (TF's DIAGONAL_HESSIAN, the
default for more than two classes); dropout and line-search learning rates,
weights and label_keys are not provided.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ....estimator import RunConfig
from ....estimator.boosted_trees import BoostedTreesEstimator, ClassifierHead, RegressorHead
from ....estimator.tree_ensemble import BoostingParams
from ....frontend.graph import GraphError
from ..proto.learner_pb2 import LearnerConfig


class _ContribEstimator(BoostedTreesEstimator):
    """tf.contrib.learn's calling conventions: fit(input_fn, steps, max_steps)."""

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        input_fn: Callable | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        monitors: Any = None,
        max_steps: int | None = None,
    ) -> _ContribEstimator:
        """Train from `input_fn` (tf.contrib.learn's fit; x / y arrays are not taken)."""
        if input_fn is None or x is not None or y is not None:
            raise GraphError(f"{type(self).__name__}.fit: give input_fn (x / y are not provided)")
        self.train(input_fn, steps=steps, max_steps=max_steps)
        return self

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        input_fn: Callable | None = None,
        feed_fn: Any = None,
        batch_size: int | None = None,
        steps: int | None = None,
        metrics: Any = None,
        name: str | None = None,
        checkpoint_path: str | None = None,
        hooks: Any = None,
    ) -> dict[str, Any]:
        """The metrics over `input_fn`'s examples (tf.contrib.learn's evaluate)."""
        if input_fn is None and callable(x):
            input_fn = x
        if input_fn is None:
            raise GraphError(f"{type(self).__name__}.evaluate: give input_fn")
        return super().evaluate(input_fn, steps=steps, checkpoint_path=checkpoint_path)

    def predict(
        self,
        x: Any = None,
        input_fn: Callable | None = None,
        batch_size: int | None = None,
        outputs: Any = None,
        as_iterable: bool = True,
        **kwargs: Any,
    ) -> Any:
        """The predictions, one example at a time (tf.contrib.learn's predict)."""
        if input_fn is None and callable(x):
            input_fn = x
        if input_fn is None:
            raise GraphError(f"{type(self).__name__}.predict: give input_fn")
        found = super().predict(input_fn, predict_keys=outputs)
        return found if as_iterable else list(found)


def _params(
    head: Any,
    config: LearnerConfig | None,
    examples_per_layer: int,
    num_trees: int | None,
    center_bias: bool,
    num_quantiles: int,
) -> BoostingParams:
    config = config if config is not None else LearnerConfig()
    if int(examples_per_layer) < 1:
        raise GraphError(f"examples_per_layer must be at least 1, got {examples_per_layer}")
    rate = config.learning_rate_tuner.fixed.learning_rate or 0.1
    return BoostingParams(
        loss=head.loss,
        n_outputs=head.n_outputs,
        n_trees=int(num_trees) if num_trees else sys.maxsize,
        max_depth=int(config.constraints.max_tree_depth or 6),
        learning_rate=float(rate),
        l1=float(config.regularization.l1),
        l2=float(config.regularization.l2),
        tree_complexity=float(config.regularization.tree_complexity),
        min_node_weight=float(config.constraints.min_node_weight),
        examples_per_layer=int(examples_per_layer),
        center_bias=bool(center_bias),
        max_buckets=max(2, int(num_quantiles)),
    )


def _check(weight_column_name: Any, label_keys: Any, feature_engineering_fn: Any) -> None:
    for name, value in [
        ("weight_column_name", weight_column_name),
        ("label_keys", label_keys),
        ("feature_engineering_fn", feature_engineering_fn),
    ]:
        if value is not None:
            raise GraphError(f"boosted trees: kiln does not provide {name} yet")


class GradientBoostedDecisionTreeClassifier(_ContribEstimator):
    """tf.contrib's GBDT classifier: logistic loss for two classes, softmax for more."""

    def __init__(
        self,
        learner_config: LearnerConfig,
        examples_per_layer: int,
        n_classes: int = 2,
        num_trees: int | None = None,
        feature_columns: Any = None,
        weight_column_name: str | None = None,
        model_dir: str | None = None,
        config: RunConfig | None = None,
        label_keys: Any = None,
        feature_engineering_fn: Any = None,
        logits_modifier_function: Any = None,
        center_bias: bool = True,
        use_core_libs: bool = False,
        output_leaf_index: bool = False,
        override_global_step_value: Any = None,
        num_quantiles: int = 100,
    ):
        _check(weight_column_name, label_keys, feature_engineering_fn)
        head = ClassifierHead(n_classes, contrib=True)
        params = _params(
            head, learner_config, examples_per_layer, num_trees, center_bias, num_quantiles
        )
        super().__init__(head, params, feature_columns, model_dir, config)


class GradientBoostedDecisionTreeRegressor(_ContribEstimator):
    """tf.contrib's GBDT regressor: squared error over label_dimension outputs."""

    def __init__(
        self,
        learner_config: LearnerConfig,
        examples_per_layer: int,
        label_dimension: int = 1,
        num_trees: int | None = None,
        feature_columns: Any = None,
        label_name: str | None = None,
        weight_column_name: str | None = None,
        model_dir: str | None = None,
        config: RunConfig | None = None,
        label_keys: Any = None,
        feature_engineering_fn: Any = None,
        logits_modifier_function: Any = None,
        center_bias: bool = True,
        use_core_libs: bool = False,
        output_leaf_index: bool = False,
        override_global_step_value: Any = None,
        num_quantiles: int = 100,
    ):
        _check(weight_column_name, label_keys, feature_engineering_fn)
        head = RegressorHead(label_dimension, contrib=True)
        params = _params(
            head, learner_config, examples_per_layer, num_trees, center_bias, num_quantiles
        )
        super().__init__(head, params, feature_columns, model_dir, config)


__all__ = ["GradientBoostedDecisionTreeClassifier", "GradientBoostedDecisionTreeRegressor"]
