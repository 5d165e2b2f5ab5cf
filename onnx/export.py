"""ONNX export: a kiln graph, Keras model or IR module as an ONNX model.

    kl.onnx.export(sess, [logits], [x], "mlp.onnx")      # a Session: variables frozen
    kl.onnx.export(model, path="model.onnx")             # a kl.keras model's forward pass
    kl.onnx.export(module, path="f.onnx")                # an ir.Module (its one function)

A graph or model is lowered as `kl.export_ir` lowers it (frontend/export.py:
the Session's lowering, with the variables' current values frozen into
constants), so what is exported is the function that the Session runs. That
function's ops are then written one by one (emit.py): its arguments become
the graph inputs (a `?` dim a `dim_param`, so one model serves every batch
size), its constants initializers, its results the graph outputs. A composite
op ONNX has no node for (batch_norm, layer_norm, ...) is decomposed first; an
op that has neither a node nor a decomposition is a kiln error naming it.
The model is checked by onnx's checker before it is returned or written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..frontend.export import export_ir
from ..ir.core import Block, Function, Module, Operation, Value
from ..ir.dtypes import DType
from ..ir.errors import KilnError
from ..ir.types import TensorType
from ..passes.rewrite import Patterns, apply_patterns, copy_op, defining_op
from .emit import emitter
from .importer import _onnx

__all__ = ["export", "to_onnx"]

DEFAULT_OPSET = 17


def export(
    model: Any,
    fetches: Sequence[Any] | Any = None,
    feeds: Sequence[Any] | None = None,
    path: str | Path | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    args: Sequence[Any] = (),
    name: str | None = None,
):
    """Write `model` as an ONNX model (to `path` if given) and return its ModelProto.

    `model` is one of:
      - a Session: `fetches` (tensors) computed from `feeds` (placeholders; default:
        the ones the fetches need), the variables frozen to the session's values;
      - a Graph: the same, its variables left as graph inputs (no values known);
      - graph tensors (a fetch or a list of them), a Keras model, a kl.function:
        whatever `kl.export_ir` takes (`args`: example inputs or TensorSpecs);
      - an `ir.Module`: its function `name` (default: its only one).
    `opset` is the ONNX opset written (17 up to the newest onnx knows).
    """
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if not 17 <= opset <= newest:
        raise KilnError(f"onnx export: opset {opset} is not supported (17 to {newest})")
    func = _function(model, fetches, feeds, args, name)
    proto = to_onnx(func, opset)
    if path is not None:
        try:
            Path(path).write_bytes(proto.SerializeToString())
        except OSError as e:
            raise KilnError(f"cannot write {path}: {e.strerror}") from None
    return proto


def _function(model: Any, fetches: Any, feeds: Any, args: Sequence[Any], name: str | None):
    """The IR function to export: a private copy (decomposition rewrites it)."""
    if isinstance(model, Module):
        funcs = list(model)
        if name is None and len(funcs) != 1:
            raise KilnError(
                f"onnx export: the module has {len(funcs)} functions; name the one to export"
            )
        return _copy(model[name] if name is not None else funcs[0])
    if _is_session(model) or _is_graph(model):
        if fetches is None:
            raise KilnError("onnx export: give the fetches (the tensors the model computes)")
        fetched = list(fetches) if isinstance(fetches, (list, tuple)) else [fetches]
        session = model if _is_session(model) else None
        module = export_ir(fetched, feeds=feeds, session=session, name=name)
    else:
        if fetches is not None:
            raise KilnError(
                "onnx export: fetches= goes with a Session or a Graph; for tensors "
                "pass them as the model"
            )
        extra = {"feeds": feeds} if feeds is not None else {}
        module = export_ir(model, *args, name=name, **extra)
    return next(iter(module))


def _is_session(x: Any) -> bool:
    return callable(getattr(x, "variable_value", None)) and hasattr(x, "graph")


def _is_graph(x: Any) -> bool:
    return callable(getattr(x, "get_operations", None)) and not hasattr(x, "outputs")


def _copy(func: Function) -> Function:
    new = Function(func.name, func.arg_types, [a.name for a in func.args], func.result_types)
    mapping: dict[Value, Value] = dict(zip(func.args, new.args))
    for op in func.body:
        new.body.append(copy_op(op, mapping))
    Module([new])
    return new


# ------------------------------------------------------------------ the graph written


class OnnxGraph:
    """The ONNX graph being written: nodes, initializers and a name for each kiln value."""

    def __init__(self, onnx: Any, opset: int, taken: set[str] | None = None, nested=False):
        self.onnx, self.opset = onnx, opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[Value, str] = {}
        self.taken: set[str] = set() if taken is None else taken  # one namespace per model
        self.nested = nested  # a subgraph (a loop body): constants are Constant nodes
        self._cache: dict[tuple, str] = {}

    def fresh(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.]", "_", hint or "v") or "v"
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def name(self, v: Value) -> str:
        """`v`'s ONNX name; a constant becomes an initializer when first used."""
        if v not in self.names:
            const = defining_op(v, "kiln.constant")
            if const is None:
                raise KilnError(f"onnx export: {v} is used before it is defined")
            self.names[v] = self.const(const.value.array, v.name or "const")
        return self.names[v]

    def inputs(self, op: Operation) -> list[str]:
        return [self.name(v) for v in op.operands]

    def const(self, array: np.ndarray, hint: str = "const") -> str:
        name = self.fresh(hint)
        tensor = self.onnx.numpy_helper.from_array(np.asarray(array), name)
        if self.nested:
            self.nodes.append(self.onnx.helper.make_node("Constant", [], [name], value=tensor))
        else:
            self.initializers.append(tensor)
        return name

    def ints(self, values: Sequence[int]) -> str:
        key = ("ints", tuple(int(v) for v in values))
        return self.cached(key[0], key[1], lambda: self.const(np.array(key[1], np.int64), "ints"))

    def cached(self, kind: str, key: Any, make: Callable[[], str]) -> str:
        if (kind, key) not in self._cache:
            self._cache[kind, key] = make()
        return self._cache[kind, key]

    def node(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs) -> list[str]:
        names = [self.fresh(op_type) for _ in range(outputs)]
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), names, self.fresh(op_type), **attrs)
        )
        return names

    def onnx_dtype(self, dtype: DType) -> int:
        if dtype is DType.bf16:
            return self.onnx.TensorProto.BFLOAT16
        return self.onnx.helper.np_dtype_to_tensor_dtype(dtype.numpy)

    def value_info(self, name: str, t: TensorType, anonymous: Callable[[int], str | None]):
        dims = []
        for i, d in enumerate(t.shape):
            if isinstance(d, int):
                dims.append(d)
            else:
                dims.append(anonymous(i) if d.anonymous else d.name)
        return self.onnx.helper.make_tensor_value_info(name, self.onnx_dtype(t.dtype), dims)

    def subgraph(self, block: Block, name: str):
        """A region's block as an ONNX GraphProto (a Scan's body), its arguments inputs."""
        sub = self.child()
        return sub.graph(block, name, lambda i, n: None)

    def child(self) -> OnnxGraph:
        """A subgraph in this model's namespace."""
        return OnnxGraph(self.onnx, self.opset, self.taken, nested=True)

    def graph(self, block: Block, name: str, anonymous: Callable[[int, str], str | None]):
        """The GraphProto of a block: its arguments in, its terminator's operands out."""
        inputs = []
        for arg in block.args:
            arg_name = self.fresh(arg.name or f"input{len(inputs)}")
            inputs.append(
                self.value_info(arg_name, arg.type, lambda i, n=arg_name: anonymous(i, n))
            )
        yielded = self.inline(block, [i.name for i in inputs])
        return self.finish(name, inputs, yielded, [v.type for v in list(block)[-1].operands])

    def finish(self, name: str, inputs: list, outputs: list[str], types: Sequence[TensorType]):
        """The GraphProto of what was written, `outputs` (of `types`) out."""
        made = {out for node in self.nodes for out in node.output}
        infos: list = []
        for out, t in zip(outputs, types):
            if out not in made or out in {i.name for i in infos}:
                out = self.node("Identity", [out])[0]  # an input, or an earlier output
            infos.append(self.value_info(out, t, lambda i: None))
        return self.onnx.helper.make_graph(self.nodes, name, inputs, infos, self.initializers)

    def inline(self, block: Block, args: Sequence[str]) -> list[str]:
        """Write a block's ops here, its arguments bound to `args`; the names it yields."""
        for arg, name in zip(block.args, args):
            self.names[arg] = name
        ops = list(block)
        for op in ops[:-1]:
            if op.name == "kiln.constant":
                continue  # written where it is used
            write = emitter(op, self.opset)
            if write is None:
                raise op.error(
                    f"onnx export: {op.name} has no ONNX form (opset {self.opset})"
                    + (f" at {op.loc.name!r}" if op.loc.name else ""),
                    KilnError,
                )
            for result, out in zip(op.results, write(self, op)):
                self.names[result] = out
        return [self.name(v) for v in ops[-1].operands]


def to_onnx(func: Function, opset: int = DEFAULT_OPSET):
    """The ONNX ModelProto of an IR function (which it may rewrite: pass a copy)."""
    onnx = _onnx()
    _decompose_unwritable(func, opset)
    g = OnnxGraph(onnx, opset)
    graph = g.graph(func.body, func.name, lambda i, name: f"{name}_dim{i}")
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="kiln",
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise KilnError(f"onnx export: the model written is not valid ONNX: {e}") from None
    return model


def _decompose_unwritable(func: Function, opset: int) -> None:
    """Decompose every composite op emit.py has no entry for (at this opset)."""
    patterns = Patterns("onnx-export-decompose")

    @patterns.pattern("*")
    def decompose(op: Operation, rw) -> None:
        if emitter(op, opset) is not None or op.name == "kiln.constant":
            return
        out = op.decompose(rw.b)
        if out is not None:
            rw.replace(op, *(out if isinstance(out, (list, tuple)) else [out]))

    apply_patterns(func.module, patterns)
