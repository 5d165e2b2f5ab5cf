"""Converters of ONNX Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9).

All map onto kiln.resize (ir/ops/resize.py), whose attributes are opset 19's;
the older semantics are attribute values: Resize-10 and Upsample are
"asymmetric" with nearest "floor"; `axes` and `keep_aspect_ratio_policy`
(opset 18) become full per-dim sizes and scales here. Scales, sizes and roi
must be known at import (constants or folded from them), since they fix the
result's shape.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.core import Value
from ...ir.ops.resize import ROUNDINGS, TRANSFORMS
from . import Context, Node, converter


def _floats(ctx: Context, node: Node, v: Value | None, what: str) -> list[float] | None:
    if v is None:
        return None
    value = ctx.value_of(v)
    if value is None:
        raise ctx.unknown(node, what)
    flat = [float(x) for x in np.asarray(value).reshape(-1)]
    return flat or None  # an empty tensor means "not given"


def _resize(ctx: Context, node: Node, x: Value, scales, sizes, roi, attrs: dict) -> Value:
    rank = x.type.rank
    shape = list(x.type.shape)
    axes = [a % rank for a in node.attr("axes", list(range(rank)))] if ctx.opset >= 18 else None
    axes = axes or list(range(rank))
    for what, given in (("scales", scales), ("sizes", sizes)):
        if given is not None and len(given) != len(axes):
            raise ctx.error(node, f"{what} has {len(given)} entries for {len(axes)} axes")
    if roi is not None and len(roi) != 2 * len(axes):
        raise ctx.error(node, f"roi has {len(roi)} entries for {len(axes)} axes")
    full_scales = [1.0] * rank
    full_sizes = [-1] * rank
    full_roi = [0.0] * rank + [1.0] * rank
    if roi is not None:
        for i, a in enumerate(axes):
            full_roi[a], full_roi[rank + a] = roi[i], roi[len(axes) + i]
    policy = node.attr("keep_aspect_ratio_policy", "stretch") if ctx.opset >= 18 else "stretch"
    if sizes is not None:
        for a in axes:
            if not isinstance(shape[a], int):
                raise ctx.error(node, f"dim {a} of {x.type} is resized, so it must be static")
        wanted = dict(zip(axes, sizes))
        if policy == "stretch":
            for a in axes:
                full_sizes[a] = int(wanted[a])
            use_scales = False
        else:
            ratios = [wanted[a] / shape[a] for a in axes]
            scale = min(ratios) if policy == "not_larger" else max(ratios)
            for a in axes:
                full_scales[a] = scale
                full_sizes[a] = int(scale * shape[a] + 0.5)
            use_scales = True
    elif scales is not None:
        for a, s in zip(axes, scales):
            if s <= 0:
                raise ctx.error(node, f"scale {s} must be positive")
            if s == 1.0:
                continue
            if not isinstance(shape[a], int):
                raise ctx.error(node, f"dim {a} of {x.type} is resized, so it must be static")
            full_scales[a] = s
            full_sizes[a] = int(math.floor(s * shape[a]))
        use_scales = True
    else:
        raise ctx.error(node, "one of scales and sizes must be given")
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    return ctx.b.resize(
        x,
        sizes=full_sizes,
        scales=full_scales if use_scales else [],
        roi=full_roi if crop else [],
        **attrs,
    )


def _modes(ctx: Context, node: Node) -> dict:
    mode = node.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.error(node, f"mode={mode!r} is not supported")
    return {"mode": mode}


@converter("Upsample", 7)
def upsample(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    attrs = _modes(ctx, node)
    if attrs["mode"] == "cubic":
        raise ctx.error(node, "mode='cubic' is not defined for Upsample")
    if ctx.opset < 9:
        scales = [float(s) for s in node.attr("scales")]
    else:
        scales = _floats(ctx, node, node.input(1), "'scales' (input 1)")
    attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return [_resize(ctx, node, x, scales, None, None, attrs)]


@converter("Resize", 10)
def resize(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    attrs = _modes(ctx, node)
    if ctx.opset < 11:
        scales = _floats(ctx, node, node.input(1), "'scales' (input 1)")
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        return [_resize(ctx, node, x, scales, None, None, attrs)]
    roi = _floats(ctx, node, node.input(1), "'roi' (input 1)")
    scales = _floats(ctx, node, node.input(2), "'scales' (input 2)")
    sizes = node.input(3)
    sizes = None if sizes is None else (ctx.ints_of(sizes, node, "'sizes' (input 3)") or None)
    if sizes is not None and scales is not None:
        raise ctx.error(node, "only one of scales and sizes may be given")
    attrs.update(
        coordinate_transformation_mode=node.attr("coordinate_transformation_mode", "half_pixel"),
        nearest_mode=node.attr("nearest_mode", "round_prefer_floor"),
        cubic_coeff_a=float(node.attr("cubic_coeff_a", -0.75)),
        exclude_outside=bool(node.attr("exclude_outside", 0)),
        extrapolation_value=float(node.attr("extrapolation_value", 0.0)),
    )
    if ctx.opset >= 18:
        attrs["antialias"] = bool(node.attr("antialias", 0))
    transform = attrs["coordinate_transformation_mode"]
    if transform not in TRANSFORMS:
        raise ctx.error(node, f"coordinate_transformation_mode={transform!r} is not supported")
    if attrs["nearest_mode"] not in ROUNDINGS:
        raise ctx.error(node, f"nearest_mode={attrs['nearest_mode']!r} is not supported")
    return [_resize(ctx, node, x, scales, sizes, roi, attrs)]
