"""kiln.non_max_suppression (ir/ops/detection.py): ONNX's worked example, a
brute-force check of the greedy rule on random boxes, the centre-point box
format, thresholds and limits, the declared fallbacks, and the type errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kiln
from kiln.ir import Builder, CompileError, Module, ShapeError, interpret, parse
from kiln.ir.types import parse_type_body


def nms_module(boxes="?x?x4xf32", scores="?x?x?xf32", **attrs) -> Module:
    m = Module()
    f = m.add_function("f", [parse_type_body(boxes), parse_type_body(scores)])
    b = Builder.at_end(f.body)
    b.ret(b.non_max_suppression(*f.args, **attrs))
    return m.verify()


BOXES = np.array(
    [[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 10.1, 1, 11.1],
      [0, 100, 1, 101]]],
    np.float32,
)  # fmt: skip
SCORES = np.array([[[0.9, 0.75, 0.6, 0.95, 0.5, 0.3]]], np.float32)


def test_onnx_example():
    m = nms_module(max_output_boxes_per_class=3, iou_threshold=0.5, score_threshold=0.0)
    np.testing.assert_array_equal(
        interpret(m, "f", BOXES, SCORES)[0], [[0, 0, 3], [0, 0, 0], [0, 0, 5]]
    )
    m = nms_module(max_output_boxes_per_class=3, iou_threshold=0.5, score_threshold=0.4)
    np.testing.assert_array_equal(interpret(m, "f", BOXES, SCORES)[0], [[0, 0, 3], [0, 0, 0]])
    m = nms_module(iou_threshold=0.5)  # max_output_boxes_per_class 0: nothing
    assert interpret(m, "f", BOXES, SCORES)[0].shape == (0, 3)


def test_centre_point_boxes_give_the_same_result():
    y1, x1, y2, x2 = np.moveaxis(BOXES, -1, 0)
    centred = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)
    attrs = dict(max_output_boxes_per_class=6, iou_threshold=0.5)
    want = interpret(nms_module(**attrs), "f", BOXES, SCORES)[0]
    got = interpret(nms_module(center_point_box=1, **attrs), "f", centred, SCORES)[0]
    np.testing.assert_array_equal(got, want)


def iou(a, b):
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_greedy_rule_on_random_boxes():
    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 10, (2, 30, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0.5, 4, (2, 30, 2))], -1)
    scores = rng.random((2, 3, 30)).astype(np.float64)
    m = nms_module(
        "2x30x4xf64",
        "2x3x30xf64",
        max_output_boxes_per_class=7,
        iou_threshold=0.3,
        score_threshold=0.2,
    )
    got = interpret(m, "f", boxes, scores)[0]
    want = []
    for b in range(2):
        for c in range(3):
            kept = []
            for i in sorted(range(30), key=lambda i: -scores[b, c, i]):
                if scores[b, c, i] <= 0.2 or len(kept) == 7:
                    continue
                if all(iou(boxes[b, i], boxes[b, j]) <= 0.3 for j in kept):
                    kept.append(i)
            want += [[b, c, i] for i in kept]
    np.testing.assert_array_equal(got, want)


def test_runs_in_the_interpreter_as_declared():
    m = nms_module(max_output_boxes_per_class=3, iou_threshold=0.5)
    with pytest.raises(CompileError):
        kiln.compile(m, "f", backend="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exe = kiln.compile(m, "f")  # backend="auto": the declared fallback
    got = exe(BOXES, SCORES)
    got = np.asarray(got[0] if isinstance(got, (list, tuple)) else got)
    np.testing.assert_array_equal(got, [[0, 0, 3], [0, 0, 0], [0, 0, 5]])
    assert parse(str(m)) == m


def test_type_errors():
    with pytest.raises(ShapeError, match="boxes"):
        nms_module("2x5x3xf32", "2x1x5xf32")
    with pytest.raises(ShapeError, match="disagree"):
        nms_module("2x5x4xf32", "2x1x6xf32")
    with pytest.raises(ShapeError, match="center_point_box"):
        nms_module(center_point_box=2)


# ------------------------------------------------------------------ unique


def unique_module(type_: str, **attrs) -> Module:
    m = Module()
    f = m.add_function("f", [parse_type_body(type_)])
    b = Builder.at_end(f.body)
    b.ret(*b.create("kiln.unique", f.args[0], **attrs).results)
    return m.verify()


def test_unique_sorted_and_in_order_of_appearance():
    x = np.array([2, 1, 1, 3, 4, 3], np.float32)
    values, first, inverse, counts = interpret(unique_module("6xf32"), "f", x)
    np.testing.assert_array_equal(values, [1, 2, 3, 4])
    np.testing.assert_array_equal(first, [1, 0, 3, 4])
    np.testing.assert_array_equal(inverse, [1, 0, 0, 2, 3, 2])
    np.testing.assert_array_equal(counts, [2, 1, 2, 1])
    values, first, inverse, counts = interpret(unique_module("6xf32", sorted=False), "f", x)
    np.testing.assert_array_equal(values, [2, 1, 3, 4])
    np.testing.assert_array_equal(first, [0, 1, 3, 4])
    np.testing.assert_array_equal(inverse, [0, 1, 1, 2, 3, 2])
    np.testing.assert_array_equal(values[inverse], x)


def test_unique_slices_along_an_axis():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, (3, 6)).astype(np.int32)
    for sorted_ in (True, False):
        m = unique_module("3x?xi32", axis=1, sorted=sorted_)
        values, first, inverse, counts = interpret(m, "f", x)
        np.testing.assert_array_equal(values[:, inverse], x)  # the slices rebuild x
        np.testing.assert_array_equal(x[:, first], values)
        assert counts.sum() == 6 and len(set(map(tuple, values.T))) == values.shape[1]
    assert parse(str(m)) == m
    with pytest.raises(CompileError):
        kiln.compile(m, "f", backend="cpu")
