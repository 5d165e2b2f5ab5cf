"""GraphDef round trip (tf.import_graph_def, Graph.as_graph_def, tf.train.write_graph,
tf.graph_util.convert_variables_to_constants) with tensorboard's copy of the protos:
a frozen model kiln trained, and a frozen graph TensorFlow wrote."""

from pathlib import Path

import numpy as np
import pytest

import kiln as tf
from kiln.ir import KilnError

text_format = pytest.importorskip("google.protobuf.text_format")
pytest.importorskip("tensorboard.compat.proto.graph_pb2")

DATA = Path(__file__).parent / "data"


def _trained_model():
    """A softmax classifier trained on two separable blobs; returns its graph,
    session, input, output probabilities, and the data."""
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(-1, 0.5, (32, 2)), rng.normal(1, 0.5, (32, 2))])
    xs = xs.astype(np.float32)
    ys = np.repeat([0, 1], 32).astype(np.int32)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        y = tf.placeholder(tf.int32, [None], name="y")
        w = tf.Variable(tf.zeros([2, 2]), name="w")
        b = tf.Variable(tf.zeros([2]), name="b")
        logits = tf.nn.bias_add(tf.matmul(x, w), b, name="logits")
        probs = tf.nn.softmax(logits, name="probs")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        )
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(20):
            sess.run(train, {x: xs, y: ys})
        assert sess.run(loss, {x: xs, y: ys}) < first / 2
    return g, sess, x, probs, xs, ys


@pytest.mark.parametrize("as_text", [False, True])
def test_a_frozen_trained_model_runs_in_a_new_graph(tmp_path, as_text):
    g, sess, x, probs, xs, ys = _trained_model()
    want = sess.run(probs, {x: xs})
    frozen = tf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["probs"])
    kinds = {n.op for n in frozen.node}
    assert "VariableV2" not in kinds and "Assign" not in kinds  # training nodes are gone
    name = "model.pbtxt" if as_text else "model.pb"
    path = tf.train.write_graph(frozen, str(tmp_path), name, as_text=as_text)

    graph_def = tf.GraphDef()
    if as_text:
        text_format.Parse(Path(path).read_text(), graph_def)
    else:
        graph_def.ParseFromString(Path(path).read_bytes())
    with tf.Graph().as_default() as g2:
        (out,) = tf.import_graph_def(graph_def, return_elements=["probs:0"], name="")
        assert out.name == "probs:0"
        got = tf.Session().run(out, {g2.get_tensor_by_name("x:0"): xs})
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert (got.argmax(1) == ys).mean() > 0.9


def test_input_map_prefix_and_return_elements():
    g, sess, x, probs, xs, _ = _trained_model()
    want = sess.run(probs, {x: xs[:5]})
    frozen = tf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["probs"])
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float32, [5, 2], name="z")
        out, op = tf.import_graph_def(
            frozen, input_map={"x:0": z}, return_elements=["probs:0", "logits"]
        )
        assert out.name == "import/probs:0" and op.name == "import/logits"
        assert out.shape.as_list() == [5, 2]  # shapes follow the mapped input
        (again,) = tf.import_graph_def(frozen, input_map={"x": z}, return_elements=["probs:0"])
        assert again.name == "import_1/probs:0"
        got, got_again = tf.Session().run([out, again], {z: xs[:5]})
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got_again, want, rtol=1e-6)


def test_as_graph_def_writes_tensorflow_nodes():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        c = tf.constant(np.arange(3, dtype=np.float32), name="c")
        tf.identity(x + c, name="out")
    nodes = {n.name: n for n in g.as_graph_def().node}
    assert nodes["x"].op == "Placeholder"
    assert [d.size for d in nodes["x"].attr["shape"].shape.dim] == [-1, 3]
    assert nodes["c"].attr["value"].tensor.tensor_shape.dim[0].size == 3
    assert list(nodes["out"].input) == ["add"] and list(nodes["add"].input) == ["x", "c"]


def test_a_frozen_graph_tensorflow_wrote():
    """tests/frontend/data/tf_frozen_mlp.pbtxt: written by TensorFlow 2.x
    (tf.compat.v1 graph, convert_variables_to_constants, write_graph): MatMul,
    BiasAdd, Relu, AddV2, Softmax, Reshape, Mean, Square, ArgMax, Cast, Identity,
    Tanh, Sigmoid, Mul, RealDiv, Sub. The expected values are TensorFlow's."""
    graph_def = text_format.Parse((DATA / "tf_frozen_mlp.pbtxt").read_text(), tf.GraphDef())
    xs = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], np.float32)
    with tf.Graph().as_default():
        probs, flat, mean, cls, t = tf.import_graph_def(
            graph_def, return_elements=["probs:0", "flat:0", "mean:0", "cls:0", "t:0"], name=""
        )
        got = tf.Session().run([probs, flat, mean, cls, t], {"x:0": xs})
    tf_probs = [
        [0.12455334514379501, 0.8754466772079468],
        [0.006528682075440884, 0.9934713840484619],
    ]
    np.testing.assert_allclose(got[0], tf_probs, rtol=1e-5)
    np.testing.assert_allclose(got[1], np.ravel(tf_probs), rtol=1e-5)
    np.testing.assert_allclose(got[2], [[4.113124847412109], [3.027031183242798]], rtol=1e-5)
    assert got[3].dtype == np.int32 and got[3].tolist() == [1, 1]
    np.testing.assert_allclose(got[4], [[-1.0731821060180664], [-0.5642041563987732]], rtol=1e-5)


def _node_graph_def(*nodes):
    graph_def = tf.GraphDef()
    for name, op, inputs in nodes:
        node = graph_def.node.add(name=name, op=op)
        node.input.extend(inputs)
        if op == "Placeholder":
            node.attr["dtype"].type = 1  # DT_FLOAT
    return graph_def


def test_an_unsupported_op_names_the_node_and_op():
    graph_def = _node_graph_def(("x", "Placeholder", []), ("fft", "FFT", ["x"]))
    with tf.Graph().as_default(), pytest.raises(KilnError, match=r"node fft \(FFT\).*'FFT'"):
        tf.import_graph_def(graph_def)


def test_a_shape_input_that_is_not_a_constant_is_an_error():
    graph_def = _node_graph_def(
        ("x", "Placeholder", []), ("s", "Placeholder", []), ("r", "Reshape", ["x", "s"])
    )
    with tf.Graph().as_default(), pytest.raises(KilnError, match=r"node r \(Reshape\).*Const"):
        tf.import_graph_def(graph_def)


def test_an_input_naming_no_node_is_an_error():
    graph_def = _node_graph_def(("y", "Relu", ["nowhere:0"]))
    with tf.Graph().as_default(), pytest.raises(KilnError, match=r"node y \(Relu\).*nowhere"):
        tf.import_graph_def(graph_def)


def test_variables_must_be_frozen_first():
    g, *_ = _trained_model()
    with tf.Graph().as_default(), pytest.raises(KilnError, match="VariableV2.*frozen"):
        tf.import_graph_def(g.as_graph_def())


def test_extract_sub_graph_keeps_what_the_outputs_need():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [2], name="x")
        tf.exp(x, name="used")
        tf.log(x, name="unused")
    sub = tf.graph_util.extract_sub_graph(g.as_graph_def(), ["used"])
    assert [n.name for n in sub.node] == ["x", "used"]
    with pytest.raises(KilnError, match="no node named 'missing'"):
        tf.graph_util.extract_sub_graph(g.as_graph_def(), ["missing"])


def test_the_other_spellings():
    """TF 2's tf.io.write_graph, tf.Session.graph_def, tf.compat.v1's names."""
    import kiln.compat.v1 as v1

    assert tf.io.write_graph is tf.train.write_graph is v1.train.write_graph
    assert v1.graph_util.convert_variables_to_constants is (
        tf.graph_util.convert_variables_to_constants
    )
    with tf.Graph().as_default() as g:
        tf.exp(tf.placeholder(tf.float32, [2], name="x"), name="e")
        sess = tf.Session()
        assert [n.name for n in sess.graph_def.node] == ["x", "e"]
    # tf.GraphDef stands for the proto class: FromString, isinstance
    again = tf.GraphDef.FromString(sess.graph_def.SerializeToString())
    assert isinstance(again, tf.GraphDef) and not isinstance(again, tf.NodeDef)
    assert isinstance(again.node[0], tf.NodeDef) and again.node[1].op == "Exp"
    with g.as_default():
        with pytest.raises(KilnError, match="already has an operation named 'x'"):
            v1.import_graph_def(sess.graph_def, name="")


def test_a_frozen_cnn_tensorflow_wrote():
    """tests/frontend/data/tf_frozen_cnn.pb (binary, by TensorFlow 2.x): Conv2D
    (SAME), MaxPool, AvgPool, ConcatV2, Transpose, Reshape, MatMul, ExpandDims,
    Squeeze, LogSoftmax. The expected values are TensorFlow's."""
    graph_def = tf.GraphDef.FromString((DATA / "tf_frozen_cnn.pb").read_bytes())
    xs = np.arange(72, dtype=np.float32).reshape(2, 6, 6, 1) / 72.0
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, 6, 6, 1], name="images")
        (out,) = tf.import_graph_def(
            graph_def, input_map={"images:0": images}, return_elements=["out:0"]
        )
        got = tf.Session().run(out, {images: xs})
    tf_out = [
        [-2.0745291709899902, -0.5786460041999817, -1.1592304706573486],
        [-4.18847131729126, -0.1894511580467224, -1.8488538265228271],
    ]
    np.testing.assert_allclose(got, tf_out, rtol=1e-5, atol=1e-6)
