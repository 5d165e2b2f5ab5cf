"""Write a model as a `.kiln` IR file: `kl.export_ir` and `kiln export`.

    kl.export_ir([train, loss], path="step.kiln")            # a Session's fetches
    kl.export_ir(y, session=sess, path="mlp.kiln")           # ... variables frozen
    kl.export_ir(train_step, x, y, path="step.kiln")         # a kl.function (traced)
    kl.export_ir(model, path="model.kiln")                   # a Keras model's forward
    kl.export_ir("ckpt/model-7", fetches=["logits"])         # a Saver checkpoint

Every form lowers with the Session's lowering (`lowering.lower`): one function
whose arguments are the feeds, then the variables it reads; its results are
the fetched values, then the new values of the variables it updates (aliased
to their arguments, so a training step updates them in place). Where the
variables' values are at hand (a session, eager variables, a checkpoint) and
the function updates none of them, `freeze` (the default then) makes them
constants: the module then takes only the feeds, ready for `kiln compile`.

The text is parsed back before it is returned or written, so a file that
export writes is one that `kiln opt`, `run`, `compile`, `viz` and `bench` read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ir import Builder, KilnError, Module, parse
from .graph import Graph, Operation, Tensor
from .lowering import Lowered, lower, needed_ops

__all__ = ["export_ir", "checkpoint_module"]


def export_ir(
    model: Any,
    *args: Any,
    path: str | Path | None = None,
    fetches: Sequence[Any] | None = None,
    feeds: Sequence[Any] | None = None,
    session: Any = None,
    freeze: bool | None = None,
    name: str | None = None,
) -> Module:
    """The IR module of `model`, written to `path` (a `.kiln` text file) if given.

    `model` is one of:
      - a graph tensor or op, or a list of them (a Session's fetches: `[train, loss]`
        is one training step). `feeds` lists the tensors fed (default: the
        placeholders the fetches need). With `session`, its variable values can
        be frozen into the module.
      - a `kl.function` or a plain Python function of tensors: traced with `args`
        (arrays or `kl.TensorSpec`s; the first dim stays symbolic, as in
        kl.function; default: the function's input_signature).
      - a Keras model: its forward pass (training=False) on its input shape.
      - a Saver checkpoint prefix (a str or Path, with PREFIX.meta beside it):
        `fetches` names the tensors computed, `feeds` the inputs.
    `freeze` (default: whenever variable values are known and the function
    updates no variable) turns the variables read into constants.
    `name` is the IR function's name (default: `main`, a function's or a model's name).
    """
    if isinstance(model, (str, Path)):
        module = checkpoint_module(
            str(model),
            [str(f) for f in fetches or ()],
            [str(f) for f in feeds or ()],
            name or "main",
            freeze=freeze,
        )[0]
    elif _is_model(model):
        module = _model_module(model, args, name, freeze)
    elif isinstance(model, (Tensor, Operation)) or _is_fetch_list(model):
        if args:
            raise KilnError("export_ir(fetches, ...): give feeds=[...], not positional arguments")
        module = _session_module(model, feeds, session, name or "main", freeze)
    elif callable(model):
        module = _function_module(model, args, name, freeze)
    else:
        raise KilnError(
            f"export_ir: cannot export {type(model).__name__} (expected graph "
            "tensors or ops, a kl.function, a Keras model or a checkpoint prefix)"
        )
    text = str(module)
    try:
        module = parse(text)  # what is written must read back
    except KilnError as e:
        raise KilnError(
            f"export_ir: the printed module does not parse back ({e}); this is a bug in kiln"
        ) from None
    if path is not None:
        try:
            Path(path).write_text(text)
        except OSError as e:
            raise KilnError(f"cannot write {path}: {e.strerror}") from None
    return module


# ------------------------------------------------------------------ the forms


def _is_fetch_list(x: Any) -> bool:
    return (
        isinstance(x, (list, tuple))
        and bool(x)
        and all(isinstance(f, (Tensor, Operation)) or hasattr(f, "_as_tensor") for f in x)
    )


def _is_model(x: Any) -> bool:
    return callable(getattr(type(x), "__kiln_function__", None))


def _as_fetch(x: Any) -> Tensor | Operation:
    if hasattr(x, "_as_tensor") and not isinstance(x, (Tensor, Operation)):
        x = x._as_tensor()
    if not isinstance(x, (Tensor, Operation)):
        raise KilnError(f"export_ir: cannot fetch {x!r}: expected a graph tensor or op")
    return x


def _session_module(
    model: Any, feeds: Sequence[Any] | None, session: Any, name: str, freeze: bool | None
) -> Module:
    fetched = [_as_fetch(f) for f in (model if isinstance(model, (list, tuple)) else [model])]
    graph = fetched[0].graph
    fed = [_as_fetch(t) for t in feeds] if feeds is not None else _placeholders(graph, fetched)
    lowered = lower(graph, fetched, {t: None for t in fed}, name=name)
    values = None
    if session is not None:
        values = [session.variable_value(op.outputs[0]) for op in lowered.reads]
    return _finish(lowered, values, freeze, name)


def _placeholders(graph: Graph, fetched: list) -> list[Tensor]:
    """The placeholders the fetches need, in graph order."""
    needed = needed_ops(fetched, set())
    return [
        op.outputs[0] for op in graph.get_operations() if op in needed and op.type == "Placeholder"
    ]


def _function_module(fn: Callable, args: tuple, name: str | None, freeze: bool | None) -> Module:
    from .function import Function, TensorSpec

    signature = None
    if isinstance(fn, Function):
        signature, name, fn = fn.input_signature, name or fn.name, fn.python_function
    if args:
        signature = [a if isinstance(a, TensorSpec) else _spec(a) for a in args]
    if signature is None:
        raise KilnError(
            "export_ir(function, ...): give example arguments or TensorSpecs "
            "(or an input_signature) to trace it with"
        )
    name = _c_like(name or getattr(fn, "__name__", "main"))
    return _trace(fn, list(signature), name, freeze)


def _spec(x: Any):
    from .function import TensorSpec
    from .ops import _default_dtype

    a = np.asarray(x.numpy() if hasattr(x, "numpy") else x)
    if a.dtype == object or a.dtype.kind in "USO":
        raise KilnError(f"export_ir: cannot make a tensor of {x!r}")
    dtype = (
        a.dtype
        if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "numpy")
        else _default_dtype(a)
    )
    dims = list(a.shape)
    if dims:
        dims[0] = None  # the batch stays symbolic, as in kl.function
    return TensorSpec(dims, dtype)


def _trace(fn: Callable, specs: list, name: str, freeze: bool | None) -> Module:
    """Trace `fn` on placeholders of `specs` in a FuncGraph (eager variables captured
    as variables) and lower it, as kl.function does, without running it."""
    from .function import FuncGraph
    from .ops import convert_to_tensor, placeholder
    from .tape import flatten

    graph = FuncGraph(name)
    with graph.as_default():
        holders = [
            placeholder(s.dtype, s.shape.dims, name=s.name or f"arg{i}")
            for i, s in enumerate(specs)
        ]
        out = fn(*holders)
        fetched: list[Tensor] = []
        for leaf in flatten(out):
            if leaf is None or isinstance(leaf, (str, bool, int, float)):
                continue
            t = convert_to_tensor(leaf)
            if t not in fetched:
                fetched.append(t)
    lowered = lower(graph, [*fetched, *graph.updates], {p: None for p in holders}, name=name)
    by_op = {op: var for var, op in graph.captures.items()}
    values = [np.asarray(by_op[op].numpy()) for op in lowered.reads]
    return _finish(lowered, values, freeze, name)


def _model_module(model: Any, args: tuple, name: str | None, freeze: bool | None) -> Module:
    """A model that says how it is called (`__kiln_function__`, as kl.keras models do):
    its forward pass traced with example inputs `args`, or with the input specs the
    model gives when `args` is empty. The protocol keeps the frontend below keras."""
    from .function import TensorSpec

    fn, specs = model.__kiln_function__()
    if args:
        specs = [a if isinstance(a, TensorSpec) else _spec(a) for a in args]
    elif specs is None:
        raise KilnError(
            f"export_ir: model {model.name} has no input shape yet; give one "
            "(input_shape= on its first layer) or an example input"
        )
    else:  # the model's own input names, made fit for IR argument names
        specs = [
            TensorSpec(s.shape.dims, s.dtype, name=_c_like(s.name) if s.name else None)
            for s in specs
        ]
    return _trace(fn, specs, _c_like(name or model.name), freeze)


def _c_like(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name).lstrip("_") or "main"


# ------------------------------------------------------------------ checkpoints


def checkpoint_module(
    prefix: str, fetches: list[str], feeds: list[str], name: str, freeze: bool | None = True
) -> tuple[Module, list[str], list[str]]:
    """A module whose function @name computes `fetches` from `feeds` in a Saver
    checkpoint's graph (PREFIX.meta), the variables frozen to their saved values
    (PREFIX.npz) unless the fetches update variables (a training step keeps them as
    arguments) or `freeze` is False. Returns (module, input names, output names)."""
    from .saver import import_meta_graph, latest_checkpoint

    if Path(prefix).is_dir():
        prefix = latest_checkpoint(prefix) or prefix
    if prefix.endswith(".meta"):
        prefix = prefix[:-5]
    if not fetches:
        raise KilnError("a checkpoint needs --fetch NAME (a tensor to compute)")
    meta, values = Path(prefix + ".meta"), Path(prefix + ".npz")
    if not meta.exists():
        raise KilnError(f"cannot read checkpoint {prefix}: {meta} does not exist")
    with Graph().as_default() as g:
        import_meta_graph(str(meta))
        fetched = [_by_name(g, n) for n in fetches]
        fed = [_by_name(g, n) for n in feeds] if feeds else _placeholders(g, fetched)
        lowered = lower(g, fetched, {t: None for t in fed}, name=name)
    weights = None
    if freeze is not False and not lowered.writes:
        if not values.exists():
            if freeze:
                raise KilnError(f"cannot read checkpoint {prefix}: {values} does not exist")
        else:
            weights = _saved(values, prefix, lowered.reads)
    module = _finish(lowered, weights, freeze, name)
    return module, [t.name for t in lowered.feeds], [t.name for t in fetched]


def _by_name(g: Graph, name: str) -> Tensor | Operation:
    """`op:0` is a tensor; an op's name means its output 0, or the op itself when it
    has no outputs (a training op)."""
    if ":" in name:
        return g.get_tensor_by_name(name)
    op = g.get_operation_by_name(name)
    return op.outputs[0] if op.outputs else op


def _saved(values: Path, prefix: str, reads: list[Operation]) -> list[np.ndarray]:
    try:
        with np.load(values, allow_pickle=False) as saved:
            missing = [v.name for v in reads if v.name not in saved.files]
            if missing:
                raise KilnError(f"checkpoint {prefix} has no variable {missing[0]!r}")
            return [saved[v.name] for v in reads]
    except KilnError:
        raise
    except Exception as e:  # a truncated or foreign file: zipfile, OSError, ValueError
        raise KilnError(f"cannot read checkpoint values {values}: {e}") from None


# ------------------------------------------------------------------ freezing


def _finish(
    lowered: Lowered, values: list[np.ndarray] | None, freeze: bool | None, name: str
) -> Module:
    """The lowered module, its variables made constants when asked (or by default
    when their values are known and nothing writes them)."""
    if freeze and values is None and lowered.reads:
        raise KilnError(
            "export_ir(freeze=True): the variables' values are not known here (give session=...)"
        )
    if freeze and lowered.writes:
        raise KilnError(
            f"export_ir(freeze=True): the function updates variables "
            f"({', '.join(v.name for v in lowered.writes)}); a training step keeps "
            "them as arguments"
        )
    if freeze is False or values is None or lowered.writes or not lowered.reads:
        return lowered.module
    return freeze_variables(lowered, values, name)


def freeze_variables(lowered: Lowered, values: list[np.ndarray], name: str) -> Module:
    """A module whose @name takes only `lowered`'s feeds: each variable it reads is
    the constant of its value in `values` (in `lowered.reads` order)."""
    from ..passes.autodiff import inline

    source = lowered.module[lowered.name]
    n_fed = len(lowered.feeds)
    module = Module()
    func = module.add_function(
        name, source.arg_types[:n_fed], [a.name for a in source.args[:n_fed]]
    )
    b = Builder.at_end(func.body)
    constants = [
        b.constant(np.asarray(v), dtype=a.type.dtype) for v, a in zip(values, source.args[n_fed:])
    ]
    b.ret(*inline(b, source, list(func.args) + constants))
    return module
