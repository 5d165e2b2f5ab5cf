"""tf.train.MonitoredTrainingSession and its hooks, TensorFlow 1.x's training
loop: `while not sess.should_stop(): sess.run(train_op)`.

A MonitoredSession wraps a Session: it initialises the variables (or
restores the newest checkpoint of `checkpoint_dir`), starts the queue
runners, and around every run asks each hook for extra fetches and feeds
(`before_run`) and gives it their values (`after_run`); a hook stops the
loop with `run_context.request_stop()`. An OutOfRangeError from an input
pipeline ends the loop too, and leaving the `with` block runs each hook's
`end` and closes the session, as in TensorFlow.

The hooks are TensorFlow's: StopAtStepHook, CheckpointSaverHook,
SummarySaverHook, LoggingTensorHook, NanTensorHook, FeedFnHook,
StepCounterHook (counts, logs nothing) and FinalOpsHook. These hook
objects and their SessionRunArgs are TensorFlow's public API; the
session-wide run hooks of session.py are kiln's own plumbing.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, NamedTuple

import numpy as np

from .errors import OutOfRangeError
from .graph import GraphError, Tensor, get_default_graph
from .local import local_variables_initializer
from .queues import Coordinator, start_queue_runners
from .saver import Saver, latest_checkpoint
from .session import Session
from .train import get_global_step
from .variables import global_variables_initializer

__all__ = [
    "ChiefSessionCreator",
    "CheckpointSaverHook",
    "FeedFnHook",
    "FinalOpsHook",
    "LoggingTensorHook",
    "MonitoredSession",
    "MonitoredTrainingSession",
    "NanLossDuringTrainingError",
    "NanTensorHook",
    "Scaffold",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunHook",
    "SessionRunValues",
    "SingularMonitoredSession",
    "StepCounterHook",
    "StopAtStepHook",
    "SummarySaverHook",
]

USE_DEFAULT = object()
_log = logging.getLogger("kiln.tf")  # tf.logging's logger (namespaces.py)


class SessionRunArgs(NamedTuple):
    """What a hook adds to one run (tf.train.SessionRunArgs): any fetch structure."""

    fetches: Any
    feed_dict: Any = None
    options: Any = None


class SessionRunValues(NamedTuple):
    """The values of a hook's fetches, in their structure (`results`)."""

    results: Any
    options: Any = None
    run_metadata: Any = None


class SessionRunContext:
    """The run a hook sees (tf.train.SessionRunContext)."""

    def __init__(self, original_args: SessionRunArgs, session: Session):
        self.original_args = original_args
        self.session = session
        self._stop = False

    def request_stop(self) -> None:
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        return self._stop


class SessionRunHook:
    """Base of the hooks (tf.train.SessionRunHook): every method is optional."""

    def begin(self) -> None:
        """Called once before the session is created; the graph may still grow."""

    def after_create_session(self, session: Session, coord: Coordinator) -> None:
        """Called once the variables are initialised or restored."""

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs | None:
        return None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        """Called after each run with the values of before_run's fetches."""

    def end(self, session: Session) -> None:
        """Called when the monitored session closes."""


def _step_tensor() -> Tensor:
    step = get_global_step()
    if step is None:
        raise GraphError(
            "this hook needs a global step: create it with tf.train.get_or_create_global_step() "
            "and pass it to minimize(..., global_step=...)"
        )
    return step


class _Timer:
    """Fires every `steps` steps or every `secs` seconds (TF's SecondOrStepTimer)."""

    def __init__(self, secs: float | None = None, steps: int | None = None):
        if (secs is None) == (steps is None):
            raise GraphError("exactly one of every_secs and every_steps must be given")
        self.secs, self.steps = secs, steps
        self.last_step: int | None = None
        self.last_time = 0.0

    def should_trigger(self, step: int) -> bool:
        if self.last_step is None:
            return True
        if self.steps is not None:
            return step >= self.last_step + self.steps
        return time.time() >= self.last_time + self.secs

    def update(self, step: int) -> None:
        self.last_step, self.last_time = step, time.time()


class StopAtStepHook(SessionRunHook):
    """Requests a stop once the global step reaches `last_step` (or after
    `num_steps` more steps than it had when the session started)."""

    def __init__(self, num_steps: int | None = None, last_step: int | None = None):
        if (num_steps is None) == (last_step is None):
            raise GraphError("StopAtStepHook: give exactly one of num_steps and last_step")
        self._num_steps, self._last_step = num_steps, last_step

    def begin(self) -> None:
        self._step = _step_tensor()

    def after_create_session(self, session, coord) -> None:
        if self._last_step is None:
            self._last_step = int(session.run(self._step)) + int(self._num_steps)

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        # the step read before the train op's increment: +1 is the step after this run,
        # confirmed by reading the variable (a run that does not train does not count)
        if int(run_values.results) + 1 >= self._last_step:
            if int(run_context.session.run(self._step)) >= self._last_step:
                run_context.request_stop()


class CheckpointSaverHook(SessionRunHook):
    """Saves a checkpoint every `save_steps` steps or `save_secs` seconds, and
    at the end, as `checkpoint_dir/model.ckpt-<step>`."""

    def __init__(
        self,
        checkpoint_dir: str,
        save_secs: float | None = None,
        save_steps: int | None = None,
        saver: Saver | None = None,
        checkpoint_basename: str = "model.ckpt",
        scaffold: Any = None,
        listeners: Any = None,
    ):
        self._dir = str(checkpoint_dir)
        self._path = os.path.join(self._dir, checkpoint_basename)
        self._timer = _Timer(secs=save_secs, steps=save_steps)
        self._saver = saver or (scaffold.saver if scaffold is not None else None)
        self._listeners = list(listeners or [])

    def begin(self) -> None:
        self._step = _step_tensor()
        os.makedirs(self._dir, exist_ok=True)

    def _save(self, session: Session, step: int) -> None:
        if self._saver is None:
            self._saver = Saver()
        for listener in self._listeners:
            getattr(listener, "before_save", lambda *a: None)(session, step)
        self._saver.save(session, self._path, global_step=step)
        for listener in self._listeners:
            getattr(listener, "after_save", lambda *a: None)(session, step)
        self._timer.update(step)

    def after_create_session(self, session, coord) -> None:
        self._save(session, int(session.run(self._step)))

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values):
        step = int(run_values.results) + 1
        if self._timer.should_trigger(step):
            self._save(run_context.session, int(run_context.session.run(self._step)))

    def end(self, session) -> None:
        step = int(session.run(self._step))
        if step != self._timer.last_step:
            self._save(session, step)


class SummarySaverHook(SessionRunHook):
    """Writes `summary_op` (default: tf.summary.merge_all()) to an event file in
    `output_dir` every `save_steps` steps or `save_secs` seconds."""

    def __init__(
        self,
        save_steps: int | None = None,
        save_secs: float | None = None,
        output_dir: str | None = None,
        summary_writer: Any = None,
        scaffold: Any = None,
        summary_op: Any = None,
    ):
        self._timer = _Timer(secs=save_secs, steps=save_steps)
        self._dir, self._writer, self._op = output_dir, summary_writer, summary_op

    def begin(self) -> None:
        from . import summary

        if self._op is None:
            self._op = summary.merge_all()
        if self._writer is None and self._dir is not None and self._op is not None:
            self._writer = summary.FileWriter(self._dir, get_default_graph())
        self._step = get_global_step()
        self._count = 0

    def before_run(self, run_context):
        self._due = self._op is not None and self._timer.should_trigger(self._count)
        fetches = {"step": self._step} if self._step is not None else {}
        if self._due:
            fetches["summary"] = self._op
        return SessionRunArgs(fetches) if fetches else None

    def after_run(self, run_context, run_values):
        results = run_values.results or {}
        step = int(results.get("step", self._count))
        if self._due and self._writer is not None:
            self._writer.add_summary(results["summary"], step)
            self._timer.update(self._count)
        self._count += 1

    def end(self, session) -> None:
        if self._writer is not None:
            self._writer.flush()


class StepCounterHook(SessionRunHook):
    """Counts steps per second (TF logs them; kiln keeps the count quiet)."""

    def __init__(self, every_n_steps: int = 100, every_n_secs: Any = None, **_: Any):
        self.steps = 0

    def after_run(self, run_context, run_values):
        self.steps += 1


def _tensor_dict(tensors: Any) -> dict[str, Tensor]:
    graph = get_default_graph()

    def get(t: Any) -> Tensor:
        return graph.get_tensor_by_name(t) if isinstance(t, str) else t

    if isinstance(tensors, dict):
        return {str(k): get(v) for k, v in tensors.items()}
    items = [get(t) for t in (tensors if isinstance(tensors, list | tuple) else [tensors])]
    return {t.name: t for t in items}


class LoggingTensorHook(SessionRunHook):
    """Logs tensors' values ("loss = 0.25, step = 10") at INFO through
    tf.logging every `every_n_iter` runs or `every_n_secs` seconds."""

    def __init__(
        self,
        tensors: Any,
        every_n_iter: int | None = None,
        every_n_secs: float | None = None,
        at_end: bool = False,
        formatter: Any = None,
    ):
        if every_n_iter is None and every_n_secs is None and not at_end:
            raise GraphError("LoggingTensorHook: give every_n_iter, every_n_secs or at_end=True")
        self._spec, self._formatter, self._at_end = tensors, formatter, at_end
        self._timer = (
            _Timer(secs=every_n_secs, steps=every_n_iter)
            if every_n_iter is not None or every_n_secs is not None
            else None
        )

    def begin(self) -> None:
        self._tensors = _tensor_dict(self._spec)
        self._iter = 0

    def _log(self, values: dict[str, Any]) -> None:
        if self._formatter is not None:
            text = self._formatter(values)
        else:
            text = ", ".join(f"{k} = {np.asarray(v)}" for k, v in values.items())
        _log.info(text)

    def before_run(self, run_context):
        self._due = self._timer is not None and self._timer.should_trigger(self._iter)
        return SessionRunArgs(self._tensors) if self._due else None

    def after_run(self, run_context, run_values):
        if self._due:
            self._log(run_values.results)
            self._timer.update(self._iter)
        self._iter += 1

    def end(self, session) -> None:
        if self._at_end:
            self._log(session.run(self._tensors))


class NanLossDuringTrainingError(RuntimeError):
    """The loss became NaN (tf.train.NanLossDuringTrainingError)."""

    def __str__(self) -> str:
        return "NaN loss during training."


class NanTensorHook(SessionRunHook):
    """Stops (raising NanLossDuringTrainingError, or requesting a stop) when
    `loss_tensor` is NaN."""

    def __init__(self, loss_tensor: Any, fail_on_nan_loss: bool = True):
        self._loss, self._fail = loss_tensor, fail_on_nan_loss

    def before_run(self, run_context):
        return SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values):
        if np.isnan(run_values.results).any():
            if self._fail:
                raise NanLossDuringTrainingError
            _log.warning("Model diverged with loss = NaN.")
            run_context.request_stop()


class FeedFnHook(SessionRunHook):
    """Feeds `feed_fn()` (a feed dict) into every run."""

    def __init__(self, feed_fn: Any):
        self._feed_fn = feed_fn

    def before_run(self, run_context):
        return SessionRunArgs(fetches=None, feed_dict=self._feed_fn())


class FinalOpsHook(SessionRunHook):
    """Runs `final_ops` when the session ends; their values in final_ops_values."""

    def __init__(self, final_ops: Any, final_ops_feed_dict: Any = None):
        self._ops, self._feed = final_ops, final_ops_feed_dict
        self.final_ops_values = None

    def end(self, session) -> None:
        if self._ops is not None:
            self.final_ops_values = session.run(self._ops, feed_dict=self._feed)


# ------------------------------------------------------------------ sessions


class Scaffold:
    """What a monitored session initialises with (tf.train.Scaffold): the
    init op (global and local variables by default) and the saver."""

    def __init__(
        self,
        init_op: Any = None,
        init_feed_dict: Any = None,
        init_fn: Any = None,
        ready_op: Any = None,
        ready_for_local_init_op: Any = None,
        local_init_op: Any = None,
        summary_op: Any = None,
        saver: Saver | None = None,
        copy_from_scaffold: Any = None,
    ):
        self.init_op, self.init_feed_dict, self.init_fn = init_op, init_feed_dict, init_fn
        self.local_init_op, self.summary_op, self.saver = local_init_op, summary_op, saver

    def finalize(self) -> Scaffold:
        if self.init_op is None:
            self.init_op = global_variables_initializer()
        if self.local_init_op is None:
            self.local_init_op = local_variables_initializer()
        return self

    @staticmethod
    def get_or_default(arg_name: str, collection_key: str, default_constructor: Any) -> Any:
        items = get_default_graph().get_collection(collection_key)
        return items[0] if items else default_constructor()


class ChiefSessionCreator:
    """Makes the session: restores the newest checkpoint of `checkpoint_dir`
    (or `checkpoint_filename_with_path`) if there is one, else runs the init op."""

    def __init__(
        self,
        scaffold: Scaffold | None = None,
        master: str = "",
        config: Any = None,
        checkpoint_dir: str | None = None,
        checkpoint_filename_with_path: str | None = None,
    ):
        self._scaffold = scaffold or Scaffold()
        self._config = config
        self._dir, self._path = checkpoint_dir, checkpoint_filename_with_path

    def create_session(self) -> Session:
        scaffold = self._scaffold.finalize()
        session = Session(config=self._config)
        path = self._path or (latest_checkpoint(self._dir) if self._dir else None)
        if path:
            (scaffold.saver or Saver()).restore(session, path)
        else:
            session.run(scaffold.init_op, feed_dict=scaffold.init_feed_dict)
            if scaffold.init_fn is not None:
                scaffold.init_fn(scaffold, session)
        session.run(scaffold.local_init_op)
        return session


class MonitoredSession:
    """A session that runs hooks around each run (tf.train.MonitoredSession)."""

    def __init__(
        self,
        session_creator: Any = None,
        hooks: Any = None,
        stop_grace_period_secs: float = 120,
    ):
        self._hooks = list(hooks or [])
        for hook in self._hooks:
            hook.begin()
        self._sess = (session_creator or ChiefSessionCreator()).create_session()
        self._coord = Coordinator()
        self._threads = start_queue_runners(sess=self._sess, coord=self._coord)
        for hook in self._hooks:
            hook.after_create_session(self._sess, self._coord)
        self._stop = False
        self._closed = False

    @property
    def graph(self):
        return self._sess.graph

    def should_stop(self) -> bool:
        return self._stop or self._closed or self._coord.should_stop()

    def run(
        self, fetches: Any, feed_dict: Any = None, options: Any = None, run_metadata: Any = None
    ) -> Any:
        """Run `fetches` with every hook's extra fetches and feeds."""
        if self._closed:
            raise GraphError("run on a closed MonitoredSession")
        context = SessionRunContext(SessionRunArgs(fetches, feed_dict), self._sess)
        asked, feeds = {}, dict(feed_dict or {})
        for i, hook in enumerate(self._hooks):
            args = hook.before_run(context)
            if args is None:
                continue
            asked[i] = args.fetches
            for key, value in (args.feed_dict or {}).items():
                if key in feeds:
                    raise GraphError(f"a hook feeds {key!r}, which is already fed")
                feeds[key] = value
        extra = {i: f for i, f in asked.items() if f is not None}
        try:
            values = self._sess.run([fetches, list(extra.values())], feed_dict=feeds)
        except OutOfRangeError:
            self._stop = True
            raise
        by_hook = dict(zip(extra, values[1]))
        for i, hook in enumerate(
            self._hooks
        ):  # every hook, as TensorFlow (None if it asked nothing)
            hook.after_run(context, SessionRunValues(by_hook.get(i)))
        self._stop = self._stop or context.stop_requested
        return values[0]

    def run_step_fn(self, step_fn: Any) -> Any:
        """step_fn(step_context) with `step_context.session` and `request_stop()`."""
        session = self

        class _StepContext:
            def __init__(self) -> None:
                self.session = session._sess

            def run_with_hooks(self, *args: Any, **kwargs: Any) -> Any:
                return session.run(*args, **kwargs)

            def request_stop(self) -> None:
                session._stop = True

        return step_fn(_StepContext())

    def close(self) -> None:
        if self._closed:
            return
        try:
            for hook in self._hooks:
                hook.end(self._sess)
        finally:
            self._closed = True
            self._coord.request_stop()
            self._coord.join(self._threads, stop_grace_period_secs=5)
            self._sess.close()

    def __enter__(self) -> MonitoredSession:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is OutOfRangeError or exc_type is StopIteration:
            exc_type = None  # the input is spent: a clean end, as in TensorFlow
        if exc_type is None:
            self.close()
            return True
        self._closed = True  # an error: skip the hooks' end, just release the session
        self._coord.request_stop()
        self._sess.close()
        return False


class SingularMonitoredSession(MonitoredSession):
    """A MonitoredSession for one process (tf.train.SingularMonitoredSession)."""

    def __init__(
        self,
        hooks: Any = None,
        scaffold: Scaffold | None = None,
        master: str = "",
        config: Any = None,
        checkpoint_dir: str | None = None,
        stop_grace_period_secs: float = 120,
        checkpoint_filename_with_path: str | None = None,
    ):
        creator = ChiefSessionCreator(
            scaffold, master, config, checkpoint_dir, checkpoint_filename_with_path
        )
        super().__init__(creator, hooks, stop_grace_period_secs)

    def raw_session(self) -> Session:
        return self._sess


def MonitoredTrainingSession(  # noqa: N802  (TensorFlow's name: a function making the session)
    master: str = "",
    is_chief: bool = True,
    checkpoint_dir: str | None = None,
    scaffold: Scaffold | None = None,
    hooks: Any = None,
    chief_only_hooks: Any = None,
    save_checkpoint_secs: Any = USE_DEFAULT,
    save_summaries_steps: Any = USE_DEFAULT,
    save_summaries_secs: Any = USE_DEFAULT,
    config: Any = None,
    stop_grace_period_secs: float = 120,
    log_step_count_steps: int = 100,
    max_wait_secs: float = 7200,
    save_checkpoint_steps: Any = USE_DEFAULT,
    summary_dir: str | None = None,
    save_graph_def: bool = True,
) -> MonitoredSession:
    """A MonitoredSession for training (tf.train.MonitoredTrainingSession): with a
    checkpoint_dir it restores the newest checkpoint there and saves one every
    600 seconds (or save_checkpoint_steps) and at the end, and writes the
    merged summaries every 100 steps; `hooks` run in the order given, after those."""
    scaffold = scaffold or Scaffold()
    all_hooks = []
    if is_chief:
        all_hooks += list(chief_only_hooks or [])
        summary_dir = summary_dir or checkpoint_dir
        if summary_dir is not None:
            steps = 100 if save_summaries_steps is USE_DEFAULT else save_summaries_steps
            secs = None if save_summaries_secs is USE_DEFAULT else save_summaries_secs
            if (steps or secs) and _has_summaries():
                all_hooks.append(
                    SummarySaverHook(
                        save_steps=None if secs else steps, save_secs=secs, output_dir=summary_dir
                    )
                )
        if checkpoint_dir is not None:
            steps = None if save_checkpoint_steps is USE_DEFAULT else save_checkpoint_steps
            secs = None if save_checkpoint_secs is USE_DEFAULT else save_checkpoint_secs
            if steps is None and secs is None and save_checkpoint_secs is USE_DEFAULT:
                secs = 600
            if (steps or secs) and get_global_step() is not None:
                all_hooks.append(
                    CheckpointSaverHook(
                        checkpoint_dir,
                        save_secs=None if steps else secs,
                        save_steps=steps,
                        scaffold=scaffold,
                    )
                )
    all_hooks += list(hooks or [])
    creator = ChiefSessionCreator(scaffold, master, config, checkpoint_dir)
    return MonitoredSession(creator, all_hooks, stop_grace_period_secs)


def _has_summaries() -> bool:
    from . import summary

    return bool(get_default_graph().get_collection(summary.SUMMARIES))
