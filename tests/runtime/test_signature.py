"""`Signature.check` (codegen/arguments.py): the one argument check of the CPU
and GPU runtimes, the AOT loader and the single-kernel runner."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from kiln.codegen.arguments import Signature
from kiln.ir import ExecutionError, parse

FUNC = parse("""
func @f(%x: tensor<Nx3xf32>, %y: tensor<?xi32>, %w: tensor<Nx3xf32>) -> tensor<Nx3xf32> {
  kiln.return %x : tensor<Nx3xf32>
}""")["f"]


@pytest.fixture
def signature() -> Signature:
    return Signature.of_function(FUNC, in_place=[2])


def args(n=2, m=5):
    return [np.ones((n, 3), np.float32), np.arange(m, dtype=np.int32), np.zeros((n, 3), np.float32)]


def test_good_arguments_pass_and_bind_symbols(signature):
    arrays, named = signature.check(args())
    assert named == {"N": 2} and len(arrays) == 3
    assert all(type(a) is np.ndarray and a.flags.c_contiguous for a in arrays)


def test_non_arrays_take_the_parameter_dtype(signature):
    arrays, _ = signature.check([[[1, 2, 3]], [4], np.zeros((1, 3), np.float32)])
    assert arrays[0].dtype == np.float32 and arrays[1].dtype == np.int32


def test_non_contiguous_inputs_are_copied_but_in_place_ones_refused(signature):
    x, y, w = args()
    strided = np.arange(6, dtype=np.float32).reshape(3, 2).T  # (2, 3), not C-contiguous
    arrays, _ = signature.check([strided, y, w])
    assert arrays[0].flags.c_contiguous and np.array_equal(arrays[0], strided)
    with pytest.raises(
        ExecutionError,
        match=r"argument 2 \(%w: .*\): a variable updated in "
        "place must be C-contiguous",
    ):
        signature.check([x, y, np.ones((3, 2), np.float32).T])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a[:2], r"@f takes 3 arguments, got 2"),
        (
            lambda a: [a[0].astype(np.float64), *a[1:]],
            r"@f argument 0 \(%x: tensor<Nx3xf32>\): wrong dtype: "
            r"expected dtype f32, got numpy float64",
        ),
        (
            lambda a: [a[0][0], *a[1:]],
            r"argument 0 .*: wrong rank: expected rank 2, got shape \(3,\)",
        ),
        (
            lambda a: [np.ones((2, 4), np.float32), *a[1:]],
            r"argument 0 .*: got shape \(2, 4\), which does not fit: "
            r"wrong shape at dim 1 \(expected 3\)",
        ),
        (
            lambda a: [*a[:2], np.zeros((4, 3), np.float32)],
            r"argument 2 .*: got shape \(4, 3\), which does not fit: "
            r"wrong shape at dim 0 \(expected N, "
            r"with N = 2 from @f argument 0\)",
        ),
    ],
)
def test_each_way_to_be_wrong_names_the_argument(signature, change, message):
    with pytest.raises(ExecutionError, match=message):
        signature.check(change(args()))


@dataclass
class Resident:
    shape: tuple
    dtype: np.dtype


def test_resident_objects_are_checked_by_shape_and_dtype_and_kept(signature):
    x, y, w = args()
    device = Resident((2, 3), np.dtype(np.float32))
    arrays, _ = signature.check([device, y, w], resident=Resident)
    assert arrays[0] is device
    with pytest.raises(ExecutionError, match="wrong shape at dim 0"):
        signature.check([Resident((4, 3), np.dtype(np.float32)), y, w], resident=Resident)


def test_check_shapes_needs_no_arrays(signature):
    assert signature.check_shapes([(7, 3), (1,), (7, 3)]) == {"N": 7}
    with pytest.raises(ExecutionError, match="expected N, with N = 7"):
        signature.check_shapes([(7, 3), (1,), (6, 3)])
