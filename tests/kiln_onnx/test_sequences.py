"""ONNX Sequence and Optional values, held host-side at import
(onnx/convert/sequence.py): each model against onnxruntime, or against numpy
where it takes a sequence input, through kiln.onnx.backend."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F, I64 = TensorProto.FLOAT, TensorProto.INT64
rng = np.random.default_rng(0)


def _model(nodes, inputs, outputs, inits=(), opset=18):
    graph = helper.make_graph(
        nodes, "g", inputs, outputs, [numpy_helper.from_array(a, n) for n, a in inits]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _ort(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


@pytest.mark.parametrize("split", [None, np.array(2, np.int64), np.array([1, 4], np.int64)])
def test_split_to_sequence_at_length_and_concat(split):
    inputs = ["x"] if split is None else ["x", "split"]
    nodes = [
        helper.make_node("SplitToSequence", inputs, ["seq"], axis=1),
        helper.make_node("SequenceLength", ["seq"], ["n"]),
        helper.make_node("SequenceAt", ["seq", "last"], ["tail"]),
        helper.make_node("SequenceErase", ["seq", "zero"], ["rest"]),
        helper.make_node("SequenceInsert", ["rest", "tail", "zero"], ["turned"]),
        helper.make_node("ConcatFromSequence", ["turned"], ["joined"], axis=1),
    ]
    inits = [("last", np.array(-1, np.int64)), ("zero", np.array(0, np.int64))]
    if split is not None:
        inits.append(("split", split))
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", F, [3, 5])],
        [
            helper.make_tensor_value_info("n", I64, []),
            helper.make_tensor_value_info("tail", F, None),
            helper.make_tensor_value_info("joined", F, None),
        ],
        inits,
    )
    x = rng.standard_normal((3, 5)).astype(np.float32)
    got = prepare(model).run([x])
    for g, e in zip(got, _ort(model, {"x": x})):
        np.testing.assert_array_equal(g, e)


def test_stacked_concat_and_a_sequence_output():
    nodes = [
        helper.make_node("SequenceConstruct", ["a", "b"], ["seq"]),
        helper.make_node("ConcatFromSequence", ["seq"], ["stacked"], axis=-1, new_axis=1),
    ]
    vi = [helper.make_tensor_value_info(n, F, [2, 3]) for n in "ab"]
    seq_out = helper.make_tensor_sequence_value_info("seq", F, None)
    model = _model(nodes, vi, [helper.make_tensor_value_info("stacked", F, None), seq_out])
    a, b = (rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2))
    stacked, seq = prepare(model).run([a, b])
    np.testing.assert_array_equal(stacked, np.stack([a, b], axis=-1))
    assert isinstance(seq, list) and len(seq) == 2
    np.testing.assert_array_equal(seq[1], b)


def test_a_sequence_input_is_specialised_on_its_length():
    nodes = [
        helper.make_node("SequenceInsert", ["seq", "x"], ["longer"]),
        helper.make_node("ConcatFromSequence", ["longer"], ["out"], axis=0),
    ]
    model = _model(
        nodes,
        [
            helper.make_tensor_sequence_value_info("seq", F, None),
            helper.make_tensor_value_info("x", F, [1, 2]),
        ],
        [helper.make_tensor_value_info("out", F, None)],
    )
    rep = prepare(model)
    x = np.ones((1, 2), np.float32)
    for n in (0, 1, 3):
        seq = [np.full((k + 1, 2), k, np.float32) for k in range(n)]
        (out,) = rep.run([seq, x])
        np.testing.assert_array_equal(out, np.concatenate([*seq, x]))


def test_optional_has_and_get_element():
    nodes = [
        helper.make_node("Optional", ["x"], ["some"]),
        helper.make_node("OptionalHasElement", ["some"], ["has"]),
        helper.make_node("OptionalGetElement", ["some"], ["got"]),
        helper.make_node("Optional", [], ["none"], type=helper.make_tensor_type_proto(F, [2])),
        helper.make_node("OptionalHasElement", ["none"], ["has_none"]),
    ]
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", F, [2])],
        [
            helper.make_tensor_value_info("has", TensorProto.BOOL, []),
            helper.make_tensor_value_info("got", F, [2]),
            helper.make_tensor_value_info("has_none", TensorProto.BOOL, []),
        ],
    )
    x = np.array([1.5, -2.0], np.float32)
    got = prepare(model).run([x])
    for g, e in zip(got, _ort(model, {"x": x})):
        np.testing.assert_array_equal(g, e)


def test_a_position_out_of_range_names_the_node():
    nodes = [
        helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0, name="split"),
        helper.make_node("SequenceAt", ["seq", "far"], ["y"], name="pick"),
    ]
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", F, [3, 2])],
        [helper.make_tensor_value_info("y", F, None)],
        [("far", np.array(3, np.int64))],
    )
    with pytest.raises(ImportError_, match=r"node 'pick' \(SequenceAt, opset 18\): position 3"):
        prepare(model)
