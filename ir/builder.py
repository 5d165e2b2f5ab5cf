"""The builder API that frontends and passes use to make IR.

    m = Module()
    f = m.add_function("dense", [TensorType("f32", ["?", 784]), TensorType("f32", [784, 128])],
                       ["x", "w"])
    b = Builder.at_end(f.body)
    y = b.relu(b.matmul(*f.args))
    b.ret(y)

`b.NAME(*operands, **attrs)` creates the op ``kiln.NAME`` after the
insertion point and returns its result (a tuple for several results).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .attributes import Dense
from .core import UNKNOWN, Block, Function, Location, Operation, Region, Value
from .dtypes import DType, dtype_of
from .errors import KilnError
from .registry import OPS, lookup
from .types import TensorType


class Builder:
    """Creates ops at an insertion point in a block: just before an anchor op,
    or at the end. Placing a builder and inserting with it are O(1)."""

    def __init__(self, block: Block, before: Operation | None = None, loc: Location = UNKNOWN):
        if before is not None and before.parent is not block:
            raise KilnError(f"Builder: {before.describe()} is not in the given block")
        self.block = block
        self.anchor = before  # new ops go just before it; None: the end of the block
        self.loc = loc

    @classmethod
    def at_end(cls, block: Block) -> Builder:
        return cls(block)

    @classmethod
    def before(cls, op: Operation) -> Builder:
        """A builder that inserts just before `op` (in the order it creates ops)."""
        return cls(op.parent, op, op.loc)

    @classmethod
    def after(cls, op: Operation) -> Builder:
        """A builder that inserts just after `op` (in the order it creates ops)."""
        return cls(op.parent, op.next_op, op.loc)

    def insert(self, op: Operation) -> Operation:
        """Insert `op` (in no block) at the insertion point."""
        return self.block.insert_before(self.anchor, op)

    def create(
        self,
        name: str | type[Operation],
        *operands: Value,
        result_types: Sequence[TensorType] | None = None,
        regions: Sequence[Region] = (),
        loc: Location | str | None = None,
        **attrs: Any,
    ) -> Operation:
        """Create and insert an op; result types come from its type rule unless given."""
        cls = lookup(name) if isinstance(name, str) else name
        if isinstance(loc, str):
            loc = Location(loc)
        return self.insert(cls(list(operands), attrs, result_types, regions, loc or self.loc))

    def __getattr__(self, short: str):
        name = "kiln." + short
        if name not in OPS:
            raise AttributeError(f"Builder has no method {short!r} and there is no op {name}")

        def build(*operands: Value, **attrs: Any) -> Value | tuple[Value, ...]:
            op = self.create(name, *operands, **attrs)
            return op.results[0] if len(op.results) == 1 else tuple(op.results)

        build.__doc__ = OPS[name].__doc__
        return build

    def constant(
        self, value: Any, dtype: DType | str | None = None, loc: Location | str | None = None
    ) -> Value:
        """A kiln.constant holding `value` (numpy array, list or scalar)."""
        array = np.asarray(value)
        if dtype is None and array.dtype == np.float64 and not isinstance(value, np.ndarray):
            dtype = DType.f32  # Python floats become f32, as in TensorFlow
        dt = dtype_of(dtype if dtype is not None else array.dtype)
        dense = Dense(array, TensorType(dt, array.shape))
        return self.create("kiln.constant", value=dense, loc=loc).result

    def call(self, callee: Function, *args: Value) -> list[Value]:
        """Call `callee` (a function of the same module)."""
        if callee.result_types is None:
            raise KilnError(f"@{callee.name} has no result types yet; finish it first")
        op = self.create("kiln.call", *args, result_types=callee.result_types, callee=callee.name)
        return list(op.results)

    def ret(self, *values: Value) -> Operation:
        """End the function body with kiln.return; sets the function's result types."""
        op = self.create("kiln.return", *values)
        func = self.block.parent
        if isinstance(func, Function):
            types = [v.type for v in values]
            if func.result_types is None:
                func.result_types = types
            elif func.result_types != types:
                raise op.error(
                    f"returns ({', '.join(map(str, types))}) but @{func.name} "
                    f"declares ({', '.join(map(str, func.result_types))})"
                )
        return op
