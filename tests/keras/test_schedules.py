"""Keras learning-rate schedules call the TF 1.x formulas (frontend/learning_rates.py);
the numbers were computed once with tensorflow-cpu 2.x (keras schedules, tf.compat.v1.train)."""

import numpy as np
import pytest

import kiln as kl


@pytest.mark.parametrize(
    "make, step, want",
    [
        (lambda s: s.CosineDecay(0.1, 10, alpha=0.1), 4, 0.06890576332807541),
        (lambda s: s.CosineDecay(0.1, 10), 30, 0.0),
        (lambda s: s.PolynomialDecay(0.1, 10, 0.01, power=2.0, cycle=True), 25, 0.0125),
        (lambda s: s.PolynomialDecay(0.1, 10, 0.01, cycle=True), 0, 0.1),
        (lambda s: s.InverseTimeDecay(0.1, 10, 0.5, staircase=True), 25, 0.05),
        (lambda s: s.ExponentialDecay(0.1, 10, 0.5, staircase=True), 15.0, 0.05),
    ],
)
def test_keras_schedules_match_tensorflow(make, step, want):
    with kl.eager_mode():
        rate = make(kl.keras.optimizers.schedules)(step)
        np.testing.assert_allclose(float(rate), want, rtol=1e-6, atol=1e-9)


def test_tf1_staircase_takes_a_float_step_as_tensorflow_does():
    # tf.compat.v1.train.exponential_decay(0.1, tf.constant(15.0), 10, 0.5, staircase=True)
    with kl.Graph().as_default(), kl.Session() as sess:
        rate = kl.train.exponential_decay(0.1, kl.constant(15.0), 10, 0.5, staircase=True)
        np.testing.assert_allclose(sess.run(rate), 0.05, rtol=1e-6)


def test_bad_schedule_configurations_name_the_schedule():
    s = kl.keras.optimizers.schedules
    with pytest.raises(kl.GraphError, match="CosineDecay: decay_steps must be positive"):
        s.CosineDecay(0.1, 0)
    with pytest.raises(kl.GraphError, match="PiecewiseConstantDecay: 1 values for 1 boundaries"):
        s.PiecewiseConstantDecay([5], [1.0])
