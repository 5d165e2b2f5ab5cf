"""The converter of ONNX NonMaxSuppression onto kiln.non_max_suppression; its
optional inputs (max_output_boxes_per_class, iou_threshold, score_threshold)
must be known at import and become attributes."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter


def _known(ctx: Context, node: Node, i: int, what: str, default):
    v = node.input(i)
    if v is None:
        return default
    value = ctx.value_of(v)
    if value is None:
        raise ctx.unknown(node, f"'{what}' (input {i})")
    flat = np.asarray(value).reshape(-1)
    if flat.size != 1:
        raise ctx.error(node, f"'{what}' must hold one value, got {flat.size}")
    return flat[0].item()


@converter("NonMaxSuppression", 10)
def non_max_suppression(ctx: Context, node: Node) -> list[Value]:
    boxes, scores = node.inputs[:2]
    center = int(node.attr("center_point_box", 0))
    if center not in (0, 1):
        raise ctx.error(node, f"center_point_box={center} must be 0 or 1")
    score_threshold = _known(ctx, node, 4, "score_threshold", None)
    return [
        ctx.b.non_max_suppression(
            boxes,
            scores,
            max_output_boxes_per_class=int(_known(ctx, node, 2, "max_output_boxes_per_class", 0)),
            iou_threshold=float(_known(ctx, node, 3, "iou_threshold", 0.0)),
            score_threshold=None if score_threshold is None else float(score_threshold),
            center_point_box=center,
        )
    ]


@converter("Unique", 11)
def unique(ctx: Context, node: Node) -> list[Value]:
    axis = node.attr("axis", None)
    x = node.inputs[0]
    if axis is not None and not -x.type.rank <= axis < x.type.rank:
        raise ctx.error(node, f"axis {axis} is out of range for {x.type}")
    op = ctx.b.create("kiln.unique", x, axis=axis, sorted=bool(node.attr("sorted", 1)))
    return list(op.results[: node.num_outputs])
