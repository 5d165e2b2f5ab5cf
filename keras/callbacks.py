"""keras.callbacks: History, EarlyStopping, TensorBoard, LambdaCallback
(training.py) and ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau,
CSVLogger, TerminateOnNaN here."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..frontend.graph import GraphError
from .training import Callback, EarlyStopping, History, LambdaCallback, ProgressBar, TensorBoard


def _better(mode: str, monitor: str) -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise GraphError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.startswith("fmeasure"))):
        return lambda new, best: new > best
    return lambda new, best: new < best


class ModelCheckpoint(Callback):
    """Save the model (or its weights) to `filepath`, which may name the epoch and
    logs ("w.{epoch:02d}-{val_loss:.2f}.h5"): after each epoch, or, with an integer
    `save_freq` as in Keras, after every that many batches (the epoch in the name
    being the one under way); `save_best_only` keeps the best by `monitor`."""

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: Any = "epoch",
        **_: Any,
    ):
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise GraphError(
                f"ModelCheckpoint: save_freq is 'epoch' or a number of batches, not {save_freq!r}"
            )
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq
        self.better = _better(mode, monitor)
        self.best: float | None = None
        self._epoch, self._batches = 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches >= self.save_freq:
            self._batches = 0
            self._save(self._epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _save(self, epoch, logs):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise GraphError(
                    f"ModelCheckpoint: no {self.monitor!r} in the logs ({', '.join(logs)})"
                )
            if self.best is not None and not self.better(value, self.best):
                return
            self.best = value
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")


class LearningRateScheduler(Callback):
    """Set the optimizer's rate to schedule(epoch[, rate]) before each epoch."""

    def __init__(self, schedule: Callable, verbose: int = 0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        current = float(opt.learning_rate)
        try:
            rate = self.schedule(epoch, current)
        except TypeError:
            rate = self.schedule(epoch)
        opt.learning_rate = float(rate)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the rate by `factor` when `monitor` has not improved for
    `patience` epochs (then wait `cooldown` epochs), down to `min_lr`."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        **_: Any,
    ):
        if factor >= 1.0:
            raise GraphError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.verbose, self.min_delta = verbose, float(min_delta)
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
        self.better = _better(mode, monitor)
        self.sign = 1.0 if self.better(1.0, 0.0) else -1.0

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_left = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        opt = self.model.optimizer
        logs["lr"] = float(opt.learning_rate)
        if value is None:
            raise GraphError(
                f"ReduceLROnPlateau: no {self.monitor!r} in the logs ({', '.join(logs)})"
            )
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self.best is None or self.better(value - self.sign * self.min_delta, self.best):
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = float(opt.learning_rate)
            if old > self.min_lr:
                new = max(old * self.factor, self.min_lr)
                opt.learning_rate = new
                if self.verbose:
                    print(
                        f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}."
                    )
                self.cooldown_left, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """One CSV row per epoch: epoch, then the logs in sorted order."""

    def __init__(self, filename: str, separator: str = ",", append: bool = False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename)
        self.file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file, delimiter=self.separator)
        self.keys = None
        self.header_written = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not self.header_written:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *[logs.get(k, "NA") for k in self.keys]])
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
