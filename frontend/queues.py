"""Queues and queue runners: TensorFlow 1.x's threaded input pipelines.

    q = kl.FIFOQueue(10, [kl.float32], shapes=[[]])
    enq = q.enqueue_many([[1.0, 2.0, 3.0]]); x = q.dequeue()
    sess.run(enq); sess.run(x)              # 1.0

A queue is a host object, never a native kernel. Its operations are graph
nodes the Session runs through a run hook (`QueueHook`, the design of
kiln.data's iterators): `dequeue()` gives placeholders the hook feeds with
the queue's next element (blocking until there is one, OutOfRangeError
once the queue is closed and empty); `enqueue(values)` and `close()` are
NoOp nodes the hook "provides": it fetches the values in the same run and
puts them on the queue after it (blocking while the queue is full). Each
Session has its own state of each queue, as TF's queue resources are per
session. A blocked operation wakes when the queue is closed with
cancel_pending_enqueues, or when its session closes.

QueueRunner, Coordinator and start_queue_runners are TF's threading API:
a runner's threads run its enqueue op until the Coordinator asks them to
stop or the enqueue raises OutOfRangeError (an input producer's epochs are
spent: the last thread then closes the queue, so the consumer's dequeue
ends with OutOfRangeError too). `input_producer`, `slice_input_producer`,
`string_input_producer`, `batch`, `shuffle_batch` and `batch_join` build
queues and runners the TF way; num_epochs counts in a local variable
(`local_variables_initializer()` initialises it, as in TF).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .dtypes import as_dtype, int32, int64
from .errors import CancelledError, OutOfRangeError
from .graph import GraphError, Operation, Tensor, TensorShape, get_default_graph
from .local import local_variable
from .lowering import needed_ops
from .ops import convert_to_tensor, placeholder
from .session import (
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
    register_run_hook,
)

QUEUE_RUNNERS = "queue_runners"
_POLL = 0.05  # seconds between checks of close/cancel/session state while blocked

# graph -> {op: _HostOp}: the queue operations the hook runs
_HOST_OPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _HostOp:
    """A graph node the QueueHook runs on the host: `inputs` are fetched in the
    same run; `feed(session)` gives values for `outputs` before it and
    `after(session, values)` consumes the inputs' values after it."""

    inputs: Sequence[Tensor] = ()
    outputs: Sequence[Tensor] = ()

    def feed(self, session: Any) -> dict[Tensor, np.ndarray]:
        return {}

    def after(self, session: Any, values: list[np.ndarray]) -> None:
        pass


def _register(op: Operation, host: _HostOp) -> None:
    _HOST_OPS.setdefault(op.graph, {})[op] = host


class QueueHook(SessionRunHook):
    """Runs the queue operations a Session.run needs (see the module docstring)."""

    def __init__(self) -> None:
        self._plans: dict[tuple, tuple[list, list, list]] = {}

    def _plan(self, context: SessionRunContext, hosts: dict) -> tuple[list, list, list]:
        """(provided ops, their inputs to fetch, the hosts to feed) for these fetches."""
        graph = context.graph
        key = (
            id(graph),
            graph.version,
            tuple(id(f) for f in context.fetches),
            tuple(id(t) for t in context.feeds),
        )
        plan = self._plans.get(key)
        if plan is None:
            provided = [f for f in context.fetches if isinstance(f, Operation) and f in hosts]
            ids = {id(op) for op in provided}
            extra = [t for op in provided for t in hosts[op].inputs]
            fetches = [f for f in context.fetches if id(f) not in ids] + extra
            feeding: list[_HostOp] = []
            for op in needed_ops(fetches, set(context.feeds)):
                host = hosts.get(op)
                if host is None or not host.outputs or host in feeding:
                    continue
                if not any(t in context.feeds for t in host.outputs):  # else the caller fed it
                    feeding.append(host)
            if len(self._plans) > 256:
                self._plans.clear()
            plan = self._plans[key] = (provided, extra, feeding)
        return plan

    def before_run(self, context: SessionRunContext) -> SessionRunArgs | None:
        hosts = _HOST_OPS.get(context.graph)
        if not hosts:
            return None
        provided, extra, feeding = self._plan(context, hosts)
        if not (provided or feeding):
            return None
        feeds: dict[Tensor, np.ndarray] = {}
        for host in feeding:
            feeds.update(host.feed(context.session))
        context._queue_provided = provided  # type: ignore[attr-defined]
        return SessionRunArgs(fetches=extra, feed_dict=feeds, provides=provided)

    def after_run(self, context: SessionRunContext, values: SessionRunValues) -> None:
        hosts = _HOST_OPS.get(context.graph) or {}
        for op in getattr(context, "_queue_provided", ()):
            host = hosts[op]
            host.after(context.session, [values.results[t] for t in host.inputs])
            values.results[op] = None


register_run_hook(QueueHook())


# ------------------------------------------------------------------ queue state


class _State:
    """One session's contents of one queue."""

    def __init__(self) -> None:
        self.items: list[tuple[np.ndarray, ...]] = []
        self.closed = False
        self.cancelled = False
        self.cond = threading.Condition()
        self.rng: np.random.Generator | None = None


def _check_session(session: Any) -> None:
    if getattr(session, "_closed", False):
        raise CancelledError("the Session was closed while a queue operation waited")


class QueueBase:
    """The queue interface (tf.queue.QueueBase): enqueue, enqueue_many,
    dequeue, dequeue_many, dequeue_up_to, close, size, is_closed."""

    def __init__(
        self,
        capacity: int,
        dtypes: Any,
        shapes: Any = None,
        names: Sequence[str] | None = None,
        shared_name: str | None = None,
        name: str = "fifo_queue",
    ):
        single = not isinstance(dtypes, (list, tuple))
        self.dtypes = [as_dtype(d) for d in ([dtypes] if single else dtypes)]
        if shapes is not None:
            if single or (shapes and not isinstance(shapes[0], (list, tuple, TensorShape))):
                shapes = [shapes]
            if len(shapes) != len(self.dtypes):
                raise GraphError(f"{name}: {len(self.dtypes)} dtypes but {len(shapes)} shapes")
            self.shapes = [TensorShape(list(s) if s is not None else None) for s in shapes]
        else:
            self.shapes = [TensorShape(None) for _ in self.dtypes]
        self.names = list(names) if names is not None else None
        self.capacity = int(capacity)
        self.graph = get_default_graph()
        self.name = self.graph.unique_name(name)
        self._states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    # ------------------------------------------------------------ state
    def _state(self, session: Any) -> _State:
        with self._lock:
            state = self._states.get(session)
            if state is None:
                state = self._states[session] = _State()
                state.rng = self._make_rng()
            return state

    def _make_rng(self) -> np.random.Generator | None:
        return None

    # ------------------------------------------------------------ structure
    def _flatten(self, vals: Any) -> list:
        if isinstance(vals, Mapping):
            if self.names is None:
                raise GraphError(f"{self.name}: enqueue of a dict needs a queue with names")
            return [vals[n] for n in self.names]
        if self.names is not None and not isinstance(vals, Mapping):
            raise GraphError(f"{self.name}: a queue with names enqueues dicts")
        if isinstance(vals, (list, tuple)):
            return list(vals)
        return [vals]

    def _pack(self, tensors: list) -> Any:
        if self.names is not None:
            return dict(zip(self.names, tensors))
        return tensors[0] if len(tensors) == 1 else tensors

    def _component_tensors(self, vals: Any, many: bool) -> list[Tensor]:
        flat = self._flatten(vals)
        if len(flat) != len(self.dtypes):
            raise GraphError(
                f"{self.name}: enqueue of {len(flat)} components into a queue of {len(self.dtypes)}"
            )
        tensors = [convert_to_tensor(v, dtype=d) for v, d in zip(flat, self.dtypes)]
        for i, t in enumerate(tensors):
            shape = t.shape
            if many:
                if shape.ndims == 0:
                    raise GraphError(f"{self.name}: enqueue_many needs a first axis")
                shape = TensorShape(shape.as_list()[1:]) if shape.ndims is not None else shape
            if self.shapes[i].ndims is None and shape.ndims is not None:
                self.shapes[i] = shape  # TF asks for shapes; kiln takes the first enqueue's
        return tensors

    # ------------------------------------------------------------ ops
    def enqueue(self, vals: Any, name: str | None = None) -> Operation:
        return self._enqueue_op(self._component_tensors(vals, False), False, name or "enqueue")

    def enqueue_many(self, vals: Any, name: str | None = None) -> Operation:
        tensors = self._component_tensors(vals, True)
        return self._enqueue_op(tensors, True, name or "enqueue_many")

    def _enqueue_op(self, tensors: list[Tensor], many: bool, name: str) -> Operation:
        op = self.graph.create_op("NoOp", [], name=f"{self.name}_{name}", output_types=[])
        _register(op, _Enqueue(self, tensors, many))
        return op

    def dequeue(self, name: str | None = None) -> Any:
        return self._dequeue_op(None, False, name or "dequeue")

    def dequeue_many(self, n: int, name: str | None = None) -> Any:
        return self._dequeue_op(int(n), False, name or "dequeue_many")

    def dequeue_up_to(self, n: int, name: str | None = None) -> Any:
        return self._dequeue_op(int(n), True, name or "dequeue_up_to")

    def _dequeue_op(self, n: int | None, up_to: bool, name: str) -> Any:
        outputs = []
        with self.graph.name_scope(f"{self.name}_{name}"):
            for dtype, shape in zip(self.dtypes, self.shapes):
                dims = self._out_dims(shape, n, up_to)
                outputs.append(placeholder(dtype, dims, name="component"))
        host = _Dequeue(self, outputs, n, up_to)
        for t in outputs:
            _register(t.op, host)
        return self._pack(outputs)

    def _out_dims(self, shape: TensorShape, n: int | None, up_to: bool) -> list | None:
        if shape.ndims is None:
            if n is not None:
                raise GraphError(f"{self.name}: dequeue_many needs the queue's shapes")
            return None
        if n is None:
            return shape.as_list()
        return [None if up_to else n, *shape.as_list()]

    def close(self, cancel_pending_enqueues: bool = False, name: str | None = None) -> Operation:
        op = self.graph.create_op(
            "NoOp", [], name=f"{self.name}_{name or 'close'}", output_types=[]
        )
        _register(op, _Close(self, cancel_pending_enqueues))
        return op

    def size(self, name: str | None = None) -> Tensor:
        t = placeholder(int32, [], name=f"{self.name}_{name or 'size'}")
        _register(t.op, _Size(self, t))
        return t

    def is_closed(self, name: str | None = None) -> Tensor:
        from .dtypes import bool_

        t = placeholder(bool_, [], name=f"{self.name}_{name or 'is_closed'}")
        _register(t.op, _IsClosed(self, t))
        return t

    # ------------------------------------------------------------ host side
    def _put(self, session: Any, items: list[tuple[np.ndarray, ...]]) -> None:
        state = self._state(session)
        with state.cond:
            for item in items:
                while len(state.items) >= self.capacity:
                    if state.closed:
                        raise CancelledError(f"Queue '{self.name}' is closed")
                    _check_session(session)
                    state.cond.wait(_POLL)
                if state.closed:
                    raise CancelledError(f"Queue '{self.name}' is closed")
                state.items.append(item)
                state.cond.notify_all()

    def _take(self, session: Any, n: int | None, up_to: bool) -> list[tuple[np.ndarray, ...]]:
        state = self._state(session)
        want = 1 if n is None else n
        with state.cond:
            while not self._ready(state, want):
                if state.closed:  # a closed queue gives what it holds (no min_after_dequeue)
                    if len(state.items) >= want or (up_to and state.items):
                        break
                    raise OutOfRangeError(
                        f"{type(self).__name__} '{self.name}' is closed and has "
                        "insufficient elements "
                        f"(requested {want}, current size {len(state.items)})"
                    )
                _check_session(session)
                state.cond.wait(_POLL)
            count = min(want, len(state.items))
            taken = [self._pop(state) for _ in range(count)]
            state.cond.notify_all()
            return taken

    def _ready(self, state: _State, want: int) -> bool:
        return len(state.items) >= want

    def _pop(self, state: _State) -> tuple[np.ndarray, ...]:
        return state.items.pop(0)

    def _combine(self, items: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
        return [np.stack([it[i] for it in items]) for i in range(len(self.dtypes))]

    @property
    def queue_ref(self) -> QueueBase:
        return self

    def __repr__(self) -> str:
        return f"<kl.{type(self).__name__} {self.name!r} capacity={self.capacity}>"


class FIFOQueue(QueueBase):
    """Elements come out in the order they went in (tf.FIFOQueue)."""


class PaddingFIFOQueue(QueueBase):
    """A FIFO queue whose dequeue_many pads each component with zeros to the
    largest shape in the batch (tf.PaddingFIFOQueue); None dims vary."""

    def __init__(
        self,
        capacity: int,
        dtypes: Any,
        shapes: Any,
        names=None,
        shared_name=None,
        name: str = "padding_fifo_queue",
    ):
        super().__init__(capacity, dtypes, shapes, names, shared_name, name)

    def _combine(self, items: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
        out = []
        for i in range(len(self.dtypes)):
            parts = [np.asarray(it[i]) for it in items]
            top = np.max([p.shape for p in parts], axis=0) if parts[0].ndim else ()
            batch = np.zeros((len(parts), *top), dtype=parts[0].dtype)
            for j, p in enumerate(parts):
                batch[(j, *[slice(0, d) for d in p.shape])] = p
            out.append(batch)
        return out


class RandomShuffleQueue(QueueBase):
    """Elements come out in random order; a dequeue waits until more than
    `min_after_dequeue` remain, unless the queue is closed (tf.RandomShuffleQueue)."""

    def __init__(
        self,
        capacity: int,
        min_after_dequeue: int,
        dtypes: Any,
        shapes: Any = None,
        names: Sequence[str] | None = None,
        seed: int | None = None,
        shared_name: str | None = None,
        name: str = "random_shuffle_queue",
    ):
        super().__init__(capacity, dtypes, shapes, names, shared_name, name)
        self.min_after_dequeue = int(min_after_dequeue)
        self.seed = seed if seed is not None else self.graph.next_seed()

    def _make_rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def _ready(self, state: _State, want: int) -> bool:
        return len(state.items) >= want + self.min_after_dequeue

    def _pop(self, state: _State) -> tuple[np.ndarray, ...]:
        return state.items.pop(int(state.rng.integers(len(state.items))))


# ------------------------------------------------------------------ host ops


class _Enqueue(_HostOp):
    def __init__(self, queue: QueueBase, tensors: list[Tensor], many: bool):
        self.queue, self.inputs, self.many = queue, tensors, many

    def after(self, session: Any, values: list[np.ndarray]) -> None:
        arrays = [np.asarray(v) for v in values]
        if self.many:
            lengths = {len(a) for a in arrays}
            if len(lengths) != 1:
                raise GraphError(
                    f"{self.queue.name}: enqueue_many components have different lengths {lengths}"
                )
            items = [tuple(a[i] for a in arrays) for i in range(lengths.pop())]
        else:
            items = [tuple(arrays)]
        self.queue._put(session, items)


class _Dequeue(_HostOp):
    def __init__(self, queue: QueueBase, outputs: list[Tensor], n: int | None, up_to: bool):
        self.queue, self.outputs, self.n, self.up_to = queue, outputs, n, up_to

    def feed(self, session: Any) -> dict[Tensor, np.ndarray]:
        items = self.queue._take(session, self.n, self.up_to)
        if self.n is None:
            values = list(items[0])
        else:
            values = self.queue._combine(items)
        return {t: np.asarray(v, t.dtype.ir.numpy) for t, v in zip(self.outputs, values)}


class _Close(_HostOp):
    def __init__(self, queue: QueueBase, cancel: bool):
        self.queue, self.cancel = queue, cancel

    def after(self, session: Any, values: list[np.ndarray]) -> None:
        state = self.queue._state(session)
        with state.cond:
            state.closed = True
            state.cancelled = state.cancelled or self.cancel
            state.cond.notify_all()


class _Size(_HostOp):
    def __init__(self, queue: QueueBase, out: Tensor):
        self.queue, self.outputs = queue, [out]

    def feed(self, session: Any) -> dict[Tensor, np.ndarray]:
        return {self.outputs[0]: np.asarray(len(self.queue._state(session).items), np.int32)}


class _IsClosed(_Size):
    def feed(self, session: Any) -> dict[Tensor, np.ndarray]:
        return {self.outputs[0]: np.asarray(self.queue._state(session).closed)}


# ------------------------------------------------------------------ coordinator


class Coordinator:
    """Tells threads when to stop and collects their exceptions (tf.train.Coordinator).
    OutOfRangeError (an input's epochs are spent) stops cleanly: join does not
    raise it."""

    def __init__(self, clean_stop_exception_types: Sequence[type] | None = None):
        self._clean = tuple(clean_stop_exception_types or (OutOfRangeError,))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._exc: BaseException | None = None
        self._threads: set[threading.Thread] = set()
        self._joined = False

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def request_stop(self, ex: BaseException | None = None) -> None:
        with self._lock:
            if ex is not None and not isinstance(ex, self._clean) and self._exc is None:
                self._exc = ex
            self._stop.set()

    def clear_stop(self) -> None:
        with self._lock:
            self._stop.clear()
            self._exc = None
            self._joined = False

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        return self._stop.wait(timeout)

    def register_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    @contextmanager
    def stop_on_exception(self):
        try:
            yield
        except BaseException as e:  # reported to the coordinator, as TF does
            self.request_stop(e)

    def join(
        self,
        threads: Sequence[threading.Thread] | None = None,
        stop_grace_period_secs: float = 120,
        ignore_live_threads: bool = False,
    ) -> None:
        """Wait for the threads (and the registered ones), then raise the first
        exception a thread reported to request_stop."""
        with self._lock:
            every = set(self._threads) | set(threads or ())
        for t in every:
            t.join(stop_grace_period_secs)
        self._joined = True
        live = [t.name for t in every if t.is_alive()]
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc
        if live and not ignore_live_threads:
            raise RuntimeError(f"Coordinator stopped with threads still running: {live}")

    @property
    def joined(self) -> bool:
        return self._joined

    def raise_requested_exception(self) -> None:
        if self._exc is not None:
            raise self._exc


class LooperThread(threading.Thread):
    """A thread that calls `target(*args)` until the coordinator stops."""

    def __init__(
        self,
        coord: Coordinator,
        timer_interval_secs: float | None,
        target=None,
        args=None,
        kwargs=None,
    ):
        super().__init__(daemon=True)
        self._coord, self._interval = coord, timer_interval_secs
        self._target_fn, self._args, self._kwargs = target, args or (), kwargs or {}
        coord.register_thread(self)

    def run(self) -> None:
        with self._coord.stop_on_exception():
            while not self._coord.should_stop():
                self._target_fn(*self._args, **self._kwargs)
                if self._interval:
                    self._coord.wait_for_stop(self._interval)


# ------------------------------------------------------------------ queue runner


class QueueRunner:
    """Threads that run enqueue ops into a queue (tf.train.QueueRunner): one
    thread per enqueue op; when each has ended with OutOfRangeError the
    queue is closed, and when the coordinator stops it is closed with its
    pending enqueues cancelled."""

    def __init__(
        self,
        queue: QueueBase | None = None,
        enqueue_ops: Sequence[Operation] | None = None,
        close_op: Operation | None = None,
        cancel_op: Operation | None = None,
        queue_closed_exception_types: Sequence[type] | None = None,
        **_: Any,
    ):
        if queue is None or not enqueue_ops:
            raise GraphError("QueueRunner needs a queue and its enqueue ops")
        self.queue = queue
        self.enqueue_ops = list(enqueue_ops)
        self.close_op = close_op or queue.close()
        self.cancel_op = cancel_op or queue.close(cancel_pending_enqueues=True)
        self._closed_types = tuple(queue_closed_exception_types or (OutOfRangeError,))
        self._lock = threading.Lock()
        self._running: dict[int, int] = {}
        self.exceptions_raised: list[BaseException] = []

    @property
    def name(self) -> str:
        return self.queue.name

    def create_threads(
        self,
        sess: Any,
        coord: Coordinator | None = None,
        daemon: bool = False,
        start: bool = False,
    ) -> list[threading.Thread]:
        with self._lock:
            self._running[id(sess)] = len(self.enqueue_ops)
        threads = [
            threading.Thread(target=self._run, args=(sess, op, coord), daemon=daemon)
            for op in self.enqueue_ops
        ]
        if coord is not None:
            threads.append(
                threading.Thread(target=self._close_on_stop, args=(sess, coord), daemon=daemon)
            )
        for t in threads:
            if coord is not None:
                coord.register_thread(t)
            if start:
                t.start()
        return threads

    def _run(self, sess: Any, enqueue_op: Operation, coord: Coordinator | None) -> None:
        decremented = False
        try:
            while coord is None or not coord.should_stop():
                try:
                    sess.run(enqueue_op)
                except self._closed_types:
                    with self._lock:
                        self._running[id(sess)] -= 1
                        decremented = True
                        last = self._running[id(sess)] == 0
                    if last:
                        self._close(sess, self.close_op)
                    return
        except CancelledError:
            return  # the queue was closed under a blocked enqueue: a normal stop
        except Exception as e:
            if getattr(sess, "_closed", False):
                return
            self.exceptions_raised.append(e)
            if coord is not None:
                coord.request_stop(e)
            else:
                raise
        finally:
            if not decremented:
                with self._lock:
                    self._running[id(sess)] -= 1

    def _close_on_stop(self, sess: Any, coord: Coordinator) -> None:
        coord.wait_for_stop()
        self._close(sess, self.cancel_op)

    def _close(self, sess: Any, op: Operation) -> None:
        try:
            sess.run(op)
        except Exception:  # a closed session: nothing left to close
            pass


def add_queue_runner(qr: QueueRunner, collection: str = QUEUE_RUNNERS) -> None:
    get_default_graph().add_to_collection(collection, qr)


def start_queue_runners(
    sess: Any = None,
    coord: Coordinator | None = None,
    daemon: bool = True,
    start: bool = True,
    collection: str = QUEUE_RUNNERS,
) -> list[threading.Thread]:
    """Start the threads of every queue runner of the graph (tf.train.start_queue_runners)."""
    if sess is None:
        from .graph import get_default_session

        sess = get_default_session()
        if sess is None:
            raise GraphError("start_queue_runners: no session given and no default session")
    threads: list[threading.Thread] = []
    for qr in sess.graph.get_collection(collection):
        threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=start))
    return threads


# ------------------------------------------------------------------ producers


class _EpochEnqueue(_Enqueue):
    """enqueue_many of a whole tensor once per epoch, shuffled if asked; the
    epochs counter is a local variable (as TF's limit_epochs)."""

    def __init__(self, queue, tensor, num_epochs, shuffle, seed, counter):
        super().__init__(queue, [tensor], True)
        self.num_epochs, self.shuffle, self.seed, self.counter = num_epochs, shuffle, seed, counter
        self._lock = threading.Lock()
        self._epochs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def after(self, session: Any, values: list[np.ndarray]) -> None:
        with self._lock:
            if self.counter is not None:
                epoch = int(session.variable_value(self.counter))
                if epoch >= self.num_epochs:
                    raise OutOfRangeError(
                        f"{self.queue.name}: reached the limit of {self.num_epochs} epochs"
                    )
                session.set_variable(self.counter, np.int64(epoch + 1))
            else:
                epoch = self._epochs.get(session, 0)
            self._epochs[session] = epoch + 1
        value = np.asarray(values[0])
        if self.shuffle:
            seed = self.seed if self.seed is not None else 0
            value = value[np.random.default_rng([seed, epoch]).permutation(len(value))]
        super().after(session, [value])


def input_producer(
    input_tensor: Any,
    element_shape: Any = None,
    num_epochs: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    capacity: int = 32,
    shared_name: str | None = None,
    summary_name: str | None = None,
    name: str | None = None,
    cancel_op: Any = None,
) -> QueueBase:
    """A FIFO queue a runner fills with the rows of `input_tensor`, epoch after
    epoch (num_epochs of them, or forever), each epoch shuffled if asked."""
    g = get_default_graph()
    scope = g.unique_name(name or "input_producer")
    t = convert_to_tensor(input_tensor)
    if t.shape.ndims == 0:
        raise GraphError(f"{scope}: the input needs a first axis")
    elem = t.shape.as_list()[1:] if t.shape.ndims is not None else element_shape
    with g.name_scope(scope + "/"):
        counter = None
        if num_epochs is not None:
            counter = local_variable(np.int64(0), name="limit_epochs/epochs", dtype=int64)
        q = FIFOQueue(capacity, [t.dtype], shapes=[elem], name="fifo_queue")
        op = g.create_op("NoOp", [], name="enqueue_many", output_types=[])
    if seed is None:
        seed = g.next_seed()
    _register(op, _EpochEnqueue(q, t, num_epochs, shuffle, seed, counter))
    add_queue_runner(QueueRunner(q, [op]))
    return q


def range_input_producer(
    limit: int, num_epochs=None, shuffle=True, seed=None, capacity=32, shared_name=None, name=None
) -> QueueBase:
    return input_producer(
        np.arange(int(limit), dtype=np.int32),
        [],
        num_epochs,
        shuffle,
        seed,
        capacity,
        name=name or "input_producer",
    )


def string_input_producer(
    string_tensor: Any,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
    cancel_op=None,
):
    """A queue of file names (tf.train.string_input_producer)."""
    return input_producer(
        string_tensor, [], num_epochs, shuffle, seed, capacity, name=name or "input_producer"
    )


def slice_input_producer(
    tensor_list: Sequence[Any],
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
) -> list[Tensor]:
    """One row of every tensor per dequeue, the same row of each
    (tf.train.slice_input_producer): a queue of row indices and a gather."""
    from .array_ops import gather

    tensors = [convert_to_tensor(t) for t in tensor_list]
    if not tensors:
        raise GraphError("slice_input_producer: expected at least one tensor")
    n = tensors[0].shape.as_list()[0] if tensors[0].shape.ndims else None
    if n is None or any(t.shape.ndims is None or t.shape.as_list()[0] != n for t in tensors):
        raise GraphError("slice_input_producer: every tensor needs the same static first dim")
    q = range_input_producer(n, num_epochs, shuffle, seed, capacity, name=name)
    index = q.dequeue()
    return [gather(t, index) for t in tensors]


def _as_list(tensors: Any) -> tuple[list, Callable[[list], Any]]:
    if isinstance(tensors, Mapping):
        keys = list(tensors)
        return [tensors[k] for k in keys], lambda xs: dict(zip(keys, xs))
    if isinstance(tensors, (list, tuple)):  # a list of one gives one tensor, as TF
        return list(tensors), lambda xs: xs[0] if len(xs) == 1 else list(xs)
    return [tensors], lambda xs: xs[0]


def _batch(
    queue_fn,
    tensors_list: list,
    batch_size: int,
    enqueue_many: bool,
    shapes: Any,
    allow_smaller_final_batch: bool,
    num_threads: int,
    dynamic_pad: bool,
    name: str,
):
    g = get_default_graph()
    flats = []
    for tensors in tensors_list:
        flat, pack = _as_list(tensors)
        flats.append([convert_to_tensor(t) for t in flat])
    first = flats[0]
    if shapes is None:
        shapes = [
            (t.shape.as_list()[1:] if enqueue_many else t.shape.as_list())
            if t.shape.ndims is not None
            else None
            for t in first
        ]
    with g.name_scope(g.unique_name(name) + "/"):
        q = queue_fn([t.dtype for t in first], shapes)
        ops = []
        for flat in flats:
            for _ in range(num_threads if len(flats) == 1 else 1):
                ops.append(q.enqueue_many(flat) if enqueue_many else q.enqueue(flat))
        add_queue_runner(QueueRunner(q, ops))
        out = (
            q.dequeue_up_to(batch_size) if allow_smaller_final_batch else q.dequeue_many(batch_size)
        )
    out = out if isinstance(out, list) else [out]
    return pack(out)


def batch(
    tensors: Any,
    batch_size: int,
    num_threads: int = 1,
    capacity: int = 32,
    enqueue_many: bool = False,
    shapes: Any = None,
    dynamic_pad: bool = False,
    allow_smaller_final_batch: bool = False,
    shared_name: str | None = None,
    name: str | None = None,
) -> Any:
    """Batches of `tensors` from a FIFO queue a runner fills (tf.train.batch)."""

    def make(dtypes, shp):
        cls = PaddingFIFOQueue if dynamic_pad else FIFOQueue
        return cls(capacity, dtypes, shapes=shp)

    return _batch(
        make,
        [tensors],
        batch_size,
        enqueue_many,
        shapes,
        allow_smaller_final_batch,
        num_threads,
        dynamic_pad,
        name or "batch",
    )


def batch_join(
    tensors_list: Sequence[Any],
    batch_size: int,
    capacity: int = 32,
    enqueue_many: bool = False,
    shapes: Any = None,
    dynamic_pad: bool = False,
    allow_smaller_final_batch: bool = False,
    shared_name: str | None = None,
    name: str | None = None,
) -> Any:
    """Batches from several lists of tensors, one enqueue thread each (tf.train.batch_join)."""

    def make(dtypes, shp):
        cls = PaddingFIFOQueue if dynamic_pad else FIFOQueue
        return cls(capacity, dtypes, shapes=shp)

    return _batch(
        make,
        list(tensors_list),
        batch_size,
        enqueue_many,
        shapes,
        allow_smaller_final_batch,
        1,
        dynamic_pad,
        name or "batch_join",
    )


def shuffle_batch(
    tensors: Any,
    batch_size: int,
    capacity: int,
    min_after_dequeue: int,
    num_threads: int = 1,
    seed: int | None = None,
    enqueue_many: bool = False,
    shapes: Any = None,
    allow_smaller_final_batch: bool = False,
    shared_name: str | None = None,
    name: str | None = None,
) -> Any:
    """Shuffled batches from a RandomShuffleQueue a runner fills (tf.train.shuffle_batch)."""

    def make(dtypes, shp):
        return RandomShuffleQueue(capacity, min_after_dequeue, dtypes, shapes=shp, seed=seed)

    return _batch(
        make,
        [tensors],
        batch_size,
        enqueue_many,
        shapes,
        allow_smaller_final_batch,
        num_threads,
        False,
        name or "shuffle_batch",
    )


def shuffle_batch_join(
    tensors_list: Sequence[Any],
    batch_size: int,
    capacity: int,
    min_after_dequeue: int,
    seed: int | None = None,
    enqueue_many: bool = False,
    shapes: Any = None,
    allow_smaller_final_batch: bool = False,
    shared_name=None,
    name: str | None = None,
) -> Any:
    def make(dtypes, shp):
        return RandomShuffleQueue(capacity, min_after_dequeue, dtypes, shapes=shp, seed=seed)

    return _batch(
        make,
        list(tensors_list),
        batch_size,
        enqueue_many,
        shapes,
        allow_smaller_final_batch,
        1,
        False,
        name or "shuffle_batch_join",
    )


__all__ = [
    "Coordinator",
    "FIFOQueue",
    "LooperThread",
    "PaddingFIFOQueue",
    "QueueBase",
    "QueueRunner",
    "RandomShuffleQueue",
    "add_queue_runner",
    "batch",
    "batch_join",
    "input_producer",
    "range_input_producer",
    "shuffle_batch",
    "shuffle_batch_join",
    "slice_input_producer",
    "start_queue_runners",
    "string_input_producer",
]
