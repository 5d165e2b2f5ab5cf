"""tf.feature_column and keras.layers.DenseFeatures (issue 18).

DENSE and the embedding table's name were printed by TensorFlow 2.21
(tf_keras) running tests/frontend/tf_feature_column_reference.py on the
same features; TensorFlow is not a test dependency.
"""

import numpy as np
import pytest

import kiln as tf
from kiln import keras

fc = tf.feature_column

DENSE = [
    [-1.7000000476837158, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0],
    [0.10000000149011612, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 2],
    [-0.5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    [2.0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
]
EMB_WEIGHT_NAME = "tags_embedding/embedding_weights:0"


def _features():
    return {
        "age": np.array([[23.0], [41.0], [35.0], [60.0]], np.float32),
        "sex": np.array(["m", "f", "x", "f"]),
        "tags": np.array([["a", "b"], ["c", "c"], ["b", "zz"], ["zz", "zz"]]),
        "id": np.array([3, 0, 7, 2], np.int64),
    }


def _columns():
    return [
        fc.numeric_column("age", normalizer_fn=lambda x: (x - 40.0) / 10.0),
        fc.bucketized_column(fc.numeric_column("age"), [30.0, 50.0]),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("sex", ["m", "f"])),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("tags", ["a", "b", "c"])),
        fc.indicator_column(fc.categorical_column_with_identity("id", 5)),
    ]


def test_dense_features_match_tensorflow():
    with tf.eager_mode():
        out = keras.layers.DenseFeatures(_columns())(_features())
        np.testing.assert_allclose(np.asarray(out), DENSE, rtol=1e-6)


def test_input_layer_in_a_graph_with_fed_strings():
    tf.reset_default_graph()
    feats = _features()
    sex = tf.placeholder(tf.string, [None])
    tags = tf.placeholder(tf.string, [None, 2])
    out = fc.input_layer({**feats, "sex": sex, "tags": tags}, _columns())
    with tf.Session() as s:
        got = s.run(out, {sex: feats["sex"], tags: feats["tags"]})
    np.testing.assert_allclose(got, DENSE, rtol=1e-6)


def test_embedding_column_combines_ids_and_trains():
    tags = fc.categorical_column_with_vocabulary_list("tags", ["a", "b", "c"])
    with tf.eager_mode():
        layer = keras.layers.DenseFeatures([fc.embedding_column(tags, 2)])
        e = np.asarray(layer(_features()))
        assert [w.name.split("/", 1)[1] for w in layer.weights] == [EMB_WEIGHT_NAME]
        table = np.asarray(layer.weights[0])
    ids = [[0, 1], [2, 2], [1], []]
    want = [table[r].mean(0) if r else np.zeros(2) for r in ids]
    np.testing.assert_allclose(e, want, rtol=1e-6, atol=1e-7)
    # TensorFlow's default table: truncated normal, stddev 1/sqrt(dimension)
    with tf.eager_mode():
        big = keras.layers.DenseFeatures(
            [fc.embedding_column(fc.categorical_column_with_identity("id", 4000), 4)]
        )
        big({"id": np.array([1])})
        t = np.asarray(big.weights[0])
    assert abs(t.std() - 0.5 * 0.8796) < 0.02 and np.abs(t).max() <= 1.0
    tf.reset_default_graph()
    out = fc.input_layer(
        {"tags": tf.constant(_features()["tags"])}, [fc.embedding_column(tags, 3, "sum")]
    )
    g = tf.gradients(tf.reduce_sum(out), tf.trainable_variables())[0]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(s.run(g), [[1, 1, 1], [2, 2, 2], [2, 2, 2]])


def test_bad_columns_are_named():
    cat = fc.categorical_column_with_vocabulary_list("sex", ["m", "f"])
    with tf.eager_mode():
        with pytest.raises(tf.GraphError, match="sex: a categorical column cannot feed"):
            keras.layers.DenseFeatures([cat])(_features())
        with pytest.raises(tf.GraphError, match="no feature 'weight'"):
            keras.layers.DenseFeatures([fc.numeric_column("weight")])(_features())
    with pytest.raises(tf.GraphError, match="boundaries must be sorted"):
        fc.bucketized_column(fc.numeric_column("age"), [3.0, 1.0])
