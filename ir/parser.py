"""Parse the text form (grammar.lark) into a Module.

Errors are `ParseError`s with line:column: malformed text says what was
expected there; a use of an undefined value, an unknown op or a type that
disagrees with its value says so at the token.

The resource section the printer puts at the end (the bytes of large
constants, referenced in the ops as `dense_resource<name>`) is read apart
from the grammar, with one regular expression: hex of many megabytes never
goes through the LALR lexer. `parse(text, resources={name: array or bytes})`
gives the data of references whose section was left out (printed elided).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

import lark
import numpy as np

from .attributes import Dense, SymbolRef, dense_from_bytes
from .core import Block, Function, Location, Module, Region, Value
from .dtypes import DType
from .errors import KilnError, ParseError
from .printer import RESOURCES_CLOSE, RESOURCES_OPEN
from .registry import lookup
from .types import TensorType, parse_type_body

_FRIENDLY = {
    "VALUE": "a value (%name)",
    "SYMBOL": "a function name (@name)",
    "OPNAME": "an op name",
    "TYPE": "a type (tensor<...>)",
    "NAME": "an attribute name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "DTYPE": "an element type",
    "BLOCK_LABEL": "a block label (^bb0)",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "MORETHAN": "'>'",
    "__ANON_0": "'->'",
    "FUNC": "'func'",
    "$END": "end of input",
}


@cache
def _lark() -> lark.Lark:
    grammar = files(__package__).joinpath("grammar.lark").read_text()
    # cache=True: lark keeps the LALR tables in the temp directory (0.4 s to build)
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=False, cache=True)


def _expected(names: set[str]) -> str:
    words = sorted({_FRIENDLY.get(n, repr(n.strip('"').lower())) for n in names})
    return ", ".join(words) if words else "nothing more"


# Bounds on what text may ask for, checked before anything is built: brackets
# nested deeper than MAX_NESTING, a dim above MAX_DIM, a type of more than
# MAX_ELEMENTS elements or a constant of more than MAX_CONSTANT_BYTES are
# ParseErrors at their line:column (never a RecursionError or a huge allocation)
MAX_NESTING = 64
MAX_DIM = 2**40
MAX_ELEMENTS = 2**48
MAX_CONSTANT_BYTES = 1 << 30
_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[(\[{]|[)\]}]')


def _check_nesting(text: str) -> None:
    depth = 0
    for m in _BRACKETS.finditer(text):
        c = m.group()
        if c in "([{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, m.start()) + 1
                column = m.start() - text.rfind("\n", 0, m.start())
                raise ParseError(f"brackets nested deeper than {MAX_NESTING} levels", line, column)
        elif c in ")]}":
            depth -= 1


_SECTION = re.compile(
    "^" + re.escape(RESOURCES_OPEN) + r"[ \t]*\n(.*?)^" + re.escape(RESOURCES_CLOSE) + r"\s*\Z",
    re.MULTILINE | re.DOTALL,
)
_ENTRY = re.compile(r'[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*:[ \t]*"0x([0-9A-Fa-f]*)"[ \t]*\Z')


def split_resources(text: str) -> tuple[str, dict[str, bytes]]:
    """The text without its resource section, and the section's blobs by name."""
    m = _SECTION.search(text)
    if m is None:
        return text, {}
    blobs: dict[str, bytes] = {}
    first_line = text.count("\n", 0, m.start(1)) + 1
    for i, line in enumerate(m.group(1).splitlines()):
        if not line.strip():
            continue
        entry = _ENTRY.match(line)
        if entry is None:
            raise ParseError('expected a resource: name: "0x<hex bytes>"', first_line + i, 1)
        if entry.group(1) in blobs:
            raise ParseError(f"resource {entry.group(1)} is given twice", first_line + i, 1)
        blobs[entry.group(1)] = bytes.fromhex(entry.group(2))
    return text[: m.start()], blobs


def parse(text: str, verify: bool = True, resources: dict[str, Any] | None = None) -> Module:
    """Parse IR text into a Module (verified unless `verify=False`). Any
    malformed text is a KilnError, with line:column where it has a place.
    `resources` gives the data (arrays or bytes) of `dense_resource<name>`
    constants the text has no resource section for."""
    if not isinstance(text, str):
        raise ParseError(f"IR text must be a str, got {type(text).__name__}")
    text, blobs = split_resources(text)
    _check_nesting(text)
    builder = _ModuleBuilder({**(resources or {}), **blobs})
    try:
        return _parse(text, verify, builder)
    except KilnError:
        raise
    except (
        RecursionError,
        MemoryError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        ZeroDivisionError,
    ) as e:
        # a case no check above foresaw: still a kiln error, at the op being read
        line, column = _at(builder.at) if builder.at is not None else (None, None)
        raise ParseError(f"cannot read this: {type(e).__name__}: {e}", line, column) from e


def _parse(text: str, verify: bool, builder: _ModuleBuilder) -> Module:
    try:
        tree = _lark().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        raise ParseError(
            f"unexpected character {text[e.pos_in_stream]!r}; expected "
            f"{_expected(set(e.allowed or ()))}",
            e.line,
            e.column,
        ) from None
    except lark.exceptions.UnexpectedToken as e:
        got = "end of input" if e.token.type == "$END" else repr(str(e.token))
        raise ParseError(
            f"unexpected {got}; expected {_expected(set(e.expected))}", e.line, e.column
        ) from None
    except lark.exceptions.UnexpectedEOF as e:
        raise ParseError(
            f"unexpected end of input; expected {_expected(set(e.expected))}", e.line, e.column
        ) from None
    module = builder.build(tree)
    if verify:
        module.verify()
    return module


def _at(token: lark.Token) -> tuple[int, int]:
    return token.line, token.column


def _fail(token: lark.Token, message: str) -> ParseError:
    return ParseError(message, *_at(token))


def _type(token: lark.Token) -> TensorType:
    try:
        t = parse_type_body(str(token)[len("tensor<") : -1])
    except KilnError as e:
        raise _fail(token, str(e)) from None
    n = 1
    for d in t.shape:
        if isinstance(d, int):
            if d > MAX_DIM:
                raise _fail(token, f"dimension {d} in {token} is above the limit {MAX_DIM}")
            n *= d
    if n > MAX_ELEMENTS:
        raise _fail(token, f"{token} has {n} elements, above the limit {MAX_ELEMENTS}")
    return t


def _hint(token: lark.Token) -> str | None:
    name = str(token)[1:]
    return None if name[0].isdigit() else name


def _trees(node: lark.Tree, data: str) -> list[lark.Tree]:
    return [c for c in node.children if isinstance(c, lark.Tree) and c.data == data]


def _tokens(node: lark.Tree, kind: str) -> list[lark.Token]:
    return [c for c in node.children if isinstance(c, lark.Token) and c.type == kind]


class _ModuleBuilder:
    at: lark.Token | None = None  # the op (or function) being built: where errors point

    def __init__(self, resources: dict[str, Any]):
        self.resources = resources

    def build(self, tree: lark.Tree) -> Module:
        module = Module()
        for f in tree.children:
            name_tok = self.at = _tokens(f, "SYMBOL")[0]
            if str(name_tok)[1:] in module:
                raise _fail(name_tok, f"function {name_tok} is defined twice")
            module.add(self.function(f))
        return module

    def function(self, node: lark.Tree) -> Function:
        args = _trees(node, "arg")
        func = Function(str(_tokens(node, "SYMBOL")[0])[1:])
        func.result_types = self.results(node)
        func.attrs = self.attr_dict(node)
        scope: dict[str, Value] = {}
        self.block_args(func.body, args, scope)
        self.ops(func.body, _trees(node, "op"), scope)
        return func

    def results(self, node: lark.Tree) -> list[TensorType] | None:
        for c in node.children:
            if isinstance(c, lark.Tree) and c.data in ("one_result", "result_list"):
                return [_type(t) for t in c.children]
        return None

    def block_args(self, block: Block, args: list[lark.Tree], scope: dict[str, Value]) -> None:
        for a in args:
            name, type_tok = a.children
            self.define(scope, name, block.add_arg(_type(type_tok), _hint(name)))

    def define(self, scope: dict[str, Value], token: lark.Token, value: Value) -> None:
        if str(token) in scope:
            raise _fail(token, f"value {token} is defined twice")
        scope[str(token)] = value

    def ops(self, block: Block, nodes: list[lark.Tree], scope: dict[str, Value]) -> None:
        for node in nodes:
            block.append(self.op(node, scope))

    def op(self, node: lark.Tree, scope: dict[str, Value]):
        name_tok = self.at = _tokens(node, "OPNAME")[0]
        try:
            cls = lookup(str(name_tok))
        except KilnError as e:
            raise _fail(name_tok, str(e)) from None
        defs = [t for d in _trees(node, "defs") for t in d.children]
        uses = [t for u in _trees(node, "uses") for t in u.children]
        operands = []
        for t in uses:
            if str(t) not in scope:
                raise _fail(t, f"use of undefined value {t}")
            operands.append(scope[str(t)])
        in_types, out_types = self.signature(node, cls, len(operands), name_tok)
        if len(in_types) != len(operands):
            raise _fail(
                name_tok,
                f"{name_tok} has {len(operands)} operands but its signature "
                f"lists {len(in_types)} types",
            )
        for t, v, want in zip(uses, operands, in_types):
            if v.type != want:
                raise _fail(
                    t, f"{t} has type {v.type}, but the signature of {name_tok} says {want}"
                )
        if len(defs) != len(out_types):
            raise _fail(
                name_tok,
                f"{name_tok} defines {len(defs)} values but its signature "
                f"lists {len(out_types)} result types",
            )
        attrs = self.attr_dict(node)
        regions = [self.region(r) for rs in _trees(node, "regions") for r in rs.children]
        loc_name = None
        for loc in _trees(node, "loc"):
            loc_name = json.loads(str(loc.children[0]))
        line, column = _at(name_tok)
        try:
            op = cls(operands, attrs, out_types, regions, Location(loc_name, line, column))
        except KilnError as e:  # the op's own check: its message without the location
            raise ParseError(e.message if e.line is not None else str(e), line, column) from None
        for t, r in zip(defs, op.results):
            r.name = _hint(t)
            self.define(scope, t, r)
        return op

    def signature(self, node: lark.Tree, cls: Any, n_operands: int, name_tok: lark.Token):
        sig = next(
            c
            for c in node.children
            if isinstance(c, lark.Tree) and c.data in ("short_signature", "full_signature")
        )
        if sig.data == "short_signature":
            if cls.num_results is None:
                raise _fail(
                    name_tok, f"{name_tok} needs a full signature: (operand types) -> result types"
                )
            t = _type(sig.children[0])
            return [t] * n_operands, [t] * cls.num_results
        *ins, outs = sig.children
        return [_type(t) for t in ins], [_type(t) for t in outs.children]

    def region(self, node: lark.Tree) -> Region:
        block = Block()
        scope: dict[str, Value] = {}  # regions are isolated from above
        self.block_args(block, _trees(node, "arg"), scope)
        self.ops(block, _trees(node, "op"), scope)
        return Region([block])

    def attr_dict(self, node: lark.Tree) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for a in (a for d in _trees(node, "attr_dict") for a in d.children):
            key, value = a.children
            if str(key) in attrs:
                raise _fail(key, f"attribute {key} is given twice")
            attrs[str(key)] = self.attr_value(value)
        return attrs

    def attr_value(self, node: Any) -> Any:
        kind = node.data
        if kind == "list":
            return tuple(self.attr_value(c) for c in node.children)
        if kind == "dense":
            body, type_tok = node.children
            return self.dense(body, _type(type_tok), type_tok)
        if kind == "dense_resource":
            name, type_tok = node.children
            return self.resource(name, _type(type_tok), type_tok)
        if kind in ("true", "false"):
            return kind == "true"
        tok = node.children[0]
        if kind == "int":
            return int(tok)
        if kind == "float":
            return float(tok)
        if kind == "string":
            return json.loads(str(tok))
        if kind == "dtype":
            return DType(str(tok))
        if kind == "type":
            return _type(tok)
        if kind == "symbol":
            return SymbolRef(str(tok)[1:])
        raise _fail(tok, f"unknown attribute value {tok}")  # unreachable with the grammar

    def resource(self, name: lark.Token, type: TensorType, at: lark.Token) -> Dense:
        self._check_constant(type, at)
        if str(name) not in self.resources:
            raise _fail(
                name,
                f"constant resource {name} is not in the text (printed with its data "
                "elided?): give its data with parse(text, resources={...})",
            )
        data = self.resources[str(name)]
        try:
            if isinstance(data, (bytes, bytearray, memoryview)):
                return dense_from_bytes(bytes(data), type)
            array = data.array if isinstance(data, Dense) else np.asarray(data)
            if array.shape != type.shape:
                raise KilnError(f"resource {name} has shape {array.shape}, not that of {type}")
            return Dense(array, type)
        except (KilnError, ValueError, TypeError) as e:
            raise _fail(name, str(e)) from None

    def _check_constant(self, type: TensorType, at: lark.Token) -> None:
        if not type.is_static:
            raise _fail(at, f"a constant needs a static shape, got {type}")
        size = type.num_elements * type.dtype.itemsize
        if size > MAX_CONSTANT_BYTES:
            raise _fail(
                at, f"a constant of {size} bytes ({type}) is above the limit {MAX_CONSTANT_BYTES}"
            )

    def dense(self, body: Any, type: TensorType, at: lark.Token) -> Dense:
        self._check_constant(type, at)
        try:
            if body.data == "string":
                text = json.loads(str(body.children[0]))
                if not text.startswith("0x"):
                    raise KilnError(f'a string constant must be hex bytes "0x...", got {text!r}')
                return dense_from_bytes(bytes.fromhex(text[2:]), type)
            value = np.array(self.attr_value(body), dtype=type.dtype.numpy)
            if value.size == 0 and type.num_elements == 0:  # dense<[]> of any empty shape
                value = value.reshape(type.shape)
            if value.ndim and value.shape != type.shape:
                raise KilnError(f"constant of shape {value.shape} does not match {type}")
            return Dense(value, type)
        except (KilnError, ValueError, OverflowError) as e:
            raise _fail(at, str(e)) from None
