"""kl.summary: real TensorBoard event files, read back with TensorBoard's own
EventAccumulator (SPEC program 10's first half)."""

from pathlib import Path

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.summary import DataLossError, encode_png, summary_iterator
from kiln.ir import KilnError

pytest.importorskip("tensorboard")  # in the `test` extra: CI installs it
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)


@pytest.fixture(autouse=True)
def fresh_graph():
    with kl.Graph().as_default() as g:
        yield g


def build_program_4():
    """SPEC program 4's graph (the classifier with Adam)."""
    w1 = kl.Variable(kl.random_normal([2, 3], stddev=1, seed=1))
    w2 = kl.Variable(kl.random_normal([3, 1], stddev=1, seed=1))
    x = kl.placeholder(kl.float32, shape=(None, 2), name="x-input")
    y_ = kl.placeholder(kl.float32, shape=(None, 1), name="y-input")
    a = kl.nn.relu(kl.matmul(x, w1))
    y = kl.nn.relu(kl.matmul(a, w2))
    with kl.name_scope("loss"):
        cross_entropy = -kl.reduce_mean(y_ * kl.log(kl.clip_by_value(y, 1e-10, 1.0)))
    train_step = kl.train.AdamOptimizer(0.001).minimize(cross_entropy)
    return x, y_, w1, cross_entropy, train_step


def accumulate(logdir):
    acc = EventAccumulator(
        str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    )
    acc.Reload()
    return acc


def test_graph_and_100_scalar_steps_read_back_by_tensorboard(tmp_path):
    x, y_, w1, loss, train = build_program_4()
    with kl.name_scope("summaries"):
        loss_summary = kl.summary.scalar("cross_entropy", loss)
    kl.summary.histogram("w1", w1)
    merged = kl.summary.merge_all()
    rdm = np.random.RandomState(1)
    X = rdm.rand(64, 2)
    Y = [[int(a + b < 1)] for a, b in X]
    losses = []
    with kl.Session() as sess:
        sess.run(kl.global_variables_initializer())
        writer = kl.summary.FileWriter(str(tmp_path), sess.graph)
        for step in range(100):
            summary, value, _ = sess.run([merged, loss, train], {x: X, y_: Y})
            assert isinstance(summary, bytes)
            writer.add_summary(summary, global_step=step)
            losses.append(float(value))
        single = sess.run(loss_summary, {x: X, y_: Y})
        writer.close()
    acc = accumulate(tmp_path)
    tags = acc.Tags()
    assert tags["graph"]
    assert tags["scalars"] == ["summaries/cross_entropy"]
    assert tags["histograms"] == ["w1"]
    events = acc.Scalars("summaries/cross_entropy")
    assert [e.step for e in events] == list(range(100))
    np.testing.assert_allclose([e.value for e in events], losses, rtol=1e-6)
    histo = acc.Histograms("w1")[-1].histogram_value
    assert histo.num == 6 and sum(histo.bucket) == 6
    graph = acc.Graph()
    nodes = {n.name: n for n in graph.node}
    for op in kl.get_default_graph().get_operations():
        assert op.name in nodes, op.name
        assert nodes[op.name].op == op.type
    assert nodes["MatMul"].attr["_kiln_op"].s == b"kiln.matmul"
    assert list(nodes["MatMul"].input) == ["x-input", "Variable"]
    assert [d.size for d in nodes["MatMul"].attr["_output_shapes"].list.shape[0].dim] == [-1, 3]
    assert any(name.startswith("loss/") for name in nodes)  # name scopes group nodes
    assert any(name.startswith("Adam/") for name in nodes)
    # one summary op alone gives its own proto
    from tensorboard.compat.proto import summary_pb2

    assert summary_pb2.Summary.FromString(single).value[0].tag == "summaries/cross_entropy"


def test_eager_writer_images_and_text(tmp_path):
    writer = kl.summary.create_file_writer(str(tmp_path))
    assert kl.summary.scalar("outside", 1.0, step=0) is False  # no default writer
    with writer.as_default():
        for step in range(5):
            assert kl.summary.scalar("lr", 0.1 * step, step=step)
        kl.summary.image(
            "img", np.linspace(0, 1, 2 * 4 * 5 * 3).reshape(2, 4, 5, 3), step=0, max_outputs=2
        )
        kl.summary.text("note", "hello *kiln*", step=0)
        kl.summary.histogram("h", np.arange(100.0), step=1)
    writer.close()
    acc = accumulate(tmp_path)
    assert [round(e.value, 6) for e in acc.Scalars("lr")] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert sorted(acc.Tags()["images"]) == ["img/image/0", "img/image/1"]
    image = acc.Images("img/image/1")[0]
    assert (image.width, image.height) == (5, 4)
    assert image.encoded_image_string.startswith(b"\x89PNG")
    assert "note" in acc.Tags()["tensors"]
    assert acc.Tensors("note")[0].tensor_proto.string_val == [b"hello *kiln*"]
    assert acc.Histograms("h")[0].histogram_value.num == 100


def test_graph_mode_image_and_text(tmp_path):
    img = kl.placeholder(kl.float32, (None, 3, 3, 1), name="img")
    kl.summary.image("pictures", img, max_outputs=1)
    kl.summary.text("about", "a *markdown* note")
    merged = kl.summary.merge_all()
    with kl.Session() as sess, kl.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(sess.run(merged, {img: np.eye(3).reshape(1, 3, 3, 1)}), 7)
    acc = accumulate(tmp_path)
    assert acc.Tags()["images"] == ["pictures/image"]
    assert acc.Images("pictures/image")[0].step == 7
    assert acc.Tensors("about")[0].tensor_proto.string_val == [b"a *markdown* note"]


def test_text_summary_of_a_string_tensor(tmp_path):
    step = kl.placeholder(kl.int32, [], name="step")
    note = kl.strings.join([kl.constant("step "), kl.as_string(step)])
    kl.summary.text("note", note)
    merged = kl.summary.merge_all()
    with kl.Session() as sess, kl.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(sess.run(merged, {step: 3}), 3)
    acc = accumulate(tmp_path)
    assert acc.Tensors("note")[0].tensor_proto.string_val == [b"step 3"]


def test_png_encoder_round_trips():
    zlib_png = encode_png(np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    assert zlib_png[:8] == b"\x89PNG\r\n\x1a\n" and b"IHDR" in zlib_png and b"IEND" in zlib_png


def test_corrupted_file_detected_by_crc(tmp_path):
    with kl.summary.create_file_writer(str(tmp_path)).as_default():
        for step in range(10):
            kl.summary.scalar("x", float(step), step=step)
    (path,) = Path(tmp_path).glob("events.out.tfevents.*")
    events = list(summary_iterator(str(path)))
    assert len(events) == 11  # the file version record, then 10 scalars
    assert events[0].file_version == "brain.Event:2"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40  # flip one bit in the middle of a record
    path.write_bytes(bytes(data))
    with pytest.raises(DataLossError, match="CRC"):
        list(summary_iterator(str(path)))
    path.write_bytes(bytes(data[:-3]))
    with pytest.raises(DataLossError):
        list(summary_iterator(str(path)))


def test_summary_errors():
    v = kl.placeholder(kl.float32, (2,), name="v")
    s = kl.summary.scalar("v", v)
    with kl.Session() as sess, pytest.raises(KilnError, match="one value"):
        sess.run(s, {v: [1.0, 2.0]})
    with pytest.raises(KilnError, match="not a string tensor"):
        kl.summary.text("t", v)
    with pytest.raises(KilnError, match="not a summary op"):
        kl.summary.merge([v.op])
    assert kl.summary.merge_all(key="nothing") is None
