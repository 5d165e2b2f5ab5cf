"""The TensorFlow numbers stored in test_rnn.py, made once with TensorFlow 2.21
(tensorflow-cpu + tf-keras, tf.compat.v1 graph mode) in a throwaway virtualenv:

    TF_USE_LEGACY_KERAS=1 /work/tfenv/bin/python tests/frontend/tf_rnn_reference.py

It writes out.json in the working directory. TensorFlow is not a test dependency;
pytest does not collect this file.
"""

# ruff: noqa
import os, sys, json

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
rng = np.random.RandomState(0)
B, T, D, H = 2, 5, 3, 4
x = rng.randn(B, T, D).astype(np.float32)
y = rng.randn(B, T, H).astype(np.float32)
k0 = (rng.randn(D + H, 4 * H) * 0.3).astype(np.float32)
k1 = (rng.randn(H + H, 4 * H) * 0.3).astype(np.float32)
b0 = (rng.randn(4 * H) * 0.1).astype(np.float32)
b1 = (rng.randn(4 * H) * 0.1).astype(np.float32)
lens = np.array([5, 3], np.int32)
out = {}
for name, seq in (("full", None), ("lens", lens)):
    g = tf.Graph()
    with g.as_default():
        cells = [tf.nn.rnn_cell.BasicLSTMCell(H), tf.nn.rnn_cell.BasicLSTMCell(H)]
        cell = tf.nn.rnn_cell.MultiRNNCell(cells)
        outputs, state = tf.nn.dynamic_rnn(
            cell, tf.constant(x), sequence_length=seq, dtype=tf.float32
        )
        loss = tf.reduce_mean(tf.square(outputs - y)) + tf.reduce_mean(state[1].c)
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        names = sorted(v.name for v in tf.global_variables())
        vals = {v.name: v for v in tf.global_variables()}
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            for vn, a in (
                ("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0", k0),
                ("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias:0", b0),
                ("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel:0", k1),
                ("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias:0", b1),
            ):
                vals[vn].load(a, s)
            losses = []
            for _ in range(5):
                l, _ = s.run([loss, train])
                losses.append(float(l))
            o = s.run(outputs)
        out[name] = {"losses": losses, "names": names, "out_b1_t4": o[1, 4].tolist()}
# GRU and LSTMCell with peepholes/proj: forward outputs
for name, mk in (
    ("gru", lambda: tf.nn.rnn_cell.GRUCell(H)),
    ("lstmcell", lambda: tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True, num_proj=2)),
    ("basicrnn", lambda: tf.nn.rnn_cell.BasicRNNCell(H)),
):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1)
        cell = mk()
        outputs, state = tf.nn.dynamic_rnn(
            cell, tf.constant(x), sequence_length=lens, dtype=tf.float32
        )
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            r = np.random.RandomState(5)
            vs = {}
            for v in tf.global_variables():
                a = (r.randn(*v.shape.as_list()) * 0.4).astype(np.float32)
                v.load(a, s)
                vs[v.name] = v.shape.as_list()
            o = s.run(outputs)
        out[name] = {"vars": [[k, vs[k]] for k in sorted(vs)], "out": np.round(o, 6).tolist()}
json.dump(out, open("out.json", "w"))
print(json.dumps(out)[:3000])
