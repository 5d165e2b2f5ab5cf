"""String graph inputs as codes the backend interns per run (onnx/backend.py),
compared by Equal (onnx/convert/__init__.py STRING_OPS): against numpy on random
strings with broadcasting, and a string reaching any other op is an import error
naming the node."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from kiln.onnx.backend import prepare  # noqa: E402
from kiln.onnx.convert import ImportError_  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def _model(op, shapes, out=TensorProto.BOOL, **attrs):
    names = [f"s{i}" for i in range(len(shapes))]
    graph = helper.make_graph(
        [helper.make_node(op, names, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.STRING, s) for n, s in zip(names, shapes)],
        [helper.make_tensor_value_info("y", out, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


@pytest.mark.parametrize("shapes", [([3, 4], [3, 4]), ([3, 4], [4]), ([1], [5]), ([0], [0])])
def test_equal_on_strings_matches_numpy(shapes):
    rng = np.random.default_rng(len(str(shapes)))
    words = np.array(["", "a", "ab", "b", "kiln", "é"], dtype=object)
    a, b = (words[rng.integers(0, len(words), size=s)] for s in shapes)
    rep = prepare(_model("Equal", [list(s) for s in shapes]))
    (got,) = rep.run([a, b])
    np.testing.assert_array_equal(got, a == b)
    (again,) = rep.run([a.astype(str), b.astype(str)])  # numpy unicode arrays too
    np.testing.assert_array_equal(again, a == b)


def test_a_string_reaching_another_op_is_an_error_naming_the_node():
    with pytest.raises(ImportError_, match="Cast.*only as operands of Equal"):
        prepare(_model("Cast", [[2]], out=TensorProto.FLOAT, to=TensorProto.FLOAT))
