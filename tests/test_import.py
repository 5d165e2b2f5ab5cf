"""`import kiln` is lazy about what a compile does not need (kl.keras, kl.data,
kl.contrib, kl.estimator, kl.viz, networkx) and about the compiler itself
(llvmlite, codegen: imported by the first compile); the lazy names still work,
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
    y = tf.constant(np.float32(2)) * 3
    with tf.Session() as s:
        assert s.run(y) == 6  # the first compile imports the compiler
assert "llvmlite" in sys.modules or "kiln.runtime.executable" in sys.modules
try:
    tf.py_function
except AttributeError as e:
    assert "kiln does not implement tf.py_function" in str(e), e
else:
    raise AssertionError("tf.py_function exists")
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
