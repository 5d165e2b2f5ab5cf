"""Initializers' statistics, compile/fit with callbacks, validation_split and
multiple inputs, metrics updated inside a tf.function, the eager iterator and
tf.group: TF 2 tutorial idioms, with TensorFlow's documented behaviour (the
history keys are those TF 2.21 / tf-keras returned for the same calls)."""

import csv

import numpy as np
import pytest

import kiln as tf

L = tf.keras.layers


@pytest.fixture(autouse=True)
def _eager():
    """TF 2's default, for these tests only (kiln.compat.v2 would switch the process)."""
    with tf.eager_mode():
        yield


I = tf.keras.initializers  # noqa: E741


@pytest.mark.parametrize(
    "init, mean, std",
    [
        (I.RandomNormal(stddev=0.5, seed=1), 0.0, 0.5),
        (I.RandomUniform(-1.0, 3.0, seed=1), 1.0, 4.0 / np.sqrt(12)),
        (I.TruncatedNormal(mean=1.0, stddev=0.2, seed=1), 1.0, 0.2 * 0.8796),
        (I.GlorotUniform(seed=1), 0.0, np.sqrt(2.0 / (200 + 300))),
        (I.GlorotNormal(seed=1), 0.0, np.sqrt(2.0 / (200 + 300))),
        (I.HeNormal(seed=1), 0.0, np.sqrt(2.0 / 200)),
        (I.HeUniform(seed=1), 0.0, np.sqrt(2.0 / 200)),
        (I.LecunNormal(seed=1), 0.0, np.sqrt(1.0 / 200)),
        (I.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1), 0.0, np.sqrt(1.0 / 100)),
    ],
)
def test_initializer_statistics(init, mean, std):
    # Keras's documented variances: glorot 2/(in+out), he 2/in, lecun 1/in, fan_out scale/out
    value = np.asarray(init((200, 300)))
    assert value.shape == (200, 300) and value.dtype == np.float32
    assert abs(value.mean() - mean) < 0.02 * max(std, 0.1) * 10
    assert value.std() == pytest.approx(std, rel=0.03)


def test_initializers_exact_and_seeded():
    np.testing.assert_array_equal(np.asarray(I.Constant(2.5)((2, 2))), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(np.asarray(I.Identity(3.0)((2, 3))), 3.0 * np.eye(2, 3))
    q = np.asarray(I.Orthogonal(seed=2)((4, 4)))
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    a, b = I.RandomNormal(seed=7)((3,)), I.RandomNormal(seed=7)((3,))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert I.get("he_normal").__class__ is I.HeNormal
    assert isinstance(I.get(I.RandomNormal), I.RandomNormal)  # a class, as add_weight takes
    with pytest.raises(Exception, match="unknown initializer 'no_such_initializer'"):
        I.get("no_such_initializer")


def _data():
    rs = np.random.RandomState(0)
    x = rs.rand(64, 8).astype("float32")
    return x, (x.sum(1) > 4).astype("int64")


def test_fit_with_callbacks_validation_split_and_metric_objects(tmp_path):
    x, y = _data()
    tf.keras.utils.set_random_seed(0)
    m = tf.keras.Sequential(
        [
            L.Dense(16, activation="relu", input_shape=(8,)),
            L.Dense(2),
        ]
    )
    m.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(), "accuracy"],
    )
    log = tmp_path / "log.csv"
    ck = tmp_path / "best.weights"
    cbs = [
        tf.keras.callbacks.ModelCheckpoint(str(ck), save_best_only=True, save_weights_only=True),
        tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
        tf.keras.callbacks.CSVLogger(str(log)),
    ]
    h = m.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, callbacks=cbs, verbose=0)
    # TF 2.21 (tf-keras) returns these keys for the same call
    assert sorted(h.history) == [
        "accuracy",
        "loss",
        "lr",
        "sparse_categorical_accuracy",
        "val_accuracy",
        "val_loss",
        "val_sparse_categorical_accuracy",
    ]
    np.testing.assert_allclose(h.history["lr"], [0.009, 0.0081, 0.00729], rtol=1e-6)
    assert h.history["accuracy"] == pytest.approx(h.history["sparse_categorical_accuracy"])
    assert h.history["loss"][-1] < h.history["loss"][0]
    rows = list(csv.reader(log.open()))
    assert rows[0][0] == "epoch" and len(rows) == 4
    assert ck.exists()


def test_regularization_losses_join_the_fit_loss():
    x, y = _data()
    dense = L.Dense(1, kernel_regularizer=tf.keras.regularizers.l2(10.0), input_shape=(8,))
    m = tf.keras.Sequential([dense])
    m.compile("sgd", "mse")
    penalty = 10.0 * float(np.sum(dense.kernel.numpy() ** 2))
    assert float(m.losses[0]) == pytest.approx(penalty, rel=1e-5)
    mse = float(np.mean((m.predict(x)[:, 0] - y) ** 2))
    assert m.evaluate(x, y.astype("float32"), batch_size=64, verbose=0) == pytest.approx(
        mse + penalty, rel=1e-4
    )


def test_custom_loop_metrics_inside_tf_function_and_subclassing():
    x, y = _data()

    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d1, self.d2 = L.Dense(16, activation="relu"), L.Dense(2)

        def call(self, inputs, training=False):
            return self.d2(self.d1(inputs))

    net, opt = Net(), tf.keras.optimizers.SGD(0.1)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    mean_loss = tf.keras.metrics.Mean(name="train_loss")
    acc = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            pred = net(xb, training=True)
            loss = loss_fn(yb, pred)
        grads = tape.gradient(loss, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))
        mean_loss(loss)
        acc(yb, pred)
        return loss

    losses = []
    for _ in range(3):
        mean_loss.reset_states()
        acc.reset_states()
        batch_losses = [
            float(step(xb, yb)) for xb, yb in tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        ]
        assert float(mean_loss.result()) == pytest.approx(np.mean(batch_losses), rel=1e-5)
        losses.append(float(mean_loss.result()))
        assert 0.0 <= float(acc.result()) <= 1.0
    assert losses[-1] < losses[0]
    assert int(opt.iterations) == 12


def test_functional_multi_input_and_steps_per_epoch():
    x, y = _data()
    a, b = tf.keras.Input((8,)), tf.keras.Input((8,))
    out = L.Dense(1)(L.concatenate([L.Dense(4)(a), L.Dense(4)(b)]))
    model = tf.keras.Model(inputs=[a, b], outputs=out)
    model.compile("adam", "mse", metrics=["mae"])
    hist = model.fit([x, x], y.astype("float32"), epochs=2, verbose=0)
    assert sorted(hist.history) == ["loss", "mae"]
    assert model.predict([x[:3], x[:3]]).shape == (3, 1)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    seq = tf.keras.Sequential([L.Dense(2, input_shape=(8,))])
    seq.compile("sgd", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seq.fit(ds, epochs=2, steps_per_epoch=3, verbose=0)
    assert int(seq.optimizer.iterations) == 6


def test_eager_iterator_next_and_group():
    it = iter(tf.data.Dataset.range(2))
    assert int(it.next()) == 0 and int(it.get_next()) == 1
    with pytest.raises(tf.errors.OutOfRangeError):
        it.get_next()
    v = tf.Variable(1.0)
    tf.group(v.assign_add(1.0))  # TF 2 eager: the update already ran
    assert float(v) == 2.0


def test_backend_and_learning_rate_settable():
    K = tf.keras.backend
    assert (K.floatx(), K.epsilon(), K.image_data_format()) == ("float32", 1e-7, "channels_last")
    opt = tf.keras.optimizers.Adam(lr=0.01)  # Keras 2's old keyword
    assert float(opt.learning_rate) == pytest.approx(0.01)
    K.set_value(opt.lr, 0.5)
    assert float(K.get_value(opt.learning_rate)) == 0.5


def test_activations_by_name_and_save_load_roundtrip(tmp_path):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    np.testing.assert_allclose(
        tf.keras.activations.get("swish")(x).numpy(), x / (1 + np.exp(-x)), rtol=1e-6
    )
    np.testing.assert_allclose(
        tf.keras.activations.hard_sigmoid(x).numpy(), np.clip(0.2 * x + 0.5, 0, 1), rtol=1e-6
    )
    model = tf.keras.Sequential(
        [
            L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
            L.MaxPool2D(),
            L.Conv2DTranspose(2, 3, strides=2, padding="same"),
            L.GlobalAveragePooling2D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.compile(tf.keras.optimizers.RMSprop(1e-3), "categorical_crossentropy")
    images = np.random.RandomState(1).rand(2, 8, 8, 1).astype("float32")
    model.save(str(tmp_path / "m.h5"))
    again = tf.keras.models.load_model(str(tmp_path / "m.h5"))
    np.testing.assert_array_equal(model.predict(images), again.predict(images))
    model.save_weights(str(tmp_path / "ckpt" / "weights"))  # a new folder, as TF makes it
    again.load_weights(str(tmp_path / "ckpt" / "weights"))


def test_float64_inputs_and_1d_labels_as_keras_takes_them():
    # numpy's uint8 / 255.0 is float64: Keras casts it to the float32 model
    rs = np.random.RandomState(0)
    images = rs.randint(0, 255, (4, 3, 3)).astype("uint8") / 255.0
    model = tf.keras.Sequential([L.Flatten(input_shape=(3, 3)), L.Dense(2)])
    assert model(images).dtype == tf.float32
    # labels of shape [batch] against [batch, 1] predictions: no [batch, batch] broadcast
    y_true, y_pred = np.array([1.0, 0.0, 1.0]), np.array([[0.9], [0.2], [0.4]], np.float32)
    assert float(tf.keras.losses.MeanSquaredError()(y_true, y_pred)) == pytest.approx(
        np.mean((y_pred[:, 0] - y_true) ** 2)
    )
    acc = tf.keras.metrics.BinaryAccuracy()
    acc.update_state(y_true, y_pred)
    assert float(acc.result()) == pytest.approx(2.0 / 3.0)


# TF 2.21 / tf-keras outputs for the same layers and weights (linspace(-1, 1) per weight)
MASKED_TF = {
    "lstm": [[0.074146, 0.198498], [0.041096, 0.086709], [0.091872, 0.279436]],
    "gap": [[-0.862069], [-0.862069], [-0.862069]],
    "masking_gru": [[0.592695, 0.796951], [0.289627, 0.463704], [0.725431, 0.952522]],
}


@pytest.mark.parametrize("name", list(MASKED_TF))
def test_sequential_propagates_masks_as_keras(name):
    ids = np.array([[3, 5, 0, 0], [2, 0, 0, 0], [1, 4, 6, 7]])
    layers = {
        "lstm": lambda: [L.Embedding(10, 3, mask_zero=True), L.LSTM(2)],
        "gap": lambda: [L.Embedding(10, 3, mask_zero=True), L.GlobalAveragePooling1D(), L.Dense(1)],
        "masking_gru": lambda: [L.Masking(0.0), L.GRU(2, return_sequences=True), L.GRU(2)],
    }[name]()
    model = tf.keras.Sequential(layers)
    inputs = ids if name != "masking_gru" else (ids[..., None] / 7.0).astype("float32")
    model(inputs)
    for layer in model.layers:
        layer.set_weights(
            [np.linspace(-1, 1, int(np.prod(v.shape))).reshape(v.shape) for v in layer.weights]
        )
    np.testing.assert_allclose(np.asarray(model(inputs)), MASKED_TF[name], atol=2e-6)


# TF 2.21 / tf-keras: kernel after 2 epochs and the epoch losses, for the same call
WEIGHTED_TF = {
    "class_weight": (
        [[0.123502, 0.076498], [0.150393, 0.049607]],
        [0.924196, 0.829358],
    ),
    "sample_weight": (
        [[-0.194713, 0.394713], [-0.21984, 0.41984]],
        [2.426015, 1.939169],
    ),
}


@pytest.mark.parametrize("which", list(WEIGHTED_TF))
def test_fit_class_weight_and_sample_weight_match_tf(which):
    x = np.arange(12, dtype="float32").reshape(6, 2) / 10.0
    y = np.array([0, 1, 1, 0, 1, 1])
    kw = (
        {"class_weight": {0: 3.0, 1: 0.5}}
        if which == "class_weight"
        else {"sample_weight": np.array([1, 2, 3, 4, 5, 6.0])}
    )
    model = tf.keras.Sequential([L.Dense(2, kernel_initializer=I.Constant(0.1), input_shape=(2,))])
    model.compile(
        tf.keras.optimizers.SGD(0.5),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    h = model.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0, **kw)
    kernel, losses = WEIGHTED_TF[which]
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), kernel, atol=2e-6)
    np.testing.assert_allclose(h.history["loss"], losses, rtol=2e-6)


def test_normalization_adapt_and_rescaling_match_tf():
    data = np.array([[1.0, 10.0, 5.0], [2.0, 20.0, 5.0], [4.0, 60.0, 5.0]], "float32")
    norm = L.Normalization(axis=-1)
    norm.adapt(data)
    # TF 2.21 / tf-keras for the same calls
    np.testing.assert_allclose(
        np.asarray(norm(data)),
        [[-1.06904, -0.92582, 0.0], [-0.26726, -0.46291, 0.0], [1.33631, 1.38873, 0.0]],
        atol=1e-5,
    )
    np.testing.assert_allclose(np.asarray(norm.mean), [[2.33333, 30.0, 5.0]], atol=1e-5)
    given = L.Normalization(mean=3.0, variance=4.0)
    assert np.asarray(given(np.array([[1.0], [5.0]], "float32"))).tolist() == [[-1.0], [1.0]]
    scaled = L.Rescaling(1 / 127.5, offset=-1)(np.array([0.0, 255.0], "float32"))
    np.testing.assert_allclose(np.asarray(scaled), [-1.0, 1.0])
    model = tf.keras.Sequential([norm, L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(data, np.array([1.0, 2.0, 3.0]), epochs=1, verbose=0)
