"""plan: where every value of a function lives at run time.

Buffers are numbered per function: argument j is buffer j, and the buffers
the function allocates follow. The pass annotates every op that writes
memory with ``plan.buffers = [b, ...]`` (one per result) and the function
with ``plan.buffers = N`` (the number of buffers, arguments included).
Constants live in the executable's static data; views (reshape,
expand_dims, squeeze) share their operand's buffer.

- Liveness: a buffer is live from the op that writes it to the last op that
  reads it (through any view); a returned value lives to the end.
- Reuse: a result goes into a dead buffer of the same type when one exists
  (same dtype and shape, symbolic dims included, so sizes always agree).
- In place: a pointwise kernel (or elementwise op) writes its result over an
  operand of the same type that dies at that op, since each element is read
  before it is written at the same index.
- Variables: when the function's ``aliases`` attribute says result k is the
  new value of argument j, the value returned there is written into argument
  j's buffer (buffer donation), in place when legal; when argument j is still
  read after that value is computed, it gets its own buffer and the runtime
  copies it back (counted as a "variable copy").

`check_plan` replays a plan and raises if a value would be overwritten while
it is still needed; the tests run it on every planned function.
"""

from __future__ import annotations

import math

from ..ir import Function, KilnError, Module, Operation, Trait, Value
from .fuse import CONTROL_OPS, VIEW_OPS
from .manager import register_pass

END = math.inf  # the last use of a returned value


def _in_place_capable(op: Operation) -> bool:
    return (op.name == "kiln.fused" and op.kind == "pointwise") or (
        op.has_trait(Trait.ELEMENTWISE) and not op.regions
    )


def _storage(v: Value) -> Value:
    """The value whose buffer `v` lives in (itself, or the root of a chain of views)."""
    while getattr(v, "op", None) is not None and v.op.name in VIEW_OPS:
        v = v.op.operands[0]
    return v


def _is_constant(v: Value) -> bool:
    return getattr(v, "op", None) is not None and v.op.name == "kiln.constant"


def last_uses(block) -> dict[int, float]:
    """id(storage value) -> index of the last op of `block` (a Block, or a
    Function: its body) reading it (END if returned or yielded)."""
    block = getattr(block, "body", block)
    last: dict[int, float] = {}
    for i, op in enumerate(block.ops):
        end = END if op is block.terminator else i
        for v in op.operands:
            key = id(_storage(v))
            last[key] = max(last.get(key, -1), end)
    return last


class Planner:
    """Plans one block: a function's body, or (with `args` and `start`) a region
    whose arguments already have buffers (`args`) and whose new buffers are
    numbered from `start` on, so no buffer is shared between regions."""

    def __init__(
        self, func: Function, block=None, args=None, start: int | None = None, carried: int = 0
    ):
        self.func = func
        self.block = block if block is not None else func.body
        self.args = list(self.block.args)
        arg_ids = list(args) if args is not None else list(range(len(func.args)))
        self.last = last_uses(self.block)
        self.buffer: dict[int, int] = {id(a): j for a, j in zip(self.args, arg_ids)}
        self.buffer_type = {j: a.type for a, j in zip(self.args, arg_ids)}
        self.protected = set(arg_ids)  # never written (a region's arguments)
        # a loop body's first `carried` arguments: yield k is argument k's next value
        self.carried = carried
        self.free: list[int] = []
        self.count = len(func.args) if start is None else start
        self.stats = {
            "values": 0,
            "buffers": 0,
            "reused": 0,
            "in place": 0,
            "variable updates in place": 0,
            "variable copies": 0,
            "slot updates in place": 0,
        }
        ret = self.block.terminator
        aliases = (func.attrs.get("aliases") or ()) if block is None else ()
        # id(storage of a returned value) -> the argument buffer it should overwrite
        self.donations: dict[int, int] = {}
        if ret is not None:
            for k, j in enumerate(aliases):
                if j >= 0 and not _is_constant(ret.operands[k]):
                    self.donations.setdefault(id(_storage(ret.operands[k])), j)

    def run(self) -> None:
        for i, op in enumerate(self.block.ops):
            if op is self.block.terminator or op.name == "kiln.constant":
                continue
            if op.name in VIEW_OPS:
                op.attrs["plan.buffers"] = (self.buffer[id(_storage(op.operands[0]))],)
                continue
            taken: set[int] = set()
            op.attrs["plan.buffers"] = tuple(self.place(op, i, r, taken) for r in op.results)
            self.release(op, i)
        for op in self.block.ops:
            if op.name in CONTROL_OPS:
                self.plan_regions(op)
        if self.block is self.func.body:
            self.func.attrs["plan.buffers"] = self.count

    def plan_regions(self, op: Operation) -> None:
        """Buffers for a control op's regions, each planned as a block of its own
        (`plan.args`: the buffers of the regions' arguments, one region after
        another). A loop's carried values live in the op's result buffers (the
        body's yields are copied there after each trip); an if's arguments, a
        scan's slices and a loop's invariant carried values get buffers of
        their own that the runtime points at the operands' memory (no copy)."""
        results = list(op.attrs["plan.buffers"])
        if op.name in ("kiln.while", "kiln.scan"):
            # a carried value the body yields unchanged (a weight) is read where it
            # is: its argument gets a buffer of its own pointing at the operand
            body = op.regions[-1].blocks[0]
            yielded = body.terminator.operands
            for k in range(len(results) if op.name == "kiln.while" else op.num_carried):
                if yielded[k] is body.args[k]:
                    results[k] = self.count
                    self.count += 1
        if op.name == "kiln.while":
            per_region = [results, results]
        elif op.name == "kiln.scan":
            n = op.num_carried
            slices = list(range(self.count, self.count + len(op.operands) - n))
            self.count += len(slices)
            per_region = [results[:n] + slices]
        else:
            pointers = list(range(self.count, self.count + len(op.operands) - 1))
            self.count += len(pointers)
            per_region = [pointers, pointers]
        op.attrs["plan.args"] = tuple(b for ids in per_region for b in ids)
        for r, (region, ids) in enumerate(zip(op.regions, per_region)):
            n = _carried(op, r)
            inner = Planner(self.func, region.blocks[0], ids, self.count, carried=n)
            inner.run()
            self.count = inner.count
            for k, n in inner.stats.items():
                self.stats[k] += n

    def place(self, op: Operation, i: int, r: Value, taken: set[int]) -> int:
        self.stats["values"] += 1
        j = self.donations.get(id(r))
        if j is not None and r.type == self.args[j].type:
            arg = self.args[j]
            end = self.last.get(id(arg), -1)
            if end < i or (end == i and self.overwritable(op, arg, r)):
                self.stats["variable updates in place"] += 1
                return self.take(r, j, taken)
            self.stats["variable copies"] += 1
        slot = self.slot_update(op, i, r)
        if slot is not None:
            self.stats["slot updates in place"] += 1
            return self.take(r, slot, taken)
        if _in_place_capable(op):
            for v in op.operands:
                s = _storage(v)
                b = self.buffer.get(id(s))
                if (
                    b is not None
                    and b not in self.protected
                    and b not in taken
                    and self.last.get(id(s)) == i
                    and self.overwritable(op, s, r)
                ):
                    self.stats["in place"] += 1
                    return self.take(r, b, taken)
        for b in self.free:
            if self.buffer_type[b] == r.type:
                self.free.remove(b)
                self.stats["reused"] += 1
                return self.take(r, b, taken)
        b = self.count
        self.count += 1
        self.stats["buffers"] += 1
        self.buffer_type[b] = r.type
        return self.take(r, b, taken)

    def slot_update(self, op: Operation, i: int, r: Value) -> int | None:
        """The buffer of the carried argument `op` updates in place (`slot_update`)."""
        k = slot_update(self.block, self.carried, op, i, r, self.last)
        return None if k is None else self.buffer[id(self.args[k])]

    @staticmethod
    def overwritable(op: Operation, storage: Value, r: Value) -> bool:
        """Whether pointwise `op` may write `r` over `storage` while reading it: every
        read of that buffer is at the result's own index (the same type)."""
        return (
            _in_place_capable(op)
            and storage.type == r.type
            and all(v.type == r.type for v in op.operands if _storage(v) is storage)
        )

    def take(self, r: Value, b: int, taken: set[int]) -> int:
        self.buffer[id(r)] = b
        taken.add(b)
        return b

    def release(self, op: Operation, i: int) -> None:
        """Buffers of operands whose last use is op i become free (not arguments')."""
        written = set(op.attrs["plan.buffers"])
        for v in op.operands:
            s = _storage(v)
            b = self.buffer.get(id(s))
            if (
                b is None
                or b in self.protected
                or self.last.get(id(s)) != i
                or b in written
                or b in self.free
            ):
                continue
            self.free.append(b)


@register_pass("plan")
def plan(module: Module) -> dict[str, int]:
    """Assign every value of every function a buffer (see the module docstring)."""
    totals: dict[str, int] = {}
    for func in module:
        planner = Planner(func)
        planner.run()
        for k, n in planner.stats.items():
            totals[k] = totals.get(k, 0) + n
    return totals


def slot_update(block, carried: int, op: Operation, i: int, r: Value, last) -> int | None:
    """k when `op` (op i of loop body `block`, whose first `carried` arguments are
    carried: yield k is argument k's next value) is a scatter_add into carried
    argument k that the body yields as k's next value and nothing reads after:
    its result takes the argument's buffer, where the kernel adds only its rows
    (a while loop's gradient stores each trip's values in slot t of M: O(1)
    per trip instead of a copy of the M slots); else None."""
    if op.name != "kiln.scatter_add" or not carried:
        return None
    x = op.operands[0]
    k = next((j for j, a in enumerate(block.args[:carried]) if a is x), None)
    if k is None or x.type != r.type or op.operands[2] is x:
        return None
    if block.terminator.operands[k] is not r or last.get(id(x)) != i:
        return None
    return k


def _carried(op: Operation, region_index: int) -> int:
    """How many of a control op's region's arguments are carried (its body's)."""
    if region_index != len(op.regions) - 1:
        return 0  # a while's cond, an if's branches
    if op.name == "kiln.while":
        return len(op.operands)
    return op.num_carried if op.name == "kiln.scan" else 0


def check_plan(func: Function) -> None:
    """Replay `func`'s plan, regions included; raise KilnError if a value is
    overwritten while needed, a region writes its arguments' buffers, or two
    blocks write the same buffer (each region has buffers of its own)."""
    aliases = func.attrs.get("aliases") or ()
    ret = func.body.terminator
    donated = {j: _storage(ret.operands[k]) for k, j in enumerate(aliases) if j >= 0}
    writers: dict[int, int] = {}  # buffer -> id of the block writing it
    _check_block(func, func.body, list(range(len(func.args))), donated, writers)


def _check_block(func, block, arg_ids, donated, writers, carried: int = 0) -> None:
    last = last_uses(block)
    occupant: dict[int, Value] = dict(zip(arg_ids, block.args))
    where: dict[int, int] = {id(a): j for a, j in zip(block.args, arg_ids)}
    ret = block.terminator
    for i, op in enumerate(block.ops):
        if op is ret or op.name == "kiln.constant":
            continue
        for v in op.operands:
            s = _storage(v)
            if not _is_constant(s) and occupant.get(where.get(id(s), -1)) is not s:
                raise KilnError(
                    f"plan of @{func.name}: {op.describe()} reads a value whose "
                    f"buffer {where.get(id(s))} was overwritten"
                )
        if op.name in VIEW_OPS:
            continue
        buffers = op.attrs.get("plan.buffers")
        if buffers is None or len(buffers) != len(op.results):
            raise KilnError(f"plan of @{func.name}: {op.describe()} has no plan.buffers")
        for r, b in zip(op.results, buffers):
            k = slot_update(block, carried, op, i, r, last)
            if k is not None and b == arg_ids[k]:  # a carried slot, updated in place
                occupant[b], where[id(r)] = r, b
                continue
            if writers.setdefault(b, id(block)) != id(block):
                raise KilnError(
                    f"plan of @{func.name}: {op.describe()} writes buffer {b}, "
                    "which another block writes too"
                )
            old = occupant.get(b)
            if old is not None:
                _check_overwrite(func, op, i, r, b, old, last, donated, set(arg_ids))
            occupant[b] = r
            where[id(r)] = b
        if op.name in CONTROL_OPS:
            args = list(op.attrs.get("plan.args") or ())
            for n, region in enumerate(op.regions):
                inner = region.blocks[0]
                ids, args = args[: len(inner.args)], args[len(inner.args) :]
                _check_block(func, inner, ids, {}, writers, _carried(op, n))
    for v in ret.operands if ret is not None else ():
        s = _storage(v)
        if not _is_constant(s) and occupant.get(where.get(id(s), -1)) is not s:
            raise KilnError(f"plan of @{func.name}: a returned value was overwritten")


def _check_overwrite(func, op, i, r, b, old, last, donated, args) -> None:
    is_arg = b in args
    if is_arg and donated.get(b) is not r:
        raise KilnError(
            f"plan of @{func.name}: {op.describe()} writes argument {b}, "
            "which is not donated to this value"
        )
    end = last.get(id(old), -1)
    if end < i:
        return
    if end == i and Planner.overwritable(op, old, r):
        return
    raise KilnError(
        f"plan of @{func.name}: {op.describe()} writes buffer {b} while its value is still needed"
    )
