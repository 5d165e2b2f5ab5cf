"""kiln.non_max_suppression: ONNX NonMaxSuppression (tf.image.non_max_suppression
over a batch and classes). Its result's length depends on the values, so the
backends run it in the reference interpreter (their declared fallbacks)."""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, float_, int_, optional
from ..core import Operation
from ..errors import ShapeError
from ..registry import op
from ..types import ANY, TensorType, may_equal


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
