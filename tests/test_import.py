"""`import kiln` is lazy about what a compile does not need (kl.keras, kl.data,
kl.contrib, kl.estimator, kl.viz, networkx) and about the compiler itself
(llvmlite, codegen: imported by the first compile, which needs no networkx
either); the lazy names still work,
`import kiln as tf; tf.keras` included, and a TensorFlow name kiln lacks still
says so."""

import subprocess
import sys

SCRIPT = r"""
import sys
import kiln
heavy = ["networkx", "onnx", "llvmlite", "kiln.keras", "kiln.data", "kiln.contrib",
         "kiln.estimator", "kiln.viz", "kiln.runtime", "kiln.codegen"]
print(" ".join(m for m in heavy if m in sys.modules) or "none")
import kiln as tf
import numpy as np
assert tf.keras.layers.Dense is not None and tf.data.Dataset is not None
assert tf.estimator is sys.modules["kiln.estimator"] and tf.contrib is sys.modules["kiln.contrib"]
from kiln import keras
assert keras is tf.keras
with tf.Graph().as_default():
    x = tf.placeholder(tf.float32, [4])
    w = tf.Variable(np.ones(4, np.float32))
    loss = tf.reduce_sum(tf.tanh(x * w))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as s:  # the first compile (passes, autodiff, fuse) imports the compiler
        s.run(tf.global_variables_initializer())
        got = s.run([loss, step], {x: np.ones(4, np.float32)})[0]
        assert abs(got - 4 * np.tanh(1)) < 1e-5, got
assert "llvmlite" in sys.modules and "kiln.runtime.executable" in sys.modules
assert "networkx" not in sys.modules  # kiln.viz's dependency, not the compiler's
try:
    tf.sparse_concat
except AttributeError as e:
    assert "kiln does not implement tf.sparse_concat" in str(e), e
else:
    raise AssertionError("tf.sparse_concat exists")
try:
    tf.data.no_such_name_anywhere
except AttributeError as e:
    assert "no attribute" in str(e), e
print("ok")
"""


def test_import_kiln_is_lazy_and_the_lazy_names_work():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["none", "ok"]


def test_kl_viz_works_after_an_early_import_of_the_package():
    script = (
        "import kiln.viz, kiln as kl\n"
        "from kiln.ir import parse\n"
        "m = parse('func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\\n"
        "  %y = kiln.tanh %x : tensor<4xf32>\\n  kiln.return %y : tensor<4xf32>\\n}')\n"
        "print('<svg' in str(kl.viz(m, engine='python')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "True"
