"""Session: runs parts of a graph (tf.Session).

`run(fetches, feed_dict)` lowers the subgraph the fetches need into one IR
function (lowering.py), compiles it once per (fetches, fed tensors, their
dtypes and ranks) and calls it: the second call compiles nothing, and a new
batch size reuses the same executable (None dims are symbolic). Variable
values live in the session and are replaced by the function's results.

Device selection, the TensorFlow way: `with kl.device("/gpu:0"):` around
building the graph or running it, `Session(device="/gpu:0")`, or
`KILN_DEVICE=gpu`. On the GPU backend variables stay in device memory between
runs; only feeds and fetches cross to and from the host.

What a run needs beyond the graph comes through run hooks, the shape of
TensorFlow's SessionRunHook: a module registers one (`register_run_hook`)
and every run asks each hook, in registration order, for extra fetches and
feeds (`before_run`) and hands it their values (`after_run`). Summaries
(summary.py) fetch their inputs this way and serialise them; kiln.data's
one-shot iterators feed their next element. So `run` has no special cases
and never calls itself.

Host ops (strings, files, image decoding: frontend/strings.py) never enter
the IR. A run that needs one evaluates the needed host ops on the Python
side first, in graph order: each host op's numeric inputs come from one
compiled call, and its outputs are then fed, like placeholders, to the
compiled function of the remaining numeric fetches (a numeric op that
consumes a host op's number sees a fed value). String values are numpy
object arrays of bytes; a fetched scalar string is `bytes`, as in
TensorFlow. (A numeric input of a host op is thus computed in a call of
its own: side effects there, such as an assign, are not shared with the
final call.)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..runtime.executable import Executable

from .graph import (
    Graph,
    GraphError,
    Operation,
    Tensor,
    executing_eagerly,
    get_default_graph,
    push_default_session,
    remove_default_session,
)
from .lowering import Lowered, lower, needed_ops
from .ops import to_bytes
from .sparse import SparseTensor, SparseTensorValue

# ------------------------------------------------------------------ run hooks


@dataclass
class SessionRunArgs:
    """What a hook adds to a run (tf.train.SessionRunArgs): tensors to fetch in
    the same run, feeds, and the fetched elements the hook computes itself
    from those (`provides`: the run leaves them out and `after_run` gives
    their values)."""

    fetches: Sequence[Tensor | Operation] = ()
    feed_dict: Mapping[Tensor, Any] = field(default_factory=dict)
    provides: Sequence[Tensor | Operation] = ()


@dataclass
class SessionRunContext:
    """One run as hooks see it: the session, what is fetched so far (the
    caller's fetches, then each earlier hook's) and what is fed."""

    session: Session
    fetches: list[Tensor | Operation]
    feeds: dict[Tensor, np.ndarray]

    @property
    def graph(self) -> Graph:
        return self.session.graph


@dataclass
class SessionRunValues:
    """The values of a run, by fetched element (tf.train.SessionRunValues's
    `results`); a hook puts the values of the elements it provides here."""

    results: dict[Any, Any]


class SessionRunHook:
    """A hook every Session.run calls (tf.train.SessionRunHook's shape)."""

    def before_run(self, context: SessionRunContext) -> SessionRunArgs | None:
        """Extra fetches and feeds for this run, or None."""
        return None

    def after_run(self, context: SessionRunContext, values: SessionRunValues) -> None:
        """Called after the run with every fetched value (only if before_run asked)."""


_RUN_HOOKS: list[SessionRunHook] = []


def register_run_hook(hook: SessionRunHook) -> SessionRunHook:
    """Make every Session.run call `hook` (after the hooks registered before it)."""
    if hook not in _RUN_HOOKS:
        _RUN_HOOKS.append(hook)
    return hook


class Session:
    """Runs graph fragments; holds variable values between runs."""

    def __init__(
        self,
        target: str = "",
        graph: Graph | None = None,
        config: Any = None,
        backend: str | None = None,
        device: str | None = None,
    ):
        self.graph = graph or get_default_graph()
        self.backend = backend
        # the device asked for: this argument, else a kl.device scope around the
        # Session or its graph's construction (checked again at each run)
        self.device = device or _current_device() or self.graph.device
        self._values: dict[Operation, np.ndarray] = {}
        self._cache: dict[tuple, tuple[Lowered, Executable]] = {}
        self._compile_lock = threading.Lock()
        self._variables = _VariableLocks()
        self._closed = False
        self._default_ctx: list = []
        self.compiles = 0  # how many executables this session built (tests read it)

    # ------------------------------------------------------------ context
    def __enter__(self) -> Session:
        push_default_session(self)
        ctx = self.graph.as_default()
        ctx.__enter__()
        self._default_ctx.append(ctx)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._default_ctx.pop().__exit__(*exc)
        remove_default_session(self)
        self.close()

    def as_default(self):
        session = self

        class _Default:
            def __enter__(self_inner):
                push_default_session(session)
                return session

            def __exit__(self_inner, *exc):
                remove_default_session(session)

        return _Default()

    @property
    def graph_def(self) -> Any:
        """The session's graph as a GraphDef (tf.Session.graph_def; graph_def.py)."""
        return self.graph.as_graph_def()

    def close(self) -> None:
        self._closed = True
        self._values.clear()
        self._cache.clear()

    # ------------------------------------------------------------ running
    def run(
        self,
        fetches: Any,
        feed_dict: Mapping | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Values of `fetches` (a tensor, an op, or nested lists/tuples/dicts of
        them): numpy arrays in the same structure, None for ops."""
        if self._closed:
            raise GraphError("attempted to use a closed Session")
        leaves: list[Tensor | Operation] = []
        structure = self._flatten(fetches, leaves)
        context = SessionRunContext(self, list(dict.fromkeys(leaves)), self._feeds(feed_dict or {}))
        asked: list[SessionRunHook] = []
        provided: set = set()
        for hook in _RUN_HOOKS:
            args = hook.before_run(context)
            if args is None:
                continue
            asked.append(hook)
            provided.update(args.provides)
            for f in map(self._element, args.fetches):
                if f not in context.fetches:
                    context.fetches.append(f)
            context.feeds.update(self._feeds(args.feed_dict))
        wanted = [x for x in context.fetches if x not in provided]
        values = self._run(wanted, context.feeds) if wanted else {}
        if asked:
            run_values = SessionRunValues(values)
            for hook in asked:
                hook.after_run(context, run_values)
        return self._rebuild(structure, values)

    def _run(self, fetches: list[Tensor | Operation], feeds: dict[Tensor, np.ndarray]) -> dict:
        """The values of `fetches` by element: host ops first, then one compiled call."""
        host = _host_ops(self.graph, fetches, feeds)
        if not host and not any(t.dtype.is_string for t in feeds):
            return self._call(fetches, feeds)
        feeds = dict(feeds)
        for op in host:
            missing = [t for t in op.inputs if t not in feeds]
            if missing:
                feeds.update(self._call(missing, _numeric(feeds)))
            try:
                outs = op.host_fn(*[feeds[t] for t in op.inputs])
            except GraphError:
                raise
            except (OSError, ValueError, TypeError, UnicodeError) as e:
                raise GraphError(f"{op.name} ({op.type}): {e}") from None
            for t, v in zip(op.outputs, outs):
                feeds[t] = _host_value(t, v)
        rest = [f for f in fetches if not (isinstance(f, Tensor) and f in feeds)]
        rest = [f for f in rest if not (isinstance(f, Operation) and f.host_fn is not None)]
        values = self._call(rest, _numeric(feeds)) if rest else {}
        for f in fetches:
            if f not in values:
                values[f] = _fetched(feeds[f]) if isinstance(f, Tensor) else None
        return values

    def _call(self, fetches: list[Tensor | Operation], feeds: dict[Tensor, np.ndarray]) -> dict:
        """One call of the compiled function for `fetches`: their values by element."""
        backend = self._backend()
        key = (
            tuple(id(x) for x in fetches),
            tuple((id(t), v.dtype.str, v.ndim) for t, v in feeds.items()),
            backend,
        )
        if key not in self._cache:
            with self._compile_lock:  # threads asking for the same fetches compile once
                if key not in self._cache:
                    lowered = lower(self.graph, fetches, feeds)
                    from ..runtime.executable import Executable  # lazy: import kiln stays light

                    built = Executable(lowered.module, lowered.name, backend)
                    self._cache[key] = (lowered, built)
                    self.compiles += 1
        lowered, executable = self._cache[key]
        # the variables this run updates (in place: their buffers are donated) are
        # its alone until their new values are stored; those it only reads are
        # shared with other readers (docs/reliability.md)
        with self._variables.hold(lowered.reads, lowered.writes):
            for var in lowered.reads:
                if var not in self._values:
                    raise GraphError(
                        f"attempting to use uninitialized value {var.name} "
                        "(run kl.global_variables_initializer() first)"
                    )
            args = [feeds[t] for t in lowered.feeds] + [self._values[v] for v in lowered.reads]
            outputs = executable.run_resident(*args)  # variables may stay on the device
            n_fetched = sum(isinstance(f, Tensor) for f in lowered.fetches)
            for var, value in zip(lowered.writes, outputs[n_fetched:]):
                self._values[var] = value
        values: dict[Any, Any] = {}
        it = iter(outputs[:n_fetched])
        for f in lowered.fetches:
            values[f] = np.asarray(next(it)) if isinstance(f, Tensor) else None
        return values

    def _backend(self) -> str | None:
        """The backend this run asks for: `backend=`, else the device's."""
        if self.backend is not None:
            return self.backend
        device = _current_device() or self.device
        return _device_backend(device) if device else None

    @property
    def backends(self) -> dict[str, int]:
        """How many of this session's executables run on each backend."""
        counts: dict[str, int] = {}
        for _, executable in self._cache.values():
            counts[executable.backend] = counts.get(executable.backend, 0) + 1
        return counts

    def set_variable(self, var: Any, value: Any) -> None:
        """Set a variable's value directly (Variable.load, Saver.restore)."""
        array = np.asarray(value, dtype=var.dtype.ir.numpy)
        if list(array.shape) != var.shape.as_list():
            raise GraphError(
                f"cannot load a value of shape {list(array.shape)} into "
                f"{var.name}, of shape {var.shape.as_list()}"
            )
        self._values[var.op] = array.copy()

    def variable_value(self, var: Any) -> np.ndarray:
        try:
            return np.asarray(self._values[var.op])  # a device value is copied down
        except KeyError:
            raise GraphError(f"attempting to use uninitialized value {var.op.name}") from None

    # ------------------------------------------------------------ structure
    def _element(self, x: Any) -> Tensor | Operation:
        if hasattr(x, "_as_tensor"):
            x = x._as_tensor()
        return self.graph.as_graph_element(x)

    def _flatten(self, fetches: Any, leaves: list) -> Any:
        if isinstance(fetches, Mapping):
            return (type(fetches), {k: self._flatten(v, leaves) for k, v in fetches.items()})
        if isinstance(fetches, (list, tuple)):
            items = [self._flatten(v, leaves) for v in fetches]
            return (type(fetches), items)
        if isinstance(fetches, SparseTensor):  # a SparseTensorValue of its three parts
            parts = (fetches.indices, fetches.values, fetches.dense_shape)
            return (SparseTensorValue, [self._flatten(t, leaves) for t in parts])
        leaves.append(self._element(fetches))
        return leaves[-1]

    def _rebuild(self, structure: Any, values: dict) -> Any:
        if isinstance(structure, tuple) and len(structure) == 2 and isinstance(structure[0], type):
            kind, items = structure
            if isinstance(items, dict):
                return (
                    kind({k: self._rebuild(v, values) for k, v in items.items()})
                    if kind is not dict
                    else {k: self._rebuild(v, values) for k, v in items.items()}
                )
            rebuilt = [self._rebuild(v, values) for v in items]
            if kind is list:
                return rebuilt
            if hasattr(kind, "_fields"):  # a namedtuple
                return kind(*rebuilt)
            return kind(rebuilt)
        return _scalar(values[structure])

    def _feeds(self, feed_dict: Mapping) -> dict[Tensor, np.ndarray]:
        feeds: dict[Tensor, np.ndarray] = {}
        for key, value in _flat_feeds(feed_dict.items()):
            t = self._element(key)
            if not isinstance(t, Tensor):
                raise GraphError(f"cannot feed {t.name}: it is an operation, not a tensor")
            if t in feeds:
                raise GraphError(f"{t.name!r} is fed twice in one feed_dict (as {key!r} too)")
            feeds[t] = _feed_value(t, value)
        return feeds


def _flat_feeds(items) -> Iterator[tuple[Any, Any]]:
    """feed_dict's (key, value) pairs with tuple keys (an LSTMStateTuple, nested tuples of
    placeholders) paired element by element with their values, as TF's Session does."""
    for key, value in items:
        if isinstance(key, SparseTensor):  # a sparse_placeholder: its three parts
            key = (key.indices, key.values, key.dense_shape)
        if isinstance(key, tuple):
            if len(value) != len(key):
                raise GraphError(
                    f"a feed key of {len(key)} tensors was given a value of {len(value)} parts"
                )
            yield from _flat_feeds(zip(key, value))
        else:
            yield key, value


def _host_ops(graph: Graph, fetches: list, feeds: dict) -> list[Operation]:
    """The host ops the fetches need, in graph order."""
    needed = needed_ops(fetches, set(feeds))
    if not any(op.host_fn is not None for op in needed):
        return []
    return [op for op in graph.get_operations() if op in needed and op.host_fn is not None]


def _numeric(feeds: dict[Tensor, np.ndarray]) -> dict[Tensor, np.ndarray]:
    """The feeds a compiled function takes: strings stay on the host."""
    return {t: v for t, v in feeds.items() if not t.dtype.is_string}


def _host_value(t: Tensor, value: Any) -> np.ndarray:
    """A host op's output as the array its tensor's dtype holds."""
    if t.dtype.is_string:
        return to_bytes(value, t.name)
    return np.asarray(value, dtype=t.dtype.ir.numpy)


def _scalar(value: Any) -> Any:
    """A fetched 0-d numeric array as the numpy scalar TF's Session returns (np.float32:
    round() and float formatting work on it as on a Python number)."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype != object:
        return value[()]
    return value


def _fetched(value: np.ndarray) -> Any:
    """A fetched value as TensorFlow returns it: a scalar string is bytes."""
    if value.dtype == object and value.ndim == 0:
        return value.item()
    return value


class _VariableLocks:
    """Readers-writer locking per variable, the way TF's resource variables
    serialise updates: a run that writes a variable waits until no other run
    reads or writes it; runs that only read a variable share it. A run takes
    all its variables at once (never one by one), so two runs cannot deadlock."""

    def __init__(self):
        self._changed = threading.Condition()
        self._readers: dict[Any, int] = {}
        self._writers: set = set()

    @contextlib.contextmanager
    def hold(self, reads: Sequence, writes: Sequence):
        writes = set(writes)
        reads = set(reads) - writes
        if not reads and not writes:
            yield
            return
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    not any(v in self._writers for v in (*reads, *writes))
                    and not any(self._readers.get(v) for v in writes)
                )
            )
            self._writers |= writes
            for v in reads:
                self._readers[v] = self._readers.get(v, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self._writers -= writes
                for v in reads:
                    self._readers[v] -= 1
                self._changed.notify_all()


def _feed_value(t: Tensor, value: Any) -> np.ndarray:
    """`value` as an array of `t`'s dtype, checked against its static shape."""
    if t.dtype.is_string:
        array = to_bytes(value, f"feeding {t.name}")
        _check_fed_shape(t, array)
        return array
    want = t.dtype.ir.numpy
    try:
        array = np.asarray(value)
    except ValueError:  # a ragged nested list (numpy >= 1.24 refuses it)
        raise GraphError(
            f"cannot feed a ragged list to {t.name!r} (shape {t.shape}): its "
            "rows have different lengths"
        ) from None
    if array.dtype == object or array.dtype.kind in "USV":
        raise GraphError(
            f"cannot feed {_short(value)} to {t.name!r} ({t.dtype.name}, shape "
            f"{t.shape}): kiln feeds numbers and booleans, not "
            f"{'strings' if array.dtype.kind in 'US' else 'these objects'}"
        )
    if array.dtype.kind == "c" and np.dtype(want).kind != "c":
        raise GraphError(
            f"cannot feed complex values to {t.name!r} ({t.dtype.name}): the imaginary "
            "part would be lost"
        )
    if np.dtype(want).kind in "iu" and array.dtype.kind in "iuf" and array.size:
        if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
            raise GraphError(f"cannot feed non-integer values to {t.name} ({t.dtype.name})")
        # compare as Python ints: numpy would wrap 2**40+5 to 5 and 3e9 to -2**31
        lo, hi = int(array.min()), int(array.max())
        info = np.iinfo(want)
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise GraphError(
                f"cannot feed {bad} to {t.name!r} ({t.dtype.name}): it holds {info.min}..{info.max}"
            )
    array = np.array(array, dtype=want, order="C", copy=None)  # ascontiguousarray makes 0-d 1-d
    _check_fed_shape(t, array)
    return array


def _check_fed_shape(t: Tensor, array: np.ndarray) -> None:
    dims = t.shape.dims
    if dims is not None and (
        len(dims) != array.ndim or any(d is not None and d != n for d, n in zip(dims, array.shape))
    ):
        raise GraphError(
            f"cannot feed value of shape {array.shape} for tensor {t.name!r}, "
            f"which has shape {t.shape}"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ devices

_devices = threading.local()


def _current_device() -> str | None:
    stack = getattr(_devices, "stack", None)
    return stack[-1] if stack else None


def _device_backend(device: str) -> str | None:
    """ "/gpu:0", "/device:GPU:0", "gpu", "cuda" -> "gpu"; "/cpu:0" -> None (the default)."""
    name = device.lower()
    if "gpu" in name or "cuda" in name:
        return "gpu"
    if "cpu" in name:
        return None
    raise GraphError(f"unknown device {device!r} (kiln has /cpu:0 and /gpu:0)")


@contextlib.contextmanager
def device(device_name: Any) -> Iterator[None]:
    """`with kl.device("/gpu:0"):` (tf.device): sessions created or run inside,
    and sessions of a graph built inside, use that device. kiln places whole
    functions, not single ops: a GPU scope anywhere in a graph's construction
    sends its sessions' runs to the GPU (with a warning and the CPU when there
    is none). Every op built inside gets the name as its `device` (the
    innermost scope's), or, for a device function (`op -> name`, as TF-1.x
    multi-tower programs pass), what the function returns for it."""
    chooser = device_name if callable(device_name) else None
    name = None if chooser else device_name
    if name:
        _device_backend(name)  # a clear error for a bad name
    stack = getattr(_devices, "stack", None)
    if stack is None:
        stack = _devices.stack = []
    stack.append(name or None)
    graph = get_default_graph()
    first = len(graph.get_operations()) if not executing_eagerly() else None
    if name and _device_backend(name) == "gpu":
        graph.device = name
    try:
        yield
    finally:
        stack.pop()
        if first is not None:
            _place(graph, graph.get_operations()[first:], name, chooser)


def _place(graph: Graph, ops: Sequence[Operation], name: str | None, chooser: Any) -> None:
    for op in ops:
        if op.device:  # an inner scope placed it
            continue
        where = chooser(op) if chooser else name
        if not where:
            continue
        if not isinstance(where, str):
            raise GraphError(
                f"kl.device: the device function returned {where!r} for op {op.name}; "
                "expected a device name such as '/cpu:0'"
            )
        op.device = where
        if _device_backend(where) == "gpu":
            graph.device = where


# ------------------------------------------------------------------ default session


class InteractiveSession(Session):
    """A session that makes itself the default on creation (tf.InteractiveSession)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        push_default_session(self)

    def close(self) -> None:
        remove_default_session(self)
        super().close()
