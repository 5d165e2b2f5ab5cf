"""tf.custom_gradient in graph mode, eager (GradientTape) and kl.function traces.

The expected numbers are TensorFlow 2's (tf-cpu, GradientTape) for the same programs."""

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.eager import eager_mode


@tf.custom_gradient
def log1pexp(x):  # TF's docs: a gradient that stays finite where exp overflows
    e = tf.exp(x)

    def grad(dy):
        return dy * (1 - 1 / (1 + e))

    return tf.log(1 + e), grad


@tf.custom_gradient
def clip_grad(x, y):  # two inputs, the gradient a tuple, one gradient clipped
    z = x * y

    def grad(dz):
        return tf.clip_by_norm(dz * y, 1.0), dz * x

    return z, grad


@tf.custom_gradient
def two(x):  # two outputs: grad takes both cotangents
    s, c = tf.sin(x), tf.cos(x)

    def grad(ds, dc):
        return ds * c - dc * s * 2.0

    return (s, c), grad


@tf.custom_gradient
def ste(x):  # straight-through: round has no gradient, the custom one passes dy
    return tf.round(x), lambda dy: dy


X = np.float32([100.0, 0.0, -3.0])
TF_LOG1PEXP = [1.0, 0.5, 0.04742586612701416]
TF_CLIP = [[0.1191452145576477, 0.9928768277168274], [36.0, 160.0]]
TF_TWO = [1.7367244958877563, 2.4379992485046387, 0.26516449451446533]
TF_STE = [1.600000023841858, -6.400000095367432, 10.199999809265137]


def _graph_cases():
    x = tf.constant(X)
    (dx,) = tf.gradients(log1pexp(x), [x])
    a, b = tf.constant([3.0, 4.0]), tf.constant([2.0, 5.0])
    z = clip_grad(a, b)
    dab = tf.gradients(tf.reduce_sum(z * z), [a, b])
    v = tf.constant([0.3, -1.2, 2.0])
    s, c = two(v)
    (dv,) = tf.gradients(tf.reduce_sum(s * 3.0 + c * c), [v])
    w = tf.constant([0.3, -1.7, 2.6])
    (dw,) = tf.gradients(tf.reduce_sum(ste(w * 2.0) * w), [w])
    return [dx, *dab, dv, dw]


def _check(values):
    np.testing.assert_allclose(values[0], TF_LOG1PEXP, rtol=1e-6)
    np.testing.assert_allclose(values[1], TF_CLIP[0], rtol=1e-6)
    np.testing.assert_allclose(values[2], TF_CLIP[1], rtol=1e-6)
    np.testing.assert_allclose(values[3], TF_TWO, rtol=1e-5)
    np.testing.assert_allclose(values[4], TF_STE, rtol=1e-6)


def test_graph_mode_matches_tensorflow():
    with tf.Graph().as_default():
        grads = _graph_cases()
        with tf.Session() as sess:
            _check(sess.run(grads))


def test_function_trace_matches_tensorflow():
    with eager_mode():
        _check([t.numpy() for t in tf.function(_graph_cases)()])


def test_gradient_tape_matches_tensorflow():
    with eager_mode():
        x = tf.constant(X)
        with tf.GradientTape() as t:
            t.watch(x)
            y = log1pexp(x)
        np.testing.assert_allclose(y.numpy()[1:], np.log1p(np.exp(X[1:])), rtol=1e-6)
        got = [t.gradient(y, x).numpy()]
        a, b = tf.constant([3.0, 4.0]), tf.constant([2.0, 5.0])
        with tf.GradientTape() as t:
            t.watch([a, b])
            z = clip_grad(a, b)
            loss = tf.reduce_sum(z * z)
        got += [g.numpy() for g in t.gradient(loss, [a, b])]
        v = tf.constant([0.3, -1.2, 2.0])
        with tf.GradientTape() as t:
            t.watch(v)
            s, c = two(v)
            loss = tf.reduce_sum(s * 3.0 + c * c)
        got.append(t.gradient(loss, v).numpy())
        w = tf.constant([0.3, -1.7, 2.6])
        with tf.GradientTape() as t:
            t.watch(w)
            loss = tf.reduce_sum(ste(w * 2.0) * w)
        got.append(t.gradient(loss, w).numpy())
        _check(got)
        v = tf.Variable([2.0], name="v")

        @tf.custom_gradient
        def reads_v(x):
            return x * v, lambda dy: dy * v

        with tf.GradientTape(), pytest.raises(tf.GraphError, match="reads_v reads the variable v"):
            reads_v(w)
        np.testing.assert_array_equal(reads_v(w).numpy(), np.float32([0.3, -1.7, 2.6]) * 2)


def test_exact_custom_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(3, 5)).astype(np.float64)
    weights = rng.normal(size=(3, 5))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [3, None])
        loss = tf.reduce_sum(log1pexp(x * 1.5) * weights)
        (dx,) = tf.gradients(loss, [x])
        with tf.Session() as sess:
            got = sess.run(dx, {x: x0})
            eps, fd = 1e-6, np.zeros_like(x0)
            for i in np.ndindex(x0.shape):
                d = np.zeros_like(x0)
                d[i] = eps
                hi, lo = sess.run(loss, {x: x0 + d}), sess.run(loss, {x: x0 - d})
                fd[i] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_unsupported_forms_are_named():
    @tf.custom_gradient
    def with_variables(x):
        return x * 2.0, lambda dy, variables=None: (dy, [])

    @tf.custom_gradient
    def wrong_count(x, y):
        return x * y, lambda dz: dz

    @tf.custom_gradient
    def no_grad(x):
        return x * 2.0

    with tf.Graph().as_default():
        x = tf.constant([1.0])
        with pytest.raises(tf.GraphError, match="with_variables.*variables"):
            with_variables(x)
        with pytest.raises(tf.GraphError, match="wrong_count gave 1 gradients for 2"):
            wrong_count(x, x)
        with pytest.raises(tf.GraphError, match=r"no_grad must return \(outputs, grad_fn\)"):
            no_grad(x)
        seed = [
            o for o in tf.get_default_graph().get_operations() if o.type == "CustomGradientSeed"
        ]
        with tf.Session() as sess, pytest.raises(tf.GraphError, match="output gradient"):
            sess.run(seed[0].outputs[0])


def test_second_derivative_through_the_custom_gradient():
    # d/dx of log1pexp's custom gradient 1 - 1/(1+e^x) is sigmoid'(x)
    x0 = np.float32([0.5, -1.0, 2.0])
    sig = 1 / (1 + np.exp(-x0.astype(np.float64)))
    want = sig * (1 - sig)
    with tf.Graph().as_default():
        x = tf.constant(x0)
        (g,) = tf.gradients(log1pexp(x), [x])
        (gg,) = tf.gradients(g, [x])
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(gg), want, rtol=1e-5)
    with eager_mode():
        x = tf.constant(x0)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = log1pexp(x)
            g = inner.gradient(y, x)
        np.testing.assert_allclose(g.numpy(), sig, rtol=1e-6)
        np.testing.assert_allclose(outer.gradient(g, x).numpy(), want, rtol=1e-5)
