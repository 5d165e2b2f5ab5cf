"""TF 1.x names the DeepLearningZeroToAll labs (hunkim) use, checked against TensorFlow's
documented behaviour; the TensorFlow numbers were computed once with tensorflow-cpu 2.21.

- readers over a queue of file names (TextLineReader + decode_csv + train.batch);
- contrib.framework.arg_scope over contrib.layers; contrib.seq2seq.sequence_loss;
- softmax_cross_entropy_with_logits with labels of another rank (TF flattens both);
- a cell's zero_state(1) carried through dynamic_rnn over inputs of unknown batch;
- tf.layers.dropout / batch_normalization with a bool placeholder of no shape.
"""

import numpy as np
import pytest

import kiln as tf
from kiln.contrib.framework import add_arg_scope, arg_scope
from kiln.frontend.errors import OutOfRangeError
from kiln.frontend.graph import GraphError


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_text_line_reader_reads_csv_lines_through_a_queue(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n3,4\n")
    b.write_text("x,y\r\n5,6")
    files = tf.train.string_input_producer([str(a), str(b)], shuffle=False, num_epochs=1)
    key, value = tf.TextLineReader(skip_header_lines=1).read(files)
    row = tf.decode_csv(value, record_defaults=[[0.0], [0.0]])
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        got = [sess.run([key, value, row]) for _ in range(3)]
        with pytest.raises(OutOfRangeError):
            sess.run(value)
        coord.request_stop()
        coord.join(threads)
    assert [k for k, _, _ in got] == [f"{a}:1".encode(), f"{a}:2".encode(), f"{b}:1".encode()]
    assert [v for _, v, _ in got] == [b"1,2", b"3,4", b"5,6"]
    assert [list(r) for _, _, r in got] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_batched_csv_rows_as_the_tutorial_builds_them(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("".join(f"{i},{i + 1},{2 * i}\n" for i in range(7)))
    files = tf.train.string_input_producer([str(path)], shuffle=False)
    _, value = tf.TextLineReader().read(files)
    xy = tf.decode_csv(value, record_defaults=[[0.0], [0.0], [0.0]])
    x, y = tf.train.batch([xy[0:-1], xy[-1:]], batch_size=5)
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess=sess, coord=coord)
        bx, by = sess.run([x, y])
        coord.request_stop()
        coord.join(threads)
    assert bx.shape == (5, 2) and by.shape == (5, 1)
    assert (
        bx[:, 1].tolist() == (bx[:, 0] + 1).tolist()
        and by[:, 0].tolist() == (2 * bx[:, 0]).tolist()
    )


def test_fixed_length_whole_file_and_read_up_to(tmp_path):
    data = tmp_path / "r.bin"
    data.write_bytes(b"HD" + bytes(range(12)) + b"F")
    files = tf.train.string_input_producer([str(data)], shuffle=False, num_epochs=1)
    keys, values = tf.FixedLengthRecordReader(4, header_bytes=2, footer_bytes=1).read_up_to(
        files, 2
    )
    whole = tf.train.string_input_producer([str(data)], shuffle=False, num_epochs=1)
    name, content = tf.WholeFileReader().read(whole)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        threads = tf.train.start_queue_runners(sess)
        first, rest = sess.run(values), sess.run(values)
        assert sess.run([name, content]) == [str(data).encode(), data.read_bytes()]
        for t in threads:
            t.join()
    assert list(first) == [bytes(range(4)), bytes(range(4, 8))]
    assert list(rest) == [bytes(range(8, 12))]  # up to 2: what is left
    with pytest.raises(GraphError, match="read takes a queue"):
        tf.TextLineReader().read("a.csv")


def test_arg_scope_gives_defaults_and_the_call_wins():
    fc = tf.contrib.layers.fully_connected
    x = tf.constant(np.ones((2, 3), np.float32))
    with arg_scope([fc], activation_fn=None, biases_initializer=tf.constant_initializer(5.0)):
        plain = fc(x, 4, weights_initializer=tf.zeros_initializer(), scope="a")
        relu = fc(x, 4, weights_initializer=tf.zeros_initializer(), scope="b",
                  activation_fn=lambda t: t * 0.0)  # fmt: skip
        with arg_scope([fc], biases_initializer=tf.constant_initializer(-1.0)):
            inner = fc(x, 4, weights_initializer=tf.zeros_initializer(), scope="c")
    outside = fc(x, 4, weights_initializer=tf.zeros_initializer(), scope="d")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([plain, relu, inner, outside])
    assert got[0].tolist() == [[5.0] * 4] * 2 and got[1].tolist() == [[0.0] * 4] * 2
    assert got[2].tolist() == [[-1.0] * 4] * 2  # inner scope, activation_fn=None kept
    assert got[3].tolist() == [[0.0] * 4] * 2  # relu of 0 biases: no scope outside
    with pytest.raises(GraphError, match="does not take an arg_scope"):
        with arg_scope([np.sum], axis=0):
            pass

    @add_arg_scope
    def scaled(v, factor=1.0):
        return v * factor

    with arg_scope([scaled], factor=3.0):
        assert scaled(2.0) == 6.0 and scaled(2.0, factor=0.5) == 1.0


def test_sequence_loss_matches_its_definition():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 3, 4)).astype(np.float32)
    targets = rng.integers(0, 4, (2, 3)).astype(np.int32)
    weights = np.array([[1, 1, 0], [1, 0.5, 1]], np.float32)
    shifted = logits - logits.max(-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, targets[..., None], -1)[..., 0] * weights
    seq2seq = tf.contrib.seq2seq
    got = tf.Session().run(
        [
            seq2seq.sequence_loss(logits, targets, weights),
            seq2seq.sequence_loss(logits, targets, weights, average_across_timesteps=False),
            seq2seq.sequence_loss(logits, targets, weights, False, False),
            seq2seq.sequence_loss(
                logits, targets, weights, False, False, sum_over_timesteps=True, sum_over_batch=True
            ),
        ]
    )
    np.testing.assert_allclose(got[0], ce.sum() / weights.sum(), rtol=1e-5)
    np.testing.assert_allclose(got[1], ce.sum(0) / weights.sum(0), rtol=1e-5)
    np.testing.assert_allclose(got[2], ce, rtol=1e-5)
    np.testing.assert_allclose(got[3], ce.sum() / np.count_nonzero(weights), rtol=1e-5)
    with pytest.raises(GraphError, match="logits must be rank 3"):
        seq2seq.sequence_loss(logits[0], targets, weights)


def test_softmax_cross_entropy_flattens_labels_of_another_rank():
    logits = np.array(
        [[0.12573022, -0.13210486, 0.64042264], [0.10490011, -0.5356694, 0.36159506],
         [1.304, 0.94708097, -0.70373523], [-1.2654215, -0.62327445, 0.04132598]],
        np.float32,
    )  # fmt: skip
    labels = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    x = tf.placeholder(tf.float32, [None, 3])
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=[labels], logits=x)
    assert loss.shape.as_list() == [4]  # the batch dims merge, as in TF's shape function
    got = tf.Session().run(loss, {x: logits})
    np.testing.assert_allclose(got, [1.2371695, 0.77991533, 0.9634847, 1.2441187], rtol=1e-5)


def test_a_zero_state_of_batch_one_is_carried_over_inputs_of_unknown_batch():
    x = tf.placeholder(tf.float32, [None, 6, 5])
    cell = tf.contrib.rnn.BasicLSTMCell(num_units=5)
    state = cell.zero_state(1, tf.float32)
    outputs, final = tf.nn.dynamic_rnn(cell, x, initial_state=state, dtype=tf.float32)
    assert final.h.shape.as_list() == [1, 5]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, h = sess.run([outputs, final.h], {x: np.ones((1, 6, 5), np.float32)})
    assert out.shape == (1, 6, 5) and np.allclose(out[:, -1], h)


def test_layers_keep_their_shape_under_a_shapeless_bool_placeholder():
    training = tf.placeholder(tf.bool)
    x = tf.placeholder(tf.float32, [None, 4, 4, 2])
    y = tf.layers.dropout(x, rate=0.5, training=training)
    z = tf.layers.batch_normalization(y, training=training)
    assert y.shape.as_list() == [None, 4, 4, 2] and z.shape.as_list() == [None, 4, 4, 2]
    assert tf.reshape(training, []).shape.as_list() == []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        same = sess.run(y, {x: np.ones((3, 4, 4, 2), np.float32), training: False})
    assert same.tolist() == np.ones((3, 4, 4, 2)).tolist()


def test_batch_norm_with_global_normalization_matches_tensorflow():
    t = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    m, v = np.array([1.0, 2.0, 3.0], np.float32), np.array([0.5, 1.0, 2.0], np.float32)
    b, g = np.array([0.1, 0.2, 0.3], np.float32), np.array([2.0, 3.0, 4.0], np.float32)
    scaled, plain = tf.Session().run(
        [
            tf.nn.batch_norm_with_global_normalization(t, m, v, b, g, 0.001, True),
            tf.nn.batch_norm_with_global_normalization(t, m, v, b, g, 0.001, False),
        ]
    )
    want_scaled = [-2.7256031, -2.7985015, -2.52772, 5.7512054, 6.1970024, 5.9554415,
                   14.228014, 15.192507, 14.438603, 22.704824, 24.188009, 22.921764]  # fmt: skip
    want_plain = [-1.3128015, -0.79950035, -0.40693009, 2.9256029, 2.1990008, 1.7138603,
                  7.1640072, 5.1975021, 3.8346505, 11.402412, 8.196003, 5.955441]  # fmt: skip
    np.testing.assert_allclose(scaled.ravel(), want_scaled, rtol=1e-5)
    np.testing.assert_allclose(plain.ravel(), want_plain, rtol=1e-5)
