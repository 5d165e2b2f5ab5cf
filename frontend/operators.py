"""The operators of tensors and variables: `a + b`, `a @ b`, `-a`, `a[1:, None]`.

The one place that gives `Tensor`, `Variable` and `EagerTensor` their
arithmetic (as TensorFlow's math_ops overrides tf.Tensor's operators): each
operator is the kl op of ops.py, installed through the hook Tensor declares
(`Tensor._override_operator`, checked against `Tensor.OVERLOADABLE_OPERATORS`).
Graph and eager tensors share the same functions; an eager tensor only
turns a Python number beside it into an eager tensor of its own dtype
first (kl.constant's checks are for graphs; this is the eager hot path). A
variable's operators are those of its value, read at the time of the call.

Importing the frontend (kiln.frontend's __init__) runs `install()` once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .eager import EagerTensor
from .graph import GraphError, Tensor
from .ops import abs as abs_
from .ops import (
    add,
    divide,
    expand_dims,
    floordiv,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    make,
    matmul,
    multiply,
    negative,
    pow,
    squeeze,
    subtract,
)
from .variables import Variable

_BINARY = {
    "add": add,
    "sub": subtract,
    "mul": multiply,
    "truediv": divide,
    "floordiv": floordiv,
    "pow": pow,
    "matmul": matmul,
    "and": logical_and,
    "or": logical_or,
}
# the op names TensorFlow gives the operators' nodes (`a + b` is "add", tf.add is "Add")
_NAMES = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "truediv": "truediv",
    "floordiv": "floordiv",
    "pow": "pow",
}
_COMPARISONS = {"lt": less, "le": less_equal, "gt": greater, "ge": greater_equal}
# the operators whose eager version takes a Python number straight to an eager tensor
_EAGER_FAST = ("add", "sub", "mul", "truediv", "pow", "lt", "le", "gt", "ge")


def _getitem(self: Tensor, key: Any) -> Tensor:
    """t[i], t[a:b:c], t[..., None] with Python's rules (static ints only)."""
    keys = key if isinstance(key, tuple) else (key,)
    if self.shape.ndims is None:
        raise GraphError(f"indexing {self.name} needs a known rank")
    rank = self.shape.ndims
    n_real = sum(1 for k in keys if k is not None and k is not Ellipsis)
    expanded: list[Any] = []
    for k in keys:
        if k is Ellipsis:
            expanded += [slice(None)] * (rank - n_real)
        else:
            expanded.append(k)
    expanded += [slice(None)] * (rank - sum(1 for k in expanded if k is not None))
    axes, starts, stops, steps, squeeze_axes, new_axes = [], [], [], [], [], []
    dim = out_dim = 0
    for k in expanded:
        if k is None:
            new_axes.append(out_dim)
            out_dim += 1
            continue
        if isinstance(k, slice):
            out_dim += 1
            if k != slice(None):
                step = 1 if k.step is None else int(k.step)
                big = 2**62
                axes.append(dim)
                starts.append(int(k.start) if k.start is not None else (0 if step > 0 else -1))
                stops.append(int(k.stop) if k.stop is not None else (big if step > 0 else -big))
                steps.append(step)
        elif isinstance(k, (int, np.integer)):
            i = int(k)
            axes.append(dim)
            starts.append(i)
            stops.append(i + 1 if i != -1 else 2**62)
            steps.append(1)
            squeeze_axes.append(dim)
        else:
            raise GraphError(f"unsupported index {k!r} (ints, slices, None and ... only)")
        dim += 1
    x = self
    if axes:
        x = make(
            "StridedSlice",
            "kiln.slice",
            [x],
            "strided_slice",
            axes=axes,
            starts=starts,
            stops=stops,
            steps=steps,
        )
    if squeeze_axes:
        x = squeeze(x, axis=squeeze_axes)
    for pos in new_axes:
        x = expand_dims(x, pos)
    return x


def _tensor_operators() -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name, fn in _BINARY.items():
        op_name = _NAMES.get(name)
        table[f"__{name}__"] = lambda self, other, fn=fn, n=op_name: fn(self, other, name=n)
        table[f"__r{name}__"] = lambda self, other, fn=fn, n=op_name: fn(other, self, name=n)
    for name, fn in _COMPARISONS.items():
        table[f"__{name}__"] = lambda self, other, fn=fn: fn(self, other)
    table["__neg__"] = lambda self: negative(self)
    table["__abs__"] = lambda self: abs_(self)
    table["__invert__"] = lambda self: logical_not(self)
    table["__getitem__"] = _getitem
    return table


def _eager_operator(base: Any) -> Any:
    def method(self: EagerTensor, other: Any) -> Any:
        if type(other) in (float, int) and (self.dtype.is_floating or type(other) is int):
            other = EagerTensor(np.asarray(other, self._value.dtype), self.dtype)
        return base(self, other)

    return method


def _variable_operator(name: str) -> Any:
    return lambda self, *args: getattr(self._as_tensor(), name)(*args)


def install() -> None:
    """Give Tensor, EagerTensor and Variable their operators."""
    table = _tensor_operators()
    for name, fn in table.items():
        Tensor._override_operator(name, fn)
        setattr(Variable, name, _variable_operator(name))
    for dunder in _EAGER_FAST:
        for name in (f"__{dunder}__", f"__r{dunder}__"):
            if name in table:
                EagerTensor._override_operator(name, _eager_operator(table[name]))


install()
