"""kl array ops, kl.nn and kl.image against numpy (edge cases: size-1 dims,
empty batches, stride > kernel, odd sizes under SAME), and their gradients
through kl.gradients against central differences in float64."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import kiln as kl

fd_check = sys.modules["kiln_tests_frontend_gradients"]._check
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def graph():
    with kl.Graph().as_default() as g, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # interpreter fallbacks for ops without CPU kernels
        yield g


def run(fetches, feed=None):
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        return s.run(fetches, feed)


# ------------------------------------------------------------------ array ops


def test_stack_unstack_split_tile():
    x = rng.standard_normal((4, 3)).astype(np.float32)
    p = kl.placeholder(kl.float32, (None, 3))
    out = run(
        {
            "stack": kl.stack([p, p * 2.0], axis=1),
            "stack_scalars": kl.stack([1, 2, 3]),
            "unstack": kl.unstack(p, axis=1),
            "split": kl.split(p, [1, -1], axis=1),
            "split3": kl.split(kl.constant(x), 2, axis=0),
            "tile": kl.tile(p, [2, 3]),
            "tile1": kl.tile(p, [1, 1]),
        },
        {p: x},
    )
    np.testing.assert_array_equal(out["stack"], np.stack([x, 2 * x], axis=1))
    np.testing.assert_array_equal(out["stack_scalars"], [1, 2, 3])
    for a, b in zip(out["unstack"], np.moveaxis(x, 1, 0)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(out["split"], np.split(x, [1], axis=1)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(out["split3"], np.split(x, 2, axis=0)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out["tile"], np.tile(x, [2, 3]))
    np.testing.assert_array_equal(out["tile1"], x)
    empty = np.zeros((0, 3), np.float32)
    assert run(kl.tile(p, [2, 1]), {p: empty}).shape == (0, 3)
    with pytest.raises(kl.GraphError, match="split: dim 1 .* does not split into 2"):
        kl.split(p, 2, axis=1)


def test_indexing_ops():
    params = rng.standard_normal((3, 4, 2)).astype(np.float32)
    idx = np.array([[0, 3], [2, 1], [2, 3]])
    labels = np.array([[1, 3], [0, 5]])
    mask = np.array([[True, False, True, False], [False] * 4, [True] * 4])
    p = kl.placeholder(kl.float32, (3, 4, 2))
    out = run(
        {
            "gather": kl.gather(p, [2, 0], axis=1),
            "gather_nd": kl.gather_nd(p, idx),
            "gather_nd_full": kl.gather_nd(p, [[1, 2, 1], [0, 0, 0]]),
            "one_hot": kl.one_hot(labels, 4),
            "one_hot_axis0": kl.one_hot([2, 0], 3, axis=0),
            "one_hot_values": kl.one_hot([1], 2, on_value=5, off_value=-1, dtype=kl.int32),
            "mask": kl.boolean_mask(p, mask),
            "mask_axis": kl.boolean_mask(p, mask[0], axis=1),
            "where": kl.where(mask),
            "where_empty": kl.where(kl.constant(mask[1])),
        },
        {p: params},
    )
    np.testing.assert_array_equal(out["gather"], params[:, [2, 0]])
    np.testing.assert_array_equal(out["gather_nd"], params[idx[:, 0], idx[:, 1]])
    np.testing.assert_array_equal(out["gather_nd_full"], [params[1, 2, 1], params[0, 0, 0]])
    want = np.zeros((2, 2, 4), np.float32)
    for (i, j), v in np.ndenumerate(labels):
        if v < 4:
            want[i, j, v] = 1  # an index outside [0, depth) gives zeros, as TF
    np.testing.assert_array_equal(out["one_hot"], want)
    np.testing.assert_array_equal(out["one_hot_axis0"], np.eye(3)[:, [2, 0]])
    np.testing.assert_array_equal(out["one_hot_values"], [[-1, 5]])
    np.testing.assert_array_equal(out["mask"], params[mask])
    np.testing.assert_array_equal(out["mask_axis"], params[:, mask[0]])
    np.testing.assert_array_equal(out["where"], np.argwhere(mask))
    assert out["where_empty"].shape == (0, 1) and out["where_empty"].dtype == np.int64


def test_cumsum_reverse_sequences_and_shapes():
    x = rng.standard_normal((2, 5)).astype(np.float32)
    p = kl.placeholder(kl.float32, (None, 5))
    out = run(
        {
            "cumsum": kl.cumsum(p, axis=1, exclusive=True, reverse=True),
            "reverse": kl.reverse(p, [0, 1]),
            "range": kl.range(2, 11, 3),
            "range_float": kl.range(1.0, 2.0, 0.25),
            "range_one": kl.range(4),
            "linspace": kl.linspace(-1.0, 2.0, 7),
            "linspace1": kl.linspace(3.0, 5.0, 1),
            "shape": kl.shape(p),
            "size": kl.size(p),
            "rank": kl.rank(p),
            "static_shape": kl.shape(kl.zeros([2, 0, 3])),
        },
        {p: x},
    )
    np.testing.assert_allclose(out["cumsum"], np.cumsum(x[:, ::-1], 1)[:, ::-1] - x, atol=1e-6)
    np.testing.assert_array_equal(out["reverse"], x[::-1, ::-1])
    np.testing.assert_array_equal(out["range"], [2, 5, 8])
    assert out["range"].dtype == np.int32 and out["range_float"].dtype == np.float32
    np.testing.assert_array_equal(out["range_float"], [1.0, 1.25, 1.5, 1.75])
    np.testing.assert_array_equal(out["range_one"], [0, 1, 2, 3])
    np.testing.assert_allclose(out["linspace"], np.linspace(-1, 2, 7), rtol=1e-6)
    assert out["linspace"][-1] == 2.0
    np.testing.assert_array_equal(out["linspace1"], [3.0])
    np.testing.assert_array_equal(out["shape"], [2, 5])
    assert out["size"] == 10 and out["rank"] == 2
    np.testing.assert_array_equal(out["static_shape"], [2, 0, 3])


def test_norm_clipping():
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal(5)
    pa, pb = kl.placeholder(kl.float64, (3, 4)), kl.placeholder(kl.float64, (5,))
    (ca, cb), norm = kl.clip_by_global_norm([pa, None, pb], 1.5)[0][::2], None
    clipped, gnorm = kl.clip_by_global_norm([pa, pb], 1.5)
    out = run(
        {
            "rows": kl.clip_by_norm(pa, 0.7, axes=[1]),
            "all": kl.clip_by_norm(pa, 100.0),
            "zero": kl.clip_by_norm(kl.zeros([3], kl.float64), 1.0),
            "global": clipped,
            "norm": gnorm,
            "none_kept": ca,
        },
        {pa: a, pb: b},
    )
    rows = np.linalg.norm(a, axis=1, keepdims=True)
    np.testing.assert_allclose(out["rows"], a * 0.7 / np.maximum(rows, 0.7))
    np.testing.assert_allclose(out["all"], a)
    np.testing.assert_array_equal(out["zero"], np.zeros(3))
    total = np.sqrt(np.sum(a * a) + np.sum(b * b))
    np.testing.assert_allclose(out["norm"], total)
    np.testing.assert_allclose(out["global"][0], a * 1.5 / total)
    np.testing.assert_allclose(out["global"][1], b * 1.5 / total)
    assert cb is not None and norm is None


# ------------------------------------------------------------------ kl.nn


def np_conv(x, w, stride, padding):
    """NHWC cross-correlation, SAME as TensorFlow pads (more at the end)."""
    kh, kw = w.shape[:2]
    if padding == "SAME":
        pads = []
        for size, k in zip(x.shape[1:3], (kh, kw)):
            out = -(-size // stride)
            total = max((out - 1) * stride + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)])
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


@pytest.mark.parametrize(
    "batch, size, stride, padding",
    [
        (2, 5, 1, "SAME"),
        (1, 7, 2, "SAME"),
        (2, 6, 3, "VALID"),
        (0, 5, 2, "SAME"),
        (1, 1, 1, "SAME"),
    ],
)
def test_convolutions_and_pools_against_numpy(batch, size, stride, padding):
    x = rng.standard_normal((batch, size, size, 3))
    w = rng.standard_normal((2, 2, 3, 4))
    dw = rng.standard_normal((2, 2, 3, 2))
    p = kl.placeholder(kl.float64, (None, size, size, 3))
    nchw = kl.transpose(p, [0, 3, 1, 2])
    out = run(
        {
            "conv": kl.nn.conv2d(p, w, stride, padding),
            "conv_nchw": kl.nn.conv2d(nchw, w, [1, 1, stride, stride], padding, data_format="NCHW"),
            "depthwise": kl.nn.depthwise_conv2d(p, dw, [1, stride, stride, 1], padding),
            "max": kl.nn.max_pool(p, [1, 1, 1, 1] if size == 1 else 2, 3, padding),
            "bias_nchw": kl.nn.bias_add(nchw, [1.0, 2.0, 3.0], data_format="NCHW"),
        },
        {p: x},
    )
    np.testing.assert_allclose(out["conv"], np_conv(x, w, stride, padding), atol=1e-10)
    np.testing.assert_allclose(out["conv_nchw"], out["conv"].transpose(0, 3, 1, 2), atol=1e-10)
    want = np.concatenate(
        [np_conv(x[..., c : c + 1], dw[:, :, c : c + 1], stride, padding) for c in range(3)],
        axis=-1,
    )
    np.testing.assert_allclose(out["depthwise"], want, atol=1e-10)
    np.testing.assert_allclose(
        out["bias_nchw"], x.transpose(0, 3, 1, 2) + np.array([1.0, 2.0, 3.0])[:, None, None]
    )
    assert out["max"].shape[0] == batch


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    x = rng.standard_normal((2, 7, 7, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    v = rng.standard_normal((2, 4, 4, 4))
    px, pv = kl.placeholder(kl.float64, x.shape), kl.placeholder(kl.float64, (None, 4, 4, 4))
    y = kl.nn.conv2d(px, w, 2, "SAME")
    t = kl.nn.conv2d_transpose(pv, w, [2, 7, 7, 3], [1, 2, 2, 1], "SAME")
    t_nchw = kl.nn.conv2d_transpose(
        kl.transpose(pv, [0, 3, 1, 2]), w, [2, 3, 7, 7], [1, 1, 2, 2], "SAME", data_format="NCHW"
    )
    yv, tv, tn = run([y, t, t_nchw], {px: x, pv: v})
    np.testing.assert_allclose(np.sum(yv * v), np.sum(x * tv), rtol=1e-10)
    np.testing.assert_allclose(tn, tv.transpose(0, 3, 1, 2), atol=1e-12)
    with pytest.raises(kl.GraphError, match="output_size"):
        kl.nn.conv2d_transpose(pv, w, [2, 9, 9, 3], [1, 2, 2, 1], "SAME")


def test_normalization_and_lookups():
    x = rng.standard_normal((6, 4)) * 3 + 1
    p = kl.placeholder(kl.float64, (None, 4))
    mean, var = kl.nn.moments(p, [0])
    mean_k, _ = kl.nn.moments(p, [0, 1], keepdims=True)
    table = rng.standard_normal((5, 3))
    scores = np.array([[0.1, 0.5, 0.5, 0.2], [3.0, np.nan, 1.0, 2.0], [1, 2, 3, 4.0]])
    values, indices = kl.nn.top_k(kl.constant(scores[[0, 2]]), k=2)
    out = run(
        {
            "mean": mean,
            "var": var,
            "mean_k": mean_k,
            "bn": kl.nn.batch_normalization(p, mean, var, 0.5, 2.0, 1e-3),
            "bn_none": kl.nn.batch_normalization(p, mean, var, None, None, 1e-3),
            "l2n": kl.nn.l2_normalize(p, axis=1),
            "l2n_zero": kl.nn.l2_normalize(kl.zeros([2], kl.float64)),
            "embed": kl.nn.embedding_lookup(table, [[4, 0], [1, 1]]),
            "embed_max": kl.nn.embedding_lookup([table], [2], max_norm=0.5),
            "values": values,
            "indices": indices,
            "in_top_2": kl.nn.in_top_k(scores, [2, 0, 0], 2),
            "in_top_1": kl.nn.in_top_k(scores, [1, 0, 3], 1),
            "outside": kl.nn.in_top_k(scores, [4, -1, 3], 4),
        },
        {p: x},
    )
    np.testing.assert_allclose(out["mean"], x.mean(0))
    np.testing.assert_allclose(out["var"], x.var(0))
    assert out["mean_k"].shape == (1, 1)
    np.testing.assert_allclose(out["bn"], (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * 2 + 0.5)
    np.testing.assert_allclose(out["bn_none"], (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3))
    np.testing.assert_allclose(out["l2n"], x / np.linalg.norm(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(out["l2n_zero"], [0, 0])
    np.testing.assert_array_equal(out["embed"], table[[[4, 0], [1, 1]]])
    row = table[2]
    np.testing.assert_allclose(out["embed_max"][0], row * min(1, 0.5 / np.linalg.norm(row)))
    np.testing.assert_array_equal(out["values"], [[0.5, 0.5], [4, 3]])
    np.testing.assert_array_equal(out["indices"], [[1, 2], [3, 2]])
    # ties count as in (fewer than k strictly above), NaN scores never are
    np.testing.assert_array_equal(out["in_top_2"], [True, True, False])
    np.testing.assert_array_equal(out["in_top_1"], [True, True, True])
    np.testing.assert_array_equal(out["outside"], [False, False, True])


def test_dropout():
    x = np.ones((200, 50), np.float32)
    p = kl.placeholder(kl.float32, (None, 50))
    keep = kl.placeholder(kl.float32, ())
    drop = kl.nn.dropout(p, rate=0.3, seed=1)
    drop_keep = kl.nn.dropout(p, keep_prob=keep)
    shared = kl.nn.dropout(p, rate=0.5, noise_shape=[1, 50], seed=2)
    training = kl.placeholder(kl.bool, ())
    layer = kl.layers.dropout(p, rate=0.5, training=training)
    assert kl.nn.dropout(p, rate=0.0) is p
    with kl.Session() as s:
        s.run(kl.global_variables_initializer())
        first, second = s.run(drop, {p: x}), s.run(drop, {p: x})
        kept_all = s.run(drop_keep, {p: x, keep: 1.0})
        half = s.run(drop_keep, {p: x, keep: 0.5})
        rows = s.run(shared, {p: x})
        off, on = s.run(layer, {p: x, training: False}), s.run(layer, {p: x, training: True})
    for y in (first, second):
        assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
        assert abs((y == 0).mean() - 0.3) < 0.02  # 10000 draws: 4.5 sigma
        assert abs(y.mean() - 1.0) < 0.05
    assert (first != second).mean() > 0.3  # a new mask every run
    np.testing.assert_array_equal(kept_all, x)
    assert abs((half == 0).mean() - 0.5) < 0.02
    assert (rows == rows[:1]).all()  # noise_shape [1, 50]: one mask for every row
    np.testing.assert_array_equal(off, x)
    assert abs((on == 0).mean() - 0.5) < 0.02


def test_resize_against_tensorflow_formulas():
    img = np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
    p = kl.placeholder(kl.float32, (None, 3, 4, 1))
    out = run(
        {
            "near_up": kl.image.resize_images(p, [6, 8], method=1),
            "near_down": kl.image.resize_nearest_neighbor(p, [2, 2]),
            "bilinear": kl.image.resize_bilinear(p, [6, 8]),
            "corners": kl.image.resize_bilinear(p, [5, 7], align_corners=True),
            "half": kl.image.resize(p, [6, 8], half_pixel_centers=True),
            "single": kl.image.resize(img[0], [3, 2], method="nearest"),
        },
        {p: img},
    )
    np.testing.assert_array_equal(out["near_up"], img.repeat(2, 1).repeat(2, 2))
    np.testing.assert_array_equal(out["near_down"], img[:, [0, 1]][:, :, [0, 2]])
    # legacy bilinear: source i * in/out, clamped at the last pixel
    rows = np.minimum(np.arange(6) * 0.5, 2)
    cols = np.minimum(np.arange(8) * 0.5, 3)
    want = np.interp(cols, np.arange(4), [0, 1, 2, 3])[None, :] + 4 * rows[:, None]
    np.testing.assert_allclose(out["bilinear"][0, :, :, 0], want, rtol=1e-6)
    corners = out["corners"][1, :, :, 0]
    assert corners[0, 0] == img[1, 0, 0, 0] and corners[-1, -1] == img[1, -1, -1, 0]
    np.testing.assert_allclose(corners[2, 3], img[1, :, :, 0].mean(), rtol=1e-6)
    src = np.clip((np.arange(8) + 0.5) * 0.5 - 0.5, 0, 3)
    np.testing.assert_allclose(
        out["half"][0, 0, :, 0], np.interp(src, np.arange(4), img[0, 0, :, 0]), rtol=1e-6
    )
    assert out["single"].shape == (3, 2, 1)


# ------------------------------------------------------------------ gradients

GRADIENTS = {
    "stack_unstack": (
        lambda x, y: kl.stack(kl.unstack(x, axis=1)[::-1] + [y], axis=0) ** 2,
        [(2, 3), (2,)],
    ),
    "split_tile": (lambda x: kl.tile(kl.split(x, [1, 2], axis=1)[1], [2, 2]) * x[:1, :1], [(2, 3)]),
    "gather_nd_mask": (
        lambda x: (
            kl.gather_nd(x, [[0, 1], [1, 2], [0, 1]]) * 2.0
            + kl.reduce_sum(kl.boolean_mask(x, [[True, False, True], [False, True, True]]) ** 2)
        ),
        [(2, 3)],
    ),
    "cumsum_reverse": (lambda x: kl.cumsum(x, axis=1, exclusive=True) * kl.reverse(x, 0), [(3, 4)]),
    "one_hot_weights": (lambda x: kl.one_hot([1, 0, 2], 3, dtype=kl.float64) * x, [(3, 3)]),
    "clip_norms": (
        lambda x, y: (
            kl.clip_by_norm(x, 1.0, axes=[1])
            + kl.clip_by_global_norm([x, y], 2.0)[0][0] * kl.reduce_sum(y)
        ),
        [(3, 4), (5,)],
    ),
    "top_k": (lambda x: kl.nn.top_k(x * 1.0, 2).values ** 2, [(3, 5)]),
    "depthwise": (
        lambda x, w: kl.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME"),
        [(1, 5, 5, 2), (3, 3, 2, 2)],
    ),
    "conv2d_transpose": (
        lambda v, w: kl.nn.conv2d_transpose(v, w, [1, 5, 5, 2], [1, 2, 2, 1], "SAME"),
        [(1, 3, 3, 3), (3, 3, 2, 3)],
    ),
    "conv_nchw_bias": (
        lambda x, w, b: kl.nn.bias_add(
            kl.nn.conv2d(x, w, [1, 1, 2, 2], "VALID", data_format="NCHW"), b, data_format="NCHW"
        ),
        [(1, 2, 5, 5), (2, 2, 2, 3), (3,)],
    ),
    "moments_batchnorm": (
        lambda x, s: kl.nn.batch_normalization(x, *kl.nn.moments(x, [0]), None, s, 1e-3),
        [(4, 3), (3,)],
    ),
    "l2_normalize": (lambda x: kl.nn.l2_normalize(x, axis=0), [(3, 2)]),
    "embedding": (lambda t: kl.nn.embedding_lookup(t, [[0, 2], [2, 2]]), [(3, 2)]),
    "resize_bilinear": (lambda x: kl.image.resize_bilinear(x, [5, 3]), [(1, 3, 2, 2)]),
    "resize_nearest": (lambda x: kl.image.resize_nearest_neighbor(x, [4, 4]), [(1, 2, 3, 1)]),
    "activations": (
        lambda x: (
            kl.nn.relu6(x * 4.0)
            + kl.nn.leaky_relu(x)
            + kl.nn.selu(x)
            + kl.nn.softplus(x)
            + kl.nn.gelu(x)
            + kl.nn.log_softmax(x, axis=0)
        ),
        [(3, 4)],
    ),
}


@pytest.mark.parametrize("case", sorted(GRADIENTS))
def test_gradient_matches_finite_differences(case):
    build, shapes = GRADIENTS[case]
    fd_check(build, shapes, seed=3)
