"""Prints the TensorFlow values stored in test_feature_column.py (TF 2.21, tf_keras).

Not a test; TensorFlow is no kiln dependency. `... kiln` runs it under kiln.
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np

if sys.argv[1:] == ["kiln"]:
    sys.path.insert(0, "/work/wt/tf")
    import kiln as tf1
    import kiln.compat.v2 as tf
    from kiln import keras
else:
    import tensorflow as tf
    import tf_keras as keras

    tf1 = tf.compat.v1
fc = tf.feature_column
features = {
    "age": np.array([[23.0], [41.0], [35.0], [60.0]], np.float32),
    "sex": np.array(["m", "f", "x", "f"]),
    "tags": np.array([["a", "b"], ["c", "c"], ["b", "zz"], ["zz", "zz"]]),
    "id": np.array([3, 0, 7, 2], np.int64),
}
age = fc.numeric_column("age", normalizer_fn=lambda x: (x - 40.0) / 10.0)
cols = [
    age,
    fc.bucketized_column(fc.numeric_column("age"), [30.0, 50.0]),
    fc.indicator_column(fc.categorical_column_with_vocabulary_list("sex", ["m", "f"])),
    fc.indicator_column(fc.categorical_column_with_vocabulary_list("tags", ["a", "b", "c"])),
    fc.indicator_column(fc.categorical_column_with_identity("id", 5)),
]
out = keras.layers.DenseFeatures(cols)(features)
print("DENSE =", np.asarray(out).tolist())
emb = fc.embedding_column(
    fc.categorical_column_with_vocabulary_list("tags", ["a", "b", "c"]),
    2,
    initializer=keras.initializers.Constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    if False
    else None,
)
layer = keras.layers.DenseFeatures([emb])
e = np.asarray(layer(features))
table = np.asarray(layer.weights[0])
print("EMB_SHAPE =", e.shape, [w.name for w in layer.weights], table.shape)
ids = np.array([[0, 1], [2, 2], [1, -1], [-1, -1]])
ref = np.stack(
    [table[[i for i in r if i >= 0]].mean(0) if (r >= 0).any() else np.zeros(2) for r in ids]
)
print("EMB_MEAN_OK =", bool(np.allclose(e, ref, atol=1e-6)), "STD_OK =", float(np.std(table)))
