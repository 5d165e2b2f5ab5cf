"""tf.metrics against TensorFlow 1.x: the same three batches through
tensorflow-cpu 2.21's compat.v1 metrics gave the update values below
(each update_op's value after batch 0, 1, 2; the value tensors then agree
with the last)."""

import numpy as np
import pytest

import kiln as tf

# TensorFlow's values, batch by batch
TF = {
    "acc": [0.625, 0.625, 0.583333],
    "accw": [0.650254, 0.638435, 0.627809],
    "mean": [0.67381, 0.609364, 0.571153],
    "meanw": [0.689436, 0.609248, 0.537429],
    "prec": [0.666667, 0.7, 0.642857],
    "rec": [0.8, 0.7, 0.642857],
    "auc": [0.333333, 0.466667, 0.460714],
    "aucpr": [0.491429, 0.546953, 0.516624],
    "auc10": [0.425518, 0.46869, 0.473666],
    "mse": [0.367893, 0.32989, 0.336429],
}


def _metrics(yl, pl, wl):
    return {
        "acc": tf.metrics.accuracy(yl, tf.cast(pl > 0.5, tf.int64)),
        "accw": tf.metrics.accuracy(yl, tf.cast(pl > 0.5, tf.int64), weights=wl),
        "mean": tf.metrics.mean(pl),
        "meanw": tf.metrics.mean(pl, weights=wl),
        "prec": tf.metrics.precision(yl, pl > 0.5),
        "rec": tf.metrics.recall(yl, pl > 0.5),
        "auc": tf.metrics.auc(yl, pl),
        "aucpr": tf.metrics.auc(yl, pl, curve="PR"),
        "auc10": tf.metrics.auc(yl, pl, num_thresholds=10, weights=wl),
        "mse": tf.metrics.mean_squared_error(tf.cast(yl, tf.float32), pl),
    }


def test_streaming_metrics_match_tensorflow():
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    y = (rng.random((3, 8)) > 0.5).astype(np.int64)
    p = rng.random((3, 8)).astype(np.float32)
    w = rng.random((3, 8)).astype(np.float32)
    yl = tf.placeholder(tf.int64, [8])
    pl = tf.placeholder(tf.float32, [8])
    wl = tf.placeholder(tf.float32, [8])
    ms = _metrics(yl, pl, wl)
    names = [v.name for v in tf.local_variables()]
    assert names[:4] == [
        "accuracy/total:0",
        "accuracy/count:0",
        "accuracy_1/total:0",
        "accuracy_1/count:0",
    ]
    assert not tf.global_variables()  # a Saver leaves metric totals out
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert all(s.run(v[0]) == 0.0 for v in ms.values())  # 0/0 is 0
        for i in range(3):
            got = s.run({k: v[1] for k, v in ms.items()}, {yl: y[i], pl: p[i], wl: w[i]})
            for key, value in got.items():
                assert value == pytest.approx(TF[key][i], abs=2e-6), (key, i)
        for key, (value, _) in ms.items():
            assert s.run(value) == pytest.approx(TF[key][2], abs=2e-6), key
        s.run(tf.local_variables_initializer())  # resets the totals
        assert s.run(ms["acc"][0]) == 0.0
