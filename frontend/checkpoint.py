"""Checkpoint bookkeeping: get_checkpoint_state, checkpoint_exists, and TF 2's
object checkpoints (tf.train.Checkpoint, tf.train.CheckpointManager).

    ckpt = kl.train.Checkpoint(model=model, optimizer=opt, step=step_var)
    manager = kl.train.CheckpointManager(ckpt, "ckpts", max_to_keep=3)
    manager.save()                          # ckpts/ckpt-1.npz
    ckpt.restore(manager.latest_checkpoint)

A Checkpoint saves the eager variables of the objects it is given, by
attribute path (`model/weights/0`, `optimizer/iter`, `step`), in numpy's
npz format beside TF's `checkpoint` record file, which names the newest
checkpoint and every kept one (the Saver writes the same file, so
latest_checkpoint and get_checkpoint_state read both). An optimizer's slot
variables are saved by the name of the variable they belong to; restoring
them before the optimizer has made them makes them (TF's deferred
restoration, for the slots).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import NotFoundError
from .graph import GraphError
from .saver import _atomic_write

RECORD = "checkpoint"


# ------------------------------------------------------------------ the record file


class CheckpointState:
    """What the `checkpoint` file says (TF's CheckpointState proto)."""

    def __init__(self, model_checkpoint_path: str, all_model_checkpoint_paths: Sequence[str]):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)

    def __repr__(self) -> str:
        lines = [f'model_checkpoint_path: "{self.model_checkpoint_path}"']
        lines += [f'all_model_checkpoint_paths: "{p}"' for p in self.all_model_checkpoint_paths]
        return "\n".join(lines)


def _resolve(directory: Path, path: str) -> str:
    return path if Path(path).is_absolute() else str(directory / path)


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None):
    """The CheckpointState of `checkpoint_dir`, or None when it has no record
    file; relative paths come back joined to the directory (as TF's)."""
    directory = Path(checkpoint_dir)
    record = directory / (latest_filename or RECORD)
    if not record.exists():
        return None
    text = record.read_text()
    latest = re.findall(r'^model_checkpoint_path:\s*"(.*)"', text, re.M)
    every = re.findall(r'^all_model_checkpoint_paths:\s*"(.*)"', text, re.M)
    if not latest:
        raise GraphError(f"{record}: no model_checkpoint_path in the checkpoint record")
    paths = [_resolve(directory, p) for p in every] or [_resolve(directory, latest[0])]
    return CheckpointState(_resolve(directory, latest[0]), paths)


def update_checkpoint_state(
    save_dir: str, model_checkpoint_path: str, all_model_checkpoint_paths: Sequence[str] = ()
) -> None:
    """Write the `checkpoint` record (tf.train.update_checkpoint_state)."""
    directory = Path(save_dir)
    directory.mkdir(parents=True, exist_ok=True)

    def rel(p: str) -> str:
        q = Path(p)
        return q.name if q.parent.resolve() == directory.resolve() else str(q)

    every = list(all_model_checkpoint_paths) or [model_checkpoint_path]
    lines = [f'model_checkpoint_path: "{rel(model_checkpoint_path)}"']
    lines += [f'all_model_checkpoint_paths: "{rel(p)}"' for p in every]
    data = ("\n".join(lines) + "\n").encode()
    _atomic_write(directory / RECORD, lambda f: f.write(data))


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """Whether a checkpoint with this path prefix exists (tf.train.checkpoint_exists)."""
    prefix = str(checkpoint_prefix)
    return any(Path(prefix + suffix).exists() for suffix in (".npz", ".index")) or (
        prefix.endswith(".npz") and Path(prefix).exists()
    )


# ------------------------------------------------------------------ object checkpoints


def _is_variable(obj: Any) -> bool:
    return hasattr(obj, "numpy") and hasattr(obj, "assign") and hasattr(obj, "_value")


def _is_optimizer(obj: Any) -> bool:
    return hasattr(obj, "_slots") and hasattr(obj, "iterations") and hasattr(obj, "get_slot")


def _variables_of(name: str, obj: Any, out: dict[str, Any]) -> None:
    """The variables `obj` holds, by checkpoint key, into `out`."""
    if _is_variable(obj):
        out[name] = obj
    elif _is_optimizer(obj):
        out[f"{name}/iter"] = obj.iterations  # its slots: _slots_of, once every owner has a key
    elif isinstance(obj, Checkpoint):
        for key, child in obj._objects.items():
            _variables_of(f"{name}/{key}", child, out)
    elif hasattr(obj, "weights") and not callable(obj.weights):  # a keras layer or model
        for i, var in enumerate(obj.weights):
            out[f"{name}/weights/{i}"] = var
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            _variables_of(f"{name}/{i}", item, out)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            _variables_of(f"{name}/{key}", item, out)
    elif hasattr(obj, "variables"):
        variables = obj.variables() if callable(obj.variables) else obj.variables
        for i, var in enumerate(variables):
            out[f"{name}/variables/{i}"] = var
    else:
        raise GraphError(
            f"Checkpoint: {name}={type(obj).__name__} holds no variables kiln can save "
            "(give variables, keras models or layers, optimizers or checkpoints)"
        )


class _LoadStatus:
    """What restore() did (TF's load status): assert_consumed and friends."""

    def __init__(self, path: str, missing: list[str], unused: list[str]):
        self.path, self.missing, self.unused = path, missing, unused

    def assert_consumed(self) -> _LoadStatus:
        if self.missing or self.unused:
            raise AssertionError(
                f"checkpoint {self.path}: not restored {self.missing}, unused in the file "
                f"{self.unused}"
            )
        return self

    def assert_existing_objects_matched(self) -> _LoadStatus:
        if self.missing:
            raise AssertionError(f"checkpoint {self.path} has no value for {self.missing}")
        return self

    def assert_nontrivial_match(self) -> _LoadStatus:
        return self

    def expect_partial(self) -> _LoadStatus:
        return self

    def run_restore_ops(self, session: Any = None) -> None:
        pass

    def initialize_or_restore(self, session: Any = None) -> None:
        pass


class Checkpoint:
    """Saves and restores the variables of named objects (tf.train.Checkpoint)."""

    def __init__(self, root: Any = None, **objects: Any):
        if root is not None:
            objects["root"] = root
        self._objects = dict(objects)
        self._save_counter = None

    def __getattr__(self, name: str) -> Any:
        objects = self.__dict__.get("_objects", {})
        if name in objects:
            return objects[name]
        raise AttributeError(f"kl.train.Checkpoint has no attribute {name!r}")

    @property
    def save_counter(self):
        """How many times save() has run (an int64 variable, saved with the rest)."""
        if self._save_counter is None:
            from .dtypes import int64
            from .eager import EagerVariable, init_scope

            with init_scope():
                self._save_counter = EagerVariable(
                    0, trainable=False, dtype=int64, name="save_counter"
                )
        return self._save_counter

    def _variables(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, obj in self._objects.items():
            _variables_of(key, obj, out)
        keys = {id(v): k for k, v in out.items()}
        for key, obj in self._objects.items():
            if _is_optimizer(obj):  # a slot by the key of the variable it belongs to
                for (owner, slot), var in obj._slots.items():
                    if owner in keys:
                        out[f"{key}/slot/{keys[owner]}/{slot}"] = var
        out["save_counter"] = self.save_counter
        return out

    def write(self, file_prefix: str, options: Any = None) -> str:
        """Write the checkpoint at exactly `file_prefix` (no counter, no record)."""
        prefix = Path(str(file_prefix))
        prefix.parent.mkdir(parents=True, exist_ok=True)
        values = {k: np.asarray(v.numpy()) for k, v in self._variables().items()}
        keys = {k.replace("/", "__"): k for k in values}
        _atomic_write(
            prefix.with_name(prefix.name + ".npz"),
            lambda f: np.savez(
                f,
                __keys__=np.array(list(keys.values())),
                **{safe: values[k] for safe, k in keys.items()},
            ),
        )
        return str(prefix)

    def save(self, file_prefix: str, options: Any = None) -> str:
        """Write `file_prefix-N` (N counts saves from 1) and name it in the record."""
        counter = self.save_counter
        counter.assign(int(counter.numpy()) + 1)
        path = self.write(f"{file_prefix}-{int(counter.numpy())}")
        directory = str(Path(path).parent)
        state = get_checkpoint_state(directory)
        every = [p for p in (state.all_model_checkpoint_paths if state else []) if p != path]
        update_checkpoint_state(directory, path, [*every, path])
        return path

    def restore(self, save_path: str | None, options: Any = None) -> _LoadStatus:
        """Load the values saved at `save_path` (None: nothing, as TF)."""
        if save_path is None:
            return _LoadStatus("", [], [])
        path = Path(str(save_path) + ".npz")
        if not path.exists():
            raise NotFoundError(f"no checkpoint at {save_path} ({path} does not exist)")
        with np.load(path, allow_pickle=False) as data:
            saved = {str(k): data[str(k).replace("/", "__")] for k in data["__keys__"]}
        variables = self._variables()
        by_key = {k: v for k, v in variables.items() if "/slot/" not in k}
        missing, used = [], set()
        for key, var in variables.items():
            if key in saved:
                _assign(var, saved[key], key, save_path)
                used.add(key)
            elif key != "save_counter":
                missing.append(key)
        for key, value in saved.items():  # slots the optimizer has not made yet
            if key in used or "/slot/" not in key:
                continue
            opt_key, rest = key.split("/slot/", 1)
            owner, slot = rest.rsplit("/", 1)
            opt = self._objects.get(opt_key)
            if opt is not None and _is_optimizer(opt) and owner in by_key:
                _assign(opt.get_slot(by_key[owner], slot), value, key, save_path)
                used.add(key)
        unused = [k for k in saved if k not in used]
        return _LoadStatus(str(save_path), missing, unused)

    read = restore


def _assign(var: Any, value: np.ndarray, key: str, path: Any) -> None:
    if list(value.shape) != var.shape.as_list():
        raise GraphError(
            f"checkpoint {path}: {key} has shape {list(value.shape)}, the object's "
            f"variable {var.shape.as_list()}"
        )
    var.assign(value.astype(var.dtype.ir.numpy))


class CheckpointManager:
    """Numbered saves of a Checkpoint in a directory, keeping the newest
    `max_to_keep` (tf.train.CheckpointManager)."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        directory: str,
        max_to_keep: int | None,
        keep_checkpoint_every_n_hours: float | None = None,
        checkpoint_name: str = "ckpt",
        **_: Any,
    ):
        self._checkpoint = checkpoint
        self.directory = str(directory)
        self.max_to_keep = max_to_keep
        self._prefix = str(Path(directory) / checkpoint_name)
        state = get_checkpoint_state(self.directory)
        self._kept = (
            [p for p in state.all_model_checkpoint_paths if checkpoint_exists(p)] if state else []
        )

    @property
    def checkpoints(self) -> list[str]:
        return list(self._kept)

    @property
    def latest_checkpoint(self) -> str | None:
        return self._kept[-1] if self._kept else None

    @property
    def checkpoint(self) -> Checkpoint:
        return self._checkpoint

    def save(self, checkpoint_number: Any = None, check_interval: bool = True) -> str:
        ckpt = self._checkpoint
        if checkpoint_number is None:
            counter = ckpt.save_counter
            counter.assign(int(counter.numpy()) + 1)
            number = int(counter.numpy())
        else:
            number = int(
                np.asarray(getattr(checkpoint_number, "numpy", lambda: checkpoint_number)())
            )
            ckpt.save_counter.assign(int(ckpt.save_counter.numpy()) + 1)
        path = ckpt.write(f"{self._prefix}-{number}")
        self._kept = [p for p in self._kept if p != path] + [path]
        while self.max_to_keep is not None and len(self._kept) > self.max_to_keep:
            Path(self._kept.pop(0) + ".npz").unlink(missing_ok=True)
        update_checkpoint_state(self.directory, path, self._kept)
        return path

    def restore_or_initialize(self) -> str | None:
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
        return self.latest_checkpoint


__all__ = [
    "Checkpoint",
    "CheckpointManager",
    "CheckpointState",
    "checkpoint_exists",
    "get_checkpoint_state",
    "update_checkpoint_state",
]
