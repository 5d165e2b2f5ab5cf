"""ONNX RandomUniform, RandomNormal, their *Like forms, Bernoulli and Multinomial on
kiln.random (onnx/convert/random.py). Draws are random, so they are checked on
shape, dtype and statistics against the distribution's moments (bounds of ~6
standard errors of the sample size), and seeds on reproducibility."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from kiln.benchmarks import onnx_conformance  # noqa: E402
from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _run(node, feeds=(), shape=("N", 2000), elem=TensorProto.FLOAT):
    inputs = [helper.make_tensor_value_info("x", elem, list(shape))] if node.input else []
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    (y,) = prepare(model).run(list(feeds))
    return y


def test_uniform_like_has_the_shape_of_its_input_and_the_moments_of_u_low_high():
    node = helper.make_node("RandomUniformLike", ["x"], ["y"], low=-2.0, high=3.0, seed=1.0)
    for batch in (1, 3):
        y = _run(node, [np.zeros((batch, 2000), np.float32)])
        assert y.shape == (batch, 2000) and y.dtype == np.float32
        assert y.min() >= -2.0 and y.max() < 3.0
        n = y.size
        assert abs(y.mean() - 0.5) < 6 * (5 / np.sqrt(12)) / np.sqrt(n)
        assert abs(y.std() - 5 / np.sqrt(12)) < 0.1


def test_normal_like_takes_its_dtype_attribute_and_has_the_moments_of_n_mean_scale():
    node = helper.make_node(
        "RandomNormalLike", ["x"], ["y"], mean=1.0, scale=2.0, dtype=TensorProto.DOUBLE
    )
    y = _run(node, [np.zeros((4, 2000), np.float32)])
    assert y.shape == (4, 2000) and y.dtype == np.float64
    assert abs(y.mean() - 1.0) < 6 * 2.0 / np.sqrt(y.size)
    assert abs(y.std() - 2.0) < 0.1


def test_an_integer_input_gives_float_draws_of_its_shape():
    node = helper.make_node("RandomUniformLike", ["x"], ["y"])
    y = _run(node, [np.zeros((2, 5), np.int64)], shape=(2, 5), elem=TensorProto.INT64)
    assert y.shape == (2, 5) and y.dtype == np.float32


def test_seeded_draws_repeat_and_different_seeds_differ():
    def draw(seed):
        node = helper.make_node("RandomUniform", [], ["y"], shape=[3, 7], seed=seed)
        return _run(node)

    a, b, c = draw(5.0), draw(5.0), draw(6.0)
    assert a.shape == (3, 7) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_normal_of_a_static_shape():
    y = _run(helper.make_node("RandomNormal", [], ["y"], shape=[20000], scale=0.5))
    assert y.shape == (20000,) and abs(y.mean()) < 6 * 0.5 / np.sqrt(y.size)
    assert abs(y.std() - 0.5) < 0.03


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli_draws_zeros_and_ones_at_the_rate_p(p):
    node = helper.make_node("Bernoulli", ["x"], ["y"], dtype=TensorProto.DOUBLE)
    y = _run(node, [np.full((2, 2000), p, np.float32)])
    assert y.dtype == np.float64 and np.isin(y, (0.0, 1.0)).all()
    assert abs(y.mean() - p) <= 6 * np.sqrt(p * (1 - p) / y.size)


def test_multinomial_samples_classes_at_their_probabilities():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.0, 0.5]], np.float32)
    node = helper.make_node("Multinomial", ["x"], ["y"], sample_size=20000, dtype=TensorProto.INT64)
    with np.errstate(divide="ignore"):
        y = _run(node, [np.log(probs)], shape=(2, 3))
    assert y.shape == (2, 20000) and y.dtype == np.int64
    for row, p in zip(y, probs):
        freq = np.bincount(row, minlength=3) / row.size
        assert np.all(np.abs(freq - p) <= 6 * np.sqrt(p * (1 - p) / row.size) + 1e-9), freq


def test_an_integer_dtype_is_an_error_naming_the_node():
    node = helper.make_node("RandomUniform", [], ["y"], shape=[2], dtype=TensorProto.INT32)
    with pytest.raises(ImportError_, match="RandomUniform.*floating point"):
        _run(node)


def test_the_conformance_runner_checks_random_cases_on_shape_dtype_and_support():
    e = np.array([0.0, 1.0, 1.0], np.float32)
    ops = {"Bernoulli"}
    assert onnx_conformance._drawn_alike(e, np.array([1.0, 0.0, 0.0], np.float32), ops) is None
    assert "outside" in onnx_conformance._drawn_alike(e, np.array([0.5, 0, 0], np.float32), ops)
    assert "dtype" in onnx_conformance._drawn_alike(e, e.astype(np.float64), ops)
    assert "shape" in onnx_conformance._drawn_alike(e, e[:2], ops)


def _dropout_model(outputs):
    node = helper.make_node("Dropout", ["x", "r", "t"], outputs, seed=3)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 1000]),
            helper.make_tensor_value_info("r", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("t", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("ratio", [0.2, 0.75])
def test_dropout_in_training_mode_drops_at_the_ratio_and_scales_the_rest(ratio):
    rep = prepare(_dropout_model(["y", "mask"]))
    x = np.random.default_rng(1).uniform(0.5, 2.0, (4, 1000)).astype(np.float32)
    y, mask = rep.run([x, np.float32(ratio), np.bool_(True)])
    assert mask.dtype == np.bool_ and y.shape == mask.shape == x.shape
    np.testing.assert_allclose(y[mask], x[mask] / (1 - ratio), rtol=1e-6)
    assert (y[~mask] == 0).all()
    assert abs((~mask).mean() - ratio) <= 6 * np.sqrt(ratio * (1 - ratio) / x.size)
    assert onnx_conformance._dropped_alike(x, ratio, [y, mask], [y, mask]) is None
    assert onnx_conformance._dropped_alike(x, ratio, [y, mask], [x, mask]) is not None
    # the same model, fed training_mode false, is the identity with an all-true mask
    y, mask = rep.run([x, np.float32(ratio), np.bool_(False)])
    np.testing.assert_array_equal(y, x)
    assert mask.all()
