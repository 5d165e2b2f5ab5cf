"""Native control flow: the CPU entry's program as a tree, and its LLVM code.

A planned function (after `fuse,plan`: passes/plan.py gives every region its
own buffers, `plan.args` its arguments') becomes a list of nodes that the
entry `kiln_run` runs in order:

- `Call`: one kernel (a `Step` of the CpuProgram, by index);
- `Copy`: `bytes` bytes from one buffer to another (a loop's initial
  carried values, a body's yields into the carried buffers, an if's yields
  into its results, a scan output's row when it cannot be written in place);
- `Point`: a buffer that only points into another's memory, offset by a row
  of the enclosing scan's index (an if's arguments, a scan's slices, a scan
  output's row that the body writes directly: no copy);
- `Swap`: two buffers exchange their memory (a loop body's yield of a value
  it computed into a buffer of its own: the carried buffer takes that memory
  and the next trip computes into the old one, instead of a copy per trip);
- `If`, `While`, `Scan`: a branch on the loaded i1, a loop with the cond's
  kernels, the predicate, the body and `max_iterations`, a counted loop over
  the run-time length T (`reverse` walks it down). A loop whose body swaps
  puts the pointers back when it ends (one copy of each carried value whose
  memory moved), so outside it every buffer is where the caller put it.

The sizes these need (bytes, T) depend on the argument shapes: they are
"extras", computed with the layout after the kernels' ints (appended to the
`outer` table the entry already takes, so the entry's ABI does not change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir

from ..ir import CompileError, Operation, Value
from ..passes.fuse import CONTROL_OPS, VIEW_OPS
from . import parallel

I8, I32, I64, PTR = ir.IntType(8), ir.IntType(32), ir.IntType(64), ir.PointerType()


@dataclass
class Call:
    step: int


@dataclass
class Copy:
    dst: int
    src: int
    bytes: int  # an extra
    row: int | None = None  # dst += the scan index * this extra


@dataclass
class Point:
    dst: int
    src: int
    row: int | None = None  # src += the scan index * this extra


@dataclass
class Swap:
    dst: int  # a loop's carried buffer
    src: int  # the body's buffer of its next value
    bytes: int  # an extra: the size, for the copy back when the loop ends


@dataclass
class If:
    pred: int
    then: list
    other: list


@dataclass
class While:
    cond: list
    pred: int
    body: list
    bound: int  # max_iterations, -1: none
    swaps: list = field(default_factory=list)  # the body's Swap nodes


@dataclass
class Scan:
    length: int  # an extra
    reverse: bool
    body: list
    swaps: list = field(default_factory=list)  # the body's Swap nodes


@dataclass
class Tree:
    """What `walk` finds in a planned function."""

    nodes: list = field(default_factory=list)
    kernels: list = field(default_factory=list)  # (name, op, buffer ids)
    extras: list = field(default_factory=list)  # ("bytes" | "length", value)
    pointers: set = field(default_factory=set)  # buffers with no memory of their own
    scratch: dict = field(default_factory=dict)  # staging buffer -> value giving its size
    count: int = 0  # buffers in all


class Walker:
    """Builds the `Tree` of a planned function, filling `buffer_of` and `constants`."""

    def __init__(self, func, buffer_of: dict[Value, int], constants: dict[int, np.ndarray]):
        self.buffer_of, self.constants = buffer_of, constants
        self.tree = Tree(count=int(func.attrs["plan.buffers"]))
        self._extra: dict[tuple, int] = {}
        self.tree.nodes = self.block(func.body, "k")

    def extra(self, kind: str, v: Value) -> int:
        key = (kind, id(v))
        if key not in self._extra:
            self._extra[key] = len(self.tree.extras)
            self.tree.extras.append((kind, v))
        return self._extra[key]

    def new_buffer(self) -> int:
        self.tree.count += 1
        return self.tree.count - 1

    def block(self, block, prefix: str) -> list:
        nodes = []
        for i, op in enumerate(block.ops):
            if op is block.terminator:
                continue
            if op.name == "kiln.constant":
                b = self.new_buffer()
                self.buffer_of[op.result] = b
                self.constants[b] = np.ascontiguousarray(op.value.array)
                continue
            buffers = op.attrs.get("plan.buffers")
            if buffers is None:
                raise CompileError(f"{op.describe()} has no plan.buffers annotation")
            for r, b in zip(op.results, buffers):
                self.buffer_of[r] = b
            if op.name in VIEW_OPS:
                continue
            if op.name in CONTROL_OPS:
                nodes += self.control(op, f"{prefix}{i}r")
                continue
            ids = [self.buffer_of[v] for v in op.operands] + list(buffers)
            nodes.append(Call(len(self.tree.kernels)))
            self.tree.kernels.append((f"{prefix}{i}_{op.name.split('.')[-1]}", op, ids))
        return nodes

    def control(self, op: Operation, prefix: str) -> list:
        if "plan.args" not in op.attrs:
            raise CompileError(f"{op.describe()} has no plan.args annotation (run 'plan')")
        operands = [self.buffer_of[v] for v in op.operands]
        results = list(op.attrs["plan.buffers"])
        args = list(op.attrs["plan.args"])
        blocks = [r.blocks[0] for r in op.regions]
        at = 0
        for block in blocks:
            for a in block.args:
                self.buffer_of[a] = args[at]
                at += 1
        if op.name == "kiln.if":
            k = len(op.operands) - 1
            self.tree.pointers.update(args[:k])
            points = [Point(p, s) for p, s in zip(args[:k], operands[1:])]
            then, other = (
                self.block(blk, f"{prefix}{j}_") + self.yields(blk, results, op.results)
                for j, blk in enumerate(blocks)
            )
            return [*points, If(operands[0], then, other)]
        carried = len(op.operands) if op.name == "kiln.while" else op.num_carried
        init = []
        for k in range(carried):
            if args[k] != results[k]:  # invariant (plan.py): the argument points at the operand
                self.tree.pointers.add(args[k])
                init.append(Point(args[k], operands[k]))
                if op.results[k].uses:  # the result is the operand's value
                    init.append(Copy(results[k], operands[k], self.extra("bytes", op.results[k])))
            elif results[k] != operands[k]:
                init.append(Copy(results[k], operands[k], self.extra("bytes", op.results[k])))
        results = list(args[:carried]) + results[carried:]  # where the loop keeps them
        if op.name == "kiln.while":
            cond, body = blocks
            cond_nodes = self.block(cond, f"{prefix}0_")
            pred = self.buffer_of[cond.terminator.operands[0]]
            body_nodes = self.block(body, f"{prefix}1_")
            body_nodes += self.yields(body, results, op.results, swap=True)
            swaps = [n for n in body_nodes if isinstance(n, Swap)]
            return [*init, While(cond_nodes, pred, body_nodes, op.max_iterations, swaps)]
        return [*init, self.scan(op, operands, results, args, blocks[0], prefix)]

    def scan(self, op, operands, results, args, body, prefix: str) -> Scan:
        n = op.num_carried
        slices = args[n:]
        self.tree.pointers.update(slices)
        points = [
            Point(s, x, self.extra("bytes", a))
            for s, x, a in zip(slices, operands[n:], body.args[n:])
        ]
        nodes = self.block(body, f"{prefix}0_")
        yielded = body.terminator.operands
        rows = []  # the outputs' rows: written in place where the body owns the buffer
        owned = set(args) | set(self.constants)
        for v, r in zip(yielded[n:], results[n:]):
            src, row = self.buffer_of[v], self.extra("bytes", v)
            if src not in owned and src not in self.tree.pointers:
                self.tree.pointers.add(src)
                points.append(Point(src, r, row))
            else:
                rows.append(Copy(r, src, row, row))
        carried = self.yields(body, results[:n], op.results[:n], yielded[:n], swap=True)
        # the rows first: one may read a carried argument that the carried copies overwrite
        body_nodes = points + nodes + rows + carried
        swaps = [c for c in carried if isinstance(c, Swap)]
        return Scan(self.extra("length", op.operands[n]), op.reverse, body_nodes, swaps)

    def yields(self, block, targets, values, yielded=None, swap=False) -> list:
        """Copies of a region's yields into `targets`; a yield that reads another
        target (a swap of carried values) goes through a staging buffer first.
        With `swap` (a loop body), a value computed into a buffer of the body's
        own, yielded once, swaps memory with its target instead of a copy."""
        yielded = block.terminator.operands if yielded is None else yielded
        sources = [self.buffer_of[v] for v in yielded]
        own = set(self.block_buffers(block))
        staged, copies = [], []
        for dst, v, r in zip(targets, yielded, values):
            src = self.buffer_of[v]
            if src == dst:
                continue
            size = self.extra("bytes", r)
            if (
                swap
                and src in own
                and sources.count(src) == 1
                and src not in targets
                and src not in self.tree.pointers
                and dst not in self.tree.pointers
            ):
                copies.append(Swap(dst, src, size))
                continue
            if src in targets:
                t = self.new_buffer()
                self.tree.scratch[t] = r
                staged.append(Copy(t, src, size))
                src = t
            copies.append(Copy(dst, src, size))
        return staged + copies

    def block_buffers(self, block) -> list[int]:
        """The buffers the ops of `block` itself write (not its arguments, constants
        or nested regions' buffers): its values that live and die in one trip."""
        out = []
        for op in block.ops:
            if op is block.terminator or op.name == "kiln.constant" or op.name in VIEW_OPS:
                continue
            out += list(op.attrs.get("plan.buffers") or ())
        return [b for b in out if b not in self.constants]


def extra_values(extras, shapes) -> list[int]:
    """The extras' integers for one call's concrete shapes."""
    out = []
    for kind, v in extras:
        s = shapes[v]
        out.append(
            int(s[0])
            if kind == "length"
            else int(np.prod(s, dtype=np.int64)) * v.type.dtype.numpy.itemsize
        )
    return out


class Emitter:
    """Writes the entry's body for a tree: `emit(nodes)` with the builder `b`
    in the entry's first block after the allocas' block."""

    def __init__(self, program, module: ir.Module, fn: ir.Function, probe=None):
        self.program, self.module, self.probe = program, module, probe
        self.buffers, self.dims, self.outer, self.threads = fn.args
        entry = fn.append_basic_block("entry")
        start = fn.append_basic_block("start")
        self.allocas = ir.IRBuilder(entry)
        self._start = start
        self.b = ir.IRBuilder(start)
        self.index: list[ir.Value] = []  # the enclosing scans' indices, innermost last
        self.n_steps = len(program.steps)
        self.memcpy = module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
        self.task = self.allocas.alloca(I64, parallel.TASK_WORDS, name="task")

    def finish(self) -> None:
        self.allocas.branch(self._start)

    def const(self, v: int) -> ir.Constant:
        return ir.Constant(I64, v)

    def pointer(self, buf: int) -> ir.Value:
        return self.b.gep(self.buffers, [self.const(buf)], source_etype=PTR)

    def load_pointer(self, buf: int) -> ir.Value:
        return self.b.load(self.pointer(buf), typ=PTR)

    def extra(self, k: int) -> ir.Value:
        at = self.b.gep(self.outer, [self.const(self.n_steps + k)], source_etype=I64)
        return self.b.load(at, typ=I64)

    def at_row(self, p: ir.Value, row: int | None) -> ir.Value:
        if row is None:
            return p
        offset = self.b.mul(self.index[-1], self.extra(row))
        return self.b.gep(p, [offset], source_etype=I8)

    def emit(self, nodes) -> None:
        for node in nodes:
            getattr(self, f"{type(node).__name__.lower()}_")(node)

    def call_(self, node: Call) -> None:
        b, i = self.b, node.step
        step = self.program.steps[i]
        if self.probe:
            self.probe.before(b, i)
        kernel_fn = ir.Function(
            self.module, ir.FunctionType(I32, [PTR, PTR, I64, I64]), step.kernel.name
        )
        worker = parallel.define_worker(self.module, kernel_fn, step.kernel.grain)
        params = self.allocas.alloca(PTR, len(step.buffers) or 1, name=f"params{i}")
        for j, buf in enumerate(step.buffers):
            b.store(self.load_pointer(buf), b.gep(params, [self.const(j)], source_etype=PTR))
        extent = b.load(b.gep(self.outer, [self.const(i)], source_etype=I64), typ=I64)
        step_dims = b.load(b.gep(self.dims, [self.const(i)], source_etype=PTR), typ=PTR)
        n = b.load(b.gep(self.threads, [self.const(i)], source_etype=I32), typ=I32)
        with b.if_else(b.icmp_unsigned("==", n, ir.Constant(I32, 0))) as (serial, split):
            with serial:
                direct = b.call(kernel_fn, [params, step_dims, self.const(0), extent])
                serial_block = b.block
            with split:
                shared = parallel.call_parallel(
                    b, self.module, worker, params, step_dims, extent, n, self.task
                )
                split_block = b.block
        fault = b.phi(I32)
        fault.add_incoming(direct, serial_block)
        fault.add_incoming(shared, split_block)
        with b.if_then(b.icmp_unsigned("!=", fault, ir.Constant(I32, 0)), likely=False):
            b.ret(b.or_(b.zext(fault, I64), self.const((i + 1) << 32)))
        if self.probe:
            self.probe.after(b, i)

    def copy_(self, node: Copy) -> None:
        dst = self.at_row(self.load_pointer(node.dst), node.row)
        src = self.load_pointer(node.src)
        self.b.call(self.memcpy, [dst, src, self.extra(node.bytes), ir.Constant(ir.IntType(1), 0)])

    def point_(self, node: Point) -> None:
        self.b.store(self.at_row(self.load_pointer(node.src), node.row), self.pointer(node.dst))

    def swap_(self, node: Swap) -> None:
        b = self.b
        dst, src = self.pointer(node.dst), self.pointer(node.src)
        a, c = b.load(dst, typ=PTR), b.load(src, typ=PTR)
        b.store(c, dst)
        b.store(a, src)

    def save(self, swaps) -> list:
        """Before a loop: each swapped pair's pointers, to put back after it."""
        saved = []
        for node in swaps:
            pair = self.allocas.alloca(PTR, 2, name="swapped")
            self.b.store(self.load_pointer(node.dst), pair)
            self.b.store(
                self.load_pointer(node.src), self.b.gep(pair, [self.const(1)], source_etype=PTR)
            )
            saved.append(pair)
        return saved

    def restore(self, swaps, saved) -> None:
        """After a loop: a carried value whose memory moved is copied back to the
        caller's buffer, and both pointers are the ones from before the loop."""
        b = self.b
        for node, pair in zip(swaps, saved):
            first = b.load(pair, typ=PTR)
            second = b.load(b.gep(pair, [self.const(1)], source_etype=PTR), typ=PTR)
            now = self.load_pointer(node.dst)
            with b.if_then(b.icmp_unsigned("!=", now, first)):
                b.call(
                    self.memcpy, [first, now, self.extra(node.bytes), ir.Constant(ir.IntType(1), 0)]
                )
            b.store(first, self.pointer(node.dst))
            b.store(second, self.pointer(node.src))

    def predicate(self, buf: int) -> ir.Value:
        byte = self.b.load(self.load_pointer(buf), typ=I8)
        return self.b.icmp_unsigned("!=", byte, ir.Constant(I8, 0))

    def if_(self, node: If) -> None:
        with self.b.if_else(self.predicate(node.pred)) as (then, other):
            with then:
                self.emit(node.then)
            with other:
                self.emit(node.other)

    def while_(self, node: While) -> None:
        b = self.b
        saved = self.save(node.swaps)
        trips = self.allocas.alloca(I64, name="trips")
        b.store(self.const(0), trips)
        head = b.append_basic_block("while.head")
        test = b.append_basic_block("while.cond")
        body = b.append_basic_block("while.body")
        done = b.append_basic_block("while.done")
        b.branch(head)
        b.position_at_end(head)
        if node.bound >= 0:
            more = b.icmp_signed("<", b.load(trips, typ=I64), self.const(node.bound))
            b.cbranch(more, test, done)
        else:
            b.branch(test)
        b.position_at_end(test)
        self.emit(node.cond)
        b.cbranch(self.predicate(node.pred), body, done)
        b.position_at_end(body)
        self.emit(node.body)
        b.store(b.add(b.load(trips, typ=I64), self.const(1)), trips)
        b.branch(head)
        b.position_at_end(done)
        self.restore(node.swaps, saved)

    def scan_(self, node: Scan) -> None:
        from ..codegen.llvm.render import counted_loop

        b = self.b
        saved = self.save(node.swaps)
        length = self.extra(node.length)
        with counted_loop(b, self.const(0), length, "scan") as t:
            self.index.append(b.sub(b.sub(length, self.const(1)), t) if node.reverse else t)
            self.emit(node.body)
            self.index.pop()
        self.restore(node.swaps, saved)
