"""A fed value that does not fit its placeholder is an error naming the tensor,
never a silently changed value (numpy's casts wrap, saturate or drop parts)."""

import numpy as np
import pytest

import kiln as kl
from kiln.ir import KilnError


def _session(dtype, shape=(None,)):
    g = kl.Graph()
    with g.as_default():
        x = kl.placeholder(dtype, shape, name="x")
        y = x + x
    return kl.Session(graph=g, backend="cpu"), x, y


@pytest.mark.parametrize(
    "dtype, value",
    [
        (kl.int32, [2**40 + 5]),
        (kl.int32, [3e9]),
        (kl.int32, [-3e9]),
        (kl.int64, np.array([np.iinfo(np.uint64).max], np.uint64)),
        (kl.int32, np.array([np.iinfo(np.uint64).max], np.uint64)),
        (kl.float32, [1 + 2j]),
        (kl.int32, [1.5]),
        (kl.int32, [float("nan")]),
    ],
)
def test_values_that_do_not_fit_are_refused(dtype, value):
    sess, x, y = _session(dtype)
    with pytest.raises(KilnError, match="'x:0'|x:0"):
        sess.run(y, {x: value})


def test_values_that_fit_are_fed_exactly():
    sess, x, y = _session(kl.int32)
    big = 2**31 - 1
    np.testing.assert_array_equal(sess.run(x, {x: [big, -(2**31), 3.0]}), [big, -(2**31), 3])
    sess, x, y = _session(kl.float32)
    np.testing.assert_array_equal(sess.run(y, {x: [1, 2]}), [2.0, 4.0])


def test_the_same_tensor_fed_twice_is_refused():
    sess, x, y = _session(kl.float32)
    with pytest.raises(KilnError, match="fed twice"):
        sess.run(y, {x: [1.0], "x:0": [2.0]})


@pytest.mark.parametrize("value", [[[1, 2], [3]], ["a", "b"], [object()]])
def test_ragged_lists_and_strings_name_the_tensor(value):
    sess, x, y = _session(kl.float32, None)
    with pytest.raises(KilnError, match="x:0"):
        sess.run(y, {x: value})
