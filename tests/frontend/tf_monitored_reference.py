"""Prints the TensorFlow values stored in test_monitored_session.py
(`python ... kiln` runs the same program under kiln).

Not a test (pytest collects test_*.py only); TensorFlow is no kiln dependency.
Run by hand with a TensorFlow venv: /work/tfenv/bin/python tests/frontend/tf_monitored_reference.py
"""

import os
import sys
import tempfile

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np

if sys.argv[1:] == ["kiln"]:
    sys.path.insert(0, "/work/wt/tf")
    import kiln as tf
else:
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
d = tempfile.mkdtemp()
x = tf.placeholder(tf.float32, [None, 2])
y = tf.placeholder(tf.float32, [None, 1])
w = tf.Variable(tf.zeros([2, 1]))
loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
gs = tf.train.get_or_create_global_step()
op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
rng = np.random.RandomState(0)
X = rng.randn(16, 2).astype("f4")
Y = X @ np.array([[1.0], [2.0]], "f4")
feed = tf.train.FeedFnHook(lambda: {x: X, y: Y})
n, losses = 0, []
with tf.train.MonitoredTrainingSession(
    checkpoint_dir=d,
    hooks=[tf.train.StopAtStepHook(last_step=25), feed],
    save_checkpoint_steps=10,
    save_summaries_steps=None,
    log_step_count_steps=None,
) as s:
    while not s.should_stop():
        losses.append(float(s.run([op, loss])[1]))
        n += 1
ck = sorted(
    f
    for f in os.listdir(d)
    if f.startswith("model.ckpt-") and (f.endswith(".index") or f.endswith(".npz"))
)
print("RUNS =", n)
print("LOSSES =", [round(v, 6) for v in losses[:3] + losses[-2:]])
print("CKPT_STEPS =", sorted({int(f.split("-")[1].split(".")[0]) for f in ck}))
with tf.train.MonitoredTrainingSession(
    checkpoint_dir=d,
    hooks=[tf.train.StopAtStepHook(num_steps=5), feed],
    save_summaries_steps=None,
    log_step_count_steps=None,
) as s:
    first = int(s.run(gs))
    m = 0
    while not s.should_stop():
        s.run(op)
        m += 1
print("RESTORED, MORE =", first, m)
print("LATEST =", os.path.basename(tf.train.latest_checkpoint(d)))
