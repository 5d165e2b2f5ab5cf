"""Initializable and reinitializable iterators (TF 1.x's tf.data iterators).

    it = dataset.make_initializable_iterator()
    x = it.get_next()
    sess.run(it.initializer, feed_dict={features_placeholder: data})

    it = kl.data.Iterator.from_structure(train.output_types, train.output_shapes)
    train_init, test_init = it.make_initializer(train), it.make_initializer(test)

As with one-shot iterators, `get_next()` gives placeholders the Session feeds
with the next element (kiln.data's IteratorFeedHook). An initializer is a
NoOp the InitializerHook runs on the host: it fetches the graph tensors the
dataset reads (placeholders fed in the same run) in that run, binds them to
the dataset's sources and starts a fresh pass. Before the first
initializer, get_next fails with TF's message. Element types and shapes
(output_types, output_shapes) come from the first element of a probe pass
(graph sources are probed with zeros of their static shapes); a batched
dataset's first dim is None, as TF's.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..frontend.dtypes import as_dtype
from ..frontend.errors import FailedPreconditionError
from ..frontend.graph import GraphError, Operation, Tensor, TensorShape, get_default_graph
from ..frontend.nest import flatten, pack_sequence_as
from ..frontend.ops import placeholder
from ..frontend.session import SessionRunArgs, SessionRunContext, SessionRunHook, register_run_hook
from .dataset import Dataset, OutOfRangeError

# graph -> {initializer op: (iterator, dataset)}
_INITIALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _probe(dataset: Dataset) -> Any:
    """The first element of a fresh pass (graph sources bound to zeros meanwhile)."""
    saved = [s.values for s in dataset._sources]
    try:
        for s in dataset._sources:
            if s.values is None:
                s.values = [
                    np.zeros(
                        [2 if d is None else d for d in (t.shape.dims or [2])], t.dtype.ir.numpy
                    )
                    for t in s.tensors
                ]
        try:
            return next(iter(dataset._elements()))
        except StopIteration:
            raise GraphError("the dataset is empty: it has no element types or shapes") from None
    finally:
        for s, v in zip(dataset._sources, saved):
            s.values = v


def element_spec(dataset: Dataset) -> tuple[Any, Any]:
    """(output_types, output_shapes) of a dataset's elements."""
    cached = getattr(dataset, "_spec", None)
    if cached is not None:
        return cached
    element = _probe(dataset)
    leaves = [np.asarray(x) for x in flatten(element)]
    types = [as_dtype(x.dtype) for x in leaves]
    shapes = [
        TensorShape([None, *x.shape[1:]] if dataset._batched and x.ndim else list(x.shape))
        for x in leaves
    ]
    spec = (pack_sequence_as(element, types), pack_sequence_as(element, shapes))
    dataset._spec = spec
    return spec


class InitializableIterator:
    """An iterator whose pass starts when an initializer runs; from_structure
    makes one any dataset of the same structure can initialise."""

    def __init__(self, output_types: Any, output_shapes: Any = None, name: str | None = None):
        self.output_types = output_types
        types = flatten(output_types)
        if output_shapes is None:
            shapes = [TensorShape(None) for _ in types]
        else:
            shapes = [
                s if isinstance(s, TensorShape) else TensorShape(s)
                for s in _flatten_shapes(output_shapes, len(types))
            ]
        self.output_shapes = pack_sequence_as(output_types, shapes)
        self._types, self._shapes = [as_dtype(t) for t in types], shapes
        self._it = None
        self._tensors: list[Tensor] | None = None
        self._name = name
        self._initializer: Operation | None = None
        self._dataset: Dataset | None = None
        self._peek = None

    @classmethod
    def of(cls, dataset: Dataset) -> InitializableIterator:
        types, shapes = element_spec(dataset)
        it = cls(types, shapes)
        it._dataset = dataset
        return it

    @staticmethod
    def from_structure(
        output_types: Any,
        output_shapes: Any = None,
        shared_name: str | None = None,
        output_classes: Any = None,
    ) -> InitializableIterator:
        return InitializableIterator(output_types, output_shapes)

    @property
    def output_classes(self) -> Any:
        return pack_sequence_as(self.output_types, [Tensor for _ in self._types])

    @property
    def initializer(self) -> Operation:
        if self._dataset is None:
            raise GraphError(
                "this iterator was made by from_structure: use make_initializer(dataset)"
            )
        if self._initializer is None:
            self._initializer = self.make_initializer(self._dataset)
        return self._initializer

    def make_initializer(self, dataset: Dataset, name: str | None = None) -> Operation:
        """An op that starts a pass of `dataset` in this iterator."""
        types, shapes = element_spec(dataset)
        if [as_dtype(t) for t in flatten(types)] != self._types:
            raise GraphError(
                f"make_initializer: the dataset's types {types} differ from the "
                f"iterator's {self.output_types}"
            )
        for want, got in zip(self._shapes, flatten(shapes)):
            if (
                want.dims is not None
                and got.dims is not None
                and (
                    len(want.dims) != len(got.dims)
                    or any(
                        a is not None and b is not None and a != b
                        for a, b in zip(want.dims, got.dims)
                    )
                )
            ):
                raise GraphError(
                    f"make_initializer: the dataset's shapes {shapes} do not fit the "
                    f"iterator's {self.output_shapes}"
                )
        g = get_default_graph()
        op = g.create_op("NoOp", [], name=name or "MakeIterator", output_types=[])
        _INITIALIZERS.setdefault(g, {})[op] = (self, dataset)
        return op

    def _start(self, dataset: Dataset, values: list[np.ndarray]) -> None:
        it = iter(values)
        for source in dataset._sources:
            source.values = [next(it) for _ in source.tensors]
        self._it = dataset._elements()

    # ------------------------------------------------------------ elements
    def get_next(self, name: str | None = None) -> Any:
        g = get_default_graph()
        if self._tensors is None:
            with g.name_scope(name or self._name or "IteratorGetNext"):
                self._tensors = [
                    placeholder(t, s.dims, name="component")
                    for t, s in zip(self._types, self._shapes)
                ]
            g.iterators.append(self)
        return pack_sequence_as(self.output_types, list(self._tensors))

    def next_value(self) -> Any:
        if self._it is None:
            raise FailedPreconditionError(
                "GetNext() failed because the iterator has not been initialized. Ensure "
                "that you have run the initializer operation for this iterator before "
                "getting the next element."
            )
        try:
            return next(self._it)
        except StopIteration:
            raise OutOfRangeError("End of sequence: the iterator has no more elements") from None

    def feed(self) -> dict[Tensor, np.ndarray]:
        return dict(zip(self._tensors, flatten(self.next_value())))

    def string_handle(self, name: str | None = None) -> Any:
        raise GraphError(
            "feedable iterators (string_handle / Iterator.from_string_handle) need string "
            "tensors; use Iterator.from_structure and make_initializer to switch datasets"
        )


def _flatten_shapes(shapes: Any, n: int) -> list:
    if isinstance(shapes, TensorShape):
        return [shapes]
    if (
        n == 1
        and isinstance(shapes, (list, tuple))
        and all(d is None or isinstance(d, int) for d in shapes)
    ):
        return [TensorShape(list(shapes))]
    if isinstance(shapes, dict):
        return [shapes[k] for k in sorted(shapes)]
    return [s for item in shapes for s in _flatten_shapes(item, 1)] if n > 1 else [shapes]


class InitializerHook(SessionRunHook):
    """Runs the iterator initializers a Session.run fetches: their datasets'
    graph tensors are fetched in the same run, then bound after it."""

    def before_run(self, context: SessionRunContext) -> SessionRunArgs | None:
        table = _INITIALIZERS.get(context.graph)
        if not table:
            return None
        ops = [f for f in context.fetches if isinstance(f, Operation) and f in table]
        if not ops:
            return None
        extra = [t for op in ops for s in table[op][1]._sources for t in s.tensors]
        context._initializers = ops  # type: ignore[attr-defined]
        return SessionRunArgs(fetches=extra, provides=ops)

    def after_run(self, context: SessionRunContext, values: Any) -> None:
        table = _INITIALIZERS.get(context.graph) or {}
        for op in getattr(context, "_initializers", ()):
            iterator, dataset = table[op]
            tensors = [t for s in dataset._sources for t in s.tensors]
            iterator._start(dataset, [values.results[t] for t in tensors])
            values.results[op] = None


register_run_hook(InitializerHook())

__all__ = ["InitializableIterator", "element_spec"]
