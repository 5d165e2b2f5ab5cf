"""Checkpoints: kl.train.Saver, import_meta_graph, latest_checkpoint.

`saver.save(sess, "dir/model", global_step=7)` writes

    dir/model-7.npz       the variables' values, by name (numpy's format)
    dir/model-7.meta      the graph: ops, names, attributes, collections (JSON)
    dir/checkpoint        the newest checkpoint's path (as TensorFlow keeps it)

and returns "dir/model-7". Each file is written to a temporary name and
renamed into place, so a crash while saving leaves the old checkpoint
whole, never a mix; the temporary files a killed save left are removed by
the next save to that directory (a writer holds a lock on its own while
writing, so a live one is never touched). `checkpoint` also lists every
kept checkpoint (`all_model_checkpoint_paths`, as TensorFlow's), so
`max_to_keep` counts the complete checkpoints of earlier processes too.
`restore` checks every variable is present with its shape and dtype and
names the first that is not; an unreadable or corrupted file is a
GraphError naming it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ir import Dense, KilnError, TensorType
from ..ir import DType as IRType
from .dtypes import DType, as_dtype
from .graph import Graph, GraphError, TensorShape, get_default_graph
from .variables import GLOBAL_VARIABLES, GraphVariable, Variable, global_variables

FORMAT = "kiln-meta-graph-1"


class Saver:
    """Saves and restores variables (tf.train.Saver): `var_list` is a list of
    variables or a dict checkpoint name -> variable; default: all of them."""

    def __init__(
        self,
        var_list: Sequence[Variable] | dict[str, Variable] | None = None,
        max_to_keep: int = 5,
        **_: Any,
    ):
        if var_list is None:
            var_list = global_variables()
            if not var_list:
                raise GraphError("Saver: there are no variables to save")
        if isinstance(var_list, dict):
            self.variables = dict(var_list)
        else:
            self.variables = {v.op.name: v for v in var_list}
        self.max_to_keep = max_to_keep
        self._kept: list[str] = []

    def save(
        self,
        sess: Any,
        save_path: str,
        global_step: Any = None,
        write_meta_graph: bool = True,
        **_: Any,
    ) -> str:
        """Write the checkpoint; returns its path prefix."""
        if global_step is not None:
            step = (
                global_step
                if isinstance(global_step, (int, np.integer))
                else int(sess.run(global_step))
            )
            save_path = f"{save_path}-{int(step)}"
        prefix = Path(save_path)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        _remove_debris(prefix.parent)
        values = {name: sess.variable_value(v) for name, v in self.variables.items()}
        _atomic_write(prefix.with_name(prefix.name + ".npz"), lambda f: np.savez(f, **values))
        if write_meta_graph:
            names = {v.op: name for name, v in self.variables.items()}
            meta = json.dumps(export_graph(sess.graph, names)).encode()
            _atomic_write(prefix.with_name(prefix.name + ".meta"), lambda f: f.write(meta))
        # the complete checkpoints kept so far (by any process), oldest first
        kept = [
            n
            for n in _kept_names(prefix.parent)
            if n != prefix.name and (prefix.parent / f"{n}.npz").exists()
        ]
        kept.append(prefix.name)
        dropped = kept[: -self.max_to_keep] if self.max_to_keep else []
        kept = kept[len(dropped) :]
        record = f'model_checkpoint_path: "{prefix.name}"\n' + "".join(
            f'all_model_checkpoint_paths: "{n}"\n' for n in kept
        )
        _atomic_write(prefix.parent / "checkpoint", lambda f: f.write(record.encode()))
        if self.max_to_keep and global_step is not None:
            # a save killed after writing its data but before the record, or after the
            # record but before deleting what it dropped, left files no record lists
            base = prefix.name[: prefix.name.rindex("-")]
            dropped += _unlisted_steps(prefix.parent, base, set(kept))
        for old in dropped:
            for suffix in (".npz", ".meta"):
                (prefix.parent / f"{old}{suffix}").unlink(missing_ok=True)
        self._kept = [str(prefix.parent / n) for n in kept]
        return str(prefix)

    def restore(self, sess: Any, save_path: str) -> None:
        """Load every variable of this saver from `save_path` into `sess`."""
        values = _read_checkpoint(save_path, list(self.variables))
        for name, var in self.variables.items():  # all checked before any is loaded
            _check_value(save_path, name, values[name], var.shape.as_list(), var.dtype)
        for name, var in self.variables.items():
            sess.set_variable(var, values[name])


def _read_checkpoint(save_path: str, names: list[str]) -> dict[str, np.ndarray]:
    """The arrays `names` of checkpoint `save_path` (a GraphError naming the file
    if it is missing, unreadable or lacks one)."""
    path = Path(str(save_path) + ".npz")
    if not path.exists():
        raise GraphError(f"no checkpoint at {save_path} ({path} does not exist)")
    values = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("not an archive of named arrays")
            for name in names:
                if name not in data.files:
                    raise GraphError(f"checkpoint {save_path} has no variable {name!r}")
                values[name] = data[name]
    except GraphError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile and numpy raise a dozen kinds
        # (BadZipFile, NotImplementedError, zlib.error, struct.error, ...)
        raise GraphError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    return values


def _check_value(save_path: str, name: str, value: np.ndarray, shape: list, dtype: DType) -> None:
    if list(value.shape) != list(shape):
        raise GraphError(
            f"checkpoint {save_path}: variable {name!r} has shape "
            f"{list(value.shape)}, the graph's has {list(shape)}"
        )
    if value.dtype != np.dtype(dtype.ir.numpy):
        raise GraphError(
            f"checkpoint {save_path}: variable {name!r} holds {value.dtype}, the "
            f"graph's is {dtype.name}"
        )


_DEBRIS = re.compile(r"\..+\.(npz|meta)\..+|\.checkpoint\..+")


def _remove_debris(directory: Path) -> None:
    """Remove temporary files that killed saves left in `directory` (a file a
    live save is writing is locked, and kept)."""
    try:
        names = [p for p in directory.iterdir() if _DEBRIS.fullmatch(p.name)]
    except OSError:
        return
    for path in names:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
        except OSError:
            pass  # locked: a save in progress
        finally:
            os.close(fd)


def _unlisted_steps(directory: Path, base: str, kept: set[str]) -> list[str]:
    """The `base-STEP` checkpoints in `directory` that the record does not list."""
    step = re.compile(re.escape(base) + r"-\d+")
    names = {p.name.rsplit(".", 1)[0] for p in directory.glob(f"{base}-*.npz")}
    names |= {p.name.rsplit(".", 1)[0] for p in directory.glob(f"{base}-*.meta")}
    return sorted(n for n in names if step.fullmatch(n) and n not in kept)


def _kept_names(directory: Path) -> list[str]:
    """The checkpoints the `checkpoint` record lists, oldest first."""
    try:
        text = (directory / "checkpoint").read_text()
    except (OSError, ValueError):
        return []
    names = re.findall(r'^all_model_checkpoint_paths: "([^"/]+)"$', text, re.M)
    if not names:  # a record of an older kiln, or TensorFlow's first line only
        names = re.findall(r'^model_checkpoint_path: "([^"/]+)"$', text, re.M)
    return list(dict.fromkeys(names))


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when closed: _remove_debris spares it
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def latest_checkpoint(checkpoint_dir: str) -> str | None:
    """The newest checkpoint's path prefix in `checkpoint_dir`, or None."""
    record = Path(checkpoint_dir) / "checkpoint"
    if not record.exists():
        return None
    try:
        text = record.read_text()
    except (OSError, ValueError):
        return None
    name = text.split('"')[1] if '"' in text else None
    return str(Path(checkpoint_dir) / name) if name else None


# ------------------------------------------------------------------ meta graph


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == object:  # strings: bytes each
        items = [base64.b64encode(bytes(v)).decode() for v in value.reshape(-1)]
        return {"strings": [list(value.shape), items]}
    if isinstance(value, np.ndarray):
        return {
            "array": [
                value.dtype.str,
                list(value.shape),
                base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
            ]
        }
    if isinstance(value, Dense):
        return {"dense": [value.type.dtype.value, _encode(value.array)]}
    if isinstance(value, DType):
        return {"kl_dtype": value.name}
    if isinstance(value, IRType):
        return {"ir_dtype": value.value}
    if isinstance(value, TensorShape):
        return {"shape": value.dims}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise GraphError(f"cannot save attribute value {value!r} in a meta graph")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((kind, body),) = value.items()
    if kind == "array":
        dtype, shape, data = body
        return np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype)).reshape(shape)
    if kind == "strings":
        shape, items = body
        return np.array([base64.b64decode(v) for v in items], dtype=object).reshape(shape)
    if kind == "dense":
        dt, array = body
        array = _decode(array)
        return Dense(array, TensorType(IRType(dt), array.shape))
    if kind == "kl_dtype":
        return as_dtype(body)
    if kind == "ir_dtype":
        return IRType(body)
    if kind == "shape":
        return TensorShape(body)
    raise GraphError(f"unknown value kind {kind!r} in a meta graph")


# A variable's initial value that is a constant above this many bytes is not
# written into the .meta: it becomes a CHECKPOINT_VALUE op reading the variable
# from the checkpoint saved with the .meta (TF's values live in the checkpoint).
INLINE_BYTES = 1 << 16
CHECKPOINT_VALUE = "KilnCheckpointValue"


def _same_bytes(a: np.ndarray, b: Any) -> bool:
    if not isinstance(b, np.ndarray) or a.dtype != b.dtype or a.shape != b.shape:
        return False
    flat = [np.ascontiguousarray(x).reshape(-1).view(np.uint8) for x in (a, b)]
    return bool(np.array_equal(*flat))


def _op_spec(op: Any) -> dict:
    # a host op's Python function is not data: the import rebuilds a string
    # constant's and makes any other host op an error when it runs (_host_stand_in)
    attrs = {k: _encode(v) for k, v in op.attrs.items() if k != "_host_fn"}
    if "_host_fn" in op.attrs:
        attrs["_host"] = True
    ir_attrs = {}
    for k, v in op.ir_attrs.items():
        # a Const's array is its attribute and its IR attribute's: written once
        same = isinstance(v, Dense) and _same_bytes(v.array, op.attrs.get(k))
        ir_attrs[k] = {"dense_of": [v.type.dtype.value, k]} if same else _encode(v)
    return {
        "name": op.name,
        "type": op.type,
        "inputs": [t.name for t in op.inputs],
        "control_inputs": [c.name for c in op.control_inputs],
        "attrs": attrs,
        "ir_op": op.ir_op,
        "ir_attrs": ir_attrs,
        "outputs": [[t.dtype.name, t.shape.dims] for t in op.outputs],
    }


def _by_reference(graph: Graph, names: dict) -> dict:
    """initial-value op -> the checkpoint name of its variable, for every variable
    saved under `names` whose initial value is a large constant (or was one)."""
    out = {}
    for var in graph.variables.values():
        init = getattr(var, "initial_value", None)
        if var.op not in names or init is None or init.op.inputs:
            continue
        value = init.op.attrs.get("value")
        large = init.op.type == "Const" and isinstance(value, np.ndarray)
        if init.op.type == CHECKPOINT_VALUE or (large and value.nbytes > INLINE_BYTES):
            out[init.op] = names[var.op]
    return out


def export_graph(graph: Graph, names: dict | None = None) -> dict:
    """The graph as JSON-able data: every op, and the collections by name.
    `names` (variable op -> checkpoint name) says which variables the checkpoint
    next to the .meta holds: their large constant initial values are read from
    it, not written (CHECKPOINT_VALUE)."""
    referenced = _by_reference(graph, names or {})
    ops = []
    for op in graph.get_operations():
        if op in referenced:
            (t,) = op.outputs
            ops.append(
                {
                    "name": op.name,
                    "type": CHECKPOINT_VALUE,
                    "inputs": [],
                    "control_inputs": [c.name for c in op.control_inputs],
                    "attrs": {"key": referenced[op], "dtype": {"kl_dtype": t.dtype.name}},
                    "ir_op": None,
                    "ir_attrs": {},
                    "outputs": [[t.dtype.name, t.shape.dims]],
                }
            )
        else:
            ops.append(_op_spec(op))
    variables = [
        {
            "name": v.op.name,
            "initializer": v.initializer.name,
            "initial_value": v.initial_value.name,
            "trainable": v.trainable,
        }
        for v in graph.variables.values()
    ]
    collections = {}
    for key in graph.get_all_collection_keys():
        names = [
            x.op.name if isinstance(x, GraphVariable) else getattr(x, "name", None)
            for x in graph.get_collection(key)
        ]
        if all(isinstance(n, str) for n in names):
            collections[key] = names
    return {"format": FORMAT, "ops": ops, "variables": variables, "collections": collections}


def import_meta_graph(meta_path: str, clear_devices: bool = False, **_: Any) -> Saver:
    """Rebuild a saved graph into the default graph; returns a Saver for its variables."""
    try:
        data = json.loads(Path(meta_path).read_text())
    except (OSError, ValueError) as e:
        raise GraphError(f"cannot read meta graph {meta_path}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GraphError(f"{meta_path} is not a kiln meta graph")
    try:
        return _import(data, meta_path)
    except KilnError as e:
        raise GraphError(f"meta graph {meta_path}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
        raise GraphError(f"meta graph {meta_path} is malformed ({type(e).__name__}: {e})") from None


_OP_FIELDS = {"name": str, "type": str, "inputs": list, "control_inputs": list}
_OP_FIELDS |= {"attrs": dict, "ir_attrs": dict, "outputs": list}


def _check_op(i: int, spec: Any) -> None:
    """The fields of op spec `i` have the types export_graph writes."""
    if not isinstance(spec, dict):
        raise GraphError(f"ops[{i}] is not an object")
    for key, kind in _OP_FIELDS.items():
        if not isinstance(spec.get(key), kind):
            raise GraphError(f"ops[{i}].{key} is missing or not a {kind.__name__}")
    if not (spec.get("ir_op") is None or isinstance(spec["ir_op"], str)):
        raise GraphError(f"ops[{i}].ir_op is not a string")
    if not all(isinstance(n, str) for n in spec["inputs"] + spec["control_inputs"]):
        raise GraphError(f"ops[{i}] names an input that is not a string")


def _decode_ir(value: Any, attrs: dict) -> Any:
    """An IR attribute: `{"dense_of": [dtype, name]}` is attribute `name` as a Dense."""
    if not (isinstance(value, dict) and list(value) == ["dense_of"]):
        return _decode(value)
    dt, name = value["dense_of"]
    array = attrs.get(name)
    if not isinstance(array, np.ndarray):
        raise GraphError(f"dense_of names {name!r}, which is not an array attribute")
    return Dense(array, TensorType(IRType(dt), array.shape))


def _checkpoint_value(prefix: str, spec: dict, attrs: dict) -> Any:
    """The host function of a CHECKPOINT_VALUE op: the variable's value in the
    checkpoint saved with the .meta (`prefix`.npz), read when the op runs."""
    key, dtype = attrs.get("key"), attrs.get("dtype")
    if not isinstance(key, str) or not isinstance(dtype, DType) or len(spec["outputs"]) != 1:
        raise GraphError(f"{spec['name']}: a {CHECKPOINT_VALUE} needs a key, a dtype, one output")
    shape = spec["outputs"][0][1]

    def load() -> list[np.ndarray]:
        value = _read_checkpoint(prefix, [key])[key]
        _check_value(prefix, key, value, shape, dtype)
        return [value]

    return load


def _host_stand_in(meta_path: str, spec: dict, attrs: dict):
    """The function of an imported host op: a string constant's value, or for any
    other host op (a decoder, a queue's Python side) an error when it runs."""
    if spec["type"] == "Const":
        value = attrs["value"]
        return lambda: [value]

    def missing(*_):
        raise GraphError(
            f"{meta_path}: op {spec['name']} ({spec['type']}) runs a Python function on the "
            "host, and a meta graph cannot carry Python functions: build the op again in Python"
        )

    return missing


def _import(data: dict, meta_path: str) -> Saver:
    g = get_default_graph()
    meta_path = str(meta_path)
    prefix = meta_path[: -len(".meta")] if meta_path.endswith(".meta") else meta_path
    for i, spec in enumerate(data["ops"]):
        _check_op(i, spec)
        attrs = {k: _decode(v) for k, v in spec["attrs"].items()}
        if spec["type"] == CHECKPOINT_VALUE:
            attrs["_host_fn"] = _checkpoint_value(prefix, spec, attrs)
        elif "_layout_op" in attrs:  # a layout op on strings: create_op moves it again
            attrs.pop("_host", None)
            spec = {
                **spec,
                "ir_op": attrs.pop("_layout_op"),
                "ir_attrs": {k: v for k, v in attrs.pop("_layout_attrs")},
            }
        elif attrs.pop("_host", False):
            attrs["_host_fn"] = _host_stand_in(meta_path, spec, attrs)
        op = g.create_op(
            spec["type"],
            [g.get_tensor_by_name(n) for n in spec["inputs"]],
            name=spec["name"],
            unique=False,
            attrs=attrs,
            ir_op=spec["ir_op"],
            ir_attrs={k: _decode_ir(v, attrs) for k, v in spec["ir_attrs"].items()},
            output_types=[(as_dtype(d), TensorShape(s)) for d, s in spec["outputs"]],
            control_inputs=[g.get_operation_by_name(n) for n in spec["control_inputs"]],
        )
        g.unique_name(op.name)  # later ops get fresh names, as in TF
    by_name: dict[str, Variable] = {}
    for v in data["variables"]:
        var = GraphVariable.from_graph(
            g.get_operation_by_name(v["name"]),
            g.get_operation_by_name(v["initializer"]),
            g.get_tensor_by_name(v["initial_value"]),
            v["trainable"],
        )
        by_name[var.op.name] = var
    for key, names in data["collections"].items():
        for n in names:
            item = by_name.get(n)
            if item is None:
                item = g.get_tensor_by_name(n) if ":" in n else g.get_operation_by_name(n)
            g.add_to_collection(key, item)
    variables = [by_name[n] for n in data["collections"].get(GLOBAL_VARIABLES, [])]
    return Saver(variables or list(by_name.values()))
