"""tf.test: TestCase, a unittest.TestCase (TensorFlow's builds on absltest, itself a
unittest runner) whose test_session / session / cached_session make a kiln Session the
default (so `t.eval()` works inside them), with TensorFlow's array assertions and an
`evaluate` for graph and eager tensors alike; main (unittest.main); and the build
queries programs print, answered for kiln's CPU build (no CUDA: is_built_with_cuda()
and is_gpu_available() are False, gpu_device_name() is "")."""

from __future__ import annotations

import contextlib
import unittest
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .graph import Graph, Tensor
from .session import Session

__all__ = [
    "TestCase",
    "gpu_device_name",
    "is_built_with_cuda",
    "is_built_with_gpu_support",
    "is_gpu_available",
    "main",
]


class TestCase(unittest.TestCase):
    """unittest.TestCase with TensorFlow's session helpers and array assertions."""

    @contextlib.contextmanager
    def session(self, graph: Graph | None = None, config: Any = None) -> Iterator[Session]:
        """A Session on `graph` (the default graph), the default while the block runs."""
        with Session(graph=graph, config=config) as sess, sess.as_default():
            yield sess

    test_session = cached_session = session

    def evaluate(self, tensors: Any) -> Any:
        """The values of `tensors` (a tensor or a structure of them): eager tensors'
        own, graph tensors' from a new Session."""
        if isinstance(tensors, dict):
            return {k: self.evaluate(v) for k, v in tensors.items()}
        if isinstance(tensors, (list, tuple)):
            return type(tensors)(self.evaluate(v) for v in tensors)
        if hasattr(tensors, "numpy"):
            return tensors.numpy()
        if isinstance(tensors, Tensor):
            with self.session() as sess:
                return sess.run(tensors)
        return np.asarray(tensors)

    def assertAllClose(self, a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-6, msg=None):  # noqa: N802
        np.testing.assert_allclose(
            self.evaluate(a), self.evaluate(b), rtol=rtol, atol=atol, err_msg=msg or ""
        )

    def assertAllEqual(self, a: Any, b: Any, msg: str | None = None) -> None:  # noqa: N802
        np.testing.assert_array_equal(self.evaluate(a), self.evaluate(b), err_msg=msg or "")

    def assertNear(self, f1: float, f2: float, err: float, msg: str | None = None) -> None:  # noqa: N802
        self.assertTrue(abs(f1 - f2) <= err, msg or f"{f1} != {f2} +/- {err}")

    def assertShapeEqual(self, np_array: Any, tf_tensor: Tensor, msg=None) -> None:  # noqa: N802
        """np_array's shape equals tf_tensor's static shape."""
        self.assertEqual(list(np.shape(np_array)), tf_tensor.shape.as_list(), msg)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the tests of __main__ (tf.test.main): unittest.main with argv."""
    unittest.main(module="__main__", argv=None if argv is None else ["main", *argv[1:]])


def is_built_with_cuda() -> bool:
    return False


def is_built_with_gpu_support() -> bool:
    return False


def is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability: Any = None) -> bool:
    return False


def gpu_device_name() -> str:
    return ""
