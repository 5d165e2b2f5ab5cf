"""kiln's IR: typed SSA values, ops declared once, text form, verifier and
the numpy reference interpreter. Imports nothing else of kiln."""

from . import ops as _ops  # noqa: F401  (registers every op)
from .attributes import Attr, Dense, SymbolRef
from .builder import Builder
from .control_flow import build_if, build_scan, build_while
from .core import (
    Block,
    BlockArgument,
    Function,
    Location,
    Module,
    Operation,
    OpResult,
    Region,
    Trait,
    Value,
)
from .dtypes import DType, bf16, bool_, dtype_of, f16, f32, f64, i8, i32, i64
from .errors import (
    CompileError,
    ExecutionError,
    KilnError,
    ParseError,
    ShapeError,
    VerifyError,
)
from .interpreter import Interpreter, interpret
from .parser import parse
from .printer import print_module
from .registry import OPS, lookup, op
from .types import ANY, Dim, Symbol, TensorType, broadcast_shapes

__all__ = [
    "ANY",
    "Attr",
    "Block",
    "BlockArgument",
    "Builder",
    "CompileError",
    "DType",
    "Dense",
    "Dim",
    "ExecutionError",
    "Function",
    "Interpreter",
    "KilnError",
    "Location",
    "Module",
    "OPS",
    "OpResult",
    "Operation",
    "ParseError",
    "Region",
    "ShapeError",
    "Symbol",
    "SymbolRef",
    "TensorType",
    "Trait",
    "Value",
    "VerifyError",
    "bf16",
    "bool_",
    "broadcast_shapes",
    "build_if",
    "build_scan",
    "build_while",
    "dtype_of",
    "f16",
    "f32",
    "f64",
    "i8",
    "i32",
    "i64",
    "interpret",
    "lookup",
    "op",
    "parse",
    "print_module",
]
