"""kl.data.Dataset: tf.data-style input pipelines.

    ds = (kl.data.Dataset.from_tensor_slices((x, y))
          .shuffle(1000, seed=0).batch(32).prefetch(2))
    for xb, yb in ds: ...                       # eager tensors
    model.fit(ds, epochs=3)

A dataset is a recipe: iterating it starts a fresh pass (an epoch). Elements
are nested tuples/dicts of numpy arrays inside the pipeline and eager
tensors when iterated. `map` and `filter` run their function on eager
tensors (a kl.function runs compiled); `prefetch` fills a bounded queue from
a background thread. `shuffle(buffer, seed)` is TF's buffer shuffle with a
numpy generator seeded by (seed, epoch): every element exactly once per
epoch, the same order for the same seed. In graph mode,
`make_one_shot_iterator().get_next()` gives tensors a Session feeds from the
iterator each run that needs them (`OutOfRangeError` at the end): the graph
keeps its iterators (`Graph.iterators`) and a Session run hook
(`IteratorFeedHook`) feeds the next element of each one a run needs.
"""

from __future__ import annotations

import collections.abc as abc
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..frontend.dtypes import as_dtype
from ..frontend.eager import EagerTensor, eager_mode
from ..frontend.errors import OutOfRangeError
from ..frontend.graph import GraphError, Tensor, executing_eagerly, get_default_graph
from ..frontend.lowering import needed_ops
from ..frontend.nest import flatten, pack_sequence_as
from ..frontend.ops import _default_dtype, placeholder
from ..frontend.session import SessionRunArgs, SessionRunContext, SessionRunHook, register_run_hook
from ..ir import KilnError  # noqa: F401
from .padding import pad_stack

__all__ = ["AUTOTUNE", "Dataset", "OutOfRangeError", "Iterator"]

AUTOTUNE = -1  # tf.data.AUTOTUNE: "let the runtime choose" (kiln's pipeline is serial)


def _to_numpy(structure: Any) -> Any:
    leaves = []
    for x in flatten(structure):
        if isinstance(x, EagerTensor):
            leaves.append(x.numpy())
        elif isinstance(x, Tensor):
            raise GraphError(f"kl.data: {x.name} is a graph tensor; datasets hold values")
        elif isinstance(x, np.ndarray | np.generic):
            leaves.append(np.asarray(x))
        else:
            a = np.asarray(x)
            leaves.append(a.astype(_default_dtype(a).ir.numpy) if a.dtype.kind in "fiub" else a)
    return pack_sequence_as(structure, leaves)


def _to_eager(structure: Any) -> Any:
    """Eager tensors for the arrays of an element (window's nested datasets stay datasets)."""
    return pack_sequence_as(
        structure,
        [
            x if isinstance(x, Dataset) else EagerTensor(np.asarray(x), as_dtype(x.dtype))
            for x in flatten(structure)
        ],
    )


def _dataset_of(value: Any, what: str) -> Dataset:
    if not isinstance(value, Dataset):
        raise GraphError(f"{what}: the function must return a Dataset, got {type(value).__name__}")
    return value


def _call(fn: Callable, element: Any) -> Any:
    """fn on an element as eager tensors; a tuple element is unpacked (as TF)."""
    with eager_mode():
        value = _to_eager(element)
        out = fn(*value) if isinstance(value, tuple) else fn(value)
    return out


class Dataset:
    """A re-iterable pipeline of elements (tf.data.Dataset)."""

    def __init__(self, make_iterator: Callable[[], abc.Iterator[Any]], length: int | None = None):
        self._make = make_iterator
        self._length = length
        # what the parents (the datasets this one's recipe closes over) carry: the graph
        # tensors an initializable iterator's initializer binds, and whether it is batched
        parents = _parents(make_iterator)
        self._sources: list[_GraphSource] = list(
            dict.fromkeys(s for p in parents for s in p._sources)
        )
        self._batched = any(p._batched for p in parents)

    # ------------------------------------------------------------ sources
    @staticmethod
    def from_tensor_slices(tensors: Any) -> Dataset:
        """One element per index of the first axis of every component (graph
        tensors too: an initializable iterator's initializer reads them)."""
        if _has_graph_tensor(tensors):
            return _GraphSource(tensors, sliced=True).dataset()
        data = _to_numpy(tensors)
        leaves = flatten(data)
        if not leaves or any(np.ndim(x) == 0 for x in leaves):
            raise GraphError("from_tensor_slices: every component needs a first axis")
        n = len(leaves[0])
        if any(len(x) != n for x in leaves):
            raise GraphError(
                f"from_tensor_slices: components have different lengths {[len(x) for x in leaves]}"
            )

        def make():
            for i in range(n):
                yield pack_sequence_as(data, [np.asarray(x[i]) for x in leaves])

        return Dataset(make, n)

    @staticmethod
    def from_tensors(tensors: Any) -> Dataset:
        if _has_graph_tensor(tensors):
            return _GraphSource(tensors, sliced=False).dataset()
        data = _to_numpy(tensors)
        return Dataset(lambda: iter([data]), 1)

    @staticmethod
    def from_generator(
        generator: Callable[[], abc.Iterator[Any]],
        output_types: Any = None,
        output_shapes: Any = None,
        output_signature: Any = None,
    ) -> Dataset:
        """Elements from `generator()` (called once per epoch), cast to output_types."""
        types = flatten(output_types) if output_types is not None else None
        if output_signature is not None:
            types = [s.dtype for s in flatten(output_signature)]

        def make():
            for element in generator():
                element = _to_numpy(element)
                if types is not None:
                    leaves = flatten(element)
                    if len(leaves) != len(types):
                        raise GraphError(
                            f"from_generator: an element has {len(leaves)} "
                            f"components, output_types {len(types)}"
                        )
                    element = pack_sequence_as(
                        element,
                        [np.asarray(x, as_dtype(t).ir.numpy) for x, t in zip(leaves, types)],
                    )
                yield element

        return Dataset(make)

    @staticmethod
    def range(*args: int) -> Dataset:
        """range(stop), range(start, stop[, step]) as int64 scalars."""
        r = range(*args)
        return Dataset(lambda: (np.asarray(i, np.int64) for i in r), len(r))

    @staticmethod
    def zip(datasets: tuple) -> Dataset:
        """Elements of several datasets side by side; ends with the shortest."""
        parts = tuple(datasets)
        lengths = [d._length for d in parts]
        n = None if None in lengths else min(lengths)
        return Dataset(lambda: (tuple(e) for e in zip(*[iter(d._elements()) for d in parts])), n)

    # ------------------------------------------------------------ transformations
    def map(
        self, map_func: Callable, num_parallel_calls: Any = None, deterministic: Any = None
    ) -> Dataset:
        """map_func on each element (eager tensors in, anything tensor-like out)."""
        return Dataset(
            lambda: (_to_numpy(_call(map_func, e)) for e in self._elements()), self._length
        )

    def filter(self, predicate: Callable) -> Dataset:
        """Keep the elements for which predicate is true (a scalar bool)."""
        return Dataset(lambda: (e for e in self._elements() if bool(_call(predicate, e))))

    def shuffle(
        self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True
    ) -> Dataset:
        """Sample uniformly from a buffer of `buffer_size` elements refilled from
        the input (TF's shuffle); a new order per epoch unless told otherwise."""
        if int(buffer_size) < 1:
            raise GraphError(f"shuffle: buffer_size must be at least 1, got {buffer_size}")
        epoch = [0]
        base = np.random.SeedSequence(seed).entropy if seed is None else int(seed)

        def make():
            rng = np.random.default_rng([base, epoch[0]])
            if reshuffle_each_iteration:
                epoch[0] += 1
            buffer: list = []
            for e in self._elements():
                buffer.append(e)
                if len(buffer) >= buffer_size:
                    i = int(rng.integers(len(buffer)))
                    buffer[i], buffer[-1] = buffer[-1], buffer[i]
                    yield buffer.pop()
            while buffer:
                i = int(rng.integers(len(buffer)))
                buffer[i], buffer[-1] = buffer[-1], buffer[i]
                yield buffer.pop()

        return Dataset(make, self._length)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> Dataset:
        """Stack `batch_size` consecutive elements (a last short batch unless dropped)."""
        size = int(batch_size)
        if size < 1:
            raise GraphError(f"batch: batch_size must be at least 1, got {batch_size}")

        def stack(items):
            leaves = [flatten(e) for e in items]
            return pack_sequence_as(items[0], [np.stack(c) for c in zip(*leaves)])

        def make():
            items = []
            for e in self._elements():
                items.append(e)
                if len(items) == size:
                    yield stack(items)
                    items = []
            if items and not drop_remainder:
                yield stack(items)

        n = self._length
        length = None if n is None else (n // size if drop_remainder else -(-n // size))
        batched = Dataset(make, length)
        batched._batched = True
        return batched

    def repeat(self, count: int | None = None) -> Dataset:
        """The input `count` times (forever with None)."""

        def make():
            i = 0
            while count is None or i < count:
                yield from self._elements()
                i += 1

        n = self._length
        return Dataset(make, None if count is None or n is None else n * int(count))

    def take(self, count: int) -> Dataset:
        n = self._length
        return Dataset(
            lambda: (e for _, e in zip(range(int(count)), self._elements())),
            int(count) if n is None else min(n, int(count)),
        )

    def skip(self, count: int) -> Dataset:
        def make():
            it = self._elements()
            for _ in zip(range(int(count)), it):
                pass
            yield from it

        n = self._length
        return Dataset(make, None if n is None else max(0, n - int(count)))

    def prefetch(self, buffer_size: int = 1) -> Dataset:
        """Produce up to `buffer_size` elements ahead in a background thread."""
        return Dataset(
            lambda: _Prefetcher(self._elements, max(1, int(buffer_size or 1))), self._length
        )

    def cache(self, filename: str = "") -> Dataset:
        stored: list = []
        done = [False]

        def make():
            if done[0]:
                yield from stored
                return
            stored.clear()
            for e in self._elements():
                stored.append(e)
                yield e
            done[0] = True

        return Dataset(make, self._length)

    def padded_batch(
        self,
        batch_size: int,
        padded_shapes: Any = None,
        padding_values: Any = None,
        drop_remainder: bool = False,
    ) -> Dataset:
        """batch() for elements of different shapes (tf.data's padded_batch):
        each component is padded at the end of every dim to `padded_shapes`
        (None or -1: the longest in the batch; default all None) with
        `padding_values` (default 0, b"" for strings)."""
        size = int(batch_size)
        if size < 1:
            raise GraphError(f"padded_batch: batch_size must be at least 1, got {batch_size}")

        def make():
            items = []
            for e in self._elements():
                items.append(e)
                if len(items) == size:
                    yield pad_stack(items, padded_shapes, padding_values)
                    items = []
            if items and not drop_remainder:
                yield pad_stack(items, padded_shapes, padding_values)

        n = self._length
        length = None if n is None else (n // size if drop_remainder else -(-n // size))
        batched = Dataset(make, length)
        batched._batched = True
        return batched

    def unbatch(self) -> Dataset:
        """Split each element along its first axis (tf.data's unbatch)."""

        def make():
            for e in self._elements():
                leaves = flatten(e)
                for i in range(len(leaves[0]) if leaves else 0):
                    yield pack_sequence_as(e, [np.asarray(x[i]) for x in leaves])

        return Dataset(make)

    def window(
        self, size: int, shift: int | None = None, stride: int = 1, drop_remainder: bool = False
    ) -> Dataset:
        """Windows of `size` elements (every `stride`-th), one starting every `shift` (default
        `size`) elements; each window is a dataset of the same structure as an element (a
        tuple element gives a tuple of datasets), as in tf.data. The last windows are shorter
        unless drop_remainder."""
        size, stride = int(size), int(stride)
        shift = size if shift is None else int(shift)
        if size <= 0 or shift <= 0 or stride <= 0:
            raise GraphError(
                f"window: size ({size}), shift ({shift}) and stride ({stride}) must be positive"
            )
        span = stride * (size - 1) + 1

        def make():
            source, buffer, done = self._elements(), [], False
            while True:
                while not done and len(buffer) < span:
                    e = next(source, _END)
                    if e is _END:
                        done = True
                    else:
                        buffer.append(e)
                window = buffer[:span:stride]
                if not window or (drop_remainder and len(window) < size):
                    return
                columns = zip(*(flatten(e) for e in window))
                yield pack_sequence_as(window[0], [_list_dataset(list(col)) for col in columns])
                skip = shift - len(buffer)
                del buffer[:shift]
                while skip > 0 and not done:
                    done = next(source, _END) is _END
                    skip -= 1

        return Dataset(make)

    def flat_map(self, map_func: Callable) -> Dataset:
        """The elements of the dataset map_func makes of each element, in order."""

        def make():
            for e in self._elements():
                yield from _dataset_of(_call(map_func, e), "flat_map")._elements()

        return Dataset(make)

    def interleave(
        self,
        map_func: Callable,
        cycle_length: Any = None,
        block_length: int = 1,
        num_parallel_calls: Any = None,
        deterministic: Any = None,
    ) -> Dataset:
        """Elements of the datasets map_func makes, `block_length` at a time from
        `cycle_length` of them in turn (TF's deterministic order; without a
        cycle_length kiln takes them one dataset after another)."""
        cycle = 1 if cycle_length in (None, AUTOTUNE) else max(1, int(cycle_length))
        block = max(1, int(block_length))

        def make():
            sources = self._elements()
            open_: list = []
            while True:
                while len(open_) < cycle:
                    e = next(sources, None)
                    if e is None:
                        break
                    open_.append(_dataset_of(_call(map_func, e), "interleave")._elements())
                if not open_:
                    return
                for it in list(open_):
                    for _ in range(block):
                        x = next(it, None)
                        if x is None:
                            open_.remove(it)
                            break
                        yield x

        return Dataset(make)

    def enumerate(self, start: int = 0) -> Dataset:
        """(index, element) pairs, the index an int64 scalar from `start`."""
        return Dataset(
            lambda: ((np.asarray(i, np.int64), e) for i, e in enumerate(self._elements(), start)),
            self._length,
        )

    def shard(self, num_shards: int, index: int) -> Dataset:
        """Every num_shards-th element, from `index`."""
        k, i = int(num_shards), int(index)
        if not 0 <= i < k:
            raise GraphError(f"shard: index {index} is not in [0, {num_shards})")
        n = self._length
        return Dataset(
            lambda: (e for j, e in enumerate(self._elements()) if j % k == i),
            None if n is None else len(range(i, n, k)),
        )

    def reduce(self, initial_state: Any, reduce_func: Callable) -> Any:
        """Fold reduce_func(state, element) over one epoch (eager tensors)."""
        state = _to_numpy(initial_state)
        for e in self._elements():
            with eager_mode():
                value = _to_eager(e)
                args = value if isinstance(value, tuple) else (value,)
                state = _to_numpy(reduce_func(_to_eager(state), *args))
        return _to_eager(state)

    def apply(self, transformation_func: Callable[[Dataset], Dataset]) -> Dataset:
        return transformation_func(self)

    # ------------------------------------------------------------ iteration
    def _elements(self) -> abc.Iterator[Any]:
        return iter(self._make())

    def __iter__(self) -> OwnedIterator:
        """One epoch of eager tensors (TF 2's iter(dataset): also `.next()`,
        `.get_next()`, which raises OutOfRangeError at the end)."""
        return OwnedIterator(self._elements())

    def as_numpy_iterator(self) -> abc.Iterator[Any]:
        return self._elements()

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("the length of this dataset is unknown (or infinite)")
        return self._length

    def cardinality(self) -> int:
        """The number of elements, -2 when unknown (TF's UNKNOWN)."""
        return -2 if self._length is None else self._length

    def make_one_shot_iterator(self) -> Iterator:
        if self._sources:
            raise GraphError(
                "make_one_shot_iterator: this dataset reads graph tensors "
                f"({', '.join(t.name for s in self._sources for t in s.tensors)}); use "
                "make_initializable_iterator() and run its initializer with their feeds"
            )
        return Iterator(self)

    def make_initializable_iterator(self, shared_name: str | None = None) -> Any:
        """An iterator that starts (again) each time `iterator.initializer` runs."""
        from .iterators import InitializableIterator

        return InitializableIterator.of(self)

    @property
    def output_types(self) -> Any:
        from .iterators import element_spec

        return element_spec(self)[0]

    @property
    def output_shapes(self) -> Any:
        from .iterators import element_spec

        return element_spec(self)[1]

    @property
    def element_spec(self) -> Any:
        from ..frontend.function import TensorSpec
        from .iterators import element_spec

        types, shapes = element_spec(self)
        return pack_sequence_as(
            types, [TensorSpec(s, t) for t, s in zip(flatten(types), flatten(shapes))]
        )

    def __repr__(self) -> str:
        return f"<kl.data.Dataset cardinality={self.cardinality()}>"


_END = object()


def _list_dataset(items: list) -> Dataset:
    return Dataset(lambda: iter(items), len(items))


def _parents(make: Callable) -> list[Dataset]:
    """The datasets a recipe closes over (`self`, or zip's tuple of them)."""
    found: list[Dataset] = []
    for cell in getattr(make, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        items = value if isinstance(value, (tuple, list)) else (value,)
        found.extend(x for x in items if isinstance(x, Dataset))
    return found


def _has_graph_tensor(structure: Any) -> bool:
    return any(
        (isinstance(x, Tensor) and not isinstance(x, EagerTensor))
        or (hasattr(x, "_as_tensor") and not executing_eagerly())
        for x in flatten(structure)
    )


class _GraphSource:
    """A dataset source made of graph tensors (a placeholder fed to the
    initializer, as TF 1.x programs do): its values are bound when an
    initializable iterator's initializer runs."""

    def __init__(self, tensors: Any, sliced: bool):
        from ..frontend.ops import convert_to_tensor

        self.structure = tensors
        self.tensors = [
            convert_to_tensor(x._as_tensor() if hasattr(x, "_as_tensor") else x)
            for x in flatten(tensors)
        ]
        self.sliced = sliced
        self.values: list[np.ndarray] | None = None

    def dataset(self) -> Dataset:
        source = self

        def make():
            if source.values is None:
                raise GraphError(
                    "GetNext() failed because the iterator has not been initialized: run "
                    "its initializer first (feeding "
                    f"{', '.join(t.name for t in source.tensors)})"
                )
            values = [np.asarray(v) for v in source.values]
            if not source.sliced:
                yield pack_sequence_as(source.structure, values)
                return
            n = len(values[0])
            if any(len(v) != n for v in values):
                raise GraphError(
                    f"from_tensor_slices: components have different lengths "
                    f"{[len(v) for v in values]}"
                )
            for i in range(n):
                yield pack_sequence_as(source.structure, [v[i] for v in values])

        ds = Dataset(make)
        ds._sources = [self]
        return ds


class _Prefetcher:
    """An iterator filled ahead by a daemon thread through a bounded queue."""

    _END = object()

    def __init__(self, make: Callable[[], abc.Iterator[Any]], size: int):
        self._queue: queue.Queue = queue.Queue(size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, args=(make,), daemon=True)
        self._thread.start()

    def _fill(self, make: Callable[[], abc.Iterator[Any]]) -> None:
        try:
            for e in make():
                while not self._stop.is_set():
                    try:
                        self._queue.put((e, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            item = (self._END, None)
        except BaseException as error:  # handed to the consumer, raised there
            item = (self._END, error)
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> _Prefetcher:
        return self

    def __next__(self) -> Any:
        e, error = self._queue.get()
        if e is self._END:
            self._stop.set()
            if error is not None:
                raise error
            raise StopIteration
        return e

    def __del__(self) -> None:
        self._stop.set()


class Iterator:
    """A one-shot iterator (tf.data.make_one_shot_iterator): `get_next()` eagerly
    gives the next element; in graph mode it gives tensors the Session feeds."""

    def __init__(self, dataset: Dataset):
        self._dataset = dataset
        self._it = dataset._elements()
        self._peek = None
        self._tensors: list[Tensor] | None = None
        self._structure = None

    def next_value(self) -> Any:
        try:
            return next(self._it)
        except StopIteration:
            raise OutOfRangeError("End of sequence: the iterator has no more elements") from None

    def get_next(self, name: str | None = None) -> Any:
        if executing_eagerly():
            return _to_eager(self.next_value())
        g = get_default_graph()
        if self._tensors is None:
            self._peek = self.next_value()  # the first element gives dtypes and shapes
            self._structure = self._peek
            with g.name_scope(name or "IteratorGetNext"):
                self._tensors = [
                    placeholder(
                        as_dtype(x.dtype), [None, *x.shape[1:]] if x.ndim else [], name="component"
                    )
                    for x in flatten(self._peek)
                ]
            g.iterators.append(self)
        return pack_sequence_as(self._structure, list(self._tensors))

    def feed(self) -> dict[Tensor, np.ndarray]:
        """The next element as a feed for this iterator's tensors."""
        if self._peek is not None:
            value, self._peek = self._peek, None
        else:
            value = self.next_value()
        return dict(zip(self._tensors, flatten(value)))

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return _to_eager(self.next_value())
        except OutOfRangeError:
            raise StopIteration from None

    @staticmethod
    def from_structure(output_types: Any, output_shapes: Any = None, **_: Any) -> Any:
        """A reinitializable iterator any dataset of this structure can start
        (tf.data.Iterator.from_structure; see iterators.py)."""
        from .iterators import InitializableIterator

        return InitializableIterator(output_types, output_shapes)

    @staticmethod
    def from_string_handle(string_handle: Any, output_types: Any, output_shapes: Any = None):
        raise GraphError(
            "feedable iterators (Iterator.from_string_handle) need string tensors; use "
            "Iterator.from_structure and make_initializer to switch datasets"
        )


class IteratorFeedHook(SessionRunHook):
    """Feeds every one-shot iterator of the run's graph whose tensors the run
    needs (and the caller did not feed) with its next element. It runs after
    the summary hook, so it sees that hook's fetches too: hooks run in
    registration order, and kiln.data imports the frontend (summary.py
    included) before it registers this one."""

    def __init__(self) -> None:
        self._needed: dict[tuple, set[int]] = {}

    def before_run(self, context: SessionRunContext) -> SessionRunArgs | None:
        graph = context.graph
        if not graph.iterators:
            return None
        key = (id(graph), graph.version, tuple(id(f) for f in context.fetches))
        needed = self._needed.get(key)
        if needed is None:
            needed = self._needed[key] = {id(op) for op in needed_ops(context.fetches, set())}
        feeds: dict[Tensor, np.ndarray] = {}
        for iterator in graph.iterators:
            tensors = iterator._tensors or []
            if any(id(t.op) in needed and t not in context.feeds for t in tensors):
                feeds.update(iterator.feed())
        return SessionRunArgs(feed_dict=feeds) if feeds else None


register_run_hook(IteratorFeedHook())


class OwnedIterator:
    """An eager iterator over one epoch of a Dataset (TF 2's OwnedIterator and
    TF 1.x eager's tfe.Iterator): next(it), it.next(), it.get_next()."""

    def __init__(self, elements: abc.Iterator[Any]):
        self._elements = elements

    def __iter__(self) -> OwnedIterator:
        return self

    def __next__(self) -> Any:
        return _to_eager(next(self._elements))

    next = __next__

    def get_next(self, name: str | None = None) -> Any:
        try:
            return next(self)
        except StopIteration:
            raise OutOfRangeError("End of sequence (the dataset is exhausted)") from None
