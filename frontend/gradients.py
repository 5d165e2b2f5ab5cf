"""kl.gradients: gradients as graph nodes, differentiated in the IR.

`kl.gradients(ys, xs)` adds one "Gradients" node whose outputs are the
gradients. When a Session lowers it (lowering.py), the forward ops already
sit in the IR function, and the one autodiff of passes/autodiff.py
(`backward`) builds the gradient ops after them: the frontend has no
gradient rules of its own. This module also keeps the gradients users
register (`kl.RegisterGradient`); lowering.py turns one into an IR rule.
As in TensorFlow, an x that no y depends on gets None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .graph import GraphError, Operation, Tensor, get_default_graph
from .ops import convert_to_tensor

NO_GRADIENT = {
    "StopGradient",
    "ArgMax",
    "ArgMin",
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalNot",
}


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


def gradients(
    ys: Any,
    xs: Any,
    grad_ys: Any = None,
    name: str = "gradients",
    stop_gradients: Any = None,
    **_: Any,
) -> list[Tensor | None]:
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
            raise GraphError(
                f"gradients: {y.name} is {y.dtype.name}; only floating-point "
                "tensors can be differentiated"
            )
    connected = [x for x in xs if x.dtype.is_floating and _connected(ys, x)]
    out: dict[Tensor, Tensor] = {}
    if connected:
        g = get_default_graph()
        op = g.create_op(
            "Gradients",
            [*ys, *connected, *seeds],
            name=name,
            attrs={"n_ys": len(ys), "n_xs": len(connected)},
            output_types=[(x.dtype, x.shape) for x in connected],
        )
        out = dict(zip(connected, op.outputs))
    return [out.get(x) for x in xs]


# ------------------------------------------------------------------ custom gradients

_REGISTERED: dict[str, Callable] = {}


class RegisterGradient:
    """`@kl.RegisterGradient("MyOp") def f(op, grad): ...` registers a gradient
    function under a name; `g.gradient_override_map({"Square": "MyOp"})` makes
    the ops built inside use it (as TensorFlow's). `f` receives a view of the op
    (`op.inputs`, `op.outputs`, `op.get_attr`) and the output gradients as
    tensors, builds the input gradients with kl ops, and returns one per input
    (None for none). It runs when a Session lowers the gradient, in a scratch
    graph whose ops are lowered straight after the forward ops."""

    def __init__(self, op_type: str):
        if not isinstance(op_type, str):
            raise GraphError("RegisterGradient takes the gradient's name (a string)")
        self.op_type = op_type

    def __call__(self, fn: Callable) -> Callable:
        if self.op_type in _REGISTERED:
            raise GraphError(f"a gradient named {self.op_type!r} is already registered")
        _REGISTERED[self.op_type] = fn
        return fn


def registered_gradient(op: Operation) -> Callable | None:
    """The gradient function the user registered for `op` (through its type, or
    the name a gradient_override_map gave it), or None."""
    return _REGISTERED.get(op.attrs.get("_gradient_op_type", op.type))
