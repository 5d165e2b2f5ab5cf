"""kl.keras: layers, Sequential / functional / subclassed models, fit with the
progress bar, evaluate, predict, saving, the SPEC GAN with shared
discriminator, and the digits example in quick mode."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError

layers = kl.keras.layers


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centers = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    x = (centers[y] + rng.standard_normal((n, 2)) * 0.5).astype(np.float32)
    return x, y


@pytest.mark.slow
def test_sequential_fit_evaluate_predict_with_the_progress_bar(capsys):
    kl.keras.utils.set_random_seed(1)
    x, y = _blobs()
    model = kl.keras.Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(2,)),
            layers.BatchNormalization(),
            layers.Dropout(0.1),
            layers.Dense(3),
        ]
    )
    assert [len(layer.weights) for layer in model.layers] == [2, 4, 0, 2]
    assert len(model.trainable_variables) == 6 and len(model.weights) == 8
    model.compile(
        kl.keras.optimizers.Adam(0.02),
        kl.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, batch_size=32, epochs=4, validation_data=(x[:60], y[:60]))
    out = capsys.readouterr().out  # Keras prints its progress on stdout
    assert "Epoch 4/4" in out and "8/8 [==============================]" in out
    assert "loss:" in out and "val_accuracy:" in out
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9
    probs = model.predict(x[:10])
    assert probs.shape == (10, 3)
    np.testing.assert_allclose(probs, model(x[:10]).numpy(), rtol=1e-5, atol=1e-6)
    assert model._train_fn.trace_count == 1  # the short last batch reuses the trace
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 163" in out and "Non-trainable params: 32" in out  # 48 + 64 + 51


def test_functional_and_subclassed_models_save_and_load(tmp_path):
    x, y = _blobs()
    inputs = kl.keras.Input(shape=(2,))
    h = layers.Dense(8, activation="tanh")(inputs)
    outputs = layers.Dense(3, activation="softmax")(h)
    model = kl.keras.Model(inputs, outputs)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense"]
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(kl.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    again = kl.keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)
    assert again.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))

    class Net(kl.keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(3)

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    net = Net()
    net(x[:1])
    assert len(net.trainable_variables) == 4
    net.save_weights(tmp_path / "net.weights")
    other = Net()
    other(x[:1])
    other.load_weights(tmp_path / "net.weights")
    np.testing.assert_allclose(other(x).numpy(), net(x).numpy())
    with pytest.raises(GraphError, match="subclassed"):
        net.save(tmp_path / "net.keras")


def test_more_layers():
    with kl.eager_mode():
        emb = layers.Embedding(10, 4)
        out = emb(kl.constant([[1, 2], [3, 3]]))
        assert out.shape == [2, 2, 4]
        np.testing.assert_allclose(out.numpy()[1, 0], out.numpy()[1, 1])
        r = layers.Reshape((4, 2))(kl.ones([3, 8]))
        assert r.shape == [3, 4, 2]
        a = layers.Activation("sigmoid")(kl.zeros([2]))
        np.testing.assert_allclose(a.numpy(), [0.5, 0.5])
        bn = layers.BatchNormalization(momentum=0.5)
        data = kl.constant(np.arange(12, dtype=np.float32).reshape(6, 2))
        trained = bn(data, training=True).numpy()
        np.testing.assert_allclose(trained.mean(0), [0, 0], atol=1e-5)
        np.testing.assert_allclose(bn.moving_mean.numpy(), [2.5, 3.0])  # half of [5, 6]
        pooled = layers.MaxPooling2D(2)(kl.constant(np.arange(16.0).reshape(1, 4, 4, 1)))
        np.testing.assert_allclose(pooled.numpy()[0, :, :, 0], [[5, 7], [13, 15]])
        avg = layers.AveragePooling2D(2)(kl.constant(np.arange(16.0).reshape(1, 4, 4, 1)))
        np.testing.assert_allclose(avg.numpy()[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
        with pytest.raises(GraphError, match="unknown activation"):
            layers.Dense(2, activation="swishy")


def test_the_spec_gan_with_keras_models():
    """SPEC program 9 with kl.keras: the discriminator is one Model called on
    real and fake data; each optimizer step changes only its own model."""
    kl.keras.utils.set_random_seed(0)
    generator = kl.keras.Sequential(
        [layers.Dense(16, activation="elu", input_shape=(4,)), layers.Dense(2)]
    )
    discriminator = kl.keras.Sequential(
        [layers.Dense(16, activation="elu", input_shape=(2,)), layers.Dense(1)]
    )
    g_opt, d_opt = kl.optimizers.Adam(1e-3), kl.optimizers.Adam(1e-3)
    rng = np.random.default_rng(0)

    def ce(labels_like, logits, one):
        labels = kl.ones_like(logits) if one else kl.zeros_like(logits)
        return kl.reduce_mean(kl.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))

    @kl.function
    def d_step(real, z):
        with kl.GradientTape() as tape:
            real_logits = discriminator(real)
            fake_logits = discriminator(generator(z))
            loss = ce(None, real_logits, True) + ce(None, fake_logits, False)
        variables = discriminator.trainable_variables
        d_opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @kl.function
    def g_step(z):
        with kl.GradientTape() as tape:
            loss = ce(None, discriminator(generator(z)), True)
        variables = generator.trainable_variables
        g_opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def snapshot(model):
        return [w.numpy() for w in model.weights]

    for _ in range(5):
        real = (rng.standard_normal((32, 2)) * 0.3 + [1.0, 2.0]).astype(np.float32)
        z = rng.standard_normal((32, 4)).astype(np.float32)
        g0, d0 = snapshot(generator), snapshot(discriminator)
        d_loss = d_step(real, z)
        assert all(np.array_equal(a, b) for a, b in zip(g0, snapshot(generator)))
        assert all(not np.array_equal(a, b) for a, b in zip(d0, snapshot(discriminator)))
        g0, d0 = snapshot(generator), snapshot(discriminator)
        g_loss = g_step(z)
        assert all(not np.array_equal(a, b) for a, b in zip(g0, snapshot(generator)))
        assert all(np.array_equal(a, b) for a, b in zip(d0, snapshot(discriminator)))
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    assert d_step.trace_count == 1 and g_step.trace_count == 1


@pytest.mark.slow
def test_the_digits_example_in_quick_mode(capsys):
    pytest.importorskip("sklearn")
    from kiln.examples import keras_digits

    accuracy = keras_digits.main(["--quick"])
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "[==============================]" in out
    assert "accuracy:" in out and "val_loss:" in out
    assert accuracy > 0.6  # two epochs; the full run (30) reaches >= 97%


def test_tensorboard_callback_writes_what_tensorboard_reads(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator as accumulator,  # the `test` extra installs tensorboard
    )

    kl.keras.utils.set_random_seed(2)
    x, y = _blobs(96)
    model = kl.keras.Sequential(
        [layers.Dense(8, activation="relu", input_shape=(2,)), layers.Dense(3)]
    )
    model.compile(
        kl.keras.optimizers.SGD(0.1),
        kl.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    board = kl.keras.callbacks.TensorBoard(tmp_path, histogram_freq=1, update_freq=2)
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        validation_data=(x[:30], y[:30]),
        callbacks=[board],
        verbose=0,
    )
    train = accumulator(str(tmp_path / "train"), size_guidance={"histograms": 0})
    train.Reload()
    tags = train.Tags()
    assert {"epoch_loss", "epoch_accuracy", "batch_loss"} <= set(tags["scalars"])
    losses = [e.value for e in train.Scalars("epoch_loss")]
    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6, 8]  # 3 batches x 3
    assert len(tags["histograms"]) == len(model.weights)
    validation = accumulator(str(tmp_path / "validation"))
    validation.Reload()
    assert [e.step for e in validation.Scalars("epoch_loss")] == [0, 1, 2]
    with pytest.raises(GraphError, match="update_freq"):
        kl.keras.callbacks.TensorBoard(tmp_path, update_freq="sometimes")
