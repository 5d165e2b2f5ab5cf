"""TFRecord files, tf.train.Example and tf.io.parse_single_example / parse_example,
tf.data.TFRecordDataset / TextLineDataset and Dataset.window, against TensorFlow: the bytes
and values below were computed once with tensorflow-cpu 2.21 (not a test dependency)."""

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.eager import eager_mode
from kiln.frontend.records import masked_crc32c

# tf.train.Example(...).SerializeToString() under TensorFlow
TF_INT = (
    b"\n\x18\n\x16\n\x01a\x12\x11\x1a\x0f\n\r\x01\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\xac\x02"
)
TF_FLOAT = b"\n\x13\n\x11\n\x01f\x12\x0c\x12\n\n\x08\x00\x00\xc0?\x00\x00\x80\xbe"
TF_BYTES = b"\n\x0f\n\r\n\x01s\x12\x08\n\x06\n\x02ab\n\x00"
# tf.io.TFRecordWriter writing b"hello" then b""
TF_FILE = (
    b"\x05\x00\x00\x00\x00\x00\x00\x00\xea\xb2\x04>hello\xbb\x1f\x1c\x19"
    b"\x00\x00\x00\x00\x00\x00\x00\x00)\x03\x98\x07\xd8\xea\x82\xa2"
)


def _int_example():
    return tf.train.Example(
        features=tf.train.Features(
            feature={"a": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, -2, 300]))}
        )
    )


def test_examples_serialize_to_tensorflows_bytes():
    assert _int_example().SerializeToString() == TF_INT
    f = tf.train.Feature(float_list=tf.train.FloatList(value=[1.5, -0.25]))
    assert tf.train.Example(features=tf.train.Features(feature={"f": f})).SerializeToString() == (
        TF_FLOAT
    )
    b = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ab", b""]))
    assert tf.train.Example(features=tf.train.Features(feature={"s": b})).SerializeToString() == (
        TF_BYTES
    )
    assert tf.train.Example().SerializeToString() == b""
    assert tf.train.Example(features=tf.train.Features()).SerializeToString() == b"\n\x00"
    assert tf.train.Feature(int64_list=tf.train.Int64List()).SerializeToString() == b"\x1a\x00"


def test_examples_parse_back():
    ex = tf.train.Example.FromString(TF_INT)
    assert ex.features.feature["a"].int64_list.value == [1, -2, 300]
    assert ex.features.feature["a"].WhichOneof("kind") == "int64_list"
    assert ex == _int_example()
    assert tf.train.Example.FromString(TF_FLOAT).features.feature["f"].float_list.value == [
        1.5,
        -0.25,
    ]
    assert tf.train.Example.FromString(TF_BYTES).features.feature["s"].bytes_list.value == [
        b"ab",
        b"",
    ]
    # an unpacked repeated int64 (protobuf's other encoding) reads the same
    unpacked = tf.train.Int64List.FromString(b"\x08\x01\x08\x02")
    assert unpacked.value == [1, 2]
    with pytest.raises(tf.errors.InvalidArgumentError, match="one of"):
        tf.train.Feature(
            int64_list=tf.train.Int64List(value=[1]), float_list=tf.train.FloatList(value=[1])
        )


def test_tfrecord_writer_matches_tensorflows_file_and_reads_back(tmp_path):
    path = str(tmp_path / "a.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        w.write(b"hello")
        w.write(b"")
    assert open(path, "rb").read() == TF_FILE
    assert list(tf.python_io.tf_record_iterator(path)) == [b"hello", b""]
    assert masked_crc32c(b"hello") == int.from_bytes(TF_FILE[17:21], "little")
    gz = str(tmp_path / "b.tfrecord.gz")
    with tf.python_io.TFRecordWriter(gz, tf.io.TFRecordOptions("GZIP")) as w:
        w.write(b"x" * 1000)
    assert open(gz, "rb").read()[:2] == b"\x1f\x8b"
    assert list(tf.python_io.tf_record_iterator(gz, "GZIP")) == [b"x" * 1000]
    bad = bytearray(TF_FILE)
    bad[14] ^= 1  # a byte of "hello": the data CRC no longer matches
    (tmp_path / "bad").write_bytes(bytes(bad))
    with pytest.raises(tf.errors.DataLossError, match="data's CRC"):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "bad")))
    with pytest.raises(tf.errors.NotFoundError):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "missing")))


SPEC = {
    "a": tf.io.FixedLenFeature([3], tf.int64),
    "z": tf.io.FixedLenFeature([2], tf.float32, default_value=[7.0, 8.0]),
}


def test_parse_single_example_eager_values_and_tensorflows_errors():
    with eager_mode():
        out = tf.io.parse_single_example(TF_INT, SPEC)
    np.testing.assert_array_equal(out["a"].numpy(), [1, -2, 300])
    assert out["a"].dtype == tf.int64 and out["z"].dtype == tf.float32
    np.testing.assert_array_equal(out["z"].numpy(), [7.0, 8.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Key: a.  Can't parse serialized"):
        tf.io.parse_single_example(TF_INT, {"a": tf.io.FixedLenFeature([2], tf.int64)})
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"Feature: b \(data type: int64\) is required but could not be found",
    ):
        tf.io.parse_single_example(TF_INT, {"b": tf.io.FixedLenFeature([2], tf.int64)})
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="Key: a.  Data types don't match. Data type: int64 but expected type: float",
    ):
        tf.io.parse_single_example(TF_INT, {"a": tf.io.FixedLenFeature([3], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="float32, int64 or string"):
        tf.io.FixedLenFeature([1], tf.int32)


def test_parse_example_in_a_graph_and_batched():
    with tf.Graph().as_default():
        s = tf.placeholder(tf.string, [None])
        out = tf.parse_example(s, SPEC)
        assert out["a"].shape.as_list() == [None, 3]
        with tf.Session() as sess:
            a, z = sess.run([out["a"], out["z"]], {s: np.array([TF_INT, TF_INT], dtype=object)})
    np.testing.assert_array_equal(a, [[1, -2, 300]] * 2)
    np.testing.assert_array_equal(z, [[7.0, 8.0]] * 2)


def test_tfrecord_dataset_of_examples(tmp_path):
    path = str(tmp_path / "d.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for i in range(5):
            f = tf.train.Feature(float_list=tf.train.FloatList(value=[i, 2 * i]))
            w.write(
                tf.train.Example(features=tf.train.Features(feature={"x": f})).SerializeToString()
            )
    spec = {"x": tf.io.FixedLenFeature([2], tf.float32)}
    ds = tf.data.TFRecordDataset([path]).map(lambda r: tf.io.parse_single_example(r, spec)["x"])
    got = np.stack([np.asarray(v) for v in ds.batch(2).as_numpy_iterator()][:2])
    np.testing.assert_array_equal(got, [[[0, 0], [1, 2]], [[2, 4], [3, 6]]])
    assert len(list(tf.data.TFRecordDataset(path))) == 5


def test_text_line_dataset_strips_line_ends(tmp_path):
    (tmp_path / "l.txt").write_bytes(b"one\r\ntwo\n\nthree")
    got = [np.asarray(v).item() for v in tf.data.TextLineDataset(str(tmp_path / "l.txt"))]
    assert got == [b"one", b"two", b"", b"three"]  # TensorFlow's lines


def _windows(ds):
    return [[int(np.asarray(x)) for x in w.as_numpy_iterator()] for w in ds.as_numpy_iterator()]


def test_dataset_window_as_tensorflow():
    r = tf.data.Dataset.range
    assert _windows(r(7).window(3, shift=2)) == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6]]
    assert _windows(r(7).window(2, shift=3, stride=2)) == [[0, 2], [3, 5], [6]]
    assert _windows(r(5).window(3, shift=1, drop_remainder=True)) == [
        [0, 1, 2],
        [1, 2, 3],
        [2, 3, 4],
    ]
    batched = r(6).window(3).flat_map(lambda w: w.batch(3))
    assert [np.asarray(b).tolist() for b in batched.as_numpy_iterator()] == [[0, 1, 2], [3, 4, 5]]
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(4), np.arange(4) * 10)).window(2)
    first = next(iter(pairs.as_numpy_iterator()))
    assert [int(np.asarray(v)) for v in first[1].as_numpy_iterator()] == [0, 10]
    with pytest.raises(tf.KilnError, match="positive"):
        r(3).window(0)
