"""Prints the TensorFlow values stored in test_tf_more_ops.py (TF_VALUES).

Not a test (pytest collects test_*.py only); TensorFlow is no kiln dependency.
Run by hand with a TensorFlow venv: /work/tfenv/bin/python tests/frontend/tf_more_ops_reference.py
"""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf

x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
cases = {
    "ss_basic": tf.strided_slice(x, [0, 1, 0], [2, 3, 4], [1, 1, 2]),
    "ss_shrink_endmask": tf.strided_slice(
        x, [1, 0], [2, 0], [1, 1], shrink_axis_mask=1, end_mask=2
    ),
    "ss_neg": tf.strided_slice(x, [-1, -1], [-3, 0], [-1, -2], begin_mask=0, end_mask=0),
    "ss_ellipsis_newaxis": tf.strided_slice(
        x, [0, 0, 1], [0, 0, 3], [1, 1, 1], ellipsis_mask=1, new_axis_mask=2
    ),
    "scatter_1d": tf.scatter_nd([[4], [3], [1], [7], [4]], [9.0, 10, 11, 12, 1], [8]),
    "scatter_rows": tf.scatter_nd([[0], [2]], [[5.0, 5, 5, 5], [6, 6, 6, 6]], [4, 4]),
    "scatter_2d": tf.scatter_nd([[0, 1], [1, 0]], [3.0, 4.0], [2, 2]),
    "mask": tf.sequence_mask([1, 3, 2], 5),
    "mask_nomax_f": tf.sequence_mask([[1, 3], [2, 0]], dtype=tf.float32),
    "pad_c": tf.pad(x[0], [[1, 0], [0, 2]], constant_values=7),
    "pad_r": tf.pad(x[0], [[1, 1], [2, 3]], "REFLECT"),
    "pad_s": tf.pad(x[0], [[2, 0], [1, 4]], "SYMMETRIC"),
    "eye": tf.eye(2, 3, batch_shape=[2]),
}
for k, v in cases.items():
    a = np.asarray(v)
    print(f"    {k!r}: np.array({a.tolist()!r}, dtype={str(a.dtype)!r}),")


# tf.nn.lrn (LRN_* in test_tf_more_ops.py)
xl = np.random.RandomState(3).randn(2, 3, 2, 7).astype(np.float32)
la = tf.nn.lrn(xl, depth_radius=2, bias=1.0, alpha=0.1, beta=0.75).numpy()
lb = tf.nn.local_response_normalization(xl).numpy()
xv = tf.Variable(xl)
with tf.GradientTape() as tape:
    ly = tf.reduce_sum(tf.nn.lrn(xv, 2, 2.0, 1e-1, 0.75) * np.arange(7, dtype=np.float32))
lg = tape.gradient(ly, xv).numpy()
print("LRN_A_SUM =", float(la.astype(np.float64).sum()), "LRN_A_0 =", la[0, 0, 0].tolist())
print("LRN_B_0 =", lb[1, 2, 1].tolist())
print("LRN_G_0 =", lg[0, 1, 1].tolist(), "LRN_G_SUM =", float(lg.astype(np.float64).sum()))


# tf.sort / argsort / norm / swish (SORTS, NORMS, NN in test_tf_more_ops.py)
xs = np.array([[3.0, 1.0, 2.0, 1.0], [-1.0, 5.0, 5.0, 0.0], [0.5, -2.0, 4.0, 4.0]], np.float32)


def r(t):
    return np.asarray(t).tolist()


sorts = {
    "asc": r(tf.sort(xs)),
    "desc0": r(tf.sort(xs, axis=0, direction="DESCENDING")),
    "arg": r(tf.argsort(xs)),
    "argd": r(tf.argsort(xs, direction="DESCENDING")),
    "arg0": r(tf.argsort(xs, axis=0)),
}
norms = {
    "all": round(float(tf.norm(xs)), 5),
    "ax1": [round(v, 5) for v in r(tf.norm(xs, axis=1))],
    "l1": r(tf.norm(xs, ord=1, axis=0)),
    "inf": r(tf.norm(xs, ord=np.inf, axis=1, keepdims=True)),
}
nn = {
    "swish": [round(v, 6) for v in r(tf.nn.swish(xs[1]))],
    "silu": [round(v, 6) for v in r(tf.nn.silu(xs[2]))],
    "xwb": r(tf.compat.v1.nn.xw_plus_b(xs, xs.T, [1.0, 2.0, 3.0])),
}
print("SORTS =", sorts)
print("NORMS =", norms)
print("NN =", nn)
