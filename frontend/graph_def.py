"""TensorFlow's GraphDef round trip: Graph.as_graph_def, tf.import_graph_def,
tf.train.write_graph and tf.graph_util's freezing (convert_variables_to_constants,
extract_sub_graph), with the protos that ship with `tensorboard` (no TensorFlow).

A GraphDef kiln writes is TensorBoard's (summary.to_graph_def: names, TF op
types, dtypes, shapes) plus, on every node but Const and Placeholder, a
`_kiln_spec` attribute holding the node as the meta graph writes it (saver.py),
so kiln rebuilds its own graphs exactly. A node without one (a GraphDef made
by TensorFlow) is rebuilt from its TF op type and attributes by the frontend
function of that op (_TF_OPS); an op outside that table is an error naming
the node and its op.

Variables are not imported: a graph to import is frozen first (TF's
convert_variables_to_constants turns each variable into a Const of its value).
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import nn, ops
from .dtypes import as_dtype
from .graph import Graph, GraphError, Operation, Tensor, TensorShape, get_default_graph
from .saver import _decode, _decode_ir, _op_spec
from .summary import to_graph_def

__all__ = [
    "GraphDef",
    "NodeDef",
    "as_graph_def",
    "convert_variables_to_constants",
    "extract_sub_graph",
    "import_graph_def",
    "write_graph",
]

SPEC = "_kiln_spec"
_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")


@functools.cache
def _pb() -> types.SimpleNamespace:
    """tensorboard's protos, imported on first use (`import kiln` stays light)."""
    try:
        from tensorboard.compat.proto import graph_pb2, node_def_pb2, types_pb2
        from tensorboard.util import tensor_util
    except ImportError:  # the `tensorboard` extra is not installed
        raise GraphError(
            "GraphDefs need the protos of `tensorboard`: pip install kiln[tensorboard]"
        ) from None
    return types.SimpleNamespace(
        graph_pb2=graph_pb2, node_def_pb2=node_def_pb2, types_pb2=types_pb2, tensor_util=tensor_util
    )


class _Proto(type):
    """A stand-in class for a proto class imported on first use: calling it makes the
    message; its attributes (FromString, ...) and isinstance are the proto class's."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.proto()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.proto(), name)

    def __instancecheck__(cls, obj: Any) -> bool:
        try:
            return isinstance(obj, cls.proto())
        except GraphError:  # no protos installed: nothing is one
            return False


class GraphDef(metaclass=_Proto):
    """tf.GraphDef: TensorFlow's GraphDef proto (tensorboard's copy of it)."""

    @staticmethod
    def proto() -> type:
        return _pb().graph_pb2.GraphDef


class NodeDef(metaclass=_Proto):
    """tf.NodeDef: TensorFlow's NodeDef proto (tensorboard's copy of it)."""

    @staticmethod
    def proto() -> type:
        return _pb().node_def_pb2.NodeDef


def _tf_dtype(dtype: Any) -> int:
    """kiln's dtype as TensorFlow's DataType enum (DT_FLOAT, ...)."""
    name = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}.get(dtype.name)
    try:
        return _pb().types_pb2.DataType.Value("DT_" + (name or dtype.name.upper()))
    except ValueError:
        raise GraphError(f"GraphDef: TensorFlow has no dtype for kiln's {dtype.name}") from None


def _kl_dtype(enum: int, where: str) -> Any:
    name = _pb().types_pb2.DataType.Name(enum)[3:].lower()
    name = {"float": "float32", "double": "float64", "half": "float16"}.get(name, name)
    try:
        return as_dtype(name)
    except Exception:
        raise GraphError(f"{where}: kiln has no dtype for TensorFlow's {name}") from None


def as_graph_def(graph: Graph | None = None, add_shapes: bool = False) -> Any:
    """The graph as a GraphDef (tf.Graph.as_graph_def). Const nodes carry their
    value and Placeholders their dtype and shape as TensorFlow writes them; every
    other node also carries kiln's own description of it (`_kiln_spec`).
    `add_shapes` is accepted: kiln always writes `_output_shapes`."""
    _pb()
    graph = graph or get_default_graph()
    gd = to_graph_def(graph)
    for node, op in zip(gd.node, graph.get_operations(), strict=True):
        if op.type == "Const" and isinstance(op.attrs.get("value"), np.ndarray):
            value = op.attrs["value"]
            node.attr["dtype"].type = _tf_dtype(op.outputs[0].dtype)
            node.attr["value"].tensor.CopyFrom(_pb().tensor_util.make_tensor_proto(value))
        elif op.type == "Placeholder":
            node.attr["dtype"].type = _tf_dtype(op.attrs["dtype"])
            node.attr["shape"].shape.CopyFrom(node.attr["_output_shapes"].list.shape[0])
        else:
            try:
                spec = _op_spec(op)
            except GraphError:  # a host op's Python function: not writable
                continue
            node.attr[SPEC].s = json.dumps(spec).encode()
    return gd


Graph.set_graph_def_writer(as_graph_def)


def write_graph(graph_or_graph_def: Any, logdir: str, name: str, as_text: bool = True) -> str:
    """Write a graph (or GraphDef) to `logdir`/`name` (tf.train.write_graph):
    protobuf text when `as_text`, else binary. Returns the file's path."""
    _pb()
    gd = graph_or_graph_def
    if isinstance(gd, Graph):
        gd = as_graph_def(gd)
    elif not isinstance(gd, _pb().graph_pb2.GraphDef):
        raise GraphError(f"write_graph: expected a kl.Graph or a GraphDef, got {type(gd).__name__}")
    path = Path(logdir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if as_text:
        from google.protobuf import text_format

        path.write_text(text_format.MessageToString(gd))
    else:
        path.write_bytes(gd.SerializeToString())
    return str(path)


# ------------------------------------------------------------------ freezing


def _input_op(name: str) -> str:
    return name.lstrip("^").split(":")[0]


def extract_sub_graph(graph_def: Any, dest_nodes: Sequence[str]) -> Any:
    """The nodes `dest_nodes` need, in their GraphDef order (tf.graph_util)."""
    _pb()
    if isinstance(dest_nodes, str):
        raise GraphError("extract_sub_graph: dest_nodes must be a list of node names")
    by_name = {n.name: n for n in graph_def.node}
    keep, todo = set(), list(dest_nodes)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        if name not in by_name:
            raise GraphError(f"extract_sub_graph: the graph has no node named {name!r}")
        keep.add(name)
        todo.extend(_input_op(i) for i in by_name[name].input)
    out = _pb().graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.node.extend(n for n in graph_def.node if n.name in keep)
    return out


def convert_variables_to_constants(
    sess: Any,
    input_graph_def: Any,
    output_node_names: Sequence[str],
    variable_names_whitelist: Sequence[str] | None = None,
    variable_names_blacklist: Sequence[str] | None = None,
) -> Any:
    """A frozen GraphDef (tf.graph_util.convert_variables_to_constants): the nodes
    the outputs need, each variable replaced by a Const of its value in `sess`."""
    gd = extract_sub_graph(input_graph_def, output_node_names)
    out = _pb().graph_pb2.GraphDef()
    out.versions.CopyFrom(gd.versions)
    for node in gd.node:
        chosen = variable_names_whitelist is None or node.name in variable_names_whitelist
        chosen = chosen and node.name not in (variable_names_blacklist or ())
        if node.op not in _VARIABLE_OPS or not chosen:
            out.node.add().CopyFrom(node)
            continue
        value = np.asarray(sess.run(sess.graph.get_tensor_by_name(node.name + ":0")))
        const = out.node.add(name=node.name, op="Const")
        const.attr["dtype"].type = _tf_dtype(as_dtype(value.dtype.name))
        const.attr["value"].tensor.CopyFrom(_pb().tensor_util.make_tensor_proto(value))
    return out


# ------------------------------------------------------------------ import

# TF op type -> how to build it from (node, inputs, static) with the frontend's
# functions; `static(i)` is input i's value when that input is a Const node.
Builder = Callable[[Any, list[Tensor], Callable[[int], np.ndarray]], Tensor]


def _attr(node: Any, key: str, default: Any = None) -> Any:
    """A scalar attribute of a NodeDef (b, i, f, type, or s as text)."""
    if key not in node.attr:
        return default
    value = node.attr[key]
    kind = value.WhichOneof("value")
    return value.s.decode() if kind == "s" else getattr(value, kind)


def _shape(proto: Any) -> list[int | None] | None:
    if proto.unknown_rank:
        return None
    return [None if d.size < 0 else int(d.size) for d in proto.dim]


def _placeholder(node, inputs, static):
    dtype = _kl_dtype(node.attr["dtype"].type, node.name)
    shape = _shape(node.attr["shape"].shape) if "shape" in node.attr else None
    return ops.placeholder(dtype, shape, name=node.name)


def _const(node, inputs, static):
    value = _pb().tensor_util.make_ndarray(node.attr["value"].tensor)
    return ops.constant(value, dtype=_kl_dtype(node.attr["dtype"].type, node.name), name=node.name)


def _unary(fn):
    return lambda node, inputs, static: fn(inputs[0], name=node.name)


def _binary(fn):
    return lambda node, inputs, static: fn(inputs[0], inputs[1], name=node.name)


def _reduce(fn):
    def build(node, inputs, static):
        axis = static(1)
        axis = axis.tolist() if axis.ndim else int(axis)
        return fn(
            inputs[0], axis=axis, keepdims=bool(_attr(node, "keep_dims", False)), name=node.name
        )

    return build


def _ints(node: Any, key: str) -> list[int]:
    """A list(int) attribute (strides, ksize, ...); [] when absent."""
    return list(node.attr[key].list.i) if key in node.attr else []


def _pooling(fn):
    return lambda node, inputs, static: fn(
        inputs[0],
        ksize=_ints(node, "ksize"),
        strides=_ints(node, "strides"),
        padding=_attr(node, "padding"),
        data_format=_attr(node, "data_format") or "NHWC",
        name=node.name,
    )


_TF_OPS: dict[str, Builder] = {
    "Placeholder": _placeholder,
    "Const": _const,
    "Identity": _unary(ops.identity),
    "Relu": _unary(nn.relu),
    "Relu6": _unary(nn.relu6),
    "Sigmoid": _unary(ops.sigmoid),
    "Tanh": _unary(ops.tanh),
    "Exp": _unary(ops.exp),
    "Log": _unary(ops.log),
    "Neg": _unary(ops.negative),
    "Square": _unary(ops.square),
    "Sqrt": _unary(ops.sqrt),
    "Softmax": _unary(nn.softmax),
    "Add": _binary(ops.add),
    "AddV2": _binary(ops.add),
    "Sub": _binary(ops.subtract),
    "Mul": _binary(ops.multiply),
    "RealDiv": _binary(ops.divide),
    "Maximum": _binary(ops.maximum),
    "Minimum": _binary(ops.minimum),
    "BiasAdd": lambda node, inputs, static: nn.bias_add(
        inputs[0], inputs[1], data_format=_attr(node, "data_format") or None, name=node.name
    ),
    "MatMul": lambda node, inputs, static: ops.matmul(
        inputs[0],
        inputs[1],
        transpose_a=bool(_attr(node, "transpose_a", False)),
        transpose_b=bool(_attr(node, "transpose_b", False)),
        name=node.name,
    ),
    "Reshape": lambda node, inputs, static: ops.reshape(
        inputs[0], static(1).tolist(), name=node.name
    ),
    "Sum": _reduce(ops.reduce_sum),
    "Mean": _reduce(ops.reduce_mean),
    "Max": _reduce(ops.reduce_max),
    "Min": _reduce(ops.reduce_min),
    "Prod": _reduce(ops.reduce_prod),
    "ArgMax": lambda node, inputs, static: ops.argmax(
        inputs[0],
        axis=int(static(1)),
        output_type=_kl_dtype(_attr(node, "output_type", _pb().types_pb2.DT_INT64), node.name),
        name=node.name,
    ),
    "LogSoftmax": _unary(nn.log_softmax),
    "Conv2D": lambda node, inputs, static: nn.conv2d(
        inputs[0],
        inputs[1],
        strides=_ints(node, "strides"),
        padding=_attr(node, "padding"),
        data_format=_attr(node, "data_format") or "NHWC",
        dilations=_ints(node, "dilations") or 1,
        name=node.name,
    ),
    "MaxPool": _pooling(nn.max_pool),
    "AvgPool": _pooling(nn.avg_pool),
    "ConcatV2": lambda node, inputs, static: ops.concat(
        inputs[:-1], int(static(len(inputs) - 1)), name=node.name
    ),
    "ExpandDims": lambda node, inputs, static: ops.expand_dims(
        inputs[0], int(static(1)), name=node.name
    ),
    "Squeeze": lambda node, inputs, static: ops.squeeze(
        inputs[0], _ints(node, "squeeze_dims") or None, name=node.name
    ),
    "Transpose": lambda node, inputs, static: ops.transpose(
        inputs[0], static(1).tolist(), name=node.name
    ),
    "Cast": lambda node, inputs, static: ops.cast(
        inputs[0], _kl_dtype(node.attr["DstT"].type, node.name), name=node.name
    ),
}


def _tensor_name(name: str) -> str:
    """'op' -> 'op:0'; 'op:1' stays."""
    return name if ":" in name else name + ":0"


def _order(nodes: Sequence[Any]) -> list[Any]:
    """Nodes with every input before its consumers (a GraphDef's order need not be)."""
    import networkx as nx  # imported here: `import kiln` does not load it

    by_name = {n.name: n for n in nodes}
    g = nx.DiGraph()
    g.add_nodes_from(by_name)
    for n in nodes:
        for i in n.input:
            src = _input_op(i)
            if src not in by_name:
                raise GraphError(
                    f"node {n.name} ({n.op}): input {i!r} names no node of the GraphDef"
                )
            g.add_edge(src, n.name)
    position = {n.name: i for i, n in enumerate(nodes)}
    try:
        return [by_name[n] for n in nx.lexicographical_topological_sort(g, key=position.get)]
    except nx.NetworkXUnfeasible:
        raise GraphError("import_graph_def: the GraphDef has a cycle") from None


def _build_spec(g: Graph, node: Any, full: str, inputs: list[Tensor], controls: list) -> Operation:
    spec = json.loads(node.attr[SPEC].s)
    attrs = {k: _decode(v) for k, v in spec["attrs"].items()}
    return g.create_op(
        spec["type"],
        inputs,
        name=full,
        unique=False,
        attrs=attrs,
        ir_op=spec["ir_op"],
        ir_attrs={k: _decode_ir(v, attrs) for k, v in spec["ir_attrs"].items()},
        # an IR op's types follow from its (possibly remapped) inputs
        output_types=None
        if spec["ir_op"]
        else [(as_dtype(d), TensorShape(s)) for d, s in spec["outputs"]],
        control_inputs=controls,
    )


def import_graph_def(
    graph_def: Any,
    input_map: dict[str, Any] | None = None,
    return_elements: Sequence[str] | None = None,
    name: str | None = None,
    op_dict: Any = None,
    producer_op_list: Any = None,
) -> list | None:
    """Add a GraphDef's nodes to the default graph (tf.import_graph_def), named
    `name`/node (default "import"; "" keeps the names). `input_map` maps the
    GraphDef's tensor names to tensors of the default graph that replace them;
    `return_elements` names the tensors ('op:0') and operations ('op') to return."""
    _pb()
    if isinstance(graph_def, (bytes, bytearray)):
        graph_def = _pb().graph_pb2.GraphDef.FromString(bytes(graph_def))
    if not isinstance(graph_def, _pb().graph_pb2.GraphDef):
        raise GraphError(f"import_graph_def: expected a GraphDef, got {type(graph_def).__name__}")
    g = get_default_graph()
    prefix = g.unique_name("import" if name is None else name) + "/" if name != "" else ""
    mapped = {_tensor_name(k): v for k, v in (input_map or {}).items()}
    for key, value in mapped.items():
        if not isinstance(value, Tensor) or value.graph is not g:
            raise GraphError(f"import_graph_def: input_map[{key!r}] is not a tensor of the graph")
    nodes = {n.name: n for n in graph_def.node}
    built: dict[str, Operation] = {}

    def tensor(ref: str) -> Tensor:
        ref = _tensor_name(ref)
        if ref in mapped:
            return mapped[ref]
        src, index = ref.rsplit(":", 1)
        outputs = built[src].outputs
        if int(index) >= len(outputs):
            raise GraphError(f"import_graph_def: node {src} has no output {index}")
        return outputs[int(index)]

    for node in _order(list(graph_def.node)):
        where = f"node {node.name} ({node.op})"
        if node.op in _VARIABLE_OPS:
            raise GraphError(
                f"import_graph_def: {where} is a variable: kiln imports frozen graphs "
                f"(tf.graph_util.convert_variables_to_constants makes one)"
            )
        inputs = [tensor(i) for i in node.input if not i.startswith("^")]
        controls = [built[_input_op(i)] for i in node.input if i.startswith("^")]

        def static(i: int, node=node, where=where) -> np.ndarray:
            src = nodes.get(_input_op(node.input[i])) if i < len(node.input) else None
            if src is None or src.op != "Const" or _tensor_name(node.input[i]) in mapped:
                raise GraphError(f"import_graph_def: {where}: input {i} must be a Const node")
            return _pb().tensor_util.make_ndarray(src.attr["value"].tensor)

        if SPEC in node.attr and node.op not in ("Const", "Placeholder"):
            built[node.name] = _build_spec(g, node, prefix + node.name, inputs, controls)
            continue
        build = _TF_OPS.get(node.op)
        if build is None and node.op == "NoOp":
            build = lambda node, inputs, static: ops.no_op(name=node.name)  # noqa: E731
        if build is None:
            raise GraphError(
                f"import_graph_def: {where}: kiln cannot import TensorFlow op {node.op!r} "
                f"(it imports {', '.join(sorted(_TF_OPS))}, NoOp and graphs kiln wrote)"
            )
        with g.name_scope(prefix or None), g.control_dependencies(controls):
            try:
                out = build(node, inputs, static)
            except GraphError:
                raise
            except Exception as e:  # a frontend function's own error, with the node named
                raise GraphError(f"import_graph_def: {where}: {e}") from None
        op = out if isinstance(out, Operation) else out.op
        if op.name != prefix + node.name:
            raise GraphError(
                f"import_graph_def: {where}: the graph already has an operation named "
                f"{prefix + node.name!r} (made {op.name!r})"
            )
        built[node.name] = op
    if return_elements is None:
        return None
    result = []
    for ref in return_elements:
        op_name = _input_op(ref)
        if op_name not in built:
            raise GraphError(
                f"import_graph_def: return_elements names {ref!r}, not in the GraphDef"
            )
        result.append(tensor(ref) if ":" in ref else built[op_name])
    return result
