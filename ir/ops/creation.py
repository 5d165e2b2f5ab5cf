"""Ops that make tensors from nothing: constant, iota, random."""

from __future__ import annotations

import numpy as np

from .. import philox
from ..attributes import Attr, dense, dtype_, int_, ints, one_of, optional
from ..core import Operation
from ..errors import ShapeError
from ..registry import op
from ..types import TensorType
from .reduce import normalize_axis


@op(
    "kiln.constant",
    [],
    {"value": Attr(dense)},
    not_differentiable="a constant",
    tf="Const",
    onnx="Constant",
)
class Constant(Operation):
    """A constant tensor; its type is its value's."""

    def infer(self) -> TensorType:
        return self.value.type

    def reference(self):
        return self.value.array


@op(
    "kiln.iota",
    [],
    {"shape": Attr(ints), "dtype": Attr(dtype_, "i64"), "dimension": Attr(int_, 0)},
    not_differentiable="a constant (it counts)",
)
class Iota(Operation):
    """Counts 0, 1, 2, ... along `dimension`, constant along the others (XLA iota)."""

    def infer(self) -> TensorType:
        if min(self.shape, default=0) < 0:
            raise ShapeError(f"bad shape {list(self.shape)}")
        if self.dtype.is_bool:
            raise ShapeError("iota cannot be bool")
        normalize_axis(self.dimension, len(self.shape))
        return TensorType(self.dtype, self.shape)

    def reference(self):
        axis = normalize_axis(self.dimension, len(self.shape))
        counts = np.arange(self.shape[axis], dtype=self.dtype.numpy)
        view = [1] * len(self.shape)
        view[axis] = self.shape[axis]
        return np.broadcast_to(counts.reshape(view), self.shape)

    def scalar(self, k):
        return k.position(normalize_axis(self.dimension, len(self.shape)))


@op(
    "kiln.random",
    ["*like"],
    {
        "distribution": Attr(one_of("uniform", "normal")),
        "seed": Attr(int_),
        "dtype": Attr(dtype_, "f32"),
        "shape": Attr(optional(ints), None),
    },
    not_differentiable="its operands give only the shape",
    tf="RandomUniform",
    onnx="RandomUniform",
)
class Random(Operation):
    """Counter-based random numbers (Philox 4x32-10, see ir/philox.py).

    The shape is the `shape` attribute, or the shape of the one operand
    `like` (whose values are not read), so a draw may have a symbolic batch
    dim. The same seed and shape give the same numbers on every backend.
    """

    def infer(self, *like: TensorType) -> TensorType:
        if not self.dtype.is_float:
            raise ShapeError(f"random numbers are floating point, got dtype {self.dtype}")
        if len(like) > 1 or (len(like) == 1) == (self.shape is not None):
            raise ShapeError("give exactly one of: the `shape` attribute, one `like` operand")
        if like:
            return TensorType(self.dtype, like[0].shape)
        if min(self.shape, default=0) < 0:
            raise ShapeError(f"bad shape {list(self.shape)}")
        return TensorType(self.dtype, self.shape)

    def reference(self, *like):
        shape = like[0].shape if like else self.shape
        draw = philox.uniform if self.distribution == "uniform" else philox.normal
        return draw(self.seed, shape).astype(self.dtype.numpy)
