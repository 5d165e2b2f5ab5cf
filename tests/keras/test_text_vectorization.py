"""keras.layers.TextVectorization against TensorFlow (values computed once with
tensorflow-cpu 2.21's tf.keras.layers.TextVectorization on the same texts)."""

import numpy as np
import pytest

import kiln as tf

DATA = ["The cat sat.", "the dog, the CAT!", "a bird", "dog dog bird z y"]


def test_adapt_ranks_by_count_ties_reverse_lexical_and_pads():
    v = tf.keras.layers.TextVectorization(output_mode="int", output_sequence_length=5)
    v.adapt(DATA)
    assert v.get_vocabulary() == ["", "[UNK]", "the", "dog", "cat", "bird", "z", "y", "sat", "a"]
    out = v(["the cat flew", "dog bird a the cat sat y z"])
    assert out.dtype == tf.int64
    assert out.numpy().tolist() == [[2, 4, 1, 0, 0], [3, 5, 9, 2, 4]]


def test_max_tokens_multi_hot_and_a_given_vocabulary():
    v = tf.keras.layers.TextVectorization(max_tokens=6)
    v.adapt(tf.data.Dataset.from_tensor_slices(np.array(DATA, dtype=object)).batch(2))
    assert v.get_vocabulary() == ["", "[UNK]", "the", "dog", "cat", "bird"]
    assert v(["the zebra dog"]).numpy().tolist() == [[2, 1, 3]]
    assert v.vocabulary_size() == 6
    m = tf.keras.layers.TextVectorization(output_mode="multi_hot", max_tokens=6)
    m.adapt(DATA)
    assert m(["the dog dog"]).numpy().tolist() == [[0, 1, 1, 0, 0, 0]]
    c = tf.keras.layers.TextVectorization(output_mode="count", max_tokens=6)
    c.adapt(DATA)
    assert c(["the dog dog"]).numpy().tolist() == [[0, 1, 2, 0, 0, 0]]
    g = tf.keras.layers.TextVectorization(vocabulary=["b", "a"])
    assert g.get_vocabulary() == ["", "[UNK]", "b", "a"]
    assert g(["a b c"]).numpy().tolist() == [[3, 2, 1]]


def test_refuses_graph_tensors_and_missing_vocabulary():
    with pytest.raises(tf.KilnError, match="no vocabulary"):
        tf.keras.layers.TextVectorization()(["a"])
    v = tf.keras.layers.TextVectorization(vocabulary=["a"])
    with tf.Graph().as_default():
        with pytest.raises(tf.KilnError, match="graph tensor"):
            v(tf.placeholder(tf.string, [None]))
