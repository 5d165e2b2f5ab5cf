"""tf.contrib.boosted_trees.proto.learner_pb2: LearnerConfig, the message that
configures tf.contrib's boosted trees, as a plain-Python stand-in.

    config = learner_pb2.LearnerConfig()
    config.learning_rate_tuner.fixed.learning_rate = 0.1
    config.regularization.l2 = 1.0
    config.constraints.max_tree_depth = 6
    config.growing_mode = learner_pb2.LearnerConfig.LAYER_BY_LAYER

The fields and enum values are learner.proto's (TF 1.15). As with a protobuf
message, nested messages exist from the start, unset scalars read as 0, and
assigning a field that the message lacks is an AttributeError.
"""

from __future__ import annotations

from typing import Any


class _Message:
    """A message of fixed fields: scalars default to 0 (or 0.0), messages to empty ones."""

    _fields: dict[str, Any] = {}

    def __init__(self, **values: Any):
        for name, default in self._fields.items():
            object.__setattr__(self, name, default() if isinstance(default, type) else default)
        for name, value in values.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        if isinstance(self._fields[name], type):
            raise AttributeError(
                f"{type(self).__name__}.{name} is a message: set its fields instead"
            )
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class TreeRegularizationConfig(_Message):
    _fields = {"l1": 0.0, "l2": 0.0, "tree_complexity": 0.0}


class TreeConstraintsConfig(_Message):
    _fields = {"max_tree_depth": 0, "min_node_weight": 0.0}


class LearningRateFixedConfig(_Message):
    _fields = {"learning_rate": 0.0}


class LearningRateLineSearchConfig(_Message):
    _fields = {"max_learning_rate": 0.0, "num_steps": 0}


class LearningRateDropoutDrivenConfig(_Message):
    _fields = {"dropout_probability": 0.0, "probability_of_skipping_dropout": 0.0,
               "learning_rate": 0.0}  # fmt: skip


class LearningRateConfig(_Message):
    _fields = {
        "fixed": LearningRateFixedConfig,
        "dropout": LearningRateDropoutDrivenConfig,
        "line_search": LearningRateLineSearchConfig,
    }


class AveragingConfig(_Message):
    _fields = {"average_last_n_trees": 0.0, "average_last_percent_trees": 0.0}


class LearnerConfig(_Message):
    """learner.proto's LearnerConfig, with its enums as class constants."""

    PRUNING_MODE_UNSPECIFIED, PRE_PRUNE, POST_PRUNE = 0, 1, 2
    GROWING_MODE_UNSPECIFIED, WHOLE_TREE, LAYER_BY_LAYER = 0, 1, 2
    MULTI_CLASS_STRATEGY_UNSPECIFIED, TREE_PER_CLASS, FULL_HESSIAN, DIAGONAL_HESSIAN = 0, 1, 2, 3

    _fields = {
        "num_classes": 0,
        "feature_fraction_per_tree": 0.0,
        "feature_fraction_per_level": 0.0,
        "regularization": TreeRegularizationConfig,
        "constraints": TreeConstraintsConfig,
        "pruning_mode": 0,
        "growing_mode": 0,
        "learning_rate_tuner": LearningRateConfig,
        "multi_class_strategy": 0,
        "averaging_config": AveragingConfig,
    }


__all__ = [
    "AveragingConfig",
    "LearnerConfig",
    "LearningRateConfig",
    "LearningRateDropoutDrivenConfig",
    "LearningRateFixedConfig",
    "LearningRateLineSearchConfig",
    "TreeConstraintsConfig",
    "TreeRegularizationConfig",
]
