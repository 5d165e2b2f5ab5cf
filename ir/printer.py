"""The text form: MLIR-style, one generic syntax for every op.

    func @dense(%x: tensor<?x784xf32>, %w: tensor<784x128xf32>) -> tensor<?x128xf32> {
      %0 = kiln.matmul %x, %w : (tensor<?x784xf32>, tensor<784x128xf32>) -> tensor<?x128xf32>
      %1 = kiln.relu %0 : tensor<?x128xf32>
      kiln.return %1 : tensor<?x128xf32>
    }

An op is ``results = name operands {attributes} : types (regions) loc("...")``.
The types are ``: T`` when every operand and result has type T, otherwise
``: (operand types) -> result types``. Attributes equal to their default are
left out. Values print by their name hint when it is free, else by number;
`parse(print(m))` prints exactly as `m`.

A constant of more than RESOURCE_LIMIT elements (a model's weights) prints as
a reference, ``dense_resource<conv1_w> : tensor<64x3x7x7xf32>``, and its bytes
go to one resource section at the end of the text (MLIR's dialect resources),
so the ops of an imported ResNet-50 read as a page and still parse back:

    {-# resources
      conv1_w: "0x3DCC..."
    #-}

`large_constants="elide"` leaves the section out (text to read, not to parse:
the parser then needs the bytes from elsewhere, `parse(text, resources=...)`);
`"inline"` prints every constant in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from .attributes import Dense, dense_bytes, format_value, is_splat
from .core import Block, Function, Module, Operation, Value
from .errors import KilnError
from .types import TensorType

_HINT = re.compile(r"[A-Za-z_][A-Za-z0-9_.$]*\Z")

RESOURCE_LIMIT = 32  # constants with more elements print as dense_resource<name>
LARGE_CONSTANTS = ("resources", "elide", "inline")
RESOURCES_OPEN, RESOURCES_CLOSE = "{-# resources", "#-}"


class Resources:
    """The large constants of the text being printed, each under a unique name."""

    def __init__(self, mode: str = "resources"):
        if mode not in LARGE_CONSTANTS:
            raise KilnError(f"large_constants must be one of {', '.join(LARGE_CONSTANTS)}")
        self.mode = mode
        self.names: dict[int, str] = {}  # id(Dense) -> name
        self.data: dict[str, Dense] = {}

    def format(self, value, hint: str) -> str:
        if (
            self.mode == "inline"
            or not isinstance(value, Dense)
            or value.array.size <= RESOURCE_LIMIT
            or is_splat(value.array)  # one element, printed as dense<v>
        ):
            return format_value(value)
        name = self.names.get(id(value))
        if name is None:
            base = re.sub(r"[^A-Za-z0-9_]", "_", hint).strip("_") or "blob"
            if base[0].isdigit():
                base = "c" + base
            name, k = base, 0
            while name in self.data:
                k += 1
                name = f"{base}_{k}"
            self.names[id(value)], self.data[name] = name, value
        return f"dense_resource<{name}> : {value.type}"

    def section(self) -> str:
        """The resource section ("" for none, or when eliding)."""
        if self.mode != "resources" or not self.data:
            return ""
        lines = [RESOURCES_OPEN]
        for name, value in self.data.items():
            lines.append(f'  {name}: "0x{dense_bytes(value).hex().upper()}"')
        lines.append(RESOURCES_CLOSE)
        return "\n".join(lines) + "\n"


class Namer:
    """Assigns each value of a function a unique printed name."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0

    def define(self, v: Value) -> str:
        hint = v.name
        if hint and _HINT.match(hint):
            name, k = hint, 0
            while name in self.taken:
                k += 1
                name = f"{hint}_{k}"
        else:
            while str(self.counter) in self.taken:
                self.counter += 1
            name = str(self.counter)
            self.counter += 1
        self.taken.add(name)
        self.names[id(v)] = name
        return "%" + name

    def __call__(self, v: Value) -> str:
        try:
            return "%" + self.names[id(v)]
        except KeyError:
            return f"%<undefined {v.type}>"


def _type_list(types: Sequence[TensorType]) -> str:
    return "(" + ", ".join(map(str, types)) + ")"


def result_signature(types: Sequence[TensorType]) -> str:
    return str(types[0]) if len(types) == 1 else _type_list(types)


def op_signature(op: Operation) -> str:
    ins = [v.type for v in op.operands]
    outs = [r.type for r in op.results]
    fixed_results = op.num_results is not None
    if ins and fixed_results and len(set(ins + outs)) == 1:
        return str(ins[0])
    return f"{_type_list(ins)} -> {result_signature(outs)}"


def _print_op(
    op: Operation, namer: Namer, indent: str, lines: list[str], resources: Resources
) -> None:
    head = ""
    if op.results:
        head = ", ".join(namer.define(r) for r in op.results) + " = "
    text = indent + head + op.name
    if op.operands:
        text += " " + ", ".join(namer(v) for v in op.operands)
    shown = {
        k: v for k, v in op.attrs.items() if k not in op.attr_specs or v != op.attr_specs[k].default
    }
    hint = namer.names[id(op.results[0])] if op.results else op.name.split(".")[-1]
    text += format_attr_dict(shown, lambda v: resources.format(v, hint))
    text += " : " + op_signature(op)
    if op.regions:  # MLIR's generic form: ({ ^bb0(...): ... }, { ... })
        opener = " ({"
        for region in op.regions:
            lines.append(text + opener)
            for block in region.blocks:
                _print_block(block, namer, indent, lines, True, resources)
            text, opener = indent + "}", ", {"
        text = indent + "})"
    if op.loc.name:
        text += f" loc({json.dumps(op.loc.name)})"
    lines.append(text)


def format_attr_dict(attrs: dict, fmt=format_value) -> str:
    """`` {k = v, ...}``, or nothing for no attributes."""
    if not attrs:
        return ""
    return " {" + ", ".join(f"{k} = {fmt(v)}" for k, v in attrs.items()) + "}"


def _print_block(
    block: Block, namer: Namer, indent: str, lines: list[str], label: bool, resources: Resources
) -> None:
    if label:
        args = ", ".join(f"{namer.define(a)}: {a.type}" for a in block.args)
        lines.append(f"{indent}^bb0({args}):")
    for op in block.ops:
        _print_op(op, namer, indent + "  ", lines, resources)


def print_function(func: Function, large_constants: str = "resources") -> str:
    """One function's text, its resource section (if any) after it."""
    resources = Resources(large_constants)
    text = _function_text(func, resources)
    section = resources.section()
    return text + ("\n" + section.rstrip("\n") if section else "")


def _function_text(func: Function, resources: Resources) -> str:
    namer = Namer()
    args = ", ".join(f"{namer.define(a)}: {a.type}" for a in func.args)
    head = f"func @{func.name}({args})"
    if func.result_types:
        head += " -> " + result_signature(func.result_types)
    if func.attrs:
        head += " attributes" + format_attr_dict(func.attrs)
    lines = [head + " {"]
    _print_block(func.body, namer, "", lines, False, resources)
    lines.append("}")
    return "\n".join(lines)


def print_module(module: Module, large_constants: str = "resources") -> str:
    """The module's text; `large_constants` is "resources" (the default: large
    constants by reference, their bytes in a section at the end), "elide" (no
    section) or "inline"."""
    resources = Resources(large_constants)
    text = "\n\n".join(_function_text(f, resources) for f in module)
    text += "\n" if module.functions else ""
    section = resources.section()
    return text + ("\n" + section if section else "")


def print_op(op: Operation) -> str:
    """One op on its own (operands named by hint or number), for messages."""
    namer = Namer()
    for v in op.operands:
        if id(v) not in namer.names:
            namer.define(v)
    lines: list[str] = []
    _print_op(op, namer, "", lines, Resources("elide"))  # a message names large constants
    return "\n".join(lines)
