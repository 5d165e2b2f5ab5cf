"""kl.losses (weights, reductions, the LOSSES collection) against numpy, and
kl.layers (variables, variable_scope reuse, trainable, batch norm's moving
averages)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import kiln as kl

fd_check = sys.modules["kiln_tests_frontend_gradients"]._check
rng = np.random.default_rng(1)
R = kl.losses.Reduction


@pytest.fixture(autouse=True)
def graph():
    with kl.Graph().as_default() as g, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield g


def run(fetches, feed=None):
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        return s.run(fetches, feed)


def reduce(losses, weights, reduction):
    weighted = losses * weights
    spread = np.broadcast_to(weights, losses.shape)
    if reduction == R.NONE:
        return weighted
    if reduction == R.SUM:
        return weighted.sum()
    if reduction == R.MEAN:  # TF divides with div_no_nan: 0 when the weights sum to 0
        return weighted.sum() / spread.sum() if spread.sum() else 0.0
    if reduction == R.SUM_OVER_BATCH_SIZE:
        return weighted.sum() / losses.size
    return weighted.sum() / max(np.count_nonzero(spread), 1) if np.any(spread) else 0.0


@pytest.mark.parametrize("reduction", R.all())
@pytest.mark.parametrize("weights", [1.0, 2.5, "per_example", "per_element", 0.0])
def test_losses_match_numpy(reduction, weights):
    z = rng.uniform(0, 1, (4, 3))
    p = rng.uniform(0.05, 0.95, (4, 3))
    x = rng.standard_normal((4, 3)) * 3
    ids = np.array([2, 0, 1, 1])
    w = {
        "per_example": np.array([[1.0], [0.0], [2.0], [0.5]]),
        "per_element": rng.choice([0.0, 1.0, 3.0], (4, 3)),
    }.get(weights, weights)
    w_ex = w[:, 0] if isinstance(w, np.ndarray) else w
    err = p - z
    huber = np.where(np.abs(err) <= 0.4, 0.5 * err**2, 0.4 * (np.abs(err) - 0.2))
    log_p = x - np.log(np.exp(x).sum(1, keepdims=True))
    onehot = np.eye(3)[ids]
    cases = {
        "mse": (kl.losses.mean_squared_error(z, p, w, reduction=reduction), err**2, w),
        "abs": (kl.losses.absolute_difference(z, p, w, reduction=reduction), np.abs(err), w),
        "huber": (kl.losses.huber_loss(z, p, w, delta=0.4, reduction=reduction), huber, w),
        "log": (
            kl.losses.log_loss(z, p, w, reduction=reduction),
            -z * np.log(p + 1e-7) - (1 - z) * np.log(1 - p + 1e-7),
            w,
        ),
        "sigmoid": (
            kl.losses.sigmoid_cross_entropy(z, x, w, reduction=reduction),
            np.logaddexp(0, x) - x * z,
            w,
        ),
        "sigmoid_smooth": (
            kl.losses.sigmoid_cross_entropy(z, x, w, label_smoothing=0.2, reduction=reduction),
            np.logaddexp(0, x) - x * (z * 0.8 + 0.1),
            w,
        ),
        "softmax": (
            kl.losses.softmax_cross_entropy(onehot, x, w_ex, reduction=reduction),
            -(onehot * log_p).sum(1),
            w_ex,
        ),
        "softmax_smooth": (
            kl.losses.softmax_cross_entropy(
                onehot, x, w_ex, label_smoothing=0.3, reduction=reduction
            ),
            -((onehot * 0.7 + 0.1) * log_p).sum(1),
            w_ex,
        ),
        "sparse": (
            kl.losses.sparse_softmax_cross_entropy(
                ids.astype(np.int32), x, w_ex, reduction=reduction
            ),
            -log_p[np.arange(4), ids],
            w_ex,
        ),
    }
    got = run({k: v[0] for k, v in cases.items()})
    for k, (_, losses, weight) in cases.items():
        np.testing.assert_allclose(
            got[k], reduce(losses, weight, reduction), rtol=1e-5, atol=1e-6, err_msg=k
        )
    assert len(kl.losses.get_losses()) == len(cases)


def test_total_loss_and_errors():
    a = kl.losses.mean_squared_error([1.0, 2.0], [1.5, 2.0])
    kl.losses.add_loss(kl.constant(1.0), loss_collection=kl.GraphKeys.REGULARIZATION_LOSSES)
    total = kl.losses.get_total_loss()
    assert run(a) == pytest.approx(0.125) and run(total) == pytest.approx(1.125)
    with pytest.raises(kl.GraphError, match="unknown reduction 'mean'"):
        kl.losses.mean_squared_error([1.0], [2.0], reduction="mean")


def test_loss_gradients():
    fd_check(
        lambda p, z, w: (
            kl.losses.huber_loss(z, p, w, delta=0.5)
            + kl.losses.log_loss(kl.sigmoid(z), kl.sigmoid(p), w)
            # labels are constants to softmax_cross_entropy's gradient (TF 1.x): fixed ones
            + kl.losses.softmax_cross_entropy(
                np.eye(4)[[0, 3, 1]], p, kl.reshape(w, [3]), label_smoothing=0.1
            )
        ),
        [(3, 4), (3, 4), (3, 1)],
        seed=4,
    )


# ------------------------------------------------------------------ layers


def test_conv_layers_variables_and_reuse():
    x = kl.placeholder(kl.float32, (None, 8, 8, 3))
    y = kl.layers.conv2d(x, 4, 3, strides=2, padding="same", activation=kl.nn.relu, name="c1")
    y2 = kl.layers.conv2d(x, 4, 3, strides=2, padding="same", name="c1", reuse=True)
    frozen = kl.layers.conv2d(
        kl.transpose(x, [0, 3, 1, 2]),
        2,
        [1, 2],
        use_bias=False,
        data_format="channels_first",
        trainable=False,
        name="c2",
    )
    pooled = kl.layers.max_pooling2d(y, 2, 2)
    averaged = kl.layers.average_pooling2d(y, 3, 1, padding="same")
    names = [v.op.name for v in kl.global_variables()]
    assert names == ["c1/kernel", "c1/bias", "c2/kernel"]
    assert [v.op.name for v in kl.trainable_variables()] == ["c1/kernel", "c1/bias"]
    assert y.shape.as_list() == [None, 4, 4, 4] and frozen.shape.as_list() == [None, 2, 8, 7]
    assert pooled.shape.as_list() == [None, 2, 2, 4]
    assert averaged.shape.as_list() == [None, 4, 4, 4]
    xv = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    a, b = run([y, y2], {x: xv})
    np.testing.assert_array_equal(a, np.maximum(b, 0))
    with pytest.raises(kl.GraphError, match="data_format must be"):
        kl.layers.conv2d(x, 4, 3, data_format="NHWC")


@pytest.mark.parametrize("training_kind", ["python", "tensor"])
def test_batch_normalization_layer(training_kind):
    x = kl.placeholder(kl.float64, (None, 2, 3))
    flag = kl.placeholder(kl.bool, ()) if training_kind == "tensor" else True
    y = kl.layers.batch_normalization(x, axis=1, momentum=0.9, training=flag, name="bn")
    updates = kl.get_collection(kl.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    assert [v.op.name for v in kl.trainable_variables()] == ["bn/gamma", "bn/beta"]
    mean_var, var_var = [v for v in kl.global_variables() if "moving" in v.op.name]
    xv = rng.standard_normal((5, 2, 3)) * 2 + 3
    feed = {x: xv} if training_kind == "python" else {x: xv, flag: True}
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        out, _ = s.run([y, updates], feed)
        moving = s.run([mean_var, var_var])
        if training_kind == "tensor":
            inference = s.run(y, {x: xv, flag: False})
            s.run(updates, {x: xv, flag: False})
            assert np.allclose(s.run(mean_var), moving[0])  # no update at inference
            m, v = moving
            np.testing.assert_allclose(
                inference, (xv - m[:, None]) / np.sqrt(v[:, None] + 1e-3), rtol=1e-10
            )
    mean, var = xv.mean(axis=(0, 2)), xv.var(axis=(0, 2))
    np.testing.assert_allclose(out, (xv - mean[:, None]) / np.sqrt(var[:, None] + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(moving[0], 0.1 * mean)
    np.testing.assert_allclose(moving[1], 0.9 + 0.1 * var)


def test_batch_normalization_trains_with_update_ops():
    x = kl.placeholder(kl.float32, (None, 4))
    y = kl.layers.dense(kl.layers.batch_normalization(x, training=True), 1)
    loss = kl.reduce_mean(kl.square(y - 1.0))
    with kl.control_dependencies(kl.get_collection(kl.GraphKeys.UPDATE_OPS)):
        train = kl.train.GradientDescentOptimizer(0.1).minimize(loss)
    xv = rng.standard_normal((16, 4)).astype(np.float32) + 5
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        before = s.run(loss, {x: xv})
        for _ in range(20):
            s.run(train, {x: xv})
        moving = s.run(kl.global_variables()[2])
        assert s.run(loss, {x: xv}) < before
    np.testing.assert_allclose(moving, xv.mean(0) * (1 - 0.99**20), rtol=1e-4)
