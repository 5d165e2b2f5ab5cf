"""Prints the TensorFlow values stored in test_dataset_transforms.py.

Not a test (pytest collects test_*.py only); TensorFlow is no kiln dependency.
Run by hand with a TensorFlow venv: /work/tfenv/bin/python tests/frontend/tf_dataset_reference.py
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf


def gen():
    for n in [1, 3, 2, 4, 1]:
        yield np.arange(n, dtype=np.int32) + 1, n


ds = tf.data.Dataset.from_generator(
    gen, output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32))
)
print("PB1 =", [(x.numpy().tolist(), y.numpy().tolist()) for x, y in ds.padded_batch(2)])
print(
    "PB2 =",
    [
        x.numpy().tolist()
        for x, y in ds.padded_batch(
            2, padded_shapes=([5], []), padding_values=(-1, 0), drop_remainder=True
        )
    ],
)
print("UNB =", [int(v) for v in tf.data.Dataset.range(6).batch(4).unbatch()])
print(
    "FLAT =",
    [int(v) for v in tf.data.Dataset.range(3).flat_map(lambda x: tf.data.Dataset.range(x + 1))],
)
print(
    "INTER =",
    [
        int(v)
        for v in tf.data.Dataset.range(1, 4).interleave(
            lambda x: tf.data.Dataset.range(x).map(lambda y: y * 10 + x),
            cycle_length=2,
            block_length=2,
        )
    ],
)
print("ENUM =", [(int(i), int(v)) for i, v in tf.data.Dataset.range(3, 6).enumerate(1)])
print("RED =", int(tf.data.Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)))
print("SHARD =", [int(v) for v in tf.data.Dataset.range(7).shard(3, 1)])
print("AUTOTUNE =", tf.data.AUTOTUNE, tf.data.experimental.AUTOTUNE)
