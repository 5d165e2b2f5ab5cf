"""Prints the TensorFlow values stored in test_auc.py (TF 2.21, tf_keras).

Not a test; TensorFlow is no kiln dependency. `... kiln` runs it under kiln.
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np

if sys.argv[1:] == ["kiln"]:
    sys.path.insert(0, "/work/wt/tf")
    from kiln import keras
else:
    import tf_keras as keras
rng = np.random.RandomState(5)
y = (rng.rand(300) > 0.6).astype(np.float32)
p = np.clip(0.35 * y + 0.65 * rng.rand(300), 0, 1).astype(np.float32)
out = {}
for curve in ("ROC", "PR"):
    for method in ("interpolation", "minoring", "majoring"):
        m = keras.metrics.AUC(curve=curve, summation_method=method)
        m.update_state(y[:100], p[:100])
        m.update_state(y[100:], p[100:])
        out[f"{curve}_{method}"] = round(float(m.result()), 6)
m = keras.metrics.AUC(num_thresholds=11)
m.update_state(y, p, sample_weight=rng.rand(300))
out["w11"] = round(float(m.result()), 6)
m.reset_state()
m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
out["doc"] = round(float(m.result()), 6)
print("AUCS =", out)
