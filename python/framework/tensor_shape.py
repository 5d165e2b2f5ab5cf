"""tensorflow.python.framework.tensor_shape: TensorShape and its constructors."""

from __future__ import annotations

from typing import Any

from ...frontend.graph import TensorShape

__all__ = ["TensorShape", "as_shape", "scalar", "unknown_shape", "vector", "matrix"]


def as_shape(shape: Any) -> TensorShape:
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(rank: int | None = None) -> TensorShape:
    return TensorShape(None if rank is None else [None] * int(rank))


def scalar() -> TensorShape:
    return TensorShape([])


def vector(length: int | None) -> TensorShape:
    return TensorShape([length])


def matrix(rows: int | None, cols: int | None) -> TensorShape:
    return TensorShape([rows, cols])
