"""tf.contrib.factorization.KMeans: TF 1.x's k-means as graph ops.

    kmeans = KMeans(inputs=X, num_clusters=25, distance_metric="cosine",
                    use_mini_batch=True)
    (all_scores, cluster_idx, scores, cluster_centers_initialized,
     cluster_centers_var, init_op, train_op) = kmeans.training_graph()

The tuple is TF's (1.4 and later): per-input lists of the [n, k] distances,
the nearest centre's index and its distance; the "initialized" flag, the
centres variable, the op that picks initial centres from the inputs and one
training step. A step is Lloyd's (each centre moves to the mean of its
points) when use_mini_batch is False, and TF's mini-batch rule otherwise
(a centre moves toward its points' mean by their count over every point it
has had, kept in a variable). Distances: squared_euclidean (|x|^2 - 2xc +
|c|^2) or cosine (1 - cos, on normalised inputs and centres). Initial
centres: "random" takes num_clusters distinct input rows, chosen by a
seeded hash of each row (the graph's inputs have a dynamic batch size);
"kmeans_plus_plus" is taken as random.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import frontend as kf
from ..frontend.graph import GraphError
from ..frontend.local import local_variable  # noqa: F401  (kept for TF's name lookups)
from ..frontend.nn import _frac
from ..frontend.ops import convert_to_tensor

SQUARED_EUCLIDEAN_DISTANCE = "squared_euclidean"
COSINE_DISTANCE = "cosine"
RANDOM_INIT = "random"
KMEANS_PLUS_PLUS_INIT = "kmeans_plus_plus"


class KMeans:
    def __init__(
        self,
        inputs: Any,
        num_clusters: int,
        initial_clusters: Any = RANDOM_INIT,
        distance_metric: str = SQUARED_EUCLIDEAN_DISTANCE,
        use_mini_batch: bool = False,
        mini_batch_steps_per_iteration: int = 1,
        random_seed: int = 0,
        kmeans_plus_plus_num_retries: int = 2,
        kmc2_chain_length: int = 200,
    ):
        if distance_metric not in (SQUARED_EUCLIDEAN_DISTANCE, COSINE_DISTANCE):
            raise GraphError(f"KMeans: unknown distance_metric {distance_metric!r}")
        self.inputs = [
            convert_to_tensor(x) for x in (inputs if isinstance(inputs, list) else [inputs])
        ]
        self.k = int(num_clusters)
        self.initial_clusters = initial_clusters
        self.metric = distance_metric
        self.use_mini_batch = use_mini_batch
        self.seed = int(random_seed)
        d = self.inputs[0].shape[-1]
        if d is None:
            raise GraphError("KMeans: the inputs' feature dimension must be known")
        self.dim = int(d)

    def _prepared(self, x):
        return kf.nn.l2_normalize(x, axis=1) if self.metric == COSINE_DISTANCE else x

    def _distances(self, x, centers):
        if self.metric == COSINE_DISTANCE:
            return 1.0 - kf.matmul(x, centers, transpose_b=True)
        x2 = kf.reduce_sum(kf.square(x), axis=1, keepdims=True)
        c2 = kf.reshape(kf.reduce_sum(kf.square(centers), axis=1), [1, self.k])
        return x2 - 2.0 * kf.matmul(x, centers, transpose_b=True) + c2

    def training_graph(self):
        with kf.name_scope("kmeans"):
            centers = kf.Variable(
                np.zeros((self.k, self.dim), np.float32), trainable=False, name="clusters"
            )
            initialized = kf.Variable(False, trainable=False, name="initialized")
            counts = kf.Variable(np.zeros(self.k, np.float32), trainable=False, name="counts")
            xs = [self._prepared(kf.cast(x, kf.float32)) for x in self.inputs]
            init_op = self._init_op(xs[0], centers, initialized, counts)
            c = centers._as_tensor()
            all_scores = [self._distances(x, c) for x in xs]
            idx = [kf.argmin(s, axis=1) for s in all_scores]
            scores = [kf.reduce_min(s, axis=1) for s in all_scores]
            train_op = self._train_op(xs, idx, centers, counts)
        return (all_scores, idx, scores, initialized._as_tensor(), centers, init_op, train_op)

    def _init_op(self, x, centers, initialized, counts):
        if not isinstance(self.initial_clusters, str):
            value = kf.cast(convert_to_tensor(self.initial_clusters), kf.float32)
        else:
            rng = np.random.default_rng(self.seed)
            direction = convert_to_tensor(rng.normal(size=(self.dim, 1)).astype(np.float32))
            proj = kf.reshape(kf.matmul(x, direction), [-1])
            score = _frac(kf.abs(proj) * 9973.0 + 0.5)  # a hash of each row
            picks = kf.nn.top_k(score, self.k).indices
            value = kf.gather(x, picks)
        return kf.group(
            centers.assign(value),
            initialized.assign(True),
            counts.assign(np.zeros(self.k, np.float32)),
        )

    def _train_op(self, xs, idx, centers, counts):
        x = xs[0] if len(xs) == 1 else kf.concat(xs, 0)
        i = idx[0] if len(idx) == 1 else kf.concat(idx, 0)
        onehot = kf.one_hot(i, self.k, dtype=kf.float32)  # [n, k]
        sums = kf.matmul(onehot, x, transpose_a=True)  # [k, d]
        batch_counts = kf.reduce_sum(onehot, axis=0)  # [k]
        c = centers._as_tensor()
        has = kf.reshape(kf.cast(batch_counts > 0.0, kf.float32), [self.k, 1])
        if self.use_mini_batch:
            total = counts._as_tensor() + batch_counts
            rate = kf.reshape(1.0 / kf.maximum(total, 1.0), [self.k, 1])
            moved = c + rate * (sums - kf.reshape(batch_counts, [self.k, 1]) * c)
            new_counts = counts.assign(total)
        else:
            moved = sums / kf.reshape(kf.maximum(batch_counts, 1.0), [self.k, 1])
            new_counts = counts.assign(counts._as_tensor())
        new = has * moved + (1.0 - has) * c
        if self.metric == COSINE_DISTANCE:
            new = kf.nn.l2_normalize(new, axis=1)
        return kf.group(centers.assign(new), new_counts)


__all__ = ["KMeans", "COSINE_DISTANCE", "SQUARED_EUCLIDEAN_DISTANCE", "RANDOM_INIT"]
