"""Ops whose results' lengths depend on the values: kiln.non_max_suppression
(ONNX NonMaxSuppression, tf.image.non_max_suppression over a batch and
classes) and kiln.unique (ONNX Unique). The backends run them in the
reference interpreter (their declared fallbacks)."""

from __future__ import annotations

import math

import numpy as np

from ..attributes import Attr, bool_, float_, int_, optional
from ..core import Operation
from ..dtypes import DType
from ..errors import ShapeError
from ..registry import op
from ..types import ANY, TensorType, may_equal
from .reduce import normalize_axis


def corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """[..., 4] boxes as (y1, x1, y2, x2) with y1 <= y2 and x1 <= x2."""
    if center_point_box:
        xc, yc, w, h = np.moveaxis(boxes, -1, 0)
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], -1)
    y1, x1, y2, x2 = np.moveaxis(boxes, -1, 0)
    return np.stack(
        [np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2), np.maximum(x1, x2)], -1
    )


def overlaps(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of `box` with each of `others` (0 where either
    has no area)."""
    top = np.maximum(box[0], others[:, 0])
    left = np.maximum(box[1], others[:, 1])
    bottom = np.minimum(box[2], others[:, 2])
    right = np.minimum(box[3], others[:, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where((area > 0) & (areas > 0) & (union > 0), inter / union, 0.0)
    return iou


@op(
    "kiln.non_max_suppression",
    ["boxes", "scores"],
    {
        "max_output_boxes_per_class": Attr(int_, 0),
        "iou_threshold": Attr(float_, 0.0),
        "score_threshold": Attr(optional(float_), None),
        "center_point_box": Attr(int_, 0),
    },
    not_differentiable="box indices: constant almost everywhere",
    tf="NonMaxSuppressionV3",
    onnx="NonMaxSuppression",
)
class NonMaxSuppression(Operation):
    """The boxes kept, per batch and class, by greedy non-maximum suppression:
    by descending score (ties by index), skipping boxes whose IoU with a kept
    one exceeds `iou_threshold` and those scoring at most `score_threshold`, at
    most `max_output_boxes_per_class` each. Result rows: (batch, class, box).
    boxes: [batch, n, 4]; scores: [batch, classes, n]."""

    def infer(self, boxes: TensorType, scores: TensorType) -> TensorType:
        if self.center_point_box not in (0, 1):
            raise ShapeError(f"center_point_box must be 0 or 1, got {self.center_point_box}")
        if boxes.rank != 3 or scores.rank != 3 or not may_equal(boxes.shape[2], 4):
            raise ShapeError(
                "expected boxes [batch, n, 4] and scores [batch, classes, n], "
                f"got {boxes} and {scores}"
            )
        if not (
            may_equal(boxes.shape[0], scores.shape[0])
            and may_equal(boxes.shape[1], scores.shape[2])
        ):
            raise ShapeError(f"boxes {boxes} and scores {scores} disagree on batch or n")
        if not boxes.dtype.is_float or scores.dtype != boxes.dtype:
            raise ShapeError(
                f"expected float boxes and scores of one dtype, got {boxes} and {scores}"
            )
        return TensorType("i64", [ANY, 3])

    def reference(self, boxes, scores):
        rows = []
        limit = self.max_output_boxes_per_class
        for batch in range(boxes.shape[0]):
            boxed = corners(boxes[batch].astype(np.float64), self.center_point_box)
            for cls in range(scores.shape[1]):
                s = scores[batch, cls]
                order = np.argsort(-s, kind="stable")
                if self.score_threshold is not None:
                    order = order[s[order] > self.score_threshold]
                kept: list[int] = []
                for i in order:
                    if len(kept) >= limit:
                        break
                    if kept and (overlaps(boxed[i], boxed[kept]) > self.iou_threshold).any():
                        continue
                    kept.append(int(i))
                rows += [(batch, cls, i) for i in kept]
        return np.array(rows, np.int64).reshape(-1, 3)


@op(
    "kiln.unique",
    ["x"],
    {"axis": Attr(optional(int_), None), "sorted": Attr(bool_, True)},
    results=4,
    not_differentiable="its results are picked elements and indices",
    tf="UniqueV2",
    onnx="Unique",
)
class Unique(Operation):
    """The distinct elements of x (flattened), or its distinct slices along
    `axis`, sorted or in order of first appearance; with the index of each's
    first appearance, the index into them of every element (or slice), and
    their counts (ONNX Unique, numpy.unique). Their number is known only at
    run time."""

    def infer(self, x: TensorType):
        if self.axis is None:
            shape, n = [ANY], math.prod(x.shape) if x.is_static else ANY
        else:
            axis = normalize_axis(self.axis, x.rank)
            shape, n = list(x.shape), x.shape[axis]
            shape[axis] = ANY
        i64 = DType.i64
        return (
            x.with_shape(shape),
            TensorType(i64, [ANY]),
            TensorType(i64, [n]),
            TensorType(i64, [ANY]),
        )

    def reference(self, x):
        axis = None if self.axis is None else normalize_axis(self.axis, x.ndim)
        values, first, inverse, counts = np.unique(
            x, return_index=True, return_inverse=True, return_counts=True, axis=axis
        )
        inverse = inverse.reshape(-1)
        if not self.sorted:  # in order of first appearance
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            values = np.take(values, order, axis=0 if axis is None else axis)
            first, counts, inverse = first[order], counts[order], rank[inverse]
        i64 = np.int64
        return values, first.astype(i64), inverse.astype(i64), counts.astype(i64)
