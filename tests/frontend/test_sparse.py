"""tf.SparseTensor, tf.sparse.to_dense, and the Example parser's VarLenFeature
(a SparseTensor) and FixedLenSequenceFeature (dense, padded). The expected
values are TensorFlow 2's for the same serialized Examples."""

import numpy as np
import pytest

import kiln as tf
from kiln.ir import KilnError


def _example(t, s):
    feature = {}
    if t is not None:
        feature["t"] = tf.train.Feature(int64_list=tf.train.Int64List(value=t))
    if s is not None:
        feature["s"] = tf.train.Feature(float_list=tf.train.FloatList(value=s))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


SERIALIZED = [
    _example([1, 2, 3], [1.0, 2.0, 3.0, 4.0]),
    _example([7], [5.0, 6.0]),
    _example(None, None),
]
FEATURES = {
    "t": tf.io.VarLenFeature(tf.int64),
    "s": tf.io.FixedLenSequenceFeature([2], tf.float32, allow_missing=True, default_value=-1.0),
}
# TensorFlow 2.x: tf.io.parse_example(SERIALIZED, FEATURES)
TF_INDICES = [[0, 0], [0, 1], [0, 2], [1, 0]]
TF_VALUES = [1, 2, 3, 7]
TF_DENSE_SHAPE = [3, 3]
TF_SEQUENCE = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [-1.0, -1.0]], [[-1.0, -1.0], [-1.0, -1.0]]]
TF_TO_DENSE = [[1, 2, 3], [7, -1, -1], [-1, -1, -1]]  # default_value=-1


def test_parse_example_in_a_session():
    with tf.Graph().as_default():
        serialized = tf.placeholder(tf.string, [None])
        parsed = tf.io.parse_example(serialized, FEATURES)
        assert isinstance(parsed["t"], tf.SparseTensor) and parsed["t"].shape.ndims == 2
        assert parsed["s"].shape.as_list() == [None, None, 2]
        dense = tf.sparse.to_dense(parsed["t"], default_value=-1)
        sp, seq, got = tf.Session().run([parsed["t"], parsed["s"], dense], {serialized: SERIALIZED})
    assert isinstance(sp, tf.SparseTensorValue)
    assert sp.indices.tolist() == TF_INDICES and sp.values.tolist() == TF_VALUES
    assert sp.dense_shape.tolist() == TF_DENSE_SHAPE and sp.values.dtype == np.int64
    assert seq.tolist() == TF_SEQUENCE and got.tolist() == TF_TO_DENSE


def test_parse_single_example_eagerly():
    with tf.eager_mode():
        one = tf.io.parse_single_example(
            SERIALIZED[0],
            {
                "t": tf.io.VarLenFeature(tf.int64),
                "s": tf.io.FixedLenSequenceFeature([2], tf.float32),
            },
        )
        assert one["t"].indices.numpy().tolist() == [[0], [1], [2]]  # TensorFlow's
        assert one["t"].dense_shape.numpy().tolist() == [3]
        assert one["s"].numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
        assert tf.sparse.to_dense(one["t"]).numpy().tolist() == [1, 2, 3]


def test_var_len_strings_through_a_dataset(tmp_path):
    path = str(tmp_path / "words.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for words in ([b"a", b"b"], [b"c"]):
            feature = {"w": tf.train.Feature(bytes_list=tf.train.BytesList(value=words))}
            w.write(
                tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
            )
    ds = tf.data.TFRecordDataset(path).map(
        lambda s: tf.sparse.to_dense(
            tf.io.parse_single_example(s, {"w": tf.io.VarLenFeature(tf.string)})["w"]
        )
    )
    with tf.Graph().as_default():
        item = ds.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert sess.run(item).tolist() == [b"a", b"b"]
            assert sess.run(item).tolist() == [b"c"]


def test_a_hand_made_sparse_tensor():
    with tf.Graph().as_default():
        sp = tf.SparseTensor(indices=[[0, 0], [1, 2]], values=[1.0, 2.0], dense_shape=[3, 4])
        dense = tf.sparse_tensor_to_dense(sp)
        got = tf.Session().run(tf.reduce_sum(dense, axis=0))
    assert got.tolist() == [1.0, 0.0, 2.0, 0.0]


def test_bad_sparse_input_is_a_kiln_error():
    with pytest.raises(KilnError, match="indices must have rank 2"):
        tf.SparseTensor(indices=[0, 1], values=[1.0, 2.0], dense_shape=[3])
    with tf.Graph().as_default():
        sp = tf.SparseTensor(indices=[[5]], values=[1.0], dense_shape=[3])
        with pytest.raises(KilnError, match=r"index \[5\] is out of bounds for shape \[3\]"):
            tf.Session().run(tf.sparse.to_dense(sp))
    with pytest.raises(KilnError, match="expected a kl.SparseTensor"):
        tf.sparse.to_dense(np.zeros(3))


def test_a_missing_sequence_needs_allow_missing():
    spec = {"s": tf.io.FixedLenSequenceFeature([2], tf.float32)}
    with tf.eager_mode(), pytest.raises(KilnError, match="allow_missing"):
        tf.io.parse_example(np.array(SERIALIZED, dtype=object), spec)
    odd = {"s": tf.io.FixedLenSequenceFeature([3], tf.float32, allow_missing=True)}
    with tf.eager_mode(), pytest.raises(KilnError, match="not a multiple"):
        tf.io.parse_example(np.array(SERIALIZED[:1], dtype=object), odd)
