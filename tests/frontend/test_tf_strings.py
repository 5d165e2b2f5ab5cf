"""Strings as a host dtype: constants, feeds, fetches, tf.strings, CSV, files,
images. Expected values were computed once with tensorflow-cpu 2.21."""

from __future__ import annotations

import io

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


def test_hello_world_returns_bytes_as_tensorflow():
    hello = tf.constant("Hello, TensorFlow!")
    assert hello.dtype is tf.string and str(hello.shape) == "()"
    assert run(hello) == b"Hello, TensorFlow!"


def test_string_placeholders_feed_and_fetch():
    p = tf.placeholder(tf.string, [2])
    got = run(p, {p: ["a", b"b"]})
    assert got.dtype == object and got.tolist() == [b"a", b"b"]


def test_strings_and_numbers_in_one_run():
    p = tf.placeholder(tf.string, [None])
    x = tf.strings.to_number(p) * 2.0  # a host op's number feeds the compiled call
    w = tf.Variable(1.5)
    y = x * w
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        got_x, got_y, text = s.run([x, y, tf.as_string(y)], {p: ["1.5", "2"]})
    assert got_x.dtype == np.float32 and got_x.tolist() == [3.0, 4.0]
    assert got_y.tolist() == [4.5, 6.0]
    assert text.tolist() == [b"4.500000", b"6.000000"]


def test_a_numeric_kernel_refuses_strings_with_a_clear_error():
    s = tf.constant("a")
    with pytest.raises(GraphError, match="string tensor, but Add is a numeric kernel"):
        tf.add(s, s)


def test_as_string_matches_tensorflow():
    got = run(
        [
            tf.as_string(tf.constant([3.0, 1.25])),
            tf.as_string(tf.constant([7, -2])),
            tf.as_string(tf.constant([True])),
            tf.as_string(tf.constant([3.14159]), precision=2),
            tf.as_string(tf.constant([5]), width=3, fill="0"),
            tf.as_string(tf.constant([3.14159e10]), scientific=True),
            tf.as_string(tf.constant([0.5, 1e20]), shortest=True),
        ]
    )
    assert [g.tolist() for g in got] == [
        [b"3.000000", b"1.250000"],
        [b"7", b"-2"],
        [b"true"],
        [b"3.14"],
        [b"005"],
        [b"3.141590e+10"],
        [b"0.5", b"1e+20"],
    ]


def test_string_ops_match_tensorflow():
    got = run(
        [
            tf.strings.length(["héllo", "ab"]),
            tf.strings.length(["héllo"], unit="UTF8_CHAR"),
            tf.strings.to_number(["1.5", "2"]),
            tf.strings.to_number(["12"], out_type=tf.int32),
            tf.strings.join([tf.constant(["a", "b"]), tf.constant("c")], separator="-"),
            tf.strings.format("x={} y={}", [tf.constant(3), tf.constant([1.5, 2.0])]),
            tf.strings.upper(["abc"]),
            tf.strings.regex_replace(["a1b22"], r"\d+", "#"),
            tf.strings.substr(["hello"], 1, 3),
            tf.strings.strip([" x "]),
            tf.strings.split("a b  c"),
        ]
    )
    assert got[0].tolist() == [6, 2] and got[1].tolist() == [5]
    assert got[2].tolist() == [1.5, 2.0] and got[3].dtype == np.int32 and got[3].tolist() == [12]
    assert got[4].tolist() == [b"a-c", b"b-c"]
    assert got[5] == b"x=3 y=[1.5 2]"
    assert got[6].tolist() == [b"ABC"] and got[7].tolist() == [b"a#b#"]
    assert got[8].tolist() == [b"ell"] and got[9].tolist() == [b"x"]
    assert got[10].tolist() == [b"a", b"b", b"c"]


def test_split_of_a_vector_is_padded_dense():
    got = run(tf.strings.split(["a b", "c"], sep=" "))
    assert got.tolist() == [[b"a", b"b"], [b"c", b""]]  # TF's ragged result, .to_tensor()


def test_to_number_of_garbage_is_a_kiln_error():
    with pytest.raises(GraphError, match="cannot parse b'x'"):
        run(tf.strings.to_number(["x"]))


def test_decode_csv_matches_tensorflow():
    cols = tf.decode_csv(tf.constant(["1,2.5,a", "3,,b"]), [[0], [1.0], [""]])
    got = run(cols)
    assert got[0].dtype == np.int32 and got[0].tolist() == [1, 3]
    assert got[1].dtype == np.float32 and got[1].tolist() == [2.5, 1.0]
    assert got[2].tolist() == [b"a", b"b"]


def test_decode_csv_missing_required_field():
    cols = tf.io.decode_csv(tf.constant([",1"]), [[], [0]])
    with pytest.raises(GraphError, match="field 0 is required"):
        run(cols)


def test_read_and_write_files(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(b"one\ntwo\n")
    name = tf.placeholder(tf.string, [])
    content = tf.read_file(name)
    assert run(content, {name: str(path)}) == b"one\ntwo\n"
    out = tmp_path / "copy.txt"
    run(tf.io.write_file(str(out), content), {name: str(path)})
    assert out.read_bytes() == b"one\ntwo\n"
    listed = run(tf.io.matching_files(str(tmp_path / "*.txt")))
    assert listed.tolist() == [str(out).encode(), str(path).encode()]
    with pytest.raises(GraphError, match="No such file"):
        run(content, {name: str(tmp_path / "missing")})


def test_gfile(tmp_path):
    d = tmp_path / "a" / "b"
    tf.io.gfile.makedirs(str(d))
    assert tf.gfile.Exists(str(d)) and tf.gfile.IsDirectory(str(d))
    with tf.gfile.GFile(str(d / "f.txt"), "w") as f:
        f.write("hi")
    with tf.io.gfile.GFile(str(d / "f.txt")) as f:
        assert f.read() == "hi"
    assert tf.gfile.ListDirectory(str(d)) == ["f.txt"]
    assert tf.io.gfile.glob(str(d / "*.txt")) == [str(d / "f.txt")]
    tf.gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not tf.io.gfile.exists(str(d))


def test_eager_strings():
    with tf.eager_mode():
        t = tf.constant("hi")
        assert t.numpy() == b"hi"
        assert tf.strings.length(tf.constant(["ab", "c"])).numpy().tolist() == [2, 1]


def _png(array: np.ndarray) -> bytes:
    Image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_png_is_exact():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    data = tf.placeholder(tf.string, [])
    image = tf.image.decode_png(data, channels=3)
    gray = tf.image.decode_png(data, channels=1)
    assert image.dtype is tf.uint8 and image.shape.as_list() == [None, None, 3]
    got, got_gray = run([image, gray], {data: _png(rgb)})
    assert got.dtype == np.uint8 and np.array_equal(got, rgb)
    assert got_gray.shape == (5, 7, 1)
    scaled = run(tf.image.convert_image_dtype(image, tf.float32), {data: _png(rgb)})
    np.testing.assert_allclose(scaled, rgb / 255.0, rtol=1e-6)


def test_decode_jpeg_reads_the_picture():
    Image = pytest.importorskip("PIL.Image")
    smooth = np.zeros((16, 16, 3), np.uint8)
    smooth[..., 0] = np.arange(16)[:, None] * 16
    smooth[..., 1] = 128
    buffer = io.BytesIO()
    Image.fromarray(smooth).save(buffer, format="JPEG", quality=95)
    got = run(tf.image.decode_jpeg(tf.constant(buffer.getvalue()), channels=3))
    assert got.shape == (16, 16, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - smooth).mean() < 3  # lossy, but the same picture


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_resizing_a_decoded_image_matches_the_static_resize(method, align_corners):
    """decode_png's size is known only at run time, so its resize runs on the host:
    the same numbers as the static-size resize (checked against TensorFlow elsewhere)."""
    rgb = np.random.default_rng(1).integers(0, 256, (9, 13, 3)).astype(np.uint8)
    data = tf.placeholder(tf.string, [])
    decoded = tf.image.decode_png(data, channels=3)
    dynamic = tf.image.resize_images(decoded, [5, 20], method, align_corners)
    static = tf.image.resize_images(tf.constant(rgb), [5, 20], method, align_corners)
    assert dynamic.shape.as_list() == [5, 20, 3] and dynamic.dtype is static.dtype
    got, want = run([dynamic, static], {data: _png(rgb)})
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)


def test_convert_image_dtype_matches_tensorflow():
    got = run(
        [
            tf.image.convert_image_dtype(tf.constant([0, 128, 255], tf.uint8), tf.float32),
            tf.image.convert_image_dtype(tf.constant([0.0, 0.5, 1.0]), tf.uint8),
        ]
    )
    np.testing.assert_allclose(got[0], [0.0, 0.5019608, 1.0], rtol=1e-6)
    assert got[1].tolist() == [0, 127, 255]


def test_colour_adjustments_match_tensorflow():
    img = np.arange(18).reshape(2, 3, 3).astype(np.float32) / 20
    u = (np.arange(18).reshape(2, 3, 3) * 14).astype(np.uint8)
    got = run(
        [
            tf.image.adjust_brightness(img, 0.1),
            tf.image.adjust_contrast(img, 2.0),
            tf.image.adjust_saturation(img, 0.5),
            tf.image.adjust_hue(img, 0.2),
            tf.image.adjust_brightness(u, 0.1),
            tf.image.adjust_contrast(u, 2.0),
            tf.image.rgb_to_grayscale(img),
            tf.image.per_image_standardization(img),
            tf.image.flip_left_right(img),
        ]
    )
    close = np.testing.assert_allclose
    close(got[0].ravel()[:4], [0.1, 0.15, 0.2, 0.25], rtol=1e-6)
    close(got[1].ravel()[:6], [-0.375, -0.325, -0.275, -0.075, -0.025, 0.025], atol=1e-6)
    close(
        got[2].ravel(),
        [0.05, 0.075, 0.1, 0.2, 0.225, 0.25, 0.35, 0.375, 0.4]
        + [0.5, 0.525, 0.55, 0.65, 0.675, 0.7, 0.8, 0.825, 0.85],
        atol=2e-6,
    )
    close(
        got[3].ravel(),
        [0.07, 0.0, 0.1, 0.22, 0.15, 0.25, 0.37, 0.3, 0.4]
        + [0.52, 0.45, 0.55, 0.67, 0.6, 0.7, 0.82, 0.75, 0.85],
        atol=2e-6,
    )
    assert got[4].ravel().tolist() == [25, 39, 53, 67, 81, 95, 109, 123, 137] + [
        151,
        165,
        179,
        193,
        207,
        221,
        235,
        249,
        255,
    ]
    assert got[5].ravel().tolist() == [0, 0, 0, 0, 0, 7, 63, 77, 91] + [
        147,
        161,
        175,
        231,
        245,
        255,
        255,
        255,
        255,
    ]
    close(got[6].ravel(), [0.04075, 0.190735, 0.34072, 0.490705, 0.64069, 0.790675], rtol=1e-5)
    close(got[7].ravel()[:4], [-1.638356, -1.4456081, -1.2528605, -1.0601127], rtol=1e-5)
    assert np.array_equal(got[8], img[:, ::-1])


def test_eager_numeric_kernels_refuse_strings():
    with tf.eager_mode():
        s = tf.constant(["a"])
        with pytest.raises(GraphError, match="numeric kernel"):
            tf.add(s, s)


def test_decode_raw_and_reduce_join_match_tensorflow():
    raw = [np.arange(3, dtype=np.int16).tobytes(), np.array([7, 8, 9], np.int16).tobytes()]
    words = tf.constant([["a", "b"], ["c", "d"]])
    got = run(
        [
            tf.decode_raw(tf.constant(raw), tf.int16),
            tf.strings.reduce_join(words, axis=1, separator="-"),
            tf.strings.reduce_join(words),
            tf.strings.reduce_join(words, axis=0, keepdims=True),
        ]
    )
    assert got[0].dtype == np.int16 and got[0].tolist() == [[0, 1, 2], [7, 8, 9]]
    assert got[1].tolist() == [b"a-b", b"c-d"] and got[2] == b"abcd"
    assert got[3].tolist() == [[b"ac", b"bd"]]
