"""One extremely random tree grown online from fed batches: TensorForest's tree
(tf.contrib.tensor_forest, TF 1.15), on the host in numpy.

How it grows (TensorForest's "basic" split finish and "all_dense" Gini stats):
- every example is routed to its leaf, whose class counts grow by it;
- while the tree has room for two more nodes, a leaf is fertile: the first
  batch that reaches it draws `num_splits` candidate tests `x[f] <= t` (f a
  random feature, t that feature's value in a random example of the batch at
  the leaf), and from then on each example adds its class to the left-side
  counts of every candidate it passes;
- once a fertile leaf has seen `split_after_samples` examples it splits on the
  candidate of lowest weighted Gini impurity (class counts smoothed by 1, as
  TensorForest's), if that is below the leaf's own; the children start from
  the winner's left and right counts. Otherwise fresh candidates are drawn.

A prediction is the reached leaf's class counts, normalised. Node i's
children are `left[i]` and `left[i] + 1`; `feature[i] == -1` marks a leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...estimator.tree_ensemble import leaves


def weighted_gini(counts: np.ndarray) -> np.ndarray:
    """n * (1 - sum_k p_k^2) over the last axis, counts smoothed by 1 (TensorForest's score)."""
    smoothed = counts + 1.0
    total = smoothed.sum(-1)
    return total - (smoothed * smoothed).sum(-1) / total


class ExtremelyRandomTree:
    """A classification tree grown by `train(x, y)` calls; `predict(x)` gives
    class probabilities. Arrays grow with the tree, up to `max_nodes`."""

    def __init__(
        self,
        num_classes: int,
        features: Sequence[int],
        max_nodes: int,
        num_splits: int,
        split_after_samples: int,
        seed: int | None,
    ):
        self.num_classes = int(num_classes)
        self.features = np.asarray(features, np.int64)  # the columns candidates may test
        self.max_nodes = max(1, int(max_nodes))
        self.num_splits = max(1, int(num_splits))
        self.split_after_samples = max(1, int(split_after_samples))
        self.rng = np.random.default_rng(seed)
        self.n_nodes = 1
        self._allocate(min(self.max_nodes, 64))

    def _allocate(self, capacity: int) -> None:
        s, k = self.num_splits, self.num_classes
        grown = {
            "feature": np.full(capacity, -1, np.int64),
            "threshold": np.zeros(capacity, np.float32),
            "left": np.zeros(capacity, np.int64),
            "counts": np.zeros((capacity, k)),
            # the fertile leaves' candidates (feature -1: none drawn yet) and stats
            "cand_feature": np.full((capacity, s), -1, np.int64),
            "cand_threshold": np.zeros((capacity, s), np.float32),
            "cand_left": np.zeros((capacity, s, k), np.float32),
            "cand_total": np.zeros((capacity, k)),
            "seen": np.zeros(capacity, np.int64),
        }
        for name, array in grown.items():
            old = getattr(self, name, None)
            if old is not None:
                array[: len(old)] = old
            setattr(self, name, array)

    # ------------------------------------------------------------ inference
    def leaves(self, x: np.ndarray) -> np.ndarray:
        """The leaf each row of `x` reaches."""
        return leaves(self.feature, self.threshold, self.left, x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """[n, num_classes] class probabilities (uniform at a leaf nothing reached)."""
        counts = self.counts[self.leaves(x)]
        total = counts.sum(1, keepdims=True)
        uniform = np.full_like(counts, 1.0 / self.num_classes)
        return np.where(total > 0, counts / np.maximum(total, 1e-30), uniform)

    # ------------------------------------------------------------ training
    def train(self, x: np.ndarray, y: np.ndarray) -> None:
        """Route a batch, count it at its leaves and split the leaves that are ready."""
        if len(x) == 0:
            return
        k = self.num_classes
        leaf = self.leaves(x)
        n = self.n_nodes
        self.counts[:n] += np.bincount(leaf * k + y, minlength=n * k).reshape(n, k)
        if self.n_nodes + 2 > self.max_nodes:
            return  # full: the leaves only count
        self._draw_candidates(x, leaf)
        self._count_candidates(x, y, leaf)
        self._split_ready(np.unique(leaf))

    def _draw_candidates(self, x: np.ndarray, leaf: np.ndarray) -> None:
        order = np.argsort(leaf, kind="stable")
        reached, start, count = np.unique(leaf[order], return_index=True, return_counts=True)
        fresh = self.cand_feature[reached, 0] < 0
        if not fresh.any():
            return
        new, start, count = reached[fresh], start[fresh], count[fresh]
        s = self.num_splits
        picks = start[:, None] + (self.rng.random((len(new), s)) * count[:, None]).astype(np.int64)
        features = self.features[self.rng.integers(len(self.features), size=(len(new), s))]
        self.cand_feature[new] = features
        self.cand_threshold[new] = x[order[picks], features]
        self.cand_left[new] = 0.0
        self.cand_total[new] = 0.0
        self.seen[new] = 0

    def _count_candidates(self, x: np.ndarray, y: np.ndarray, leaf: np.ndarray) -> None:
        s, k, n = self.num_splits, self.num_classes, self.n_nodes
        rows = np.arange(len(x))[:, None]
        passes = x[rows, self.cand_feature[leaf]] <= self.cand_threshold[leaf]  # [batch, s]
        index = (leaf[:, None] * s + np.arange(s)) * k + y[:, None]
        left = np.bincount(index.ravel(), weights=passes.ravel(), minlength=n * s * k)
        self.cand_left[:n] += left.reshape(n, s, k).astype(np.float32)
        self.cand_total[:n] += np.bincount(leaf * k + y, minlength=n * k).reshape(n, k)
        self.seen[:n] += np.bincount(leaf, minlength=n)

    def _split_ready(self, reached: np.ndarray) -> None:
        ready = reached[self.seen[reached] >= self.split_after_samples]
        if len(ready) == 0:
            return
        left = self.cand_left[ready].astype(np.float64)  # [r, s, k]
        total = self.cand_total[ready]  # [r, k]
        right = total[:, None, :] - left
        score = weighted_gini(left) + weighted_gini(right)
        best = np.argmin(score, axis=1)
        pick = np.arange(len(ready))
        best_left, best_right = left[pick, best], right[pick, best]
        better = score[pick, best] < weighted_gini(total) - 1e-9
        both_sides = (best_left.sum(1) > 0) & (best_right.sum(1) > 0)
        splits = np.nonzero(better & both_sides)[0][: (self.max_nodes - self.n_nodes) // 2]
        parents = ready[splits]
        chosen_feature = self.cand_feature[parents, best[splits]]
        chosen_threshold = self.cand_threshold[parents, best[splits]]
        self.cand_feature[ready] = -1  # split or not, these leaves draw afresh
        if len(parents) == 0:
            return
        children = self.n_nodes + 2 * np.arange(len(parents))
        self.n_nodes += 2 * len(parents)
        if self.n_nodes > len(self.feature):
            self._allocate(min(self.max_nodes, max(2 * len(self.feature), self.n_nodes)))
        self.feature[parents] = chosen_feature
        self.threshold[parents] = chosen_threshold
        self.left[parents] = children
        self.counts[children] = best_left[splits]
        self.counts[children + 1] = best_right[splits]
        for node in (children, children + 1):
            self.feature[node] = -1
            self.cand_feature[node] = -1
            self.seen[node] = 0

    def size(self) -> int:
        """The number of nodes."""
        return self.n_nodes
