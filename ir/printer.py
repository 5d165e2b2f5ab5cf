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
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from .attributes import format_value
from .core import Block, Function, Module, Operation, Value
from .types import TensorType

_HINT = re.compile(r"[A-Za-z_][A-Za-z0-9_.$]*\Z")


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


def _print_op(op: Operation, namer: Namer, indent: str, lines: list[str]) -> None:
    head = ""
    if op.results:
        head = ", ".join(namer.define(r) for r in op.results) + " = "
    text = indent + head + op.name
    if op.operands:
        text += " " + ", ".join(namer(v) for v in op.operands)
    shown = {
        k: v for k, v in op.attrs.items() if k not in op.attr_specs or v != op.attr_specs[k].default
    }
    text += format_attr_dict(shown)
    text += " : " + op_signature(op)
    if op.regions:  # MLIR's generic form: ({ ^bb0(...): ... }, { ... })
        opener = " ({"
        for region in op.regions:
            lines.append(text + opener)
            for block in region.blocks:
                _print_block(block, namer, indent, lines, label=True)
            text, opener = indent + "}", ", {"
        text = indent + "})"
    if op.loc.name:
        text += f" loc({json.dumps(op.loc.name)})"
    lines.append(text)


def format_attr_dict(attrs: dict) -> str:
    """`` {k = v, ...}``, or nothing for no attributes."""
    if not attrs:
        return ""
    return " {" + ", ".join(f"{k} = {format_value(v)}" for k, v in attrs.items()) + "}"


def _print_block(block: Block, namer: Namer, indent: str, lines: list[str], label: bool) -> None:
    if label:
        args = ", ".join(f"{namer.define(a)}: {a.type}" for a in block.args)
        lines.append(f"{indent}^bb0({args}):")
    for op in block.ops:
        _print_op(op, namer, indent + "  ", lines)


def print_function(func: Function) -> str:
    namer = Namer()
    args = ", ".join(f"{namer.define(a)}: {a.type}" for a in func.args)
    head = f"func @{func.name}({args})"
    if func.result_types:
        head += " -> " + result_signature(func.result_types)
    if func.attrs:
        head += " attributes" + format_attr_dict(func.attrs)
    lines = [head + " {"]
    _print_block(func.body, namer, "", lines, label=False)
    lines.append("}")
    return "\n".join(lines)


def print_module(module: Module) -> str:
    return "\n\n".join(print_function(f) for f in module) + ("\n" if module.functions else "")


def print_op(op: Operation) -> str:
    """One op on its own (operands named by hint or number), for messages."""
    namer = Namer()
    for v in op.operands:
        if id(v) not in namer.names:
            namer.define(v)
    lines: list[str] = []
    _print_op(op, namer, "", lines)
    return "\n".join(lines)
