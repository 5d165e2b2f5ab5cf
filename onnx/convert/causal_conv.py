"""The converter of ONNX CausalConvWithState: a depthwise 1-D convolution over the
past state followed by the input (a sum of k shifted slices times each channel's
tap), an optional SiLU, and the last k - 1 steps as the new state.

Low-precision inputs are convolved and activated in f32 and rounded where onnx's
function rounds (after the convolution, after the SiLU): the function's
expansion into f16 ops rounds every step and leaves the f16 cases off by more
than their tolerance."""

from __future__ import annotations

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter


@converter("CausalConvWithState", 27)
def causal_conv_with_state(ctx: Context, node: Node) -> list[Value]:
    x, w = node.inputs[:2]
    bias, past = node.input(2), node.input(3)
    b = ctx.b
    activation = node.attr("activation", "none")
    if isinstance(activation, bytes):
        activation = activation.decode()
    if activation not in ("none", "silu", "swish"):
        raise ctx.error(node, f"activation {activation!r} is not none, silu or swish")
    if x.type.rank != 3 or w.type.rank != 3 or not isinstance(w.type.shape[2], int):
        raise ctx.error(
            node, f"expected input [N, C, L] and weight [C, 1, k], got {x.type}, {w.type}"
        )
    c, k = x.type.shape[1], w.type.shape[2]
    dt = x.type.dtype
    wide = DType.f32 if dt in (DType.f16, DType.bf16) else dt

    def widened(v: Value) -> Value:
        return v if v.type.dtype == wide else b.cast(v, dtype=wide)

    if past is None:
        padded = b.pad(x, low=[0, 0, k - 1], high=[0, 0, 0], value=0.0) if k > 1 else x
    else:
        padded = b.concat(past, x, axis=2)
    length = x.type.shape[2]
    if not isinstance(length, int):
        raise ctx.error(node, f"needs a static length, got {x.type}")
    pw, ww = widened(padded), widened(w)
    total = None
    for j in range(k):
        window = b.slice(pw, axes=[2], starts=[j], stops=[j + length])
        tap = b.reshape(b.slice(ww, axes=[2], starts=[j], stops=[j + 1]), shape=[c, 1])
        term = b.mul(window, tap)
        total = term if total is None else b.add(total, term)
    if bias is not None:
        total = b.add(total, b.reshape(widened(bias), shape=[c, 1]))
    if wide != dt:
        total = b.cast(b.cast(total, dtype=dt), dtype=wide)  # onnx rounds the convolution
    if activation != "none":
        total = b.mul(total, b.sigmoid(total))
    y = total if wide == dt else b.cast(total, dtype=dt)
    steps = padded.type.shape[2]
    state = b.slice(padded, axes=[2], starts=[steps - (k - 1)], stops=[steps])
    return [y, state]
