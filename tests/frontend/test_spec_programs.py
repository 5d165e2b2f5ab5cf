"""SPEC.md's programs 4-9, written as users write them (`import kiln as kl`).

Step counts are cut where the stated outcome is reached sooner, to keep the
suite fast on the interpreter; the full-length runs are in
benchmarks/ (program 6's session-call overhead)."""

import numpy as np
import pytest

import kiln as kl


@pytest.fixture(autouse=True)
def fresh_graph():
    with kl.Graph().as_default() as g:
        yield g


def test_program_4_classifier_with_adam():
    w1 = kl.Variable(kl.random_normal([2, 3], stddev=1, seed=1))
    w2 = kl.Variable(kl.random_normal([3, 1], stddev=1, seed=1))
    x = kl.placeholder(kl.float32, shape=(None, 2), name="x-input")
    y_ = kl.placeholder(kl.float32, shape=(None, 1), name="y-input")
    a = kl.nn.relu(kl.matmul(x, w1))
    y = kl.nn.relu(kl.matmul(a, w2))
    cross_entropy = -kl.reduce_mean(y_ * kl.log(kl.clip_by_value(y, 1e-10, 1.0)))
    train_step = kl.train.AdamOptimizer(0.001).minimize(cross_entropy)
    rdm = np.random.RandomState(1)
    X = rdm.rand(516, 2)
    Y = [[int(x1 + x2 < 1)] for (x1, x2) in X]
    losses = []
    with kl.Session() as sess:
        sess.run(kl.global_variables_initializer())
        for i in range(3000):
            start = (i * 10) % 516
            end = min(start + 10, 516)
            sess.run(train_step, feed_dict={x: X[start:end], y_: Y[start:end]})
            if i % 1000 == 0:
                losses.append(sess.run(cross_entropy, feed_dict={x: X, y_: Y}))
        losses.append(sess.run(cross_entropy, feed_dict={x: X, y_: Y}))
        assert sess.compiles == 3  # initializer, training step, loss: no recompiles
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def test_program_5_mlp_gradient_descent():
    rng = np.random.RandomState(0)
    blue = rng.randn(50, 2) + np.array([-2, -2])
    red = rng.randn(50, 2) + np.array([2, 2])
    X = np.concatenate([blue, red]).astype(np.float32)
    C = np.array([[1, 0]] * 50 + [[0, 1]] * 50, np.float32)
    x = kl.placeholder(kl.float32, (None, 2))
    c = kl.placeholder(kl.float32, (None, 2))
    h = x
    for n_in, n_out in [(2, 4), (4, 8)]:
        W = kl.Variable(kl.random_normal([n_in, n_out], seed=n_out))
        b = kl.Variable(kl.zeros([n_out]))
        h = kl.sigmoid(kl.matmul(h, W) + b)
    W = kl.Variable(kl.random_normal([8, 2], seed=3))
    b = kl.Variable(kl.zeros([2]))
    p = kl.nn.softmax(kl.matmul(h, W) + b)
    J = -kl.reduce_sum(kl.reduce_sum(c * kl.log(p), axis=1))
    step = kl.train.GradientDescentOptimizer(0.03).minimize(J)
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        for _ in range(2000):
            s.run(step, {x: X, c: C})
        loss, probs = s.run([J, p], {x: X, c: C})
    assert loss < 1.0
    assert np.all(np.argmax(probs, 1) == np.argmax(C, 1))


def test_program_6_line_fit_sgd():
    rng = np.random.RandomState(2)
    xs = rng.uniform(-1, 1, 100_000).astype(np.float32)  # the SPEC's 8M: in benchmarks/
    ys = 3.0 * xs + 0.5
    x = kl.placeholder(kl.float32, name="x")
    y = kl.placeholder(kl.float32, name="y")
    m = kl.Variable(0.0, name="m")
    b = kl.Variable(0.0, name="b")
    loss = kl.square(m * x + b - y)
    step = kl.train.GradientDescentOptimizer(0.05).minimize(loss)
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        for i in range(3000):
            s.run(step, {x: xs[i], y: ys[i]})
        mv, bv = s.run([m, b])
    assert abs(mv - 3.0) < 0.03 and abs(bv - 0.5) < 0.005


def test_program_7_save_and_restore(tmp_path):
    v1 = kl.Variable(1.0, name="v1")
    v2 = kl.Variable(2.0, name="v2")
    kl.add(v1, v2, name="a")
    saver = kl.train.Saver()
    only_v2 = kl.train.Saver({"v2": v2})
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        path = saver.save(s, str(tmp_path / "model"))
        part = only_v2.save(s, str(tmp_path / "part"))
    assert path == str(tmp_path / "model")
    assert kl.train.latest_checkpoint(str(tmp_path)) == part
    with kl.Graph().as_default():
        restorer = kl.train.import_meta_graph(path + ".meta")
        g = kl.get_default_graph()
        with kl.Session() as s:
            restorer.restore(s, path)
            assert s.run("v1:0") == 1.0 and s.run("v2:0") == 2.0
            assert s.run(g.get_tensor_by_name("a:0")) == 3.0
            with pytest.raises(kl.GraphError, match="has no variable 'v1'"):
                restorer.restore(s, part)
    with kl.Graph().as_default():
        kl.Variable([1.0, 2.0], name="v2")
        with kl.Session() as s, pytest.raises(kl.GraphError, match="'v2' has shape"):
            kl.train.Saver().restore(s, part)


def test_program_7_crash_while_saving_keeps_old_checkpoint(tmp_path, monkeypatch):
    v = kl.Variable(1.0, name="v")
    saver = kl.train.Saver()
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        path = saver.save(s, str(tmp_path / "model"))
        s.run(v.assign(5.0))

        def crash(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(np, "savez", crash)
        with pytest.raises(OSError):
            saver.save(s, str(tmp_path / "model"))
        monkeypatch.undo()
        saver.restore(s, path)
        assert s.run(v) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "model.meta", "model.npz"]


def test_program_8_frozen_base_with_stop_gradient():
    x = kl.placeholder(kl.float32, (None, 8, 8, 3))
    labels = kl.placeholder(kl.float32, (None, 4, 4, 2))
    W = kl.Variable(kl.random_normal([3, 3, 3, 4], stddev=0.1, seed=5), name="base_w")
    features = kl.nn.max_pool(
        kl.nn.relu(kl.nn.conv2d(x, W, strides=[1, 1, 1, 1], padding="SAME")),
        ksize=[1, 2, 2, 1],
        strides=[1, 2, 2, 1],
        padding="SAME",
    )
    frozen = kl.stop_gradient(features)
    with kl.variable_scope("head"):
        w = kl.get_variable("w", [1, 1, 4, 2], initializer=kl.random_normal_initializer(stddev=0.1))
        b = kl.get_variable("b", [2], initializer=kl.constant_initializer(0.1))
    out = kl.nn.conv2d(frozen, w, strides=[1, 1, 1, 1], padding="SAME") + b
    loss = kl.reduce_mean(kl.square(out - labels))
    grads = kl.gradients(loss, [W, w])
    assert grads[0] is None and grads[1] is not None
    step = kl.train.GradientDescentOptimizer(0.5).minimize(loss)
    rng = np.random.RandomState(0)
    feed = {x: rng.rand(2, 8, 8, 3), labels: rng.rand(2, 4, 4, 2)}
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        base0, head0, loss0 = s.run([W, w, loss], feed)
        for _ in range(5):
            s.run(step, feed)
        base1, head1, loss1 = s.run([W, w, loss], feed)
    np.testing.assert_array_equal(base0, base1)
    assert not np.allclose(head0, head1) and loss1 < loss0


@pytest.mark.slow
def test_program_9_gan_updates_only_its_own_variables():
    def generator(z):
        with kl.variable_scope("generator"):
            h = kl.layers.dense(z, 8, activation=kl.nn.elu)
            return kl.layers.dense(h, 2)

    def discriminator(x, reuse=False):
        with kl.variable_scope("discriminator", reuse=reuse):
            h = kl.layers.dense(x, 8, activation=kl.nn.elu)
            return kl.layers.dense(h, 1)

    real = kl.placeholder(kl.float32, (None, 2))
    z = kl.placeholder(kl.float32, (None, 3))
    fake = generator(z)
    d_real = discriminator(real)
    d_fake = discriminator(fake, reuse=True)
    xent = kl.nn.sigmoid_cross_entropy_with_logits
    d_loss = kl.reduce_mean(xent(logits=d_real, labels=kl.ones_like(d_real))) + kl.reduce_mean(
        xent(logits=d_fake, labels=kl.zeros_like(d_fake))
    )
    g_loss = kl.reduce_mean(xent(logits=d_fake, labels=kl.ones_like(d_fake)))
    d_vars = kl.trainable_variables(scope="discriminator")
    g_vars = kl.trainable_variables(scope="generator")
    assert len(d_vars) == 4 and len(g_vars) == 4  # the discriminator's are shared
    d_step = kl.train.AdamOptimizer(0.01).minimize(d_loss, var_list=d_vars)
    g_step = kl.train.AdamOptimizer(0.01).minimize(g_loss, var_list=g_vars)
    rng = np.random.RandomState(0)
    feed = {real: rng.randn(16, 2) + 3, z: rng.randn(16, 3)}
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        before = s.run(d_vars + g_vars)
        s.run(d_step, feed)
        after_d = s.run(d_vars + g_vars)
        s.run(g_step, feed)
        after_g = s.run(d_vars + g_vars)
    for i in range(4):
        assert not np.allclose(before[i], after_d[i])  # d changed
        np.testing.assert_array_equal(before[4 + i], after_d[4 + i])  # g did not
        np.testing.assert_array_equal(after_d[i], after_g[i])  # then d did not
        assert not np.allclose(after_d[4 + i], after_g[4 + i])  # and g did
