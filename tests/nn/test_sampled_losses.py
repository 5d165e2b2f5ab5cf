"""tf.nn.nce_loss and tf.nn.sampled_softmax_loss against TensorFlow 1.x with
fixed sampled_values (TF's numbers from tensorflow-cpu 2.21's compat.v1 for
these inputs), and the default sampler's distribution and training use."""

import numpy as np
import pytest

import kiln as tf

TF = [
    [12.128250122070312, 7.166769981384277, 14.102230072021484],
    [12.571149826049805, 8.427410125732422, 19.383869171142578],
    [12.128250122070312, 6.086709976196289, 14.102230072021484],
    [5.997300148010254, 2.441770076751709, 1.0820399522781372],
    [5.997300148010254, 2.498159885406494, 1.0820399522781372],
    [5.983389854431152, 3.243259906768799, 1.3738900423049927],
]


def test_sampled_losses_match_tensorflow():
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    W = rng.normal(size=(20, 4)).astype(np.float32)
    b = rng.normal(size=20).astype(np.float32)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    lab = np.array([[1], [5], [7]], np.int64)
    lab2 = np.array([[1, 2], [5, 3], [7, 7]], np.int64)
    sampled = np.array([0, 3, 5, 9, 12], np.int64)
    te = np.array([[0.3], [0.2], [0.1]], np.float32)
    se = np.array([0.5, 0.4, 0.3, 0.2, 0.1], np.float32)
    te2 = np.array([[0.3, 0.25], [0.2, 0.15], [0.1, 0.1]], np.float32)
    sv, sv2 = (sampled, te, se), (sampled, te2, se)
    out = [
        tf.nn.nce_loss(W, b, lab, x, 5, 20, sampled_values=sv),
        tf.nn.nce_loss(W, b, lab2, x, 5, 20, num_true=2, sampled_values=sv2),
        tf.nn.nce_loss(W, b, lab, x, 5, 20, sampled_values=sv, remove_accidental_hits=True),
        tf.nn.sampled_softmax_loss(W, b, lab, x, 5, 20, sampled_values=sv),
        tf.nn.sampled_softmax_loss(
            W, b, lab, x, 5, 20, sampled_values=sv, remove_accidental_hits=False
        ),
        tf.nn.sampled_softmax_loss(W, b, lab2, x, 5, 20, num_true=2, sampled_values=sv2),
    ]
    with tf.Session() as s:
        for got, want in zip(s.run(out), TF):
            np.testing.assert_allclose(got, want, rtol=2e-5)


@pytest.mark.slow
def test_log_uniform_sampler_distribution_and_nce_training():
    tf.reset_default_graph()
    samples = tf.nn.log_uniform_candidate_sampler(
        np.zeros((1, 1), np.int64), 1, 2000, True, 50, seed=1
    )
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        a, expected = s.run([samples[0], samples[1]])
        b = s.run(samples[0])
    assert a.min() >= 0 and a.max() < 50 and not np.array_equal(a, b)  # fresh every run
    p = np.log(np.arange(2, 52) / np.arange(1, 51)) / np.log(51)
    freq = np.bincount(a, minlength=50) / len(a)
    assert np.abs(freq - p).max() < 0.03
    assert expected[0, 0] == pytest.approx(2000 * p[0], rel=1e-5)

    tf.reset_default_graph()
    emb = tf.Variable(tf.random_uniform([50, 8], -1.0, 1.0, seed=2))
    nce_w = tf.Variable(tf.truncated_normal([50, 8], stddev=0.3, seed=3))
    nce_b = tf.Variable(tf.zeros([50]))
    ids = np.arange(16) % 50
    labels = ((ids + 1) % 50).reshape(-1, 1)
    loss = tf.reduce_mean(
        tf.nn.nce_loss(nce_w, nce_b, labels, tf.nn.embedding_lookup(emb, ids), 8, 50)
    )
    step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        first = np.mean([s.run(loss) for _ in range(5)])
        for _ in range(200):
            s.run(step)
        last = np.mean([s.run(loss) for _ in range(5)])
    assert last < 0.5 * first
