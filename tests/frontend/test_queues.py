"""Queues, queue runners and input producers against TensorFlow 1.x's behaviour
(the sequences below are what tensorflow-cpu 2.21's compat.v1 gives for the
same programs)."""

import numpy as np
import pytest

import kiln as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def test_fifo_enqueue_dequeue_size_close():
    q = tf.FIFOQueue(10, [tf.float32], shapes=[[]])
    enq = q.enqueue_many([[1.0, 2.0, 3.0]])
    x = q.dequeue()
    y = x * 2
    with tf.Session() as s:
        s.run(enq)
        assert s.run(q.size()) == 3
        assert s.run(y) == 2.0  # the first element, doubled
        assert s.run(x) == 2.0
        s.run(q.close())
        assert s.run(x) == 3.0  # a closed queue still gives what it holds
        with pytest.raises(tf.errors.OutOfRangeError, match="closed"):
            s.run(x)


def test_queue_state_is_per_session():
    q = tf.FIFOQueue(4, tf.int32, shapes=[])
    enq = q.enqueue(7)
    with tf.Session() as a, tf.Session() as b:
        a.run(enq)
        assert a.run(q.size()) == 1 and b.run(q.size()) == 0


def test_dequeue_many_and_up_to():
    q = tf.FIFOQueue(10, [tf.int32, tf.float32], shapes=[[2], []])
    enq = q.enqueue_many([np.arange(10).reshape(5, 2).astype(np.int32), np.arange(5.0)])
    many = q.dequeue_many(2)
    up_to = q.dequeue_up_to(4)
    assert many[0].shape.as_list() == [2, 2] and up_to[0].shape.as_list() == [None, 2]
    with tf.Session() as s:
        s.run(enq)
        a, b = s.run(many)
        np.testing.assert_array_equal(a, [[0, 1], [2, 3]])
        np.testing.assert_array_equal(b, [0.0, 1.0])
        s.run(q.close())
        a, b = s.run(up_to)  # 3 left: up_to gives them after the close
        np.testing.assert_array_equal(b, [2.0, 3.0, 4.0])
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(many)


def test_padding_fifo_queue_pads_to_the_longest():
    q = tf.PaddingFIFOQueue(5, [tf.int32], shapes=[[None]])
    a = tf.placeholder(tf.int32, [None])
    e, d = q.enqueue([a]), q.dequeue_many(2)
    with tf.Session() as s:
        s.run(e, {a: [1, 2, 3]})
        s.run(e, {a: [4]})
        np.testing.assert_array_equal(s.run(d), [[1, 2, 3], [4, 0, 0]])


def test_random_shuffle_queue_waits_for_min_after_dequeue_and_drains_when_closed():
    q = tf.RandomShuffleQueue(20, 3, [tf.int32], shapes=[[]], seed=5)
    enq = q.enqueue_many([np.arange(10, dtype=np.int32)])
    x = q.dequeue()
    with tf.Session() as s:
        s.run(enq)
        got = [int(s.run(x)) for _ in range(7)]  # 10 held, 3 must stay
        assert s.run(q.size()) == 3
        s.run(q.close())
        got += [int(s.run(x)) for _ in range(3)]
        assert sorted(got) == list(range(10)) and got != list(range(10))


def test_slice_input_producer_batch_epochs_end_with_out_of_range():
    data = np.arange(10, dtype=np.float32)
    labels = np.arange(10, dtype=np.int32) * 10
    xs, ys = tf.train.slice_input_producer([data, labels], num_epochs=2, shuffle=False)
    xb, yb = tf.train.batch([xs, ys], batch_size=3, allow_smaller_final_batch=True)
    assert [v.name for v in tf.local_variables()] == ["input_producer/limit_epochs/epochs:0"]
    seen = []
    with tf.Session() as s:
        s.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord)
        try:
            while not coord.should_stop():
                a, b = s.run([xb, yb])
                np.testing.assert_array_equal(b, a.astype(np.int32) * 10)  # rows stay paired
                seen.append(a.tolist())
        except tf.errors.OutOfRangeError:
            pass
        finally:
            coord.request_stop()
        coord.join(threads)
    # TF 1.x gives these batches for the same program
    assert seen == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1], [2, 3, 4], [5, 6, 7], [8, 9]]


def test_num_epochs_needs_the_local_variables_initialised():
    (x,) = tf.train.slice_input_producer([np.arange(4.0)], num_epochs=1)
    with tf.Session() as s:
        with pytest.raises(tf.KilnError, match="uninitialized"):
            s.run(tf.get_collection(tf.train.QUEUE_RUNNERS)[0].enqueue_ops[0])
    del x


def test_coordinator_stops_runners_blocked_on_a_full_queue():
    (x,) = tf.train.slice_input_producer([np.arange(100.0).reshape(50, 2)], seed=3)
    xb = tf.train.shuffle_batch([x], batch_size=4, capacity=20, min_after_dequeue=5, seed=1)
    assert xb.shape.as_list() == [4, 2]
    with tf.Session() as s:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord)
        for _ in range(5):
            assert s.run(xb).shape == (4, 2)
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=10)
        assert not any(t.is_alive() for t in threads)


def test_coordinator_join_reraises_a_reported_error():
    coord = tf.train.Coordinator()
    with coord.stop_on_exception():
        raise ValueError("boom")
    assert coord.should_stop()
    with pytest.raises(ValueError, match="boom"):
        coord.join([])
    clean = tf.train.Coordinator()
    clean.request_stop(tf.errors.OutOfRangeError("end"))
    clean.join([])  # OutOfRangeError is a clean stop


def test_batch_of_a_one_element_list_is_a_tensor_and_batch_join():
    a = tf.constant([1.0, 2.0])
    b = tf.constant([3.0, 4.0])
    one = tf.train.batch([a], batch_size=2)
    assert isinstance(one, tf.Tensor) and one.shape.as_list() == [2, 2]
    joined = tf.train.batch_join([[a], [b]], batch_size=4)
    with tf.Session() as s:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord)
        rows = s.run(joined)
        assert sorted(rows[:, 0].tolist()) in (
            [1, 1, 1, 1],
            [1, 1, 1, 3],
            [1, 1, 3, 3],
            [1, 3, 3, 3],
            [3, 3, 3, 3],
        )
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=10)


@pytest.mark.slow
def test_training_from_a_shuffle_batch_pipeline_until_the_epochs_end():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(64, 3)).astype(np.float32)
    ys = (xs @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    x, y = tf.train.slice_input_producer([xs, ys], num_epochs=20, seed=1)
    xb, yb = tf.train.shuffle_batch(
        [x, y],
        batch_size=16,
        capacity=64,
        min_after_dequeue=16,
        seed=2,
        allow_smaller_final_batch=True,
    )
    w = tf.Variable(tf.zeros([3, 1]))
    b = tf.Variable(0.0)
    loss = tf.reduce_mean(tf.square(tf.matmul(xb, w) + b - yb))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    losses = []
    with tf.Session() as s:
        s.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess=s, coord=coord)
        try:
            while not coord.should_stop():
                losses.append(s.run([step, loss])[1])
        except tf.errors.OutOfRangeError:
            pass
        finally:
            coord.request_stop()
        coord.join(threads, stop_grace_period_secs=10)
        w_value = s.run(w)
    assert len(losses) == 20 * 64 // 16  # every example of every epoch, once
    assert losses[-1] < 0.01 * losses[0]
    np.testing.assert_allclose(w_value[:, 0], [1.0, -2.0, 0.5], atol=0.05)
