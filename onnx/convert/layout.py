"""Converters of ONNX DepthToSpace and SpaceToDepth: a reshape, a transpose
and a reshape (the batch may be symbolic; C, H and W must be static)."""

from __future__ import annotations

from ...ir.core import Value
from . import Context, Node, converter


def _nchw(ctx: Context, node: Node, x: Value) -> tuple:
    if x.type.rank != 4:
        raise ctx.error(node, f"expected a 4-D (N, C, H, W) input, got {x.type}")
    n, c, h, w = x.type.shape
    if not all(isinstance(d, int) for d in (c, h, w)):
        raise ctx.error(node, f"C, H and W of {x.type} must be static")
    return (n if isinstance(n, int) else -1), c, h, w


@converter("DepthToSpace", 1)
def depth_to_space(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    n, c, h, w = _nchw(ctx, node, x)
    s = int(node.attr("blocksize"))
    if s < 1 or c % (s * s):
        raise ctx.error(node, f"C = {c} is not a multiple of blocksize^2 = {s * s}")
    mode = node.attr("mode", "DCR") if ctx.opset >= 11 else "DCR"
    b = ctx.b
    if mode == "DCR":
        y = b.transpose(b.reshape(x, shape=[n, s, s, c // (s * s), h, w]), perm=[0, 3, 4, 1, 5, 2])
    elif mode == "CRD":
        y = b.transpose(b.reshape(x, shape=[n, c // (s * s), s, s, h, w]), perm=[0, 1, 4, 2, 5, 3])
    else:
        raise ctx.error(node, f"mode={mode!r} is not supported")
    return [b.reshape(y, shape=[n, c // (s * s), h * s, w * s])]


@converter("SpaceToDepth", 1)
def space_to_depth(ctx: Context, node: Node) -> list[Value]:
    x = node.inputs[0]
    n, c, h, w = _nchw(ctx, node, x)
    s = int(node.attr("blocksize"))
    if s < 1 or h % s or w % s:
        raise ctx.error(node, f"H = {h} and W = {w} must be multiples of blocksize {s}")
    mode = node.attr("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        raise ctx.error(node, f"mode={mode!r} is not supported")
    perm = [0, 3, 5, 1, 2, 4] if mode == "DCR" else [0, 1, 3, 5, 2, 4]
    b = ctx.b
    y = b.transpose(b.reshape(x, shape=[n, c, h // s, s, w // s, s]), perm=perm)
    return [b.reshape(y, shape=[n, c * s * s, h // s, w // s])]
