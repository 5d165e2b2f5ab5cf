"""kl.data.Dataset: sources, transformations, shuffling (every element once per
epoch, deterministic under a seed), prefetching, and iterators feeding graphs."""

import numpy as np
import pytest

import kiln as kl
from kiln.frontend.graph import GraphError


def _values(ds):
    return [
        tuple(np.asarray(c).tolist() for c in e) if isinstance(e, tuple) else np.asarray(e).tolist()
        for e in ds
    ]


def test_shuffle_batch_prefetch_yields_every_element_once_per_epoch():
    x = np.arange(103)
    ds = kl.data.Dataset.from_tensor_slices(x).shuffle(17, seed=5).batch(10).prefetch(3)
    epochs = [np.concatenate([b.numpy() for b in ds]) for _ in range(3)]
    for e in epochs:
        assert sorted(e.tolist()) == list(range(103))
    assert not np.array_equal(epochs[0], np.arange(103))  # shuffled
    assert not np.array_equal(epochs[0], epochs[1])  # a new order per epoch
    again = kl.data.Dataset.from_tensor_slices(x).shuffle(17, seed=5).batch(10).prefetch(3)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in again]), epochs[0])
    assert [len(b) for b in ds] == [10] * 10 + [3] and len(ds) == 11
    assert len(kl.data.Dataset.from_tensor_slices(x).batch(10, drop_remainder=True)) == 10


def test_tuples_map_filter_take_repeat_zip_range():
    xs = np.arange(6, dtype=np.float32)
    ys = np.arange(6) % 2
    ds = (
        kl.data.Dataset.from_tensor_slices((xs, ys))
        .map(lambda x, y: (x * 2.0, y))
        .filter(lambda x, y: kl.equal(y, 1))
    )
    assert _values(ds) == [(2.0, 1), (6.0, 1), (10.0, 1)]
    assert _values(kl.data.Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert _values(kl.data.Dataset.range(10).repeat().take(4)) == [0, 1, 2, 3]
    z = kl.data.Dataset.zip((kl.data.Dataset.range(3), kl.data.Dataset.range(10, 20)))
    assert _values(z) == [(0, 10), (1, 11), (2, 12)]
    dicts = kl.data.Dataset.from_tensor_slices({"a": xs, "b": ys}).batch(4)
    first = next(iter(dicts))
    assert first["a"].shape == [4] and first["b"].dtype is kl.int64
    for x, _ in ds:
        assert isinstance(x, kl.EagerTensor) and x.dtype is kl.float32


def test_from_generator_and_a_traced_map():
    def gen():
        for i in range(5):
            yield np.full(2, i), i

    @kl.function
    def square(v, i):
        return v * v, i

    ds = kl.data.Dataset.from_generator(gen, output_types=(kl.float32, kl.int32)).map(square)
    out = _values(ds)
    assert out[3] == ([9.0, 9.0], 3)
    assert square.trace_count == 1
    assert _values(ds) == out  # re-iterable: the generator is called again


def test_errors_in_the_pipeline_reach_the_consumer():
    def bad(x):
        raise ValueError("broken map")

    with pytest.raises(ValueError, match="broken map"):
        list(kl.data.Dataset.range(3).map(bad).prefetch(2))
    with pytest.raises(GraphError, match="different lengths"):
        kl.data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_one_shot_iterator_feeds_a_graph():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    graph = kl.Graph()
    with graph.as_default():
        it = kl.data.Dataset.from_tensor_slices(x).batch(2).make_one_shot_iterator()
        batch = it.get_next()
        total = kl.reduce_sum(batch)
        other = kl.constant(1.0) + 1.0
        with kl.Session() as s:
            assert s.run(other) == 2.0  # does not need the iterator: not advanced
            sums = [s.run(total) for _ in range(3)]
            with pytest.raises(kl.data.OutOfRangeError):
                s.run(total)
    assert sums == [6.0, 22.0, 17.0]


def test_eager_iterator_get_next():
    with kl.eager_mode():
        it = kl.data.Dataset.range(2).make_one_shot_iterator()
        assert int(it.get_next()) == 0 and int(it.get_next()) == 1
        with pytest.raises(kl.data.OutOfRangeError):
            it.get_next()
