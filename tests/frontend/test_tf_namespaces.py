"""TensorFlow's namespaces and TF 1.x semantics (tf.math, tf.random, tf.div,
get_variable dtypes, gradients w.r.t. constants, names, compat.v1/v2, flags,
logging, ConfigProto). Expected values: tensorflow-cpu 2.21 (tf.compat.v1)."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

import kiln as tf
from kiln.frontend.graph import GraphError


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def run(fetches, feed_dict=None):
    with tf.Session() as s:
        return s.run(fetches, feed_dict)


def close(got, want, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=1e-7)


def test_math_composites_match_tensorflow():
    x = tf.constant([-2.5, -0.5, 0.5, 1.5, 2.5, 3.7])
    got = run(
        [
            tf.floor(x),
            tf.ceil(x),
            tf.round(x),
            tf.mod(x, 2.0),
            tf.floormod(tf.constant([-7, 7, -7]), tf.constant([3, -3, -3])),
            tf.reciprocal(tf.constant([2.0, 4.0])),
            tf.log1p(tf.constant([1.0])),
            tf.math.expm1(tf.constant([1.0])),
            tf.is_nan(tf.constant([np.nan, 1.0])),
            tf.is_inf(tf.constant([np.inf, 1.0])),
            tf.reduce_any(tf.constant([[True, False], [False, False]]), 1),
            tf.reduce_all(tf.constant([[True, False], [True, True]]), 1),
            tf.reduce_logsumexp(tf.constant([[1.0, 2.0], [3.0, 4.0]]), 1),
            tf.math.reduce_variance(tf.constant([1.0, 2.0, 4.0])),
            tf.math.reduce_std(tf.constant([1.0, 2.0, 4.0])),
            tf.count_nonzero(tf.constant([0, 1, 2, 0])),
            tf.squared_difference(3.0, 1.0),
            tf.math.log_sigmoid(tf.constant([0.0, 2.0])),
            tf.math.softsign(tf.constant([3.0])),
            tf.math.xlogy(tf.constant([0.0, 2.0]), tf.constant([0.0, 3.0])),
            tf.math.divide_no_nan(tf.constant([1.0, 2.0]), tf.constant([0.0, 4.0])),
            tf.math.erf(tf.constant([0.5])),
        ]
    )
    want = [
        [-3.0, -1.0, 0.0, 1.0, 2.0, 3.0],
        [-2.0, -0.0, 1.0, 2.0, 3.0, 4.0],
        [-2.0, -0.0, 0.0, 2.0, 2.0, 4.0],
        [1.5, 1.5, 0.5, 1.5, 0.5, 1.7],
        [2, -2, -1],
        [0.5, 0.25],
        [0.6931472],
        [1.7182817],
        [True, False],
        [True, False],
        [True, False],
        [False, True],
        [2.3132617, 4.3132615],
        1.5555557,
        1.2472192,
        2,
        4.0,
        [-0.6931472, -0.126928],
        [0.75],
        [0.0, 2.1972246],
        [0.0, 0.5],
        [0.5204999],
    ]
    for k, (g, w) in enumerate(zip(got, want)):
        close(g, w, rtol=2e-6 if k != 3 else 1e-5)
    assert got[4].dtype == np.int32 and got[15].dtype == np.int64 and got[8].dtype == np.bool_


def test_tf1_division_rules():
    a, b = tf.constant(7), tf.constant(2)
    assert str(tf.div(a, b)).startswith('Tensor("div') and tf.div(a, b).dtype is tf.int32
    assert (a / b).dtype is tf.float64 and (a // b).dtype is tf.int32
    assert (a / b).name.startswith("truediv") and (a // b).name.startswith("floordiv")
    got = run([tf.div(-7, 2), a / b, -a // b, tf.truncatediv(-7, 2), tf.div(-7.0, 2.0)])
    assert [g.tolist() for g in got] == [-4, 3.5, -4, -3, -3.5]
    assert got[0].dtype == np.int32 and got[1].dtype == np.float64


def test_unsigned_floordiv():
    x = tf.constant(np.array([7, 255], np.uint8))
    assert run(x // tf.constant(np.array([2, 16], np.uint8))).tolist() == [3, 15]


def test_arg_max_arg_min():
    m = tf.constant([[1, 5], [7, 2]])
    got = run([tf.arg_max(m, 1), tf.arg_min(m, 0)])
    assert got[0].tolist() == [1, 0] and got[1].tolist() == [0, 1]
    assert got[0].dtype == np.int64


def test_newaxis():
    x = tf.constant([1.0, 2.0])
    assert x[:, tf.newaxis].shape.as_list() == [2, 1] and tf.newaxis is None


def test_get_variable_takes_the_initializers_dtype():
    assert tf.get_variable("a", initializer=tf.constant(2)).dtype is tf.int32
    assert tf.get_variable("b", initializer=[[1.0, 2.0]]).dtype is tf.float32
    assert tf.get_variable("c", initializer=np.array([1, 2])).dtype is tf.int64
    assert tf.get_variable("d", initializer=[1, 2]).dtype is tf.int32
    assert tf.get_variable("e", [2], initializer=tf.zeros_initializer()).dtype is tf.float32


def test_python_values_take_tensorflows_dtypes():
    assert tf.constant(2).dtype is tf.int32 and tf.constant(2.5).dtype is tf.float32
    assert tf.constant([True]).dtype is tf.bool and tf.constant(np.arange(3)).dtype is tf.int64
    assert (tf.constant(1.0) + 2).dtype is tf.float32


def test_gradients_with_respect_to_constants_and_tensors():
    x = tf.constant(3.0)
    y = x * x
    z = tf.placeholder(tf.float32)
    w = tf.exp(z) * x
    got = run([tf.gradients(y, x), tf.gradients(w, [z, x])], {z: 0.0})
    assert got[0][0] == 6.0 and [float(v) for v in got[1]] == [3.0, 1.0]


def test_names_and_reprs_follow_tensorflow():
    c = tf.constant(1.0)
    d = tf.constant(2.0)
    assert c.name == "Const:0" and d.name == "Const_1:0"
    s1, s2 = tf.add(c, d), tf.add(c, d)
    assert s1.name == "Add:0" and s2.name == "Add_1:0"
    assert str(c) == 'Tensor("Const:0", shape=(), dtype=float32)'


def test_broadcast_errors_read_as_tensorflows():
    with pytest.raises(
        GraphError, match=r"Dimensions must be equal, but are 3 and 2 .*\[3\], \[2\]"
    ):
        tf.constant([1, 2, 3]) + tf.constant([1, 2])


def test_random_namespace():
    tf.random.set_seed(3)
    n = tf.random.normal([2000], seed=1)
    u = tf.random.uniform([2000], minval=2.0, maxval=4.0, seed=2)
    t = tf.random.truncated_normal([2000], seed=3)
    rows = tf.random.shuffle(tf.constant(np.arange(10)), seed=4)
    draws = tf.random.categorical(tf.constant([[0.0, 20.0], [20.0, 0.0]]), 5, seed=5)
    got = run([n, u, t, rows, draws])
    assert abs(got[0].mean()) < 0.1 and abs(got[0].std() - 1) < 0.1
    assert 2.0 <= got[1].min() and got[1].max() < 4.0 and abs(got[1].mean() - 3.0) < 0.1
    assert np.abs(got[2]).max() <= 2.0
    assert sorted(got[3].tolist()) == list(range(10))
    assert got[4].shape == (2, 5) and got[4].tolist() == [[1] * 5, [0] * 5]


def test_config_protos_are_accepted():
    config = tf.ConfigProto(allow_soft_placement=True, log_device_placement=False)
    config.gpu_options.allow_growth = True
    config.gpu_options.per_process_gpu_memory_fraction = 0.5
    gpu = tf.GPUOptions(per_process_gpu_memory_fraction=0.3)
    config2 = tf.ConfigProto(gpu_options=gpu)
    assert config.gpu_options.allow_growth and config2.gpu_options is gpu
    x = tf.constant(2.0)
    with tf.Session(config=config) as s:
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        assert s.run(x * 2, options=options, run_metadata=tf.RunMetadata()) == 4.0


def test_logging(caplog):
    tf.logging.set_verbosity(tf.logging.INFO)
    with caplog.at_level(logging.INFO, logger="kiln.tf"):
        tf.logging.info("step %d", 3)
    assert "step 3" in caplog.text and tf.logging.get_verbosity() == logging.INFO


def test_flags_parse_the_command_line():
    flags = tf.app.flags
    flags.DEFINE_integer("tfcore_steps", 10, "steps")
    flags.DEFINE_string("tfcore_name", "x", "a name")
    flags.DEFINE_boolean("tfcore_fast", False, "fast")
    rest = flags.FLAGS(["prog", "--tfcore_steps=5", "--tfcore_fast", "--other=1"])
    assert tf.flags.FLAGS.tfcore_steps == 5 and flags.FLAGS.tfcore_name == "x"
    assert flags.FLAGS.tfcore_fast is True and rest == ["prog", "--other=1"]


def test_compat_v1_is_kilns_namespace():
    import kiln.compat.v1 as v1

    assert v1.placeholder is tf.placeholder and tf.compat.v1.Session is tf.Session
    assert not v1.executing_eagerly()
    v1.disable_v2_behavior()  # accepted: graph mode stays
    assert not tf.executing_eagerly()
    assert tf.compat.as_bytes("a") == b"a" and tf.compat.as_text(b"a") == "a"


def test_compat_v2_import_is_eager_by_default():
    code = (
        "import kiln as k; assert not k.executing_eagerly()\n"
        "import kiln.compat.v2 as tf\n"
        "assert tf.executing_eagerly()\n"
        "x = tf.Variable(3.0)\n"
        "with tf.GradientTape() as g:\n"
        "    y = x * x\n"
        "assert float(g.gradient(y, x)) == 6.0\n"
        "assert float(tf.random.normal([3]).numpy().shape[0]) == 3\n"
        "assert tf.losses.SparseCategoricalCrossentropy and tf.optimizers.Adam\n"
        "assert tf.metrics is k.keras.metrics\n"
        "tf.compat.v1.disable_eager_execution()\n"
        "assert not tf.executing_eagerly()\n"
        "assert tf.__version__.startswith('2.') and tf.compat.v1.__version__ == '1.15.0'\n"
        "import kiln.compat.v1 as v1; assert v1.VERSION == v1.__version__ == '1.15.0'\n"
        "assert k.__version__ == k._version.__version__\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_names_say_kiln_does_not_implement_them():
    with pytest.raises(AttributeError, match="kiln does not implement tf.sparse_concat"):
        tf.sparse_concat  # noqa: B018
    with pytest.raises(AttributeError, match="kiln does not implement tf.math.bessel_i0"):
        tf.math.bessel_i0  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'not_a_tf_name'"):
        tf.not_a_tf_name  # noqa: B018


def test_assign_slice_and_defaults():
    v = tf.Variable(1.0)
    x = tf.constant(np.arange(12).reshape(3, 4))
    d = tf.placeholder_with_default(3.0, [])
    with tf.Session() as s:
        s.run(tf.initializers.global_variables())
        assert s.run(tf.assign(v, 5.0)) == 5.0 and s.run(tf.assign_add(v, 1.0)) == 6.0
        assert s.run(tf.slice(x, [1, 1], [2, -1])).tolist() == [[5, 6, 7], [9, 10, 11]]
        assert s.run(d) == 3.0 and s.run(d, {d: 4.0}) == 4.0


def test_random_image_flips_and_crops():
    img = tf.constant(np.arange(12).reshape(2, 2, 3))
    flipped = tf.image.random_flip_left_right(img, seed=1)
    crop = tf.random_crop(tf.constant(np.arange(12).reshape(3, 4)), [2, 2], seed=2)
    with tf.Session() as s:
        seen = {tuple(s.run(flipped).reshape(-1)) for _ in range(20)}
        c = s.run(crop)
    a = np.arange(12).reshape(2, 2, 3)
    assert seen == {tuple(a.reshape(-1)), tuple(a[:, ::-1].reshape(-1))}  # both, over 20 runs
    full = np.arange(12).reshape(3, 4)
    assert any(np.array_equal(c, full[i : i + 2, j : j + 2]) for i in range(2) for j in range(3))


def test_the_api_document_is_current():
    """docs/tf-api.md is generated from the cached names and the corpus; its
    "yes" rows must hold for kiln as it is now (names kiln gains later only
    make the document stale, not wrong: regenerate it with benchmarks/tf_api.py)."""
    from pathlib import Path

    doc = (Path(tf.__file__).parent / "docs" / "tf-api.md").read_text()
    from kiln.benchmarks.tf_api import kiln_has

    rows = [
        line.split("|") for line in doc.splitlines() if line.startswith("| ") and "`tf." in line
    ]
    ranked = [r for r in rows if len(r) == 7]
    assert len(ranked) > 100
    for r in ranked:
        name = r[2].strip().strip("`").removeprefix("tf.")
        if r[5].strip() == "yes":  # what the document says kiln has, it has
            assert kiln_has(name), name


def test_operator_nodes_take_tensorflows_names():
    a, b = tf.constant(1.0), tf.constant(2.0)
    assert (a + b).name == "add:0" and (a + b).name == "add_1:0"
    assert (a * b).name == "mul:0" and (a - b).name == "sub:0" and (a / b).name == "truediv:0"
    assert tf.constant(2**40).dtype is tf.int64 and tf.constant([1, 2.5]).dtype is tf.float32


def test_set_seed_repeats_eager_draws_as_tf2():
    with tf.eager_mode():
        g = tf.get_default_graph()
        saved = g.seed, g._seed_counter  # the eager context lives on: leave it as found
        try:
            tf.random.set_seed(1)
            a = tf.random.normal([3]).numpy()
            tf.random.set_seed(1)
            b = tf.random.normal([3]).numpy()
        finally:
            g.seed, g._seed_counter = saved
    assert np.array_equal(a, b)


def test_draws_with_a_shape_known_at_run_time():
    z = tf.placeholder(tf.float32, [None, 2])
    eps = tf.random_normal(tf.shape(z), mean=0.0, stddev=1.0, seed=1)  # the VAE idiom
    u = tf.random.uniform(tf.shape(z), minval=-1.0, maxval=1.0)
    t = tf.random.truncated_normal(tf.shape(z))
    y = z + eps
    got = run([eps, u, t, y], {z: np.zeros((500, 2), np.float32)})
    assert got[0].shape == (500, 2) and got[0].dtype == np.float32
    assert abs(got[0].mean()) < 0.15 and abs(got[0].std() - 1) < 0.15
    assert -1 <= got[1].min() and got[1].max() < 1 and np.abs(got[2]).max() <= 2
    assert got[3].shape == (500, 2)
