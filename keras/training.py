"""compile / fit / evaluate / predict, callbacks and the progress bar.

fit's train step is one kl.function: forward, loss, GradientTape gradient,
optimizer update and the batch metrics trace into one IR function compiled
once (the batch dim is symbolic, so a short last batch reuses it).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..data.dataset import Dataset
from ..frontend import optimizers_v2 as optimizers
from ..frontend import summary
from ..frontend.function import function
from ..frontend.graph import GraphError
from ..frontend.ops import add_n, convert_to_tensor
from ..frontend.tape import GradientTape
from . import losses as losses_module
from . import metrics as metrics_module
from .compile_utils import CompiledMetric, LossesContainer, MetricsContainer

# ------------------------------------------------------------------ progress bar


class ProgressBar:
    """Keras's one-line bar, on stdout as Keras prints it: `12/57 [=====>....] - ETA: 3s -
    loss: 0.51`, redrawn in place; the epoch's last line stays with its time per step."""

    def __init__(self, total: int | None, stream: Any = None, width: int = 30):
        self.total, self.width = total, width
        self.stream = stream if stream is not None else sys.stdout
        self.start = time.perf_counter()
        self._last_len = 0

    def update(self, step: int, values: dict[str, float], final: bool = False) -> None:
        elapsed = time.perf_counter() - self.start
        if self.total:
            digits = len(str(self.total))
            done = int(self.width * step / self.total)
            bar = "=" * max(done - 1, 0) + (">" if done < self.width else "=") if done else ""
            head = f"{step:{digits}d}/{self.total} [{bar:<{self.width}}]"
        else:
            head = f"{step}/Unknown"
        if final:
            per = elapsed / max(step, 1)
            tail = f" - {elapsed:.0f}s {per * 1e3:.0f}ms/step"
        else:
            eta = elapsed / max(step, 1) * ((self.total or step) - step)
            tail = f" - ETA: {eta:.0f}s"
        text = head + tail + "".join(f" - {k}: {v:.4f}" for k, v in values.items())
        pad = " " * max(self._last_len - len(text), 0)
        self.stream.write("\r" + text + pad + ("\n" if final else ""))
        self.stream.flush()
        self._last_len = len(text)


# ------------------------------------------------------------------ callbacks


class Callback:
    """Hooks called by fit (keras.callbacks.Callback); `self.model` is set."""

    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class History(Callback):
    """Per-epoch logs: `history.history["loss"]`, ...; fit returns it."""

    def on_train_begin(self, logs=None):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ):
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.sign = -1.0 if mode == "max" or (mode == "auto" and "acc" in monitor) else 1.0
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights, self.stopped_epoch = math.inf, 0, None, 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise GraphError(
                f"EarlyStopping: no {self.monitor!r} in the logs ({', '.join(logs or {})})"
            )
        if self.sign * value < self.best - self.min_delta:
            self.best, self.wait = self.sign * value, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                if self.best_weights is not None:
                    self.model.set_weights(self.best_weights)


class TensorBoard(Callback):
    """fit's logs as TensorBoard scalars, as Keras writes them: `log_dir/train`
    gets `epoch_loss`, `epoch_<metric>` (and `batch_<name>` every
    `update_freq` batches when that is "batch" or an int), `log_dir/validation`
    the `val_` ones; every `histogram_freq` epochs, a histogram per weight."""

    def __init__(
        self,
        log_dir: str = "logs",
        histogram_freq: int = 0,
        update_freq: str | int = "epoch",
        **_: Any,
    ):
        self.log_dir, self.histogram_freq = str(log_dir), int(histogram_freq)
        if update_freq not in ("epoch", "batch") and not isinstance(update_freq, int):
            raise GraphError(
                f"TensorBoard: update_freq must be 'epoch', 'batch' or an int, got {update_freq!r}"
            )
        self.every = (
            1 if update_freq == "batch" else update_freq if isinstance(update_freq, int) else 0
        )
        self.writers: dict = {}
        self.batches = 0

    def _writer(self, which: str):
        if which not in self.writers:
            self.writers[which] = summary.create_file_writer(os.path.join(self.log_dir, which))
        return self.writers[which]

    def _write(self, which: str, values: dict, step: int, prefix: str) -> None:
        with self._writer(which).as_default():
            for name, value in values.items():
                summary.scalar(prefix + name, float(value), step=step)

    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.every and self.batches % self.every == 0:
            self._write("train", logs or {}, self.batches, "batch_")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._write(
            "train", {k: v for k, v in logs.items() if not k.startswith("val_")}, epoch, "epoch_"
        )
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if validation:
            self._write("validation", validation, epoch, "epoch_")
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            with self._writer("train").as_default():
                for v in self.model.weights:
                    summary.histogram(v.name.split(":")[0], v.numpy(), step=epoch)

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


class LambdaCallback(Callback):
    """A callback from functions: on_epoch_begin/end(epoch, logs),
    on_batch_begin/end(batch, logs) (also as on_train_batch_*), on_train_begin/end(logs)."""

    def __init__(self, **hooks: Callable | None):
        aliases = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}
        for name, fn in hooks.items():
            name = aliases.get(name, name)
            if fn is None:
                continue
            if not hasattr(Callback, name):
                raise GraphError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


# ------------------------------------------------------------------ batches


def _batches(x: Any, y: Any, batch_size: int, shuffle: bool, rng: np.random.Generator):
    """(x_batch, y_batch) pairs from arrays or a Dataset of (x, y) batches; a
    Dataset of x only gives (x, None), for a custom train_step(self, data)."""
    if isinstance(x, Dataset):
        for element in x.as_numpy_iterator():
            if isinstance(element, tuple) and len(element) == 2:
                yield element
            elif not isinstance(element, tuple):
                yield element, None
            else:
                raise GraphError("fit/evaluate on a Dataset needs (x, y) or x elements")
        return
    n = _len(x)
    order = rng.permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield _take(x, idx), (None if y is None else _take(y, idx))


def _epochs(x, y, batch_size, shuffle, rng, steps_per_epoch):
    """One iterable of batches per epoch: whole passes, or with steps_per_epoch
    that many batches each, drawn from passes restarted as needed (a repeated
    Dataset runs on across epochs, as in Keras)."""
    if steps_per_epoch is None:
        while True:
            yield _batches(x, y, batch_size, shuffle, rng)
    source = iter(())

    def take(n: int):
        nonlocal source
        restarted = False
        for _ in range(n):
            try:
                yield next(source)
                restarted = False
            except StopIteration:
                if restarted:
                    return
                source, restarted = iter(_batches(x, y, batch_size, shuffle, rng)), True
                try:
                    yield next(source)
                except StopIteration:
                    return

    while True:
        yield take(int(steps_per_epoch))


def _count(x: Any, batch_size: int) -> int | None:
    if isinstance(x, Dataset):
        c = x.cardinality()
        return None if c < 0 else c
    return -(-_len(x) // batch_size)


def _len(x: Any) -> int:
    """The number of examples of an array or of a list/dict of arrays (multi-input)."""
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    if isinstance(x, list):
        return len(x[0])
    return len(x)


def _take(x: Any, idx: np.ndarray) -> Any:
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    if isinstance(x, list):
        return [v[idx] for v in x]
    return x[idx]


def _array(a: Any) -> Any:
    if a is None or isinstance(a, Dataset):
        return a
    if isinstance(a, dict):
        return {k: _array(v) for k, v in a.items()}
    if isinstance(a, (list, tuple)) and a and all(hasattr(v, "shape") for v in a):
        return [_array(v) for v in a]  # one array per model input
    out = np.asarray(a)
    return out.astype(np.float32) if out.dtype == np.float64 else out


def _inputs(x: Any) -> Any:
    """fit/evaluate/predict's x: an array as _array gives it, a 1-D one as a column
    ((n,) -> (n, 1)), as Keras's expand_1d makes it (a Dense(input_shape=(1,)) takes it)."""
    x = _array(x)
    return x[:, None] if isinstance(x, np.ndarray) and x.ndim == 1 else x


# ------------------------------------------------------------------ the mixin


class Trainer:
    """What Model adds for training; assumes `__call__` and `trainable_variables`."""

    optimizer: Any = None
    stop_training = False
    _train_fn = _eval_fn = _predict_fn = None  # kl.functions, made on first use

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        **_: Any,
    ) -> None:
        """Choose the optimizer, loss and metrics (keras Model.compile)."""
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses_module.get(loss) if loss is not None else None
        self._batch_metrics, self._finishers = [], []
        for m in _metric_list(metrics):
            found = metrics_module.compiled(m) if m not in ("accuracy", "acc") else None
            if found is not None:
                name, batch_value, finish = found
                self._batch_metrics.append((name, batch_value))
                self._finishers.append(finish)
            else:
                self._batch_metrics.append(losses_module.metric_fn(m, self.loss))
                self._finishers.append(None)
        self._metric_ids = list(metrics or [])
        # what a custom train_step(self, data) uses (Keras 2's containers)
        self.compiled_loss = LossesContainer(self.loss)
        self.compiled_metrics = MetricsContainer(
            [
                CompiledMetric(name, fn, finish)
                for (name, fn), finish in zip(self._batch_metrics, self._finishers)
            ]
        )
        self._train_fn = self._eval_fn = self._predict_fn = self._weighted_fn = None

    def _no_totals(self) -> list[np.ndarray]:
        return [np.zeros(()) for _ in range(1 + len(self._batch_metrics))]

    def _logs(self, totals: list[np.ndarray], seen: int) -> dict[str, float]:
        """The epoch's logs from batch-size-weighted sums of the batch values (a
        metric's batch value may be a vector of statistics, AUC's confusion counts,
        that its finisher turns into the logged number)."""
        means = [t / max(seen, 1) for t in totals]
        out = {"loss": float(means[0])}
        for (name, _), finish, value in zip(self._batch_metrics, self._finishers, means[1:]):
            if finish is None:
                out[name] = float(value)
            else:
                out[name] = float(np.asarray(finish(value.astype(np.float32))))
        return out

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *[name for name, _ in self._batch_metrics]]

    @property
    def metrics(self) -> list[Any]:
        """The loss tracker and the compiled metrics (Keras's model.metrics), which
        fit resets at each epoch when a custom train_step updates them."""
        if getattr(self, "compiled_loss", None) is None:
            return []
        return [*self.compiled_loss.metrics, *self.compiled_metrics.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_states()

    def _custom(self, step: str) -> bool:
        """Whether a subclass overrides train_step / test_step (Keras's
        `step(self, data)` protocol: returns a dict of logs)."""
        return getattr(type(self), step) is not getattr(Trainer, step)

    def _check_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise GraphError(f"{what}: compile the model first (model.compile(optimizer, loss))")

    def _loss_and_metrics(self, x, y, training: bool, sample_weight=None):
        pred = self(x, training=training)
        loss = self.loss(y, pred) if sample_weight is None else self.loss(y, pred, sample_weight)
        extra = list(getattr(self, "losses", []) or [])
        if extra:
            loss = add_n([loss, *[convert_to_tensor(e) for e in extra]])
        return loss, [fn(y, pred) for _, fn in self._batch_metrics]

    def train_step(self, x, y):
        """One step: forward, gradients, update; returns (loss, metrics)."""
        with GradientTape() as tape:
            loss, metrics = self._loss_and_metrics(x, y, True)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, metrics

    def _weighted_train_step(self, x, y, sample_weight):
        """train_step with per-example loss weights (fit's sample_weight / class_weight)."""
        with GradientTape() as tape:
            loss, metrics = self._loss_and_metrics(x, y, True, sample_weight)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, metrics

    def test_step(self, x, y):
        return self._loss_and_metrics(x, y, False)

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_data: Any = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        seed: int | None = None,
        validation_split: float = 0.0,
        steps_per_epoch: int | None = None,
        sample_weight: Any = None,
        class_weight: dict | None = None,
        **_: Any,
    ) -> History:
        """Train for `epochs` over (x, y) arrays or a Dataset of (x, y) batches,
        with a progress bar on stdout (verbose=1), one line per epoch (2) or
        silence (0). Returns the History."""
        custom = self._custom("train_step")
        if not custom:
            self._check_compiled("fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = batch_size or 32
        x, y = _inputs(x), _array(y)
        if validation_split and validation_data is None:
            if isinstance(x, Dataset):
                raise GraphError("fit: validation_split needs arrays, not a Dataset")
            cut = int(_len(x) * (1.0 - float(validation_split)))
            head, tail = np.arange(cut), np.arange(cut, _len(x))
            validation_data = (_take(x, tail), _take(y, tail))
            x, y = _take(x, head), _take(y, head)
        weights = _example_weights(y, sample_weight, class_weight)
        if weights is not None:
            y = [y, weights]  # batched together; unpacked for the weighted step
            if getattr(self, "_weighted_fn", None) is None:
                self._weighted_fn = function(self._weighted_train_step, name="train_step_w")
        if self._train_fn is None:
            self._train_fn = function(self.train_step, name="train_step")
        history = History()
        cbs = [*(callbacks or []), history]  # History last, as Keras: it sees every log
        for cb in cbs:
            cb.set_model(self)
        self.stop_training = False
        rng = np.random.default_rng(seed)
        for cb in cbs:
            cb.on_train_begin()
        steps = steps_per_epoch or _count(x, batch_size)
        stream = _epochs(x, y, batch_size, shuffle, rng, steps_per_epoch)
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            if verbose == 1:
                sys.stdout.write(f"Epoch {epoch + 1}/{epochs}\n")
            bar = ProgressBar(steps) if verbose else None
            totals = self._no_totals()
            seen = 0
            step = 0
            if custom:
                self.reset_metrics()
                custom_logs: dict[str, float] = {}
            for step, (xb, yb) in enumerate(next(stream), 1):
                for cb in cbs:
                    cb.on_train_batch_begin(step - 1)
                if custom:
                    custom_logs = _logs_of(self._train_fn(xb if yb is None else (xb, yb)))
                    if verbose == 1 and bar is not None:
                        bar.update(step, custom_logs)
                    for cb in cbs:
                        cb.on_train_batch_end(step - 1, custom_logs)
                    continue
                if yb is None:
                    raise GraphError(
                        "fit: the data has no labels (pass y, or a Dataset of (x, y)); "
                        "only a custom train_step(self, data) takes x alone"
                    )
                if weights is not None:
                    loss, metrics = self._weighted_fn(xb, yb[0], yb[1])
                else:
                    loss, metrics = self._train_fn(xb, yb)
                n = _len(xb)
                totals = _add(totals, n, loss, metrics)
                seen += n
                logs = self._logs(totals, seen)
                if verbose == 1 and bar is not None:
                    bar.update(step, logs)
                for cb in cbs:
                    cb.on_train_batch_end(step - 1, logs)
            logs = dict(custom_logs) if custom else self._logs(totals, seen)
            if validation_data is not None:
                values = self.evaluate(
                    *_split_validation(validation_data),
                    batch_size=batch_size,
                    verbose=0,
                    return_dict=True,
                )
                logs.update({f"val_{k}": v for k, v in values.items()})
            if verbose and bar is not None:
                if verbose == 2:
                    sys.stdout.write(f"Epoch {epoch + 1}/{epochs}\n")
                bar.total = bar.total or step
                bar.update(step, logs, final=True)
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        return history

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        return_dict: bool = False,
        **_: Any,
    ) -> Any:
        """The loss and metrics over (x, y), batch-size weighted means."""
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = batch_size or 32
        x, y = _inputs(x), _array(y)
        if self._custom("test_step"):
            return self._evaluate_custom(x, y, batch_size, return_dict)
        self._check_compiled("evaluate")
        if self._eval_fn is None:
            self._eval_fn = function(self.test_step, name="test_step")
        totals = self._no_totals()
        seen = 0
        bar = ProgressBar(_count(x, batch_size)) if verbose else None
        step = 0
        for step, (xb, yb) in enumerate(_batches(x, y, batch_size, False, None), 1):
            if yb is None:
                raise GraphError("evaluate: the data has no labels (pass y, or (x, y) elements)")
            loss, metrics = self._eval_fn(xb, yb)
            totals = _add(totals, _len(xb), loss, metrics)
            seen += _len(xb)
            if bar is not None:
                bar.update(step, self._logs(totals, seen))
        values = self._logs(totals, seen)
        if bar is not None:
            bar.total = bar.total or step
            bar.update(step, values, final=True)
        if return_dict:
            return values
        return values["loss"] if len(values) == 1 else list(values.values())

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        reset_metrics: bool = True,
        return_dict: bool = False,
    ) -> Any:
        """One optimizer step on one batch (keras Model.train_on_batch): the loss,
        or [loss, *metrics] (a dict with return_dict), on that batch."""
        return self._on_batch("train", x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        reset_metrics: bool = True,
        return_dict: bool = False,
    ) -> Any:
        """The loss (and metrics) on one batch, no update (keras Model.test_on_batch)."""
        return self._on_batch("test", x, y, sample_weight, None, return_dict)

    def _on_batch(self, kind, x, y, sample_weight, class_weight, return_dict) -> Any:
        step = f"{kind}_step"
        x, y = _inputs(x), _array(y)
        if self._custom(step):
            attr = "_train_fn" if kind == "train" else "_eval_fn"
            if getattr(self, attr) is None:
                setattr(self, attr, function(getattr(self, step), name=step))
            self.reset_metrics()
            logs = _logs_of(getattr(self, attr)(x if y is None else (x, y)))
        else:
            self._check_compiled(f"{kind}_on_batch")
            if y is None:
                raise GraphError(f"{kind}_on_batch: needs labels y")
            weights = _example_weights(y, sample_weight, class_weight) if kind == "train" else None
            if weights is not None:
                if getattr(self, "_weighted_fn", None) is None:
                    self._weighted_fn = function(self._weighted_train_step, name="train_step_w")
                loss, metrics = self._weighted_fn(x, y, weights)
            elif kind == "train":
                if self._train_fn is None:
                    self._train_fn = function(self.train_step, name="train_step")
                loss, metrics = self._train_fn(x, y)
            else:
                if self._eval_fn is None:
                    self._eval_fn = function(self.test_step, name="test_step")
                loss, metrics = self._eval_fn(x, y)
            n = _len(x)
            logs = self._logs(_add(self._no_totals(), n, loss, metrics), n)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _evaluate_custom(self, x: Any, y: Any, batch_size: int, return_dict: bool) -> Any:
        """evaluate with an overridden test_step(self, data): its last logs."""
        if self._eval_fn is None:
            self._eval_fn = function(self.test_step, name="test_step")
        self.reset_metrics()
        logs: dict[str, float] = {}
        for xb, yb in _batches(x, y, batch_size, False, None):
            logs = _logs_of(self._eval_fn(xb if yb is None else (xb, yb)))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(
        self, x: Any, batch_size: int | None = None, verbose: int | str = 0, **_: Any
    ) -> np.ndarray:
        """The model's outputs over x (arrays or a Dataset), as numpy."""
        batch_size = batch_size or 32
        x = _inputs(x)
        if self._predict_fn is None:
            self._predict_fn = function(lambda xb: self(xb, training=False), name="predict")
        outs = []
        if isinstance(x, Dataset):
            batches = (e[0] if isinstance(e, tuple) else e for e in x.as_numpy_iterator())
        else:
            batches = (
                _take(x, np.arange(i, min(i + batch_size, _len(x))))
                for i in range(0, _len(x), batch_size)
            )
        for xb in batches:
            outs.append(np.asarray(self._predict_fn(xb)))
        return np.concatenate(outs) if outs else np.zeros((0,))

    def predict_on_batch(self, x: Any) -> np.ndarray:
        return self.predict(x, batch_size=_len(_array(x)))


def _example_weights(y: Any, sample_weight: Any, class_weight: dict | None) -> Any:
    """One float32 loss weight per example from fit's sample_weight and/or
    class_weight ({class: weight}, looked up by the integer label or the
    argmax of a one-hot one), or None when neither is given."""
    if sample_weight is None and class_weight is None:
        return None
    if isinstance(y, (Dataset, list, dict)) or y is None:
        raise GraphError("fit: sample_weight/class_weight need one array of labels")
    w = np.ones(len(y), np.float32)
    if sample_weight is not None:
        w = w * np.asarray(sample_weight, np.float32).reshape(len(y))
    if class_weight is not None:
        labels = np.asarray(y)
        labels = (
            labels.argmax(-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels.reshape(-1)
        )
        w = w * np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
    return w


def _metric_list(metrics: Any) -> list[Any]:
    """compile's metrics: a list, or a dict / nested list per output (flattened:
    kiln's compiled models have one output)."""
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        metrics = list(metrics.values())
    out: list[Any] = []
    for m in metrics if isinstance(metrics, (list, tuple)) else [metrics]:
        out.extend(m if isinstance(m, (list, tuple)) else [m])
    return out


def _logs_of(out: Any) -> dict[str, float]:
    """A custom step's return value as logs: a dict of scalars (a bare value is "loss")."""
    if not isinstance(out, dict):
        out = {"loss": out}
    return {str(k): float(np.asarray(v)) for k, v in out.items()}


def _add(totals: list[np.ndarray], n: int, loss: Any, metrics: Sequence[Any]) -> list:
    """totals plus n times this batch's loss and metric values."""
    values = [loss, *metrics]
    return [t + n * np.asarray(v, np.float64) for t, v in zip(totals, values, strict=True)]


def _split_validation(data: Any) -> tuple[Any, Any]:
    if isinstance(data, Dataset):
        return data, None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _array(data[0]), _array(data[1])
    raise GraphError("validation_data: give (x_val, y_val) or a Dataset")
