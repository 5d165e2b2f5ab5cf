"""tf.test: TestCase and main on unittest, as TensorFlow's (which builds on absltest,
itself a unittest runner), and the build queries programs print.

kiln builds without CUDA: is_built_with_cuda() and is_gpu_available() are False and
gpu_device_name() is "", as on a CPU-only TensorFlow.
"""

from __future__ import annotations

import unittest
from typing import Any

import numpy as np


def _numpy(value: Any) -> Any:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


class TestCase(unittest.TestCase):
    """tf.test.TestCase: unittest.TestCase with TensorFlow's array assertions."""

    def evaluate(self, tensors: Any) -> Any:
        """The numpy values of eager tensors (a nested structure of them)."""
        if isinstance(tensors, dict):
            return {k: self.evaluate(v) for k, v in tensors.items()}
        if isinstance(tensors, (list, tuple)):
            return type(tensors)(self.evaluate(v) for v in tensors)
        return _numpy(tensors)

    def assertAllClose(self, a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-6, msg=None):
        np.testing.assert_allclose(_numpy(a), _numpy(b), rtol=rtol, atol=atol, err_msg=msg or "")

    def assertAllEqual(self, a: Any, b: Any, msg=None) -> None:
        np.testing.assert_array_equal(_numpy(a), _numpy(b), err_msg=msg or "")

    def assertNear(self, f1: float, f2: float, err: float, msg=None) -> None:
        self.assertTrue(abs(f1 - f2) <= err, msg or f"{f1} != {f2} +/- {err}")


def main(argv: list[str] | None = None) -> None:
    """Run the TestCases of __main__ (unittest.main; exits with its status)."""
    unittest.main(module="__main__", argv=argv)


def is_built_with_cuda() -> bool:
    return False


def is_built_with_gpu_support() -> bool:
    return False


def is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability=None) -> bool:
    return False


def gpu_device_name() -> str:
    return ""
