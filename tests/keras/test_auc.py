"""keras.metrics.AUC (issue 18): ROC and PR areas with each summation method,
weights, few thresholds, over two batches. AUCS was printed by TensorFlow
2.21 (tf_keras) running tests/keras/tf_auc_reference.py on the same data."""

import numpy as np
import pytest

import kiln.compat._v2 as tf  # TF 2's names without switching the test process to eager
from kiln import keras


@pytest.fixture(autouse=True)
def _eager():
    """TF 2's default, for these tests only."""
    with tf.eager_mode():
        yield


AUCS = {
    "ROC_interpolation": 0.877957,
    "ROC_minoring": 0.875815,
    "ROC_majoring": 0.880099,
    "PR_interpolation": 0.851927,
    "PR_minoring": 0.832956,
    "PR_majoring": 0.85401,
    "w11": 0.86989,
    "doc": 0.875,
}


def test_auc_matches_keras():
    rng = np.random.RandomState(5)
    y = (rng.rand(300) > 0.6).astype(np.float32)
    p = np.clip(0.35 * y + 0.65 * rng.rand(300), 0, 1).astype(np.float32)
    got = {}
    for curve in ("ROC", "PR"):
        for method in ("interpolation", "minoring", "majoring"):
            m = keras.metrics.AUC(curve=curve, summation_method=method)
            m.update_state(y[:100], p[:100])
            m.update_state(y[100:], p[100:])
            got[f"{curve}_{method}"] = float(m.result())
    m = keras.metrics.AUC(num_thresholds=11)
    m.update_state(y, p, sample_weight=rng.rand(300))
    got["w11"] = float(m.result())
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    got["doc"] = float(m.result())
    for k, v in AUCS.items():
        assert got[k] == pytest.approx(v, abs=2e-6), k


def test_auc_updates_inside_a_function_and_rejects_bad_args():
    m = keras.metrics.AUC(num_thresholds=5)

    @tf.function
    def step(y, p):
        m.update_state(y, p)

    step(np.array([0.0, 1.0], np.float32), np.array([0.2, 0.9], np.float32))
    step(np.array([1.0, 0.0], np.float32), np.array([0.6, 0.7], np.float32))
    assert float(m.result()) == pytest.approx(0.875)  # trapezoids through 5 thresholds
    with pytest.raises(tf.GraphError, match="curve must be ROC or PR"):
        keras.metrics.AUC(curve="DET")


def _binary_model():
    rng = np.random.RandomState(0)
    x = rng.randn(200, 4).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) + 0.5 * rng.randn(200) > 0
    model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid", input_shape=(4,))])
    return model, x, y.astype(np.float32).reshape(-1, 1)


@pytest.mark.parametrize("metric", ["AUC", "auc", "object"])
def test_auc_in_compile_fit_and_evaluate(metric):
    """compile(metrics=["AUC"]): evaluate's auc over several batches is the AUC of
    the whole set's predictions (as TF's, whose AUC accumulates counts over batches),
    and fit logs it per epoch."""
    model, x, y = _binary_model()
    chosen = keras.metrics.AUC(curve="PR", name="pr_auc") if metric == "object" else metric
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=[chosen])
    name = "pr_auc" if metric == "object" else "auc"
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    aucs = history.history[name]
    assert len(aucs) == 3 and aucs[-1] > 0.85 and aucs[-1] >= aucs[0]
    logs = model.evaluate(x, y, batch_size=48, verbose=0, return_dict=True)
    whole = keras.metrics.AUC(curve="PR" if metric == "object" else "ROC")
    whole.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(logs[name], float(whole.result()), rtol=1e-5)
