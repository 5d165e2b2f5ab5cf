"""The Keras surface TF 2 tutorials use, against TensorFlow's numbers.

`run(tf)` builds layers with deterministic weights, computes losses,
metrics, optimizer steps, schedules and pad_sequences, and returns the
numbers; surface_tf.json holds what TensorFlow 2.21 with tf-keras (Keras 2,
TF_USE_LEGACY_KERAS=1; optimizers from tf.keras.optimizers.legacy) returned:

    TF_USE_LEGACY_KERAS=1 /work/tfenv/bin/python -c "import json, tensorflow as tf, \\
        tests.keras.test_surface as t; print(json.dumps(t.run(tf)))" > tests/keras/surface_tf.json

Each entry is its own test case (a layer's output shape, sum and a weighted
sum of its values; a loss unweighted and sample-weighted; ...).
"""

import json
import pathlib

import numpy as np
import pytest

TF = json.loads((pathlib.Path(__file__).with_name("surface_tf.json")).read_text())


def run(tf):
    L = tf.keras.layers
    out = {}

    def weights_for(layer):
        return [
            np.linspace(-1, 1, int(np.prod(w.shape))).reshape(w.shape).astype("float32")
            for w in layer.weights
        ]

    def layer(name, lyr, x, **kw):
        y = lyr(x, **kw)
        if lyr.weights:
            lyr.set_weights(weights_for(lyr))
            y = lyr(x, **kw)
        y = np.asarray(y)
        out[name] = [
            list(y.shape),
            float(y.sum()),
            float((y * np.arange(y.size).reshape(y.shape) % 7).sum()),
        ]

    x3 = (np.arange(2 * 6 * 3).reshape(2, 6, 3) / 10.0 - 1).astype("float32")
    x4 = (np.arange(2 * 5 * 5 * 2).reshape(2, 5, 5, 2) / 20.0 - 1).astype("float32")
    x2 = (np.arange(2 * 4).reshape(2, 4) / 4.0 - 1).astype("float32")
    layer("Conv1D_same_s2", L.Conv1D(4, 3, strides=2, padding="same"), x3)
    layer("Conv1D_dil", L.Conv1D(2, 2, dilation_rate=2, activation="relu"), x3)
    layer("Conv2D_same_s2", L.Conv2D(3, 3, strides=2, padding="same"), x4)
    layer("Conv2DT_same_s2", L.Conv2DTranspose(3, 3, strides=2, padding="same"), x4)
    layer("Conv2DT_valid_s2", L.Conv2DTranspose(2, (3, 2), strides=2, padding="valid"), x4)
    layer("Conv2DT_valid_s1", L.Conv2DTranspose(2, 3), x4)
    layer("Depthwise", L.DepthwiseConv2D(3, depth_multiplier=2), x4)
    layer("Separable", L.SeparableConv2D(3, 3, padding="same"), x4)
    layer("MaxPool1D", L.MaxPooling1D(2), x3)
    layer("AvgPool1D_same", L.AveragePooling1D(4, strides=2, padding="same"), x3)
    layer("MaxPool2D_same", L.MaxPooling2D(2, padding="same"), x4)
    layer("GAP2D", L.GlobalAveragePooling2D(), x4)
    layer("GMP1D", L.GlobalMaxPooling1D(), x3)
    layer("UpSampling2D", L.UpSampling2D((2, 3)), x4)
    layer("UpSampling1D", L.UpSampling1D(2), x3)
    layer("ZeroPadding2D", L.ZeroPadding2D(((1, 2), (0, 1))), x4)
    layer("ZeroPadding1D", L.ZeroPadding1D(2), x3)
    layer("Cropping2D", L.Cropping2D(((1, 0), (2, 1))), x4)
    layer("Cropping1D", L.Cropping1D((1, 2)), x3)
    layer("LayerNorm", L.LayerNormalization(), x3)
    layer("LeakyReLU", L.LeakyReLU(), x3)
    layer("ELU", L.ELU(0.5), x3)
    layer("ReLU_max", L.ReLU(max_value=0.5, negative_slope=0.1), x3)
    layer("PReLU", L.PReLU(), x3)
    layer("RepeatVector", L.RepeatVector(3), x2)
    layer("Permute", L.Permute((2, 1)), x3)
    layer("TimeDistributed", L.TimeDistributed(L.Dense(2)), x3)
    layer("Masking", L.Masking(mask_value=-1.0), np.where(x3 < -0.5, -1.0, x3).astype("float32"))
    layer("BatchNorm_train", L.BatchNormalization(), x4, training=True)
    layer("Embedding", L.Embedding(10, 3), np.array([[1, 2, 0], [4, 9, 9]]))
    for nm, m in [
        ("Concatenate", L.Concatenate()),
        ("Add", L.Add()),
        ("Subtract", L.Subtract()),
        ("Multiply", L.Multiply()),
        ("Average", L.Average()),
        ("Maximum", L.Maximum()),
        ("Minimum", L.Minimum()),
        ("Dot", L.Dot(axes=1)),
        ("Dot_norm", L.Dot(axes=1, normalize=True)),
    ]:
        y = np.asarray(m([x2, x2[::-1] * 0.5 + 0.1]))
        out["merge_" + nm] = [list(y.shape), float(y.sum()), float(y.ravel()[0])]
    # regularizers
    d = L.Dense(
        3,
        kernel_regularizer=tf.keras.regularizers.l1_l2(l1=0.01, l2=0.02),
        bias_regularizer=tf.keras.regularizers.l2(0.5),
        activity_regularizer=tf.keras.regularizers.l1(0.1),
    )
    d(x2)
    d.set_weights(weights_for(d))
    d.bias.assign([0.5, -1.0, 2.0])
    d(x2)
    out["reg_losses"] = sorted(float(v) for v in d.losses)
    # losses
    yp = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]], "float32")
    yt = np.array([[0, 1, 0], [0, 0, 1]], "float32")
    for n in [
        "MeanSquaredError",
        "MeanAbsoluteError",
        "BinaryCrossentropy",
        "CategoricalCrossentropy",
        "Huber",
        "KLDivergence",
        "LogCosh",
        "Hinge",
        "SquaredHinge",
        "MeanAbsolutePercentageError",
        "CosineSimilarity",
        "Poisson",
        "MeanSquaredLogarithmicError",
    ]:
        lo = getattr(tf.keras.losses, n)()
        out["loss_" + n] = [
            float(lo(yt, yp)),
            float(lo(yt, yp, sample_weight=np.array([1.0, 3.0], "float32"))),
        ]
    out["loss_sparse_logits"] = float(
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1, 2]), yp)
    )
    out["loss_sum"] = float(tf.keras.losses.MeanSquaredError(reduction="sum")(yt, yp))
    out["loss_none"] = np.asarray(
        tf.keras.losses.MeanSquaredError(reduction="none")(yt, yp)
    ).tolist()
    out["lossfn_mse"] = np.asarray(tf.keras.losses.mse(yt, yp)).tolist()
    out["lossfn_bce"] = np.asarray(tf.keras.losses.binary_crossentropy(yt, yp)).tolist()
    # metrics
    mets = {}
    for n in [
        "SparseCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy",
        "SparseCategoricalCrossentropy",
    ]:
        m = (
            getattr(tf.keras.metrics, n)()
            if "TopK" not in n
            else tf.keras.metrics.SparseTopKCategoricalAccuracy(k=2)
        )
        m.update_state(np.array([1, 0]), yp)
        m.update_state(np.array([2]), yp[:1], sample_weight=[2.0])
        mets[n] = float(m.result())
    for n in [
        "CategoricalAccuracy",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "RootMeanSquaredError",
        "CategoricalCrossentropy",
        "KLDivergence",
        "TopKCategoricalAccuracy",
    ]:
        m = (
            getattr(tf.keras.metrics, n)()
            if "TopK" not in n
            else tf.keras.metrics.TopKCategoricalAccuracy(k=1)
        )
        m.update_state(yt, yp)
        m.update_state(yt[:1], yp[::-1][:1])
        mets[n] = float(m.result())
    for n in ["Precision", "Recall", "BinaryAccuracy", "BinaryCrossentropy"]:
        m = getattr(tf.keras.metrics, n)()
        m.update_state(np.array([1, 0, 1, 0, 1]), np.array([0.8, 0.6, 0.3, 0.1, 0.9]))
        mets[n] = float(m.result())
    s = tf.keras.metrics.Sum()
    s.update_state([1.0, 2.5])
    s.update_state(3.0)
    mets["Sum"] = float(s.result())
    out["metrics"] = mets
    # optimizers
    opts = {}
    for n, kw in [
        ("SGD", {}),
        ("Adam", {}),
        ("RMSprop", {"momentum": 0.5}),
        ("Adagrad", {}),
        ("Adadelta", {"learning_rate": 1.0}),
        ("Adamax", {}),
        ("SGD_clip", {"momentum": 0.9, "nesterov": True, "clipnorm": 1.0}),
        ("Adam_clipvalue", {"clipvalue": 0.5}),
        (
            "Adam_schedule",
            {
                "learning_rate": tf.keras.optimizers.schedules.ExponentialDecay(
                    0.1, 2, 0.5, staircase=True
                )
            },
        ),
    ]:
        v = tf.Variable([1.0, -2.0, 3.0])
        cls = getattr(
            tf.keras.optimizers.legacy
            if hasattr(tf.keras.optimizers, "legacy")
            else tf.keras.optimizers,
            n.split("_")[0],
        )
        kw = dict(kw)
        kw.setdefault("learning_rate", 0.1)
        opt = cls(**kw)
        for _ in range(4):
            with tf.GradientTape() as t:
                loss = tf.reduce_sum(v * v * v * 0.1 + v * v)
            opt.apply_gradients(zip(t.gradient(loss, [v]), [v]))
        opts[n] = v.numpy().tolist()
    out["optimizers"] = opts
    sch = tf.keras.optimizers.schedules
    out["schedules"] = [
        float(sch.ExponentialDecay(0.1, 10, 0.9)(15)),
        float(sch.ExponentialDecay(0.1, 10, 0.9, staircase=True)(15)),
        float(sch.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])(5)),
        float(sch.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])(6)),
        float(sch.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])(11)),
        float(sch.InverseTimeDecay(0.1, 10, 0.5)(20)),
        float(sch.PolynomialDecay(0.1, 10, 0.01, power=2.0)(5)),
        float(sch.PolynomialDecay(0.1, 10, 0.01)(50)),
    ]
    out["pad"] = (
        tf.keras.preprocessing.sequence.pad_sequences([[1, 2, 3, 4], [5]], maxlen=3).tolist()
        + tf.keras.preprocessing.sequence.pad_sequences(
            [[1, 2, 3, 4], [5]], maxlen=3, padding="post", truncating="post"
        ).tolist()
    )
    return out


@pytest.fixture(scope="module")
def kiln_numbers():
    import kiln as tf

    with tf.eager_mode():  # TF 2's default, without switching the whole process
        return run(tf)


def _cases():
    for key, value in TF.items():
        if isinstance(value, dict):
            yield from ((f"{key}.{k}", (key, k)) for k in value)
        else:
            yield key, (key, None)


CASES = dict(_cases())


def _close(got, want):
    if isinstance(want, list) and want and isinstance(want[0], list) and len(want) == 3:
        if all(isinstance(x, int) for x in want[0]) and not isinstance(want[1], list):
            assert got[0] == want[0], f"shape {got[0]} != TF's {want[0]}"
            got, want = got[1:], want[1:]
    np.testing.assert_allclose(
        np.asarray(got, float), np.asarray(want, float), rtol=2e-5, atol=2e-5
    )


@pytest.mark.parametrize("case", list(CASES))
def test_matches_tensorflow(kiln_numbers, case):
    key, sub = CASES[case]
    want = TF[key] if sub is None else TF[key][sub]
    got = kiln_numbers[key] if sub is None else kiln_numbers[key][sub]
    _close(got, want)
