"""The IR's data: values, operations, blocks, regions, functions, modules.

SSA and typed: every value is defined once, by an op's result or a block's
argument, and carries a `TensorType`. Each value keeps the ops that use it,
so a pass can replace all uses of a value in one call.

Every mutation is O(1): a block links its ops in a doubly linked list (as
MLIR and xDSL do), so inserting before or after an op and erasing one never
scan the block, and a value counts its uses per user, so dropping a use
never scans the others. A pass over n ops then costs O(n), not O(n^2).

Operations are instances of subclasses of `Operation`, one per op kind,
declared in `ir/ops/` with their operands, attributes, type rule and numpy
reference in one place (see `registry.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .attributes import Attr
from .cost import Cost, elements, moved
from .errors import CompileError, KilnError, ShapeError, VerifyError
from .scalar import INSTRUCTIONS, Tally
from .types import TensorType


class Trait(enum.Enum):
    """Properties of an op kind that passes and backends rely on."""

    ELEMENTWISE = "elementwise"  # result[i] depends only on operands[i] (after broadcasting)
    COMMUTATIVE = "commutative"  # binary op whose operands may be swapped
    FLOAT_ONLY = "float_only"  # operands must be floating point
    TERMINATOR = "terminator"  # ends a block
    SIDE_EFFECT = "side_effect"  # never merged, reordered or dropped


@dataclass(frozen=True)
class Location:
    """Where an op came from: a frontend name, and/or a line:column of text."""

    name: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.name:
            parts.append(repr(self.name))
        if self.line is not None:
            parts.append(f"line {self.line}:{self.column}")
        return ", ".join(parts)


UNKNOWN = Location()


class Value:
    """An SSA value: defined once, used by any number of ops."""

    __slots__ = ("type", "name", "uses")

    def __init__(self, type: TensorType, name: str | None = None):
        if not isinstance(type, TensorType):
            raise KilnError(f"a value's type must be a TensorType, got {type!r}")
        self.type = type
        self.name = name
        # user -> how many of its operands are this value (an op may use it twice)
        self.uses: dict[Operation, int] = {}

    @property
    def owner(self) -> Operation | Block:
        raise NotImplementedError

    def replace_all_uses_with(self, new: Value) -> None:
        """Make every op that uses this value use `new` instead."""
        if new is self:
            return
        for op in list(self.uses):
            for i, v in enumerate(op.operands):
                if v is self:
                    op.set_operand(i, new)

    def add_use(self, op: Operation) -> None:
        """Record that `op` has this value as one more operand."""
        self.uses[op] = self.uses.get(op, 0) + 1

    def remove_use(self, op: Operation) -> None:
        """Forget one use of this value by `op`."""
        left = self.uses[op] - 1
        if left:
            self.uses[op] = left
        else:
            del self.uses[op]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} %{self.name or '?'}: {self.type}>"


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: TensorType, op: Operation, index: int):
        super().__init__(type)
        self.op, self.index = op, index

    @property
    def owner(self) -> Operation:
        return self.op


class BlockArgument(Value):
    __slots__ = ("block", "index")

    def __init__(self, type: TensorType, block: Block, index: int, name: str | None = None):
        super().__init__(type, name)
        self.block, self.index = block, index

    @property
    def owner(self) -> Block:
        return self.block


class Operation:
    """One op: operands, results, attributes, optional regions.

    Subclasses declare (see `registry.op`):
      name      the op's name in the text form, e.g. ``"kiln.add"``
      operands  operand names; a last name starting with ``*`` is variadic
      attrs     attribute name -> `Attr` (kind and default)
      results   number of results (None: given at creation, as for calls)
      regions   number of regions
      traits    a frozenset of `Trait`
    and implement
      infer(*operand_types) -> TensorType | tuple   the type rule
      reference(*arrays) -> ndarray | tuple         the numpy semantics
    and, where it applies,
      vjp(builder, *cotangents) -> cotangents       the gradient rule (reverse mode)
      scalar(k, *operands) -> value                 an elementwise op's meaning on
                                                    one element, in the kernel form's
                                                    scalar instructions (ir/scalar.py)
      cost(operand_shapes, result_shapes) -> Cost   flops and bytes (ir/cost.py)
    and, for a composite op (softmax, losses, norms, ...),
      decompose(builder) -> values                  the same result in primitives
    An op whose results are constants to the gradient sets `not_differentiable`
    to the reason instead of a `vjp`; `tf_name` and `onnx_name` are its op type
    in TensorFlow and ONNX. docs/ir.md shows a whole declaration.
    """

    name: ClassVar[str] = ""
    operand_names: ClassVar[tuple[str, ...]] = ()
    attr_specs: ClassVar[dict[str, Attr]] = {}
    num_results: ClassVar[int | None] = 1
    num_regions: ClassVar[int] = 0
    traits: ClassVar[frozenset[Trait]] = frozenset()
    not_differentiable: ClassVar[str] = ""  # why no gradient flows through it, if none does
    tf_name: ClassVar[str] = ""  # its op type in TensorFlow ("Relu"), if it has one
    onnx_name: ClassVar[str] = ""  # its op type in ONNX ("Relu"), if it has one
    fold: ClassVar[str] = ""  # a reduction's fold in kernels ("sum", "argmax"; kernel.py)

    __slots__ = ("operands", "results", "attrs", "regions", "loc", "parent")

    def __init__(
        self,
        operands: Sequence[Value],
        attrs: dict[str, Any] | None = None,
        result_types: Sequence[TensorType] | None = None,
        regions: Sequence[Region] = (),
        loc: Location = UNKNOWN,
    ):
        self.loc = loc
        self.parent: Block | None = None
        self.operands: list[Value] = []
        self.attrs = self._check_attrs(dict(attrs or {}))
        self._check_operand_count(operands)
        for v in operands:
            if not isinstance(v, Value):
                raise self.error(f"operand {v!r} is not a kiln Value", KilnError)
            self.operands.append(v)
            v.add_use(self)
        self.regions: list[Region] = []
        for r in regions:
            r.parent = self
            self.regions.append(r)
        if len(self.regions) != self.num_regions:
            raise self.error(f"expected {self.num_regions} regions, got {len(self.regions)}")
        if result_types is None:
            result_types = self.infer_types()
        self.results = [OpResult(t, self, i) for i, t in enumerate(result_types)]
        if self.num_results is not None and len(self.results) != self.num_results:
            raise self.error(f"expected {self.num_results} results, got {len(self.results)}")

    # ------------------------------------------------------------ declaration
    def infer(self, *operand_types: TensorType) -> TensorType | tuple[TensorType, ...]:
        raise self.error("has no type rule; its result types must be given", VerifyError)

    def reference(self, *args: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        raise self.error("has no reference implementation", KilnError)

    def evaluate(self, interpreter: Any, args: list[np.ndarray]) -> list[np.ndarray]:
        """Run the op on arrays. Ops with regions or callees override this."""
        out = self.reference(*args)
        return list(out) if isinstance(out, tuple) else [out]

    def verify_in(self, module: Any) -> None:
        """Checks that need the enclosing module (callees). Default: none."""

    def decompose(self, b: Any) -> Value | list[Value] | None:
        """Build primitive ops computing this op's results with Builder `b`
        (positioned just before this op) and return them; None means the op
        is a primitive (or is kept as it is in this case). The `decompose`
        pass replaces the op's results with the returned values."""
        return None

    def vjp(self, b: Any, *cotangents: Value | None) -> Sequence[Any]:
        """The gradient rule, as TensorFlow's RegisterGradient: from the cotangent
        of each result (None where a result has none), build with Builder `b`
        one cotangent per operand, or None where none flows. A cotangent may
        keep the broadcast shape of the result (autodiff sums it back to the
        operand's, `unbroadcast`) or be a function of no arguments that builds
        it, called only when that operand needs it. Helpers: ir/gradient.py."""
        raise self.error(
            "has no gradient rule: give its class a `vjp` method, or set "
            "`not_differentiable` to the reason",
            KilnError,
        )

    def scalar(self, k: Any, *operands: Any) -> Any:
        """This elementwise op on one element: the value it builds with `k`, a
        `ScalarEmitter` (ir/scalar.py), from its operands' values. By default,
        an elementwise op named like a scalar instruction is that instruction."""
        short = self.name.removeprefix("kiln.")
        if Trait.ELEMENTWISE in self.traits and short in INSTRUCTIONS:
            return k.emit(short, *operands)
        raise self.error(
            "has no scalar form, so it cannot be lowered into a kernel (not "
            "supported by codegen yet)",
            CompileError,
        )

    def cost(
        self, operand_shapes: Sequence[Sequence[int]], result_shapes: Sequence[Sequence[int]]
    ) -> Cost:
        """What running the op once costs, for these concrete shapes. By default
        an op with a scalar form costs that per result element, and any other
        op only the bytes it moves."""
        nbytes = moved(self, operand_shapes, result_shapes)
        if not self.has_scalar_form():
            return Cost(bytes=nbytes)
        tally = Tally(self.results[0].type.dtype, [v.type.dtype for v in self.operands])
        self.scalar(tally, *tally.operands)
        n = sum(elements(s) for s in result_shapes)
        return Cost(
            n * sum(i.flops for i in tally.used if not i.transcendental),
            n * sum(i.transcendental for i in tally.used),
            nbytes,
        )

    @classmethod
    def has_vjp(cls) -> bool:
        """Whether the op declares a gradient rule of its own."""
        return cls.vjp is not Operation.vjp

    @classmethod
    def has_scalar_form(cls) -> bool:
        """Whether the op can be computed element by element inside a kernel."""
        return cls.scalar is not Operation.scalar or (
            Trait.ELEMENTWISE in cls.traits and cls.name.removeprefix("kiln.") in INSTRUCTIONS
        )

    # ------------------------------------------------------------ derived
    def infer_types(self) -> list[TensorType]:
        """Run the type rule on the current operands, naming this op on failure."""
        try:
            out = self.infer(*(v.type for v in self.operands))
        except ShapeError as e:
            raise self.error(str(e), ShapeError) from None
        except KilnError as e:
            if isinstance(e, VerifyError) and str(e).startswith(self.name):
                raise
            raise self.error(str(e), ShapeError) from None
        return list(out) if isinstance(out, tuple) else [out]

    @property
    def result(self) -> OpResult:
        if len(self.results) != 1:
            raise self.error(f"has {len(self.results)} results; use .results", KilnError)
        return self.results[0]

    @property
    def type(self) -> TensorType:
        return self.result.type

    def has_trait(self, trait: Trait) -> bool:
        return trait in self.traits

    def describe(self) -> str:
        where = str(self.loc)
        return f"{self.name} ({where})" if where else self.name

    def error(self, message: str, cls: type[KilnError] = VerifyError) -> KilnError:
        """An exception of `cls` whose message names this op and its location."""
        error = cls(f"{self.describe()}: {message}")
        if self.loc.line is not None:  # parsed text: a diagnostic can point at the op
            named = f"{self.name} ({self.loc.name!r})" if self.loc.name else self.name
            error.at(self.loc.line, self.loc.column, f"{named}: {message}")
        return error

    # ------------------------------------------------------------ mutation
    def set_operand(self, index: int, value: Value) -> None:
        """Make operand `index` be `value` (O(1))."""
        self.operands[index].remove_use(self)
        self.operands[index] = value
        value.add_use(self)

    def drop_operands(self) -> None:
        """Forget this op's uses of its operands (before erasing it)."""
        for v in self.operands:
            v.remove_use(self)
        self.operands = []

    @property
    def next_op(self) -> Operation | None:
        """The op after this one in its block, None at the end (or outside a block)."""
        return None if self.parent is None else self.parent.next_of(self)

    @property
    def prev_op(self) -> Operation | None:
        """The op before this one in its block, None at the start (or outside a block)."""
        return None if self.parent is None else self.parent.prev_of(self)

    def walk(self) -> Iterator[Operation]:
        """This op, then every op nested in its regions, in order."""
        yield self
        for r in self.regions:
            for b in r.blocks:
                for op in b:
                    yield from op.walk()

    # ------------------------------------------------------------ checks
    def _check_operand_count(self, operands: Sequence[Value]) -> None:
        names = self.operand_names
        variadic = bool(names) and names[-1].startswith("*")
        fixed = len(names) - variadic
        if len(operands) < fixed or (not variadic and len(operands) != fixed):
            want = f"at least {fixed}" if variadic else str(fixed)
            raise self.error(
                f"expected {want} operands ({', '.join(names) or 'none'}), got {len(operands)}",
                ShapeError,
            )

    def _check_attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key in attrs:
            if key not in self.attr_specs and not is_annotation(key):
                known = ", ".join(self.attr_specs) or "none"
                raise self.error(f"unknown attribute {key!r} (it takes: {known})", ShapeError)
        for key, spec in self.attr_specs.items():
            if key not in attrs:
                if spec.required:
                    raise self.error(f"missing required attribute {key!r}", ShapeError)
                out[key] = spec.default
                continue
            try:
                out[key] = spec.check(attrs[key])
            except KilnError as e:
                raise self.error(f"attribute {key!r}: {e}", ShapeError) from None
        for key, value in attrs.items():
            if is_annotation(key):
                out[key] = check_annotation(key, value)
        return out

    def __repr__(self) -> str:
        from .printer import print_op

        return print_op(self)


def is_annotation(key: str) -> bool:
    """Attribute keys with a dot (``plan.buffers``) are annotations that passes
    attach to ops and functions: not declared by the op, kept by the text form,
    and dropped by a pass that rebuilds the op (as MLIR's discardable attributes)."""
    return "." in key


def check_annotation(key: str, value: Any) -> Any:
    """An annotation's value: an int, float, bool, string or a list of them."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(x, (bool, int, float, str)) for x in items):
        raise KilnError(f"annotation {key!r}: expected scalars or a list of them, got {value!r}")
    return tuple(value) if isinstance(value, (tuple, list)) else value


class BlockOps(Sequence):
    """A read-only, ordered view of a block's ops (``block.ops``).

    Iterating, ``len``, ``reversed``, ``op in ops`` and ``ops[0]`` / ``ops[-1]``
    are cheap; ``ops[i]`` walks from the nearer end and a slice copies. To
    change the block, use the block's own methods (append, insert_before,
    insert_after, erase, detach, reorder)."""

    __slots__ = ("block",)

    def __init__(self, block: Block):
        self.block = block

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.block)

    def __reversed__(self) -> Iterator[Operation]:
        return reversed(self.block)

    def __len__(self) -> int:
        return len(self.block)

    def __contains__(self, op: object) -> bool:
        return isinstance(op, Operation) and op.parent is self.block

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self.block)[index]
        n = len(self.block)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("block op index out of range")
        if index <= n // 2:
            ops = iter(self.block)
            steps = index
        else:
            ops = reversed(self.block)
            steps = n - 1 - index
        for _ in range(steps):
            next(ops)
        return next(ops)

    def __repr__(self) -> str:
        return f"<ops of a block: {len(self)}>"


class Block:
    """Ops in order, with arguments. A function body is one block.

    The ops form a doubly linked list (the links live in the block, keyed by
    op), so `append`, `insert_before`, `insert_after`, `erase` and `detach`
    are O(1). Iterating (``for op in block``) yields the ops in order; the op
    just yielded may be erased, moved to another block, or have ops inserted
    after it (those are visited too). For other edits during a walk, iterate
    over a copy, ``list(block.ops)``."""

    __slots__ = ("args", "parent", "_first", "_last", "_next", "_prev")

    def __init__(self, arg_types: Iterable[TensorType] = (), arg_names: Iterable[str | None] = ()):
        self.args: list[BlockArgument] = []
        self.parent: Region | Function | None = None
        self._first: Operation | None = None
        self._last: Operation | None = None
        self._next: dict[Operation, Operation | None] = {}
        self._prev: dict[Operation, Operation | None] = {}
        names = list(arg_names)
        for i, t in enumerate(arg_types):
            self.add_arg(t, names[i] if i < len(names) else None)

    def add_arg(self, type: TensorType, name: str | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.args), name)
        self.args.append(arg)
        return arg

    # ------------------------------------------------------------ reading
    @property
    def ops(self) -> BlockOps:
        """The ops in order, as a read-only sequence."""
        return BlockOps(self)

    def __len__(self) -> int:
        return len(self._next)

    def __bool__(self) -> bool:
        return True  # a block is a block, even an empty one

    def __iter__(self) -> Iterator[Operation]:
        op = self._first
        while op is not None:
            after = self._next[op]
            yield op
            if op.parent is self:
                op = self._next[op]
            elif after is None or after.parent is self:
                op = after
            else:
                raise KilnError(
                    "a block was changed while it was iterated: the op after "
                    "the one being visited was erased; iterate over "
                    "list(block.ops) instead"
                )

    def __reversed__(self) -> Iterator[Operation]:
        op = self._last
        while op is not None:
            before = self._prev[op]
            yield op
            if op.parent is self:
                op = self._prev[op]
            elif before is None or before.parent is self:
                op = before
            else:
                raise KilnError(
                    "a block was changed while it was iterated in reverse: "
                    "the op before the one being visited was erased"
                )

    @property
    def first(self) -> Operation | None:
        return self._first

    @property
    def last(self) -> Operation | None:
        return self._last

    def next_of(self, op: Operation) -> Operation | None:
        return self._next[op]

    def prev_of(self, op: Operation) -> Operation | None:
        return self._prev[op]

    @property
    def terminator(self) -> Operation | None:
        last = self._last
        if last is not None and last.has_trait(Trait.TERMINATOR):
            return last
        return None

    # ------------------------------------------------------------ changing
    def append(self, op: Operation) -> Operation:
        """Put `op` (in no block) at the end."""
        return self.insert_before(None, op)

    def insert_before(self, anchor: Operation | None, op: Operation) -> Operation:
        """Put `op` (in no block) just before `anchor` (None: at the end)."""
        if op.parent is not None:
            raise op.error("is already in a block; detach it first", KilnError)
        if anchor is None:
            before, after = self._last, None
        else:
            self._check_member(anchor)
            before, after = self._prev[anchor], anchor
        self._link(op, before, after)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        """Put `op` (in no block) just after `anchor`."""
        self._check_member(anchor)
        return self.insert_before(self._next[anchor], op)

    def detach(self, op: Operation) -> Operation:
        """Take `op` out of the block, keeping its operands (to move it elsewhere)."""
        self._check_member(op)
        before, after = self._prev.pop(op), self._next.pop(op)
        if before is None:
            self._first = after
        else:
            self._next[before] = after
        if after is None:
            self._last = before
        else:
            self._prev[after] = before
        op.parent = None
        return op

    def erase(self, op: Operation) -> None:
        """Remove an op whose results are unused."""
        for r in op.results:
            if r.uses:
                user = next(iter(r.uses))
                raise op.error(f"cannot erase: result still used by {user.name}", KilnError)
        self.detach(op)
        op.drop_operands()

    def reorder(self, ops: Iterable[Operation]) -> None:
        """Put the block's ops in the order of `ops` (the same ops, permuted)."""
        ops = list(ops)
        if (
            len(ops) != len(self)
            or any(op.parent is not self for op in ops)
            or len(set(ops)) != len(ops)
        ):
            raise KilnError("Block.reorder needs a permutation of the block's own ops")
        self._first = self._last = None
        self._next.clear()
        self._prev.clear()
        for op in ops:
            op.parent = None
            self._link(op, self._last, None)

    def _link(self, op: Operation, before: Operation | None, after: Operation | None) -> None:
        self._prev[op], self._next[op] = before, after
        if before is None:
            self._first = op
        else:
            self._next[before] = op
        if after is None:
            self._last = op
        else:
            self._prev[after] = op
        op.parent = self

    def _check_member(self, op: Operation) -> None:
        if op.parent is not self:
            raise op.error("is not in this block", KilnError)


class Region:
    """The blocks nested in an op (one block, for now)."""

    __slots__ = ("blocks", "parent")

    def __init__(self, blocks: Iterable[Block] = ()):
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block


class Function:
    """A named function: typed arguments, one body block, typed results."""

    __slots__ = ("name", "body", "result_types", "module", "attrs")

    def __init__(
        self,
        name: str,
        arg_types: Iterable[TensorType] = (),
        arg_names: Iterable[str | None] = (),
        result_types: Iterable[TensorType] | None = None,
    ):
        self.name = name
        self.body = Block(arg_types, arg_names)
        self.body.parent = self
        self.result_types = None if result_types is None else list(result_types)
        self.module: Module | None = None
        # Function attributes, e.g. aliases (result i overwrites argument
        # aliases[i], -1 for none: a variable's update), plan.* annotations.
        self.attrs: dict[str, Any] = {}

    @property
    def args(self) -> list[BlockArgument]:
        return self.body.args

    @property
    def arg_types(self) -> list[TensorType]:
        return [a.type for a in self.body.args]

    @property
    def ops(self) -> BlockOps:
        """The body's ops in order (read-only; change them through `body`)."""
        return self.body.ops

    def walk(self) -> Iterator[Operation]:
        """Every op in the function, nested ones included, in order."""
        for op in self.body:
            yield from op.walk()

    def __str__(self) -> str:
        from .printer import print_function

        return print_function(self)


class Module:
    """An ordered collection of functions: the unit kiln parses, transforms and compiles."""

    __slots__ = ("functions",)

    def __init__(self, functions: Iterable[Function] = ()):
        self.functions: dict[str, Function] = {}
        for f in functions:
            self.add(f)

    def add(self, func: Function) -> Function:
        if func.name in self.functions:
            raise VerifyError(f"function @{func.name} is defined twice")
        func.module = self
        self.functions[func.name] = func
        return func

    def add_function(
        self, name: str, arg_types: Iterable[TensorType] = (), arg_names: Iterable[str | None] = ()
    ) -> Function:
        """A new empty function; build its body with `Builder.at_end(f.body)`."""
        return self.add(Function(name, arg_types, arg_names))

    def __getitem__(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            known = ", ".join("@" + n for n in self.functions) or "none"
            raise KilnError(f"no function @{name} in the module (it has: {known})") from None

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def __iter__(self) -> Iterator[Function]:
        return iter(self.functions.values())

    def verify(self) -> Module:
        """Check every invariant; raise VerifyError naming the op. Returns self."""
        from .verifier import verify

        verify(self)
        return self

    def __str__(self) -> str:
        from .printer import print_module

        return print_module(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Module) and str(self) == str(other)

    __hash__ = None  # type: ignore[assignment]
