"""Gradient-boosted decision trees grown layer by layer from fed batches, on the
host in numpy: the learner behind tf.estimator.BoostedTreesClassifier /
BoostedTreesRegressor and tf.contrib.boosted_trees' estimators.

How it learns (TensorFlow's boosted trees, TF 1.15 / 2.x):
- features are bucketed: the first batch fixes, per feature, up to
  `max_buckets` thresholds (its distinct values, or its quantiles), and a
  split is `x[f] <= threshold`;
- each batch adds its examples' gradient and hessian of the loss (softmax or
  logistic cross-entropy, or squared error) at the current ensemble's logits,
  with the leaf of the growing tree they reach, to the layer's statistics;
- after `examples_per_layer` examples (tf.contrib) or `batches_per_layer`
  batches (tf.estimator) the layer grows: each leaf of the last layer splits
  where the gain sum_k [S(G_L) + S(G_R) - S(G)] - tree_complexity is largest
  and positive, S(G) = soft_threshold(G, l1)^2 / (H + l2) per logit
  (a diagonal hessian for several classes); a child's value is its parent's
  plus learning_rate * -soft_threshold(G, l1) / (H + l2);
- a tree ends at max_depth or when no leaf splits; training ends after
  n_trees trees (or when a new tree's root cannot split).
With center_bias the first batch first sets the bias to its Newton step.
Deterministic: the same batches give the same ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

HIST_BUDGET = 1 << 22  # histogram cells per chunk of leaves (memory bound)


def leaves(feature: np.ndarray, threshold: np.ndarray, left: np.ndarray, x: np.ndarray):
    """The leaf each row of `x` reaches in a tree stored as arrays: node i is a leaf
    when feature[i] < 0, else x[feature] <= threshold goes to left[i], the rest to
    left[i] + 1 (this ensemble's trees and tf.contrib.tensor_forest's)."""
    node = np.zeros(len(x), np.int64)
    rows = np.arange(len(x))
    while True:
        inner = np.nonzero(feature[node] >= 0)[0]
        if len(inner) == 0:
            return node
        at = node[inner]
        node[inner] = left[at] + (x[rows[inner], feature[at]] > threshold[at])


@dataclass
class Tree:
    """A binary tree: node i is a leaf when feature[i] < 0, else its children are
    left[i] (x[feature] <= threshold) and left[i] + 1; value[i] is its logits' share."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    value: np.ndarray

    @classmethod
    def root(cls, n_outputs: int) -> Tree:
        return cls(
            np.full(1, -1, np.int64),
            np.zeros(1, np.float32),
            np.zeros(1, np.int64),
            np.zeros((1, n_outputs)),
        )

    def leaves(self, x: np.ndarray) -> np.ndarray:
        return leaves(self.feature, self.threshold, self.left, x)

    def split(self, parents, features, thresholds, left_values, right_values) -> np.ndarray:
        """Give each parent two children; returns the left children's ids."""
        n, m = len(self.feature), len(parents)
        children = n + 2 * np.arange(m)
        self.feature = np.concatenate([self.feature, np.full(2 * m, -1, np.int64)])
        self.threshold = np.concatenate([self.threshold, np.zeros(2 * m, np.float32)])
        self.left = np.concatenate([self.left, np.zeros(2 * m, np.int64)])
        values = np.empty((2 * m, self.value.shape[1]))
        values[0::2], values[1::2] = left_values, right_values
        self.value = np.concatenate([self.value, values])
        self.feature[parents] = features
        self.threshold[parents] = thresholds
        self.left[parents] = children
        return children


# ------------------------------------------------------------------ losses


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def loss_and_derivatives(kind: str, logits: np.ndarray, y: np.ndarray):
    """Per-example loss, and the gradient and (diagonal) hessian of it by the logits."""
    if kind == "softmax":
        p = _softmax(logits)
        onehot = np.eye(logits.shape[1])[y]
        loss = -np.log(np.maximum(p[np.arange(len(y)), y], 1e-30))
        return loss, p - onehot, p * (1.0 - p)
    if kind == "logistic":
        f = logits[:, 0]
        p = 1.0 / (1.0 + np.exp(-f))
        loss = np.maximum(f, 0) - f * y + np.log1p(np.exp(-np.abs(f)))
        return loss, (p - y)[:, None], (p * (1.0 - p))[:, None]
    residual = logits - y  # squared
    return (residual * residual).sum(1), residual, np.ones_like(residual)


@dataclass
class BoostingParams:
    """What tf.estimator's and tf.contrib's boosted-trees settings come down to."""

    loss: str  # "softmax", "logistic" or "squared"
    n_outputs: int
    n_trees: int = 100
    max_depth: int = 6
    learning_rate: float = 0.1
    l1: float = 0.0
    l2: float = 0.0
    tree_complexity: float = 0.0
    min_node_weight: float = 0.0
    examples_per_layer: int | None = None  # tf.contrib: grow after this many examples
    batches_per_layer: int | None = None  # tf.estimator: ... or after this many batches
    center_bias: bool = False
    max_buckets: int = 64


@dataclass
class _Layer:
    """The statistics the current layer has gathered."""

    bins: list = field(default_factory=list)
    slots: list = field(default_factory=list)
    grads: list = field(default_factory=list)
    hess: list = field(default_factory=list)
    examples: int = 0
    batches: int = 0


class TreeEnsemble:
    """The boosted ensemble and its training state (see the module docstring)."""

    def __init__(self, params: BoostingParams, n_features: int):
        self.params = params
        self.n_features = int(n_features)
        self.bias = np.zeros(params.n_outputs)
        self.trees: list[Tree] = []
        self.finished = False
        self.boundaries: list[np.ndarray] | None = None
        self._centered = not params.center_bias
        self._frontier = np.zeros(0, np.int64)  # the growing tree's newest leaves
        self._depth = 0
        self._layer = _Layer()

    # ------------------------------------------------------------ inference
    def logits(self, x: np.ndarray) -> np.ndarray:
        out = np.tile(self.bias, (len(x), 1))
        for tree in self.trees:
            out += tree.value[tree.leaves(x)]
        return out

    # ------------------------------------------------------------ buckets
    def _fix_boundaries(self, x: np.ndarray) -> None:
        b = self.params.max_buckets
        self.boundaries, columns = [], []
        for f, column in enumerate(x.T):
            values = np.unique(column)
            if len(values) > b:
                values = np.unique(np.quantile(column, np.linspace(0, 1, b + 1)[1:]))
            if len(values) > 1:  # a feature constant in the first batch is never split on
                self.boundaries.append(values[:-1].astype(np.float32))  # x <= t below the max
                columns.append(f)
        if not columns:  # nothing to split on: one dummy column keeps the arrays well formed
            self.boundaries, columns = [np.zeros(0, np.float32)], [0]
        self._columns = np.array(columns)
        sizes = np.array([len(t) + 1 for t in self.boundaries])
        self._sizes = sizes
        self._offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._n_bins = int(sizes.sum())
        self._feature_of_bin = np.repeat(np.arange(len(sizes)), sizes)
        last = self._offset + sizes - 1  # its right side would be empty
        self._splittable = np.ones(self._n_bins, bool)
        self._splittable[last] = False

    def _bucket(self, x: np.ndarray) -> np.ndarray:
        bins = np.empty((len(x), len(self._columns)), np.int64)
        for i, (f, t) in enumerate(zip(self._columns, self.boundaries)):
            bins[:, i] = np.searchsorted(t, x[:, f], side="left")
        return bins + self._offset

    # ------------------------------------------------------------ training
    def train(self, x: np.ndarray, y: np.ndarray) -> float:
        """One batch: its mean loss at the current ensemble, then its statistics."""
        p = self.params
        if self.boundaries is None:
            self._fix_boundaries(x)
        logits = self.logits(x)
        loss, g, h = loss_and_derivatives(p.loss, logits, y)
        if not self._centered:
            self.bias += -_shrink(g.sum(0), p.l1) / np.maximum(h.sum(0) + p.l2, 1e-12)
            self._centered = True
            loss, g, h = loss_and_derivatives(p.loss, self.logits(x), y)
        if self.finished or len(x) == 0:
            return float(loss.mean()) if len(x) else 0.0
        if not self.trees:
            self._new_tree()
        node = self.trees[-1].leaves(x)
        slot = np.minimum(np.searchsorted(self._frontier, node), len(self._frontier) - 1)
        keep = self._frontier[slot] == node  # examples at older leaves add nothing
        layer = self._layer
        layer.bins.append(self._bucket(x[keep]))
        layer.slots.append(slot[keep])
        layer.grads.append(g[keep])
        layer.hess.append(h[keep])
        layer.examples += len(x)
        layer.batches += 1
        if (p.examples_per_layer and layer.examples >= p.examples_per_layer) or (
            p.batches_per_layer and layer.batches >= p.batches_per_layer
        ):
            self._grow_layer()
        return float(loss.mean())

    def _new_tree(self) -> None:
        self.trees.append(Tree.root(self.params.n_outputs))
        self._frontier = np.zeros(1, np.int64)
        self._depth = 0

    def _grow_layer(self) -> None:
        layer, self._layer = self._layer, _Layer()
        bins = np.concatenate(layer.bins)
        slots = np.concatenate(layer.slots)
        grads, hess = np.concatenate(layer.grads), np.concatenate(layer.hess)
        tree = self.trees[-1]
        best = self._best_splits(bins, slots, grads, hess)
        grown = [s for s in best if s is not None]
        if grown:
            lr = self.params.learning_rate
            parents = np.array([self._frontier[s[0]] for s in grown])
            base = tree.value[parents]
            children = tree.split(
                parents,
                np.array([s[1] for s in grown]),
                np.array([s[2] for s in grown], np.float32),
                base + lr * np.array([s[3] for s in grown]),
                base + lr * np.array([s[4] for s in grown]),
            )
            self._frontier = np.sort(np.concatenate([children, children + 1]))
            self._depth += 1
        if not grown and len(tree.feature) == 1:  # a new tree's root found no split
            self.trees.pop()
            self.finished = True
        elif not grown or self._depth >= self.params.max_depth:
            if len(self.trees) >= self.params.n_trees:
                self.finished = True
            else:
                self._new_tree()

    def _best_splits(self, bins, slots, grads, hess) -> list:
        """Per frontier leaf: None, or (slot, feature, threshold, left step, right step)."""
        n_slots = len(self._frontier)
        out: list = [None] * n_slots
        # a leaf whose examples all have one gradient and hessian has no split of positive
        # gain (S is convex in the example count): such leaves, and leaves with fewer
        # than two examples, are not searched
        stats = np.concatenate([grads, hess], axis=1)
        lo = np.full((n_slots, stats.shape[1]), np.inf)
        hi = np.full((n_slots, stats.shape[1]), -np.inf)
        np.minimum.at(lo, slots, stats)
        np.maximum.at(hi, slots, stats)
        varied = np.nonzero((hi - lo > 1e-12 * np.maximum(1.0, np.abs(hi))).any(1))[0]
        if len(varied) == 0:
            return out
        search = np.full(n_slots, -1)
        search[varied] = np.arange(len(varied))
        keep = search[slots] >= 0
        local = search[slots[keep]]
        order = np.argsort(local, kind="stable")
        bins, local = bins[keep][order], local[order]
        grads, hess = grads[keep][order], hess[keep][order]
        starts = np.searchsorted(local, np.arange(len(varied) + 1))
        chunk = max(1, HIST_BUDGET // (self._n_bins * (2 * self.params.n_outputs + 1)))
        for first in range(0, len(varied), chunk):
            last = min(len(varied), first + chunk)
            a, b = starts[first], starts[last]
            found = self._chunk_splits(
                bins[a:b], local[a:b] - first, grads[a:b], hess[a:b], last - first
            )
            for i, split in found:
                slot = varied[first + i]
                out[slot] = (slot, *split)
        return out

    def _chunk_splits(self, bins, local, grads, hess, n):
        p, nb, k = self.params, self._n_bins, self.params.n_outputs
        m, width = bins.shape
        # one sparse product gives every (leaf, bin) sum of gradients, hessians and counts
        onehot = scipy.sparse.csr_matrix(
            (
                np.ones(m * width),
                (local[:, None] * nb + bins).ravel(),
                np.arange(0, m * width + 1, width),
            ),
            shape=(m, n * nb),
        )
        stats = np.concatenate([grads, hess, np.ones((m, 1))], axis=1)
        hist = np.asarray(onehot.T @ stats).reshape(n, nb, 2 * k + 1)
        left = self._left_sums(hist)  # [n, bins, 2k + 1]
        total = self._totals(hist)  # [n, 1, 2k + 1]
        right = total - left
        lg, lh, rg, rh = left[..., :k], left[..., k : 2 * k], right[..., :k], right[..., k : 2 * k]
        gain = (
            _score(lg, lh, p.l1, p.l2)
            + _score(rg, rh, p.l1, p.l2)
            - _score(total[..., :k], total[..., k : 2 * k], p.l1, p.l2)
        ).sum(-1)
        valid = self._splittable & (left[..., -1] > 0) & (right[..., -1] > 0)
        valid &= (lh >= p.min_node_weight).all(-1) & (rh >= p.min_node_weight).all(-1)
        gain = np.where(valid, gain, -np.inf)
        best = np.argmax(gain, axis=1)
        best_gain = gain[np.arange(n), best]
        ok = np.isfinite(best_gain) & (best_gain > p.tree_complexity + 1e-9)
        for i in np.nonzero(ok)[0]:
            j = best[i]
            f = self._feature_of_bin[j]
            threshold = self.boundaries[f][j - self._offset[f]]
            yield (
                i,
                (
                    int(self._columns[f]),
                    float(threshold),
                    _step(lg[i, j], lh[i, j], p.l1, p.l2),
                    _step(rg[i, j], rh[i, j], p.l1, p.l2),
                ),
            )

    def _left_sums(self, hist: np.ndarray) -> np.ndarray:
        """For each bin j of feature f, the sum over f's bins up to and including j."""
        running = np.cumsum(hist, axis=1)
        before = np.zeros_like(running[:, : len(self._offset)])
        before[:, 1:] = running[:, self._offset[1:] - 1]  # the sums of the features before f
        running -= np.repeat(before, self._sizes, axis=1)
        return running

    def _totals(self, hist: np.ndarray) -> np.ndarray:
        """Each leaf's total (over feature 0's bins: every example is in one of them)."""
        return hist[:, : len(self.boundaries[0]) + 1].sum(1, keepdims=True)


def _shrink(g, l1: float):
    """soft_threshold(g, l1): TensorFlow's l1 regularisation of a leaf's gradient."""
    if l1 == 0:
        return g
    return np.sign(g) * np.maximum(np.abs(g) - l1, 0.0)


def _score(g, h, l1: float, l2: float):
    g = _shrink(g, l1)
    return g * g / np.maximum(h + l2, 1e-12)


def _step(g: np.ndarray, h: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """A leaf's Newton step -soft_threshold(G, l1) / (H + l2), per logit."""
    return -_shrink(g, l1) / np.maximum(h + l2, 1e-12)
