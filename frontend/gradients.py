"""kl.gradients: gradients as graph nodes, differentiated in the IR.

`kl.gradients(ys, xs)` adds one "Gradients" node whose outputs are the
gradients. When a Session lowers it, the forward ops already sit in the IR
function, and the one autodiff of passes/autodiff.py (`backward`) builds the
gradient ops after them: the frontend has no gradient rules of its own.
As in TensorFlow, an x that no y depends on gets None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ir import Builder, Value
from ..passes.autodiff import backward
from .graph import GraphError, Operation, Tensor, get_default_graph
from .ops import convert_to_tensor

NO_GRADIENT = {"StopGradient", "ArgMax", "ArgMin", "Equal", "NotEqual", "Less", "LessEqual",
               "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr", "LogicalNot"}


def _connected(ys: Sequence[Tensor], x: Tensor) -> bool:
    """Whether some y depends on x through differentiable edges."""
    seen, stack = set(), list(ys)
    while stack:
        t = stack.pop()
        if t is x:
            return True
        if t in seen or t.op.type in NO_GRADIENT or not t.dtype.is_floating:
            continue
        seen.add(t)
        inputs = t.op.inputs[1:] if t.op.type == "Assign" else t.op.inputs
        stack.extend(inputs)
    return False


def gradients(ys: Any, xs: Any, grad_ys: Any = None, name: str = "gradients",
              stop_gradients: Any = None, **_: Any) -> list[Tensor | None]:
    """d(sum of ys)/d(x) for each x in xs (tf.gradients); `grad_ys` weights the ys."""
    ys = [convert_to_tensor(y) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]
    xs_in = xs if isinstance(xs, (list, tuple)) else [xs]
    xs = [convert_to_tensor(x) for x in xs_in]
    seeds = []
    if grad_ys is not None:
        gys = grad_ys if isinstance(grad_ys, (list, tuple)) else [grad_ys]
        if len(gys) != len(ys):
            raise GraphError(f"gradients: {len(gys)} grad_ys for {len(ys)} ys")
        seeds = [convert_to_tensor(g, dtype=y.dtype) for g, y in zip(gys, ys)]
    for y in ys:
        if not y.dtype.is_floating:
            raise GraphError(f"gradients: {y.name} is {y.dtype.name}; only floating-point "
                             "tensors can be differentiated")
    connected = [x for x in xs if x.dtype.is_floating and _connected(ys, x)]
    out: dict[Tensor, Tensor] = {}
    if connected:
        g = get_default_graph()
        op = g.create_op("Gradients", [*ys, *connected, *seeds], name=name,
                         attrs={"n_ys": len(ys), "n_xs": len(connected)},
                         output_types=[(x.dtype, x.shape) for x in connected])
        out = dict(zip(connected, op.outputs))
    return [out.get(x) for x in xs]


def lower_gradients(op: Operation, b: Builder, env: dict[Tensor, Value]) -> None:
    """Build the gradient ops of a Gradients node after the forward ops in `b`'s block."""
    n_ys, n_xs = op.attrs["n_ys"], op.attrs["n_xs"]
    ys, xs, seeds = op.inputs[:n_ys], op.inputs[n_ys:n_ys + n_xs], op.inputs[n_ys + n_xs:]
    forward = list(b.block.ops)
    if seeds:
        seed_values = [env[s] for s in seeds]
    else:
        seed_values = [b.broadcast_like(b.constant(1, y.dtype.ir), env[y]) for y in ys]
    wrt = [env[x] for x in xs]
    cotangents = backward(forward, b, wrt, [(env[y], s) for y, s in zip(ys, seed_values)])
    for out, x in zip(op.outputs, xs):
        g = cotangents.get(env[x])
        if g is None:  # connected in the graph but not in the IR (e.g. through an integer)
            g = b.broadcast_like(b.constant(0, x.dtype.ir), env[x])
        env[out] = g
