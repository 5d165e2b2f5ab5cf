"""Weight penalties (keras.regularizers): `l2(0.01)` on a layer's kernel adds
0.01 * sum(kernel ** 2) to `layer.losses`, which fit adds to the loss."""

from __future__ import annotations

from typing import Any

from ..frontend.graph import GraphError
from ..frontend.ops import abs as abs_
from ..frontend.ops import reduce_sum, square


class Regularizer:
    """`reg(weight)` -> a scalar penalty (keras Regularizer)."""

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x ** 2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        terms = []
        if self.l1:
            terms.append(self.l1 * reduce_sum(abs_(x)))
        if self.l2:
            terms.append(self.l2 * reduce_sum(square(x)))
        if not terms:
            return reduce_sum(x * 0.0)
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01, **_: Any):
        super().__init__(l1=l1)


class L2(L1L2):
    def __init__(self, l2: float = 0.01, **_: Any):
        super().__init__(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1, l2)


l1, l2 = L1, L2

_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": l1_l2}


def get(identifier: Any) -> Any:
    """A regularizer from None, an instance, a name or a callable."""
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise GraphError(f"unknown regularizer {identifier!r} (l1, l2, l1_l2 or an instance)")


__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2"]
