"""tf.contrib.tensor_forest.python.tensor_forest (TF 1.15): ForestHParams and
RandomForestGraphs, the graph API of TensorForest's random forests.

    hparams = ForestHParams(num_classes=10, num_features=784, num_trees=10,
                            max_nodes=1000).fill()
    forest = RandomForestGraphs(hparams)
    train_op = forest.training_graph(X, Y)        # each run grows the trees from the batch
    loss_op = forest.training_loss(X, Y)          # minus the average tree size, as TF's
    probs, tree_paths, variance = forest.inference_graph(X)
    init = resources.initialize_resources(resources.shared_resources())

The trees are host state (contrib/tensor_forest/tree.py), reached through host
ops as TensorFlow reaches its tree resources through kernels: the forest is a
shared resource whose create op (run by resources.initialize_resources) builds
it empty, and training or inference before that is a FailedPreconditionError.
Classification only ("all_dense" leaves, "basic" split finish); bagging
(bagging_fraction) and feature bagging (feature_bagging_fraction) as TF's.
Differences: `tree_paths` is each tree's leaf id per example ([batch,
num_trees], int32) rather than TF's JSON paths; base_random_seed 0 seeds
from the OS, as TF seeds from the clock; the forest is not saved by
tf.train.Saver. The state belongs to the graph's forest object, so every
Session of the graph shares it.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from ....frontend.dtypes import bool_, float32, int32
from ....frontend.errors import FailedPreconditionError, InvalidArgumentError
from ....frontend.graph import GraphError, Operation, Tensor, TensorShape
from ....frontend.ops import convert_to_tensor, negative
from ....frontend.strings import host_effect, host_op
from ....python.ops import resources
from ..tree import ExtremelyRandomTree


class ForestHParams:
    """A forest's hyperparameters (TF's ForestHParams, same defaults); `fill()`
    derives the rest: num_splits_to_consider = min(max(10, floor(sqrt(
    num_features))), 1000), the bagged features, num_output_columns."""

    def __init__(
        self,
        num_trees: int = 100,
        max_nodes: int = 10000,
        bagging_fraction: float = 1.0,
        num_splits_to_consider: int = 0,
        feature_bagging_fraction: float = 1.0,
        max_fertile_nodes: int = 0,  # deprecated in TF, unused
        split_after_samples: int = 250,
        valid_leaf_threshold: int = 1,
        dominate_method: str = "bootstrap",
        dominate_fraction: float = 0.99,
        model_name: str = "all_dense",
        split_finish_name: str = "basic",
        split_pruning_name: str = "none",
        prune_every_samples: int = 0,
        early_finish_check_every_samples: int = 0,
        collate_examples: bool = False,
        checkpoint_stats: bool = False,
        use_running_stats_method: bool = False,
        initialize_average_splits: bool = False,
        inference_tree_paths: bool = False,
        param_file: str | None = None,
        split_name: str = "less_or_equal",
        **kwargs: Any,
    ):
        self.num_trees = num_trees
        self.max_nodes = max_nodes
        self.bagging_fraction = bagging_fraction
        self.num_splits_to_consider = num_splits_to_consider
        self.feature_bagging_fraction = feature_bagging_fraction
        self.max_fertile_nodes = max_fertile_nodes
        self.split_after_samples = split_after_samples
        self.valid_leaf_threshold = valid_leaf_threshold
        self.dominate_method = dominate_method
        self.dominate_fraction = dominate_fraction
        self.model_name = model_name
        self.split_finish_name = split_finish_name
        self.split_pruning_name = split_pruning_name
        self.prune_every_samples = prune_every_samples
        self.early_finish_check_every_samples = early_finish_check_every_samples
        self.collate_examples = collate_examples
        self.checkpoint_stats = checkpoint_stats
        self.use_running_stats_method = use_running_stats_method
        self.initialize_average_splits = initialize_average_splits
        self.inference_tree_paths = inference_tree_paths
        self.param_file = param_file
        self.split_name = split_name
        for key, value in kwargs.items():
            setattr(self, key, value)

    def values(self) -> dict:
        return self.__dict__

    def fill(self) -> ForestHParams:
        """Set what the given values imply, as TF's fill(); returns self."""
        for required in ("num_classes", "num_features"):
            if not hasattr(self, required):
                raise GraphError(f"ForestHParams.fill: {required} must be given")
        self.regression = getattr(self, "regression", False)
        if self.regression:
            raise GraphError("ForestHParams: kiln grows classification forests only")
        if self.split_name not in ("less_or_equal",):
            raise GraphError(f"ForestHParams: split_name {self.split_name!r} is not provided")
        self.bagged_num_features = int(self.feature_bagging_fraction * self.num_features)
        self.base_random_seed = getattr(self, "base_random_seed", 0)
        self.bagged_features = None
        if self.feature_bagging_fraction < 1.0:
            pick = random.Random(self.base_random_seed or None)
            self.bagged_features = [
                sorted(pick.sample(range(self.num_features), self.bagged_num_features))
                for _ in range(self.num_trees)
            ]
        self.num_outputs = 1
        self.num_output_columns = self.num_classes + 1
        self.num_splits_to_consider = self.num_splits_to_consider or min(
            max(10, math.floor(math.sqrt(self.num_features))), 1000
        )
        return self


class _Forest:
    """The host state of a forest: its trees, or None before the create op ran."""

    def __init__(self, params: ForestHParams):
        self.params = params
        self.trees: list[ExtremelyRandomTree] | None = None
        self.bagging = None

    def create(self) -> None:
        p = self.params
        seed = p.base_random_seed
        self.trees = []
        for i in range(p.num_trees):
            features = p.bagged_features[i] if p.bagged_features else range(p.num_features)
            self.trees.append(
                ExtremelyRandomTree(
                    p.num_classes,
                    features,
                    p.max_nodes,
                    p.num_splits_to_consider,
                    p.split_after_samples,
                    seed + i if seed else None,
                )
            )
        self.bagging = np.random.default_rng(seed if seed else None)

    def ready(self, what: str) -> list[ExtremelyRandomTree]:
        if self.trees is None:
            raise FailedPreconditionError(
                f"{what}: the forest is not initialized; run "
                "resources.initialize_resources(resources.shared_resources()) first"
            )
        return self.trees

    def examples(self, x: np.ndarray, what: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.params.num_features:
            raise InvalidArgumentError(
                f"{what}: expected input data of shape [batch, {self.params.num_features}] "
                f"(num_features), got {list(x.shape)}"
            )
        return x.astype(np.float32, copy=False)

    def labels(self, y: np.ndarray, n: int, what: str) -> np.ndarray:
        y = np.asarray(y).reshape(-1)
        k = self.params.num_classes
        if len(y) != n:
            raise InvalidArgumentError(f"{what}: {n} examples but {len(y)} labels")
        ids = y.astype(np.int64)
        if np.any(ids != y) or np.any((ids < 0) | (ids >= k)):
            bad = y[(ids != y) | (ids < 0) | (ids >= k)][0]
            raise InvalidArgumentError(
                f"{what}: labels must be class ids in [0, {k}) (num_classes), got {bad}"
            )
        return ids

    def train(self, x: np.ndarray, y: np.ndarray) -> None:
        what = "RandomForestGraphs.training_graph"
        trees = self.ready(what)
        x = self.examples(x, what)
        y = self.labels(y, len(x), what)
        fraction = self.params.bagging_fraction
        for tree in trees:
            if fraction < 1.0:
                keep = self.bagging.random(len(x)) < fraction
                tree.train(x[keep], y[keep])
            else:
                tree.train(x, y)

    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        what = "RandomForestGraphs.inference_graph"
        trees = self.ready(what)
        x = self.examples(x, what)
        per_tree = np.stack([t.predict(x) for t in trees], axis=1)  # [batch, trees, classes]
        mean = per_tree.mean(1)
        variance = np.maximum(0.0, (per_tree * per_tree).mean(1) - mean * mean)
        paths = np.stack([t.leaves(x) for t in trees], axis=1)
        return [mean.astype(np.float32), paths.astype(np.int32), variance.astype(np.float32)]

    def average_size(self) -> np.ndarray:
        trees = self.ready("RandomForestGraphs.average_size")
        return np.float32(np.mean([t.size() for t in trees]))


class RandomForestGraphs:
    """Builds the graph ops that train and query a random forest (TF's
    RandomForestGraphs). Creating it registers the forest as a shared resource."""

    def __init__(
        self,
        params: ForestHParams,
        tree_configs: Any = None,
        tree_stats: Any = None,
        device_assigner: Any = None,
        variables: Any = None,
        tree_variables_class: Any = None,
        tree_graphs: Any = None,
        training: bool = True,
    ):
        if not hasattr(params, "num_splits_to_consider") or not params.num_splits_to_consider:
            params = params.fill()
        self.params = params
        self._forest = _Forest(params)
        create = host_effect("TensorForestCreate", [], self._forest.create)
        initialized = host_op(
            "TensorForestIsInitialized",
            [],
            lambda: [np.bool_(self._forest.trees is not None)],
            [(bool_, TensorShape([]))],
        )[0]
        resources.register_resource(self._forest, create, initialized)

    def get_all_resource_handles(self) -> list:
        return [self._forest]

    def _data(self, input_data: Any, what: str) -> Tensor:
        if isinstance(input_data, dict):
            raise GraphError(f"{what}: kiln's tensor_forest takes one dense tensor, not a dict")
        x = convert_to_tensor(input_data)
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise GraphError(f"{what}: input data must be numeric, got {x.dtype.name}")
        dims = x.shape.dims
        if dims is not None and (len(dims) != 2 or dims[1] not in (None, self.params.num_features)):
            raise GraphError(
                f"{what}: expected input data of shape [batch, {self.params.num_features}] "
                f"(num_features), got {x.name} of shape {x.shape}"
            )
        return x

    def training_graph(
        self,
        input_data: Any,
        input_labels: Any,
        num_trainers: int = 1,
        trainer_id: int = 0,
        **tree_kwargs: Any,
    ) -> Operation:
        """The op that routes a batch through every tree, counts it and grows the trees."""
        x = self._data(input_data, "RandomForestGraphs.training_graph")
        y = convert_to_tensor(input_labels)
        return host_effect("TensorForestTrain", [x, y], self._forest.train, name="train")

    def inference_graph(self, input_data: Any, **inference_args: Any) -> tuple:
        """(probabilities [batch, num_classes], tree_paths [batch, num_trees] leaf ids,
        variance [batch, num_classes] across the trees), as TF's tuple."""
        x = self._data(input_data, "RandomForestGraphs.inference_graph")
        batch = x.shape.dims[0] if x.shape.dims is not None else None
        k, t = self.params.num_classes, self.params.num_trees
        return tuple(
            host_op(
                "TensorForestPredict",
                [x],
                self._forest.predict,
                [
                    (float32, TensorShape([batch, k])),
                    (int32, TensorShape([batch, t])),
                    (float32, TensorShape([batch, k])),
                ],
                name="probabilities",
            )
        )

    def average_size(self) -> Tensor:
        """The mean number of nodes over the trees (float32)."""
        return host_op(
            "TensorForestSize",
            [],
            lambda: [self._forest.average_size()],
            [(float32, TensorShape([]))],
        )[0]

    def training_loss(self, features: Any, labels: Any, name: str = "training_loss") -> Tensor:
        """Minus the average tree size, as TF's (the forest has no other loss)."""
        return negative(self.average_size(), name=name)

    def validation_loss(self, features: Any, labels: Any) -> Tensor:
        return negative(self.average_size())


__all__ = ["ForestHParams", "RandomForestGraphs"]
