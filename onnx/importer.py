"""ONNX models to kiln IR: one function whose arguments are the graph inputs.

    module = import_model("model.onnx")          # a path, bytes or a ModelProto
    module["main"]                               # graph inputs -> graph outputs

Each node goes through the converter of its op type for the model's opset
(onnx/convert/). Initializers become constants (or, with
`initializers_as_args=True`, trailing function arguments that can be fed or
trained). A `dim_param` of an input becomes a named symbolic dim, so one
import serves every batch size. Values computed from constants only (the
shape arithmetic exporters emit) are folded by converters that need them
(`Context.value_of`), and by the fold pass otherwise.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ..ir.builder import Builder
from ..ir.core import Location, Module, Operation, Value
from ..ir.dtypes import DType
from ..ir.errors import KilnError
from ..ir.types import ANY, Symbol, TensorType
from .convert import (
    CARRIED,
    STRING,
    STRING_OPS,
    Context,
    ImportError_,
    Node,
    UnknownAtImport,
    dtype_of_elem,
    lookup,
)
from .convert.sequence import OptionalValue, SequenceValue
from .layout import sink_transposes

FUNCTION = "main"


def _onnx():
    try:
        import onnx
    except ModuleNotFoundError as e:  # pragma: no cover (onnx is in the test extra)
        raise KilnError("ONNX import needs the onnx package: pip install 'kiln[onnx]'") from e
    return onnx


def load(model: Any):
    """A ModelProto from a path, bytes or a ModelProto; a kiln error for a file
    that is missing, truncated or not an ONNX model."""
    onnx = _onnx()
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        data, where = bytes(model), "the given bytes"
    else:
        path = os.fspath(model)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ImportError_(f"cannot read ONNX model {path}: {e.strerror}") from None
        where = path
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:  # google.protobuf.message.DecodeError and kin
        raise ImportError_(
            f"{where} is not a valid ONNX model (truncated or corrupt): {e}"
        ) from None
    if not proto.HasField("graph") or (not proto.graph.node and not proto.graph.output):
        raise ImportError_(f"{where} is not an ONNX model: it has no graph")
    if proto.graph.initializer and any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer
    ):
        if isinstance(model, (bytes, bytearray)):
            raise ImportError_(f"{where}: external tensor data needs the model's path")
        try:
            onnx.load_external_data_for_model(proto, os.path.dirname(os.fspath(model)) or ".")
        except Exception as e:
            raise ImportError_(f"{where}: cannot load external tensor data: {e}") from None
    return proto


def default_opset(proto) -> int:
    for entry in proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    if proto.opset_import:
        return 1
    return 1


def _symbol(name: str) -> Symbol:
    """A kiln dim symbol for an ONNX dim_param (upper-case letters, digits, _)."""
    text = re.sub(r"[^A-Z0-9_]", "_", name.upper())
    if not text or not text[0].isalpha():
        text = "D" + text
    return Symbol(text)


def value_type(info, where: str) -> TensorType:
    """The kiln type of an ONNX ValueInfoProto (a tensor)."""
    t = info.type
    if t.WhichOneof("value") != "tensor_type":
        raise ImportError_(
            f"{where} '{info.name}': only tensors are supported, got {t.WhichOneof('value')}"
        )
    elem = t.tensor_type.elem_type
    if elem == STRING and where == "graph input":
        dtype = DType.i64  # strings travel as codes the backend interns per run
    else:
        dtype = dtype_of_elem(elem, f"{where} '{info.name}'")
    if not t.tensor_type.HasField("shape"):
        raise ImportError_(f"{where} '{info.name}' has no shape (kiln needs the rank)")
    dims = []
    for d in t.tensor_type.shape.dim:
        kind = d.WhichOneof("value")
        if kind == "dim_value" and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif kind == "dim_param" and d.dim_param:
            dims.append(_symbol(d.dim_param))
        else:
            dims.append(ANY)
    return TensorType(dtype, dims)


def _arg_name(name: str, taken: set[str]) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", name) or "input"
    if not (text[0].isalpha() or text[0] == "_"):
        text = "v" + text
    base, k = text, 1
    while text in taken:
        text, k = f"{base}_{k}", k + 1
    taken.add(text)
    return text


def attributes(proto, where: str) -> dict[str, Any]:
    """A node's attributes as python values."""
    onnx = _onnx()
    from onnx import helper, numpy_helper

    out: dict[str, Any] = {}
    A = onnx.AttributeProto
    for a in proto.attribute:
        if a.ref_attr_name:
            raise ImportError_(f"{where}: attribute '{a.name}' refers to a function attribute")
        if a.type == A.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
        elif a.type == A.TENSORS:
            out[a.name] = [numpy_helper.to_array(t) for t in a.tensors]
        elif a.type == A.STRING:
            out[a.name] = a.s.decode("utf-8", "replace")
        elif a.type == A.STRINGS:
            out[a.name] = [s.decode("utf-8", "replace") for s in a.strings]
        elif a.type == A.GRAPH:
            out[a.name] = a.g
        else:
            out[a.name] = helper.get_attribute_value(a)
    return out


def tensor_array(t, where: str) -> np.ndarray:
    from onnx import numpy_helper

    dtype_of_elem(t.data_type, where)
    try:
        return numpy_helper.to_array(t)
    except Exception as e:
        raise ImportError_(f"{where}: cannot read tensor '{t.name}': {e}") from None


class Importer:
    """Converts one graph: fills `values` (ONNX name -> kiln Value) node by node."""

    def __init__(
        self,
        proto,
        initializers_as_args: bool = False,
        name: str = FUNCTION,
        constants: dict[str, np.ndarray] | None = None,
        structure: dict[str, Any] | None = None,
    ):
        self.proto = proto
        self.constants = dict(constants or {})
        # sequence and optional graph inputs: name -> a list of the entries'
        # shapes, a shape (an optional holding a tensor) or None (an empty one)
        self.structure = dict(structure or {})
        # per graph output: "tensor", a list of "tensor" (a sequence) or None
        self.output_structure: list[Any] = []
        self.opset = default_opset(proto)
        self.initializers_as_args = initializers_as_args
        self.name = name

    def run(self) -> Module:
        graph = self.proto.graph
        inits = {t.name: t for t in graph.initializer}
        for name in self.constants:
            if name not in {i.name for i in graph.input}:
                raise ImportError_(f"'{name}' (given as a constant) is not a graph input")
        inputs = [i for i in graph.input if i.name not in inits and i.name not in self.constants]
        arg_types, names, parts = [], [], []
        taken: set[str] = set()
        for i in inputs:
            types = self._input_types(i)
            parts.append(len(types))
            arg_types += types
            many = _structured(i)
            names += [
                _arg_name(f"{i.name}_{k}" if many else i.name, taken) for k in range(len(types))
            ]
        init_args = list(inits.values()) if self.initializers_as_args else []
        arrays = {n: tensor_array(t, f"initializer '{n}'") for n, t in inits.items()}
        for t in init_args:
            a = arrays[t.name]
            arg_types.append(TensorType(dtype_of_elem(t.data_type, t.name), a.shape))
            names.append(_arg_name(t.name, taken))
        module = Module()
        func = module.add_function(self.name, arg_types, names)
        b = Builder.at_end(func.body)
        ctx = Context(
            b, self.opset, {e.domain or "": int(e.version) for e in self.proto.opset_import}
        )
        ctx.importer = self
        values: dict[str, Any] = {"": None}
        at = 0
        for i, n in zip(inputs, parts):
            values[i.name] = self._input_value(i, func.args[at : at + n])
            if n == 1 and i.type.tensor_type.elem_type in (*CARRIED, STRING):
                ctx.elems[func.args[at]] = i.type.tensor_type.elem_type
            at += n
        for t, arg in zip(init_args, func.args[at:]):
            values[t.name] = arg
            if t.data_type in CARRIED:
                ctx.elems[arg] = t.data_type
        for i in graph.input:
            if i.name in self.constants:
                t = value_type(i, "graph input")
                b.loc = Location(i.name)
                values[i.name] = ctx.constant(np.asarray(self.constants[i.name]), t.dtype)
        if not self.initializers_as_args:
            for n, a in arrays.items():
                b.loc = Location(n)
                values[n] = ctx.constant(a, dtype_of_elem(inits[n].data_type, n))
                if inits[n].data_type in CARRIED:
                    ctx.elems[values[n]] = inits[n].data_type
        for node_proto in graph.node:
            self.convert_node(ctx, node_proto, values)
        b.loc = Location("return")
        outs = []
        for o in graph.output:
            if o.name not in values or values[o.name] is None:
                raise ImportError_(f"graph output '{o.name}' is not computed by any node")
            flat, shape = _flatten_output(values[o.name])
            outs += flat
            self.output_structure.append(shape)
        b.ret(*outs)
        sink_transposes(func)
        fold_weights(func)
        return module

    def _input_types(self, info) -> list[TensorType]:
        """The kiln types of a graph input's arguments: one for a tensor, one per
        entry of a sequence, none for an empty optional (the backend gives the
        structure of sequence and optional inputs, from the values fed)."""
        if not _structured(info):
            return [value_type(info, "graph input")]
        if info.name not in self.structure:
            raise UnknownAtImport(
                f"graph input '{info.name}' is a {info.type.WhichOneof('value')[:-5]}: "
                "kiln imports it for a given length (kiln.onnx.backend does)"
            )
        given = self.structure[info.name]
        dtype = _structured_dtype(info.type, f"graph input '{info.name}'")
        if given is None:
            return []
        if isinstance(given, list):
            return [TensorType(dtype, tuple(s)) for s in given]
        return [TensorType(dtype, tuple(given))]

    def _input_value(self, info, args: list[Value]) -> Any:
        if not _structured(info):
            return args[0]
        given = self.structure[info.name]
        dtype = _structured_dtype(info.type, f"graph input '{info.name}'")
        kind = info.type.WhichOneof("value")
        if kind == "sequence_type":
            return SequenceValue(list(args), dtype)
        if given is None:
            return OptionalValue(None)
        inner = SequenceValue(list(args), dtype) if isinstance(given, list) else args[0]
        return OptionalValue(inner)

    def convert_node(self, ctx: Context, proto, values: dict[str, Value | None]) -> None:
        domain = proto.domain
        where = f"node '{proto.name or proto.op_type}' ({proto.op_type}, opset {ctx.opset})"
        if domain not in ("", "ai.onnx"):
            raise ImportError_(f"{where}: operator domain '{domain}' is not supported")
        inputs = []
        for name in proto.input:
            if name not in values:
                raise ImportError_(f"{where}: input '{name}' is not defined before the node")
            inputs.append(values[name])
        fn = lookup(proto.op_type, ctx.opset)
        if fn is None:
            elems = [None if v is None else ctx.elem_of(v) for v in inputs]
            body = function_body(proto, inputs, ctx.opset, elems)
            if body is not None:  # an op onnx defines as a function of other ops
                nodes, opset = body
                saved = ctx.opset
                ctx.opset = opset
                try:
                    for inner in nodes:
                        self.convert_node(ctx, inner, values)
                finally:
                    ctx.opset = saved
                return
        node = Node(proto, inputs, attributes(proto, where))
        if fn is None:
            raise ctx.error(node, "this op type is not supported by kiln's ONNX importer")
        if proto.op_type not in STRING_OPS and any(
            v is not None and not isinstance(v, (list, tuple)) and ctx.elems.get(v) == STRING
            for v in inputs
        ):
            raise ctx.error(node, "string tensors are supported only as operands of Equal")
        ctx.b.loc = Location(node.name)
        ctx.node = node
        ctx.values = values
        try:
            results = fn(ctx, node)
        except ImportError_:
            raise
        except KilnError as e:
            raise ctx.error(node, str(e)) from e
        except Exception as e:  # a converter's bug or a malformed node: still a kiln error
            raise ctx.error(node, f"{type(e).__name__}: {e}") from e
        finally:
            ctx.node = None
        results = list(results)
        if len(results) < node.num_outputs:
            needed = [n for n, r in zip(proto.output[len(results) :], [None] * 99) if n]
            if needed:
                raise ctx.error(node, f"output {len(results)} is not supported")
        for name, value in zip(proto.output, results):
            if not name:
                continue
            known = ctx.known_value(value) if value is not None else None
            if (
                known is not None
                and known.size <= 1024
                and not (isinstance(value.owner, Operation) and value.owner.name == "kiln.constant")
            ):  # a shape computation that came out static: a constant from here on
                value = ctx.constant(known.reshape(value.type.shape), value.type.dtype)
            values[name] = value


def _structured(info) -> bool:
    return info.type.WhichOneof("value") in ("sequence_type", "optional_type")


def _structured_dtype(t, where: str):
    """The element dtype of a sequence or optional type (through nesting)."""
    while t.WhichOneof("value") in ("sequence_type", "optional_type"):
        kind = t.WhichOneof("value")
        t = getattr(t, kind).elem_type
    if t.WhichOneof("value") != "tensor_type":
        raise ImportError_(f"{where}: only sequences and optionals of tensors are supported")
    return dtype_of_elem(t.tensor_type.elem_type, where)


def _flatten_output(v) -> tuple[list[Value], Any]:
    """A graph output's results and its structure ("tensor", a list of them for a
    sequence, None for an empty optional)."""
    if isinstance(v, OptionalValue):
        return ([], None) if v.value is None else _flatten_output(v.value)
    if isinstance(v, SequenceValue):
        return list(v.items), ["tensor"] * len(v.items)
    return [v], "tensor"


# ops that only move or convert a constant's elements: folded at import whatever the
# size (the fold pass leaves constants over 64K elements alone, and the weights'
# layout changes (OIHW -> HWIO) would otherwise run at every call)
_MOVES = {
    "kiln.transpose",
    "kiln.reshape",
    "kiln.expand_dims",
    "kiln.squeeze",
    "kiln.cast",
    "kiln.slice",
    "kiln.broadcast_to",
}


def fold_weights(func) -> int:
    """Replace data-movement ops on constants by constants; returns how many."""
    folded = 0
    for op in list(func.ops):
        if op.name not in _MOVES or not all(
            isinstance(x.owner, Operation) and x.owner.name == "kiln.constant" for x in op.operands
        ):
            continue
        value = op.reference(*[x.owner.value.array for x in op.operands])
        b = Builder.before(op)
        const = b.constant(
            np.asarray(value, dtype=op.result.type.dtype.numpy), op.result.type.dtype
        )
        op.result.replace_all_uses_with(const)
        inputs = [x.owner for x in op.operands]
        op.parent.erase(op)
        for producer in inputs:
            if producer.parent is not None and not producer.result.uses:
                producer.parent.erase(producer)
        folded += 1
    return folded


def _type_proto(v: Value | None, elem: int | None = None):
    from onnx import TypeProto, helper

    if v is None:
        return TypeProto()
    if elem is None:
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(v.type.dtype.numpy))
    shape = [d if isinstance(d, int) else None for d in v.type.shape]
    return helper.make_tensor_type_proto(elem, shape)


def _rename_graph(graph, rename) -> None:
    """Rename every value name of `graph` (and of its subgraphs) in place."""
    for v in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        v.name = rename(v.name)
    for node in graph.node:
        node.input[:] = [rename(n) if n else n for n in node.input]
        node.output[:] = [rename(n) if n else n for n in node.output]
        for a in node.attribute:
            for g in [a.g] if a.HasField("g") else list(a.graphs):
                _rename_graph(g, rename)


def function_body(
    proto, inputs: list[Value | None], opset: int, elems: list[int | None] | None = None
):
    """The nodes of the function body onnx defines for `proto`'s op (at the largest
    version <= opset), renamed into the graph, and the opset they use; None when
    the op has no function body."""
    from onnx import AttributeProto, FunctionProto, defs

    try:
        schema = defs.get_schema(proto.op_type, opset, proto.domain)
    except Exception:  # onnx.defs.SchemaError: no such op
        return None
    function = None
    versions = [v for v in schema.function_opset_versions if v <= opset]
    context = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
    try:
        if versions:
            function = FunctionProto.FromString(
                schema.get_function_with_opset_version(max(versions))
            )
        elif context:
            elems = elems or [None] * len(inputs)
            types = [_type_proto(v, e).SerializeToString() for v, e in zip(inputs, elems)]
            function = FunctionProto.FromString(
                schema.get_context_dependent_function_with_opset_version(
                    max(context), proto.SerializeToString(), types
                )
            )
    except Exception:
        return None
    if function is None or not function.node:
        return None
    prefix = f"{proto.name or proto.op_type}__{proto.output[0]}__"
    names = {"": ""}
    for i, name in enumerate(function.input):
        names[name] = proto.input[i] if i < len(proto.input) else ""
    for i, name in enumerate(function.output):
        if i < len(proto.output) and proto.output[i]:
            names[name] = proto.output[i]
    given = {a.name: a for a in proto.attribute}
    for name, spec in schema.attributes.items():
        if name not in given and spec.default_value and spec.default_value.name:
            given[name] = spec.default_value
    nodes = []
    for inner in function.node:
        node = type(inner)()
        node.CopyFrom(inner)
        del node.input[:]
        del node.output[:]
        del node.attribute[:]
        node.input.extend(names.get(n, prefix + n) for n in inner.input)
        node.output.extend(names.get(n, prefix + n) for n in inner.output)
        node.name = prefix + (inner.name or inner.op_type)
        for a in inner.attribute:
            if a.ref_attr_name:
                if a.ref_attr_name in given:
                    ref = AttributeProto()
                    ref.CopyFrom(given[a.ref_attr_name])
                    ref.name = a.name
                    node.attribute.append(ref)
            else:
                node.attribute.append(a)
        for a in node.attribute:  # a subgraph (Scan's body) uses the body's names too
            for g in [a.g] if a.HasField("g") else list(a.graphs):
                _rename_graph(g, lambda n: names.get(n, prefix + n))
        nodes.append(node)
    inner_opset = opset
    for entry in function.opset_import:
        if entry.domain in ("", "ai.onnx"):
            inner_opset = int(entry.version)
    return nodes, inner_opset


def import_model(
    model: Any,
    *,
    initializers_as_args: bool = False,
    constants: dict[str, np.ndarray] | None = None,
    structure: dict[str, Any] | None = None,
) -> Module:
    """Import an ONNX model (a path, bytes or an onnx.ModelProto) as a kiln module
    with one function @main: the graph inputs (less initializers) in, outputs out.

    `initializers_as_args`: the initializers become trailing arguments (in the
    graph's order) instead of constants. `constants`: graph inputs given values at
    import (name -> array), e.g. a shape or axes fed as an input: specialising on
    them lets the converters that need them known at import run. `structure`:
    the shapes of the entries of sequence and optional inputs (see Importer)."""
    return import_structured(
        model, initializers_as_args=initializers_as_args, constants=constants, structure=structure
    )[0]


def import_structured(
    model: Any,
    *,
    initializers_as_args: bool = False,
    constants: dict[str, np.ndarray] | None = None,
    structure: dict[str, Any] | None = None,
) -> tuple[Module, list[Any]]:
    """`import_model`, and how the results group into the graph's outputs (per
    output: "tensor", a list of "tensor" for a sequence, None for an empty optional)."""
    importer = Importer(load(model), initializers_as_args, constants=constants, structure=structure)
    module = importer.run()
    return module, importer.output_structure
