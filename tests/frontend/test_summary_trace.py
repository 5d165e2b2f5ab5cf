"""tf.summary.trace_on / trace_export (issue 18): as in TensorFlow, the graph of
each tf.function called between them lands in the default writer's event
file, where TensorBoard's EventAccumulator reads it; without a default writer
nothing is written; trace_off drops the recording."""

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import kiln.compat._v2 as tf  # TF 2's names without switching the test process to eager


@pytest.fixture(autouse=True)
def _eager():
    """TF 2's default, for these tests only."""
    with tf.eager_mode():
        yield


def test_trace_export_writes_the_called_functions_graph(tmp_path):
    w = tf.Variable(np.ones((3, 2), np.float32))

    @tf.function
    def step(x):
        return tf.reduce_sum(tf.matmul(x, w))

    writer = tf.summary.create_file_writer(str(tmp_path))
    step(np.ones((4, 3), np.float32))  # before trace_on: not recorded
    tf.summary.trace_on(graph=True, profiler=True)
    assert float(step(np.ones((4, 3), np.float32))) == 24.0
    with writer.as_default():
        tf.summary.trace_export(name="trace", step=0, profiler_outdir=str(tmp_path))
    writer.flush()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert {"MatMul", "Sum"} <= {n.op for n in acc.Graph().node}


def test_trace_without_writer_or_after_off_writes_nothing(tmp_path):
    @tf.function
    def f(x):
        return x * 2.0

    tf.summary.trace_on()
    f(np.ones(2, np.float32))
    tf.summary.trace_export("t", step=0)  # no default writer: nothing, no error
    writer = tf.summary.create_file_writer(str(tmp_path))
    tf.summary.trace_on()
    f(np.ones(2, np.float32))
    tf.summary.trace_off()
    with writer.as_default():
        tf.summary.trace_export("t", step=0)
    writer.flush()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    with pytest.raises(ValueError, match="no graph"):
        acc.Graph()
