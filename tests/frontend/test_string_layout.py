"""Layout ops on string tensors run on the host (frontend/graph.py `strings_moved`): a
gather, reshape, concat, slice or transpose of file names behaves as in TensorFlow, in graph
and eager mode, and a string mixed with numbers where the op moves data is a clear error."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError

NAMES = [b"a.jpg", b"bb.jpg", b"c\xff.png", b""]


def _run(fetch):
    with kl.Session() as sess:
        return sess.run(fetch)


def test_layout_ops_on_strings_in_a_graph():
    with kl.Graph().as_default():
        names = kl.constant(NAMES)
        got = _run(
            {
                "gather": kl.gather(names, [3, 0, 0]),
                "reshape": kl.reshape(names, [2, 2]),
                "concat": kl.concat([names, kl.constant([b"z"])], axis=0),
                "slice": names[1:3],
                "transpose": kl.transpose(kl.reshape(names, [2, 2])),
                "expand": kl.expand_dims(names, 0),
            }
        )
    want = np.array(NAMES, dtype=object)
    assert list(got["gather"]) == [b"", b"a.jpg", b"a.jpg"]
    assert got["reshape"].tolist() == want.reshape(2, 2).tolist()
    assert list(got["concat"]) == NAMES + [b"z"]
    assert list(got["slice"]) == NAMES[1:3]
    assert got["transpose"].tolist() == want.reshape(2, 2).T.tolist()
    assert got["expand"].shape == (1, 4)


def test_static_shapes_and_dtypes_follow_the_ir_rule():
    with kl.Graph().as_default():
        names = kl.placeholder(kl.string, [None, 3])
        picked = kl.gather(names, kl.placeholder(kl.int32, [5]))
        flat = kl.reshape(names, [-1])
        assert picked.dtype == kl.string and picked.shape.as_list() == [5, 3]
        assert flat.dtype == kl.string and flat.shape.as_list() == [None]
        with kl.Session() as sess:
            rows = np.array([[b"x", b"y", b"z"], [b"u", b"v", b"w"]], dtype=object)
            out = sess.run(picked, {names: rows, picked.op.inputs[1]: [1, 0, 1, 1, 0]})
        assert out[:, 0].tolist() == [b"u", b"x", b"u", b"u", b"x"]


def test_eager_gather_of_strings():
    with kl.eager_mode():
        out = kl.gather(kl.constant(NAMES), [2, 1])
        assert out.dtype == kl.string
        assert list(out.numpy()) == [b"c\xff.png", b"bb.jpg"]


def test_strings_mixed_with_numbers_are_an_error():
    with kl.Graph().as_default():
        with pytest.raises(GraphError, match="ConcatV2.*float32 where a string was expected"):
            kl.concat([kl.constant([b"a"]), kl.constant([1.0])], axis=0)
        with pytest.raises(GraphError, match="numeric kernel"):
            kl.constant([b"a"]) + kl.constant([b"b"])
