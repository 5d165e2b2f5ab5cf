"""kl.keras.layers.SimpleRNN, LSTM, GRU and Bidirectional against Keras's own numbers.

TF holds outputs made once by TensorFlow 2.21 with tf-keras (TF_USE_LEGACY_KERAS=1,
eager) from the inputs and weights below: each layer with return_state, with
and without return_sequences, under a mask ([batch, time] bool), and each
wrapped in Bidirectional (concat). TensorFlow is not a test dependency. The
script was:

    layer = L.LSTM(2, return_sequences=rs, return_state=True); layer(x[:, :1])
    layer.set_weights(weights(layer)); out = layer(x, mask=tf.constant(mask))
"""

import numpy as np
import pytest

import kiln as kl

pytestmark = pytest.mark.filterwarnings("ignore:kiln. running")

TF = {
    "simple_last": {
        "shapes": [[3, 2], [2, 2], [2]],
        "res": [
            [[0.370866, 0.067857], [-0.951773, -0.672707]],
            [[0.370866, 0.067857], [-0.951773, -0.672707]],
        ],
    },
    "simple_seq": {
        "shapes": [[3, 2], [2, 2], [2]],
        "res": [
            [
                [
                    [0.817217, 0.132439],
                    [-0.086692, 0.668739],
                    [0.140144, 0.915026],
                    [0.370866, 0.067857],
                ],
                [
                    [0.063123, 0.075241],
                    [-0.951773, -0.672707],
                    [-0.951773, -0.672707],
                    [-0.951773, -0.672707],
                ],
            ],
            [[0.370866, 0.067857], [-0.951773, -0.672707]],
        ],
    },
    "bi_simple": [
        [
            [0.817217, 0.132439, 0.925395, 0.806632],
            [-0.086692, 0.668739, 0.911783, 0.688969],
            [0.140144, 0.915026, 0.980912, 0.974937],
            [0.370866, 0.067857, 0.723531, 0.820402],
        ],
        [
            [0.063123, 0.075241, 0.609766, 0.75878],
            [-0.951773, -0.672707, -0.425703, 0.152673],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
    ],
    "lstm_last": {
        "shapes": [[3, 8], [2, 8], [8]],
        "res": [
            [[0.176296, -0.274379], [0.12949, -0.092877]],
            [[0.176296, -0.274379], [0.12949, -0.092877]],
            [[0.26786, -0.656561], [0.234882, -0.245829]],
        ],
    },
    "lstm_seq": {
        "shapes": [[3, 8], [2, 8], [8]],
        "res": [
            [
                [
                    [0.137308, -0.166512],
                    [0.175283, -0.25164],
                    [0.315883, -0.600284],
                    [0.176296, -0.274379],
                ],
                [
                    [0.08299, -0.095394],
                    [0.12949, -0.092877],
                    [0.12949, -0.092877],
                    [0.12949, -0.092877],
                ],
            ],
            [[0.176296, -0.274379], [0.12949, -0.092877]],
            [[0.26786, -0.656561], [0.234882, -0.245829]],
        ],
    },
    "bi_lstm": [
        [
            [0.137308, -0.166512, 0.209317, -0.232349],
            [0.175283, -0.25164, 0.236568, -0.274202],
            [0.315883, -0.600284, 0.297164, -0.354708],
            [0.176296, -0.274379, 0.097328, -0.150818],
        ],
        [
            [0.08299, -0.095394, -0.015239, -0.155745],
            [0.12949, -0.092877, -0.163722, -0.151972],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
    ],
    "gru_last": {
        "shapes": [[3, 6], [2, 6], [2, 6]],
        "res": [
            [[0.322243, -0.001943], [-0.143921, -0.215215]],
            [[0.322243, -0.001943], [-0.143921, -0.215215]],
        ],
    },
    "gru_seq": {
        "shapes": [[3, 6], [2, 6], [2, 6]],
        "res": [
            [
                [
                    [0.036455, -0.095222],
                    [0.150053, -0.128919],
                    [0.357545, 0.213173],
                    [0.322243, -0.001943],
                ],
                [
                    [0.013085, -0.197802],
                    [-0.143921, -0.215215],
                    [-0.143921, -0.215215],
                    [-0.143921, -0.215215],
                ],
            ],
            [[0.322243, -0.001943], [-0.143921, -0.215215]],
        ],
    },
    "bi_gru": [
        [
            [0.036455, -0.095222, 0.335628, -0.223402],
            [0.150053, -0.128919, 0.125923, -0.263719],
            [0.357545, 0.213173, 0.062693, -0.256649],
            [0.322243, -0.001943, 0.140171, -0.135955],
        ],
        [
            [0.013085, -0.197802, 0.545183, 0.021733],
            [-0.143921, -0.215215, 0.360107, 0.236402],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
    ],
}

B, T, D, U = 2, 4, 3, 2
L = kl.keras.layers
MAKERS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}


def problem():
    rng = np.random.RandomState(7)
    x = rng.randn(B, T, D).astype(np.float32)
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
    return x, mask


def weights(layer):
    r = np.random.RandomState(11)
    return [(r.randn(*w.shape.as_list()) * 0.5).astype(np.float32) for w in layer.weights]


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("seq", [False, True])
def test_layers_match_keras_in_eager_and_kl_function(kind, seq):
    x, mask = problem()
    ref = TF[f"{kind}_{'seq' if seq else 'last'}"]
    with kl.eager_mode():
        layer = MAKERS[kind](U, return_sequences=seq, return_state=True)
        layer(kl.constant(x[:, :1]))
        assert [w.shape.as_list() for w in layer.weights] == ref["shapes"]
        layer.set_weights(weights(layer))
        eager = layer(kl.constant(x), mask=kl.constant(mask))
        traced = kl.function(lambda a, m: layer(a, mask=m))(kl.constant(x), kl.constant(mask))
    for got in (eager, traced):
        assert len(got) == len(ref["res"])
        for g, w in zip(got, ref["res"]):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_bidirectional_matches_keras(kind):
    x, mask = problem()
    with kl.eager_mode():
        bi = L.Bidirectional(MAKERS[kind](U, return_sequences=True))
        bi(kl.constant(x[:, :1]))
        bi.set_weights(weights(bi))
        got = bi(kl.constant(x), mask=kl.constant(mask))
    assert len(bi.weights) == 6
    np.testing.assert_allclose(got.numpy(), TF[f"bi_{kind}"], rtol=1e-5, atol=2e-6)


def test_lstm_gradient_traced_equals_eager_and_finite_differences():
    rng = np.random.RandomState(3)
    x = rng.randn(2, 5, 3)
    with kl.eager_mode():
        layer = L.LSTM(3, dtype="float64")
        layer(kl.constant(x[:, :1]))

        def loss_of(a):
            return kl.reduce_sum(kl.square(layer(a)))

        def grad(a):
            with kl.GradientTape() as tape:
                tape.watch(a)
                loss = loss_of(a)
            return tape.gradient(loss, a)

        xe = kl.constant(x)
        eager = grad(xe).numpy()
        traced = kl.function(grad)(xe).numpy()
        eps, num = 1e-6, np.zeros_like(x)
        for i in np.ndindex(*x.shape):
            d = np.zeros_like(x)
            d[i] = eps
            up, down = loss_of(kl.constant(x + d)), loss_of(kl.constant(x - d))
            num[i] = (float(up) - float(down)) / (2 * eps)
    np.testing.assert_allclose(traced, eager, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(eager, num, rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_fit_trains_a_gru_sequence_model():
    kl.keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = rng.randn(32, 6, 2).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None].astype(np.float32)  # a running sum: needs the recurrence
    with kl.eager_mode():
        model = kl.keras.Sequential([L.GRU(8, input_shape=(6, 2)), L.Dense(1)])
        model.compile(kl.keras.optimizers.Adam(0.05), "mse")
        history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
        pred = model.predict(x)
    losses = history.history["loss"]
    assert losses[-1] < 0.25 * losses[0]
    assert pred.shape == (32, 1)


def test_bidirectional_return_state_and_merge_modes():
    x, mask = problem()
    with kl.eager_mode():
        bi = L.Bidirectional(L.LSTM(U, return_state=True), merge_mode="sum")
        out, fh, fc, bh, bc = bi(kl.constant(x), mask=kl.constant(mask))
        fw = L.LSTM(U, return_state=True)
        bw = L.LSTM(U, return_state=True, go_backwards=True)
        fw(kl.constant(x[:, :1]))
        bw(kl.constant(x[:, :1]))
        fw.set_weights(bi.get_weights()[:3])
        bw.set_weights(bi.get_weights()[3:])
        f_out, f_h, f_c = fw(kl.constant(x), mask=kl.constant(mask))
        b_out, b_h, b_c = bw(kl.constant(x), mask=kl.constant(mask))
    np.testing.assert_allclose(out.numpy(), f_out.numpy() + b_out.numpy(), rtol=1e-6)
    for got, want in ((fh, f_h), (fc, f_c), (bh, b_h), (bc, b_c)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    assert bi.forward_layer.weights[0].shape.as_list() == [D, 4 * U]
