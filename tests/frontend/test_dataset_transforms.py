"""tf.data transformations public TF 2 programs use (issue 18): padded_batch,
unbatch, flat_map, interleave, enumerate, reduce, shard, AUTOTUNE.

The expected values were printed once by TensorFlow 2.21
(tests/frontend/tf_dataset_reference.py); TensorFlow is not a test dependency.
"""

import numpy as np
import pytest

import kiln as tf

PB1 = [([[1, 0, 0], [1, 2, 3]], [1, 3]), ([[1, 2, 0, 0], [1, 2, 3, 4]], [2, 4]), ([[1]], [1])]
PB2 = [[[1, -1, -1, -1, -1], [1, 2, 3, -1, -1]], [[1, 2, -1, -1, -1], [1, 2, 3, 4, -1]]]
UNB = [0, 1, 2, 3, 4, 5]
FLAT = [0, 0, 1, 0, 1, 2]
INTER = [1, 2, 12, 3, 13, 23]
ENUM = [(1, 3), (2, 4), (3, 5)]
RED = 10
SHARD = [1, 4]


def _ragged():
    def gen():
        for n in [1, 3, 2, 4, 1]:
            yield np.arange(n, dtype=np.int32) + 1, n

    return tf.data.Dataset.from_generator(gen, (tf.int32, tf.int32))


def test_padded_batch_matches_tensorflow():
    with tf.eager_mode():
        got = [(x.numpy().tolist(), y.numpy().tolist()) for x, y in _ragged().padded_batch(2)]
        assert got == PB1
        fixed = _ragged().padded_batch(
            2, padded_shapes=([5], []), padding_values=(-1, 0), drop_remainder=True
        )
        assert [x.numpy().tolist() for x, _ in fixed] == PB2
        x, _ = next(iter(fixed))
        assert x.dtype == tf.int32


def test_padded_batch_in_a_graph_and_its_errors():
    tf.reset_default_graph()
    it = _ragged().padded_batch(3).make_one_shot_iterator()
    x, n = it.get_next()
    with tf.Session() as s:
        first = s.run(x)
        assert first.tolist() == [[1, 0, 0], [1, 2, 3], [1, 2, 0]]
    with tf.eager_mode(), pytest.raises(tf.GraphError, match="longer than the padded shape"):
        list(_ragged().padded_batch(2, padded_shapes=([2], [])))


def test_other_transformations_match_tensorflow():
    D = tf.data.Dataset
    with tf.eager_mode():
        assert [int(v) for v in D.range(6).batch(4).unbatch()] == UNB
        assert [int(v) for v in D.range(3).flat_map(lambda x: D.range(x + 1))] == FLAT
        inter = D.range(1, 4).interleave(
            lambda x: D.range(x).map(lambda y: y * 10 + x), cycle_length=2, block_length=2
        )
        assert [int(v) for v in inter] == INTER
        assert [(int(i), int(v)) for i, v in D.range(3, 6).enumerate(1)] == ENUM
        assert int(D.range(5).reduce(np.int64(0), lambda s, x: s + x)) == RED
        assert [int(v) for v in D.range(7).shard(3, 1)] == SHARD
        assert len(D.range(7).shard(3, 1)) == 2
        assert tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE == -1
        with pytest.raises(tf.GraphError, match="flat_map: the function must return a Dataset"):
            list(D.range(2).flat_map(lambda x: x))
