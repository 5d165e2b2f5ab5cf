"""kl.device (tf.device) with a name or with a device function, as TF-1.x multi-tower programs
write it (`assign_to_device` returns `op -> name`): every op built inside gets a `device`, the
innermost scope's, and `op.node_def` says what TF's NodeDef would (name, op, input, device)."""

import pytest

import kiln as kl
from kiln.frontend.graph import GraphError


def test_device_names_and_functions_place_the_ops_built_inside():
    seen = []

    def assign(op):
        node_def = op if isinstance(op, kl.NodeDef) else op.node_def
        seen.append(node_def.op)
        return "/cpu:0" if node_def.op in ("Variable", "VariableV2", "VarHandleOp") else "/cpu:1"

    with kl.Graph().as_default() as g:
        with kl.device("/cpu:0"):
            x = kl.placeholder(kl.float32, [None, 3], name="x")
            with kl.device(assign):
                y = kl.multiply(x, 2.0, name="twice")
            z = kl.identity(y, name="z")
    assert x.op.device == "/cpu:0" and z.op.device == "/cpu:0"
    assert y.op.device == "/cpu:1" and "Mul" in seen
    assert y.op.node_def.name == "twice" and y.op.node_def.input[0] == "x:0"
    assert y.op.node_def.device == "/cpu:1"
    with kl.Session(graph=g) as sess:
        assert sess.run(z, {x: [[1.0, 2.0, 3.0]]}).tolist() == [[2.0, 4.0, 6.0]]


def test_a_device_function_must_return_a_name():
    with kl.Graph().as_default():
        with pytest.raises(GraphError, match="device function returned 3 for op c"):
            with kl.device(lambda op: 3):
                kl.constant(1.0, name="c")
