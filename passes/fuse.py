"""fuse: group ops into kernels, each a `kiln.fused` op whose region is its body.

Kinds of group (the kernel templates codegen knows):

- pointwise: elementwise ops (and broadcast_to, iota) over one iteration
  space: every value of the group has the group's shape; inputs broadcast
  into it.
- reduction: reductions of values of one full shape S over the same axes A,
  with elementwise work on S before them and on the reduced ("row") values
  after them, and elementwise work on S that reads row values back (a row
  kernel: softmax is one such kernel). A row value has the shape of S with
  the axes A set to 1 (keepdims) or, when it is not broadcast back, removed.
- matmul / conv: the contraction, then an elementwise epilogue on its result
  (bias, activation, residual).

The grouping is greedy in program order, like XLA's and Inductor's: an op
joins the group of one of its operands when the group's template can hold
it, else it starts its own group. It never duplicates work (every op is in
at most one group; only splat constants are copied into the groups that
read them) and never creates a cycle: an op joins a group only when no path
leads from the group to the op through another group or op, checked on
the graph of groups (dag.py). Ops of no group (gather, concat, pooling,
transpose, calls, ...) stay as they are; codegen gives each its own kernel,
and reshapes are views that cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from ..ir import Block, Builder, Module, Operation, Region, Trait, Value
from ..ir.ops.reduce import ArgReduce, Reduce, normalize_axis
from .dag import Dag, topological_order
from .effects import Effects
from .manager import register_pass
from .rewrite import constant_array, erase_dead

VIEW_OPS = {"kiln.reshape", "kiln.expand_dims", "kiln.squeeze"}  # no kernel: a new shape only
FREE_OPS = VIEW_OPS | {"kiln.constant", "kiln.return"}
# Ops per kernel, at most (XLA bounds its fusions too). LLVM's time on one
# kernel grows faster than its body: a pointwise chain of 200 ops compiled
# in 1.2 s of CPU, one of 1,600 in 28 s; the gradient of a 2,000-op chain
# (7,000 ops) took 20 s as one kernel, 19 s in kernels of 256, 11.5-15 s in
# kernels of 512-1024, and smaller bounds pay a cost per kernel (23 s at 64).
# The benchmarks' largest kernel has 13 ops, so nothing small changes.
DEFAULT_MAX_OPS = 512


def category(op: Operation) -> str | None:
    """How an op takes part in fusion: "ew", "reduce", "matmul", "conv", or None."""
    if op.name == "kiln.matmul":
        return "matmul"
    if op.name == "kiln.conv2d":
        return "conv"
    if isinstance(op, (Reduce, ArgReduce)):
        return "reduce"
    if op.has_trait(Trait.ELEMENTWISE) or op.name in (
        "kiln.broadcast_to",
        "kiln.broadcast_like",
        "kiln.iota",
    ):
        return "ew"
    return None


def reduced_axes(op: Operation) -> tuple[int, ...]:
    rank = op.operands[0].type.rank
    if isinstance(op, ArgReduce):
        return (normalize_axis(op.axis, rank),)
    return op.reduced_axes(rank)


@dataclass(eq=False)
class Group:
    """Ops that become one kernel; `shape` (and `axes` for a reduction) is its domain."""

    kind: str
    shape: tuple
    axes: tuple[int, ...] = ()
    members: list[Operation] = field(default_factory=list)
    number: int = 0

    def role(self, shape: tuple) -> str | None:
        """How a value of `shape` sits in the domain: "full", "row", "compact" or None."""
        if shape == self.shape:
            return "full"
        if self.kind != "reduction":
            return None
        S, A = self.shape, self.axes
        if len(shape) <= len(S):
            padded = (1,) * (len(S) - len(shape)) + tuple(shape)
            if all(padded[i] == 1 if i in A else padded[i] == S[i] for i in range(len(S))):
                return "row"
        if shape == tuple(d for i, d in enumerate(S) if i not in A):
            return "compact"
        return None

    def __repr__(self) -> str:
        return f"<Group {self.number} {self.kind} {self.shape}>"


class Fuser:
    """Forms the groups of one block, then rewrites each into a kiln.fused op."""

    def __init__(self, block: Block, max_ops: int | None = None):
        self.block = block
        self.max_ops = max_ops or DEFAULT_MAX_OPS
        self.position = {op: i for i, op in enumerate(block.ops)}
        self.group_of: dict[Operation, Group] = {}
        self.graph = Dag()  # nodes: groups and ungrouped ops
        self.numbers = count()

    # ------------------------------------------------------------ grouping
    def node(self, op: Operation) -> Group | Operation:
        return self.group_of.get(op, op)

    def producers(self, op: Operation) -> list[Group | Operation]:
        out: list[Group | Operation] = []
        for v in op.operands:
            owner = getattr(v, "op", None)
            if owner is None or owner.name == "kiln.constant" or owner.parent is not self.block:
                continue
            node = self.node(owner)
            if node not in out:
                out.append(node)
        return out

    def form_groups(self) -> list[Group]:
        groups: list[Group] = []
        for op in self.block.ops:
            producers = self.producers(op)
            self.graph.add_node(op)
            kind = category(op)
            target = None
            if kind is not None:
                for g in (p for p in producers if isinstance(p, Group)):
                    if (
                        len(g.members) < self.max_ops
                        and self.fits(g, op)
                        and not self.reaches_around(g, producers)
                    ):
                        target = g
                        break
                if target is None:
                    target = self.new_group(op, kind)
                    groups.append(target)
                self.join(target, op, producers)
                for h in [p for p in producers if isinstance(p, Group) and p is not target]:
                    if self.mergeable(target, h):
                        self.merge(target, h)
                        groups.remove(h)
            else:
                for p in producers:
                    self.graph.add_edge(p, op)
        return groups

    def new_group(self, op: Operation, kind: str) -> Group:
        if kind == "reduce":
            g = Group("reduction", tuple(op.operands[0].type.shape), reduced_axes(op))
        elif kind == "ew":
            g = Group("pointwise", tuple(op.type.shape))
        else:
            g = Group(kind, tuple(op.type.shape))
        g.number = next(self.numbers)
        self.graph.add_node(g)
        return g

    def join(self, g: Group, op: Operation, producers: list) -> None:
        if self.graph.has_node(op):
            self.graph.remove_node(op)
        g.members.append(op)
        self.group_of[op] = g
        for p in producers:
            if p is not g:
                self.graph.add_edge(p, g)
        if category(op) == "reduce" and g.kind == "pointwise":
            g.kind, g.axes = "reduction", reduced_axes(op)

    def inside(self, v: Value, g: Group) -> bool:
        owner = getattr(v, "op", None)
        return owner is not None and self.group_of.get(owner) is g

    def fits(self, g: Group, op: Operation) -> bool:
        """Whether `g`'s template can hold `op` (cycles are checked separately)."""
        kind = category(op)
        ours = [v for v in op.operands if self.inside(v, g)]
        if kind == "reduce":
            shape, axes = tuple(op.operands[0].type.shape), reduced_axes(op)
            if g.kind == "pointwise":
                return shape == g.shape
            return g.kind == "reduction" and g.role(shape) == "full" and axes == g.axes
        if kind != "ew":
            return False
        role = g.role(tuple(op.type.shape))
        if g.kind in ("pointwise", "matmul", "conv"):
            return role == "full" and all(v.type.shape == op.type.shape for v in ours)
        if role == "full":
            return all(g.role(tuple(v.type.shape)) in ("full", "row") for v in ours)
        return role is not None and all(v.type.shape == op.type.shape for v in ours)

    def reaches_around(self, g: Group, producers: list) -> bool:
        """Whether a path leads from `g` to one of `producers` other than `g`
        (then putting their consumer into `g` would make a cycle)."""
        return any(p is not g and self.graph.has_path(g, p) for p in producers)

    def mergeable(self, g: Group, h: Group) -> bool:
        """Whether pointwise group `h` can move into `g` (a sibling or producer)."""
        if h.kind != "pointwise" or len(g.members) + len(h.members) > self.max_ops:
            return False
        role = g.role(h.shape)
        if role not in ("full", "row") or (g.kind != "reduction" and role != "full"):
            return False
        if g.kind in ("matmul", "conv") and any(self.inside(v, h) for v in g.members[0].operands):
            return False  # h feeds the contraction: a prologue, which the template lacks
        return not (self._long_path(g, h) or self._long_path(h, g))

    def _long_path(self, a: Group, b: Group) -> bool:
        return any(s is not b and self.graph.has_path(s, b) for s in self.graph.successors(a))

    def merge(self, g: Group, h: Group) -> None:
        for op in h.members:
            self.group_of[op] = g
        g.members.extend(h.members)
        g.members.sort(key=self.position.__getitem__)
        self.graph.contract(g, h)

    # ------------------------------------------------------------ rewriting
    def outline(self, g: Group) -> Operation:
        """Move `g`'s ops into the region of a new kiln.fused op."""
        members = set(g.members)
        inputs: list[Value] = []
        splats: dict[int, Operation] = {}
        for op in g.members:
            for v in op.operands:
                if self.inside(v, g) or v in inputs:
                    continue
                if _is_splat_constant(v) and (category(op) not in CONTRACTIONS or _small(v)):
                    splats.setdefault(id(v), v.op)
                else:
                    inputs.append(v)
        outputs = [
            r for op in g.members for r in op.results if any(user not in members for user in r.uses)
        ]
        body = Block([v.type for v in inputs])
        fused = Builder.before(g.members[-1]).create(
            "kiln.fused",
            *inputs,
            result_types=[r.type for r in outputs],
            regions=[Region([body])],
            kind=g.kind,
            loc=g.members[-1].loc,
        )
        for r, new in zip(outputs, fused.results):
            new.name = r.name
            for user in list(r.uses):
                if user not in members:
                    for i, v in enumerate(user.operands):
                        if v is r:
                            user.set_operand(i, new)
        inner = Builder.at_end(body)
        local: dict[int, Value] = {id(v): a for v, a in zip(inputs, body.args)}
        for const in splats.values():
            copy = inner.create("kiln.constant", value=const.value, loc=const.loc).result
            copy.name = const.result.name
            local[id(const.result)] = copy
        for op in g.members:
            self.block.detach(op)
            body.append(op)
            for i, v in enumerate(op.operands):
                if id(v) in local:
                    op.set_operand(i, local[id(v)])
        inner.create("kiln.yield", *outputs)
        return fused


# A splat a contraction reads (a weight filled by ConstantOfShape, say) is a
# matrix to its kernel: copied in, it becomes a global of the kernel's module,
# every element printed in its LLVM IR and stored in its object code (ONNX's
# light ResNet-50 spent 10 of its 12 s of LLVM IR building there). Beyond this
# many elements it stays an input: the runtime's constant buffer.
CONTRACTIONS = ("matmul", "conv")
SPLAT_COPY_ELEMENTS = 1024


def _small(v: Value) -> bool:
    return constant_array(v).size <= SPLAT_COPY_ELEMENTS


def _is_splat_constant(v: Value) -> bool:
    array = constant_array(v)
    if array is None:
        return False
    # a broadcast element (all strides 0) is a splat without comparing its 10^6 copies
    return array.size <= 1 or not any(array.strides) or bool((array == array.flat[0]).all())


def reorder(block: Block, late: set[Operation] = frozenset()) -> None:
    """Put `block`'s ops in a topological order that stays close to the old one,
    the ops in `late` as late as their uses allow (a variable's update goes after
    every read of the old value, so the plan can write it in place)."""
    order = {op: (op in late, i) for i, op in enumerate(block.ops)}
    edges = [
        (owner, op)
        for op in block.ops
        for v in op.operands
        if (owner := getattr(v, "op", None)) is not None and owner.parent is block
    ]
    block.reorder(topological_order(block.ops, edges, key=order.__getitem__))


def _updates(func) -> set[Operation]:
    """The ops computing results that overwrite an argument (the `aliases` attribute)."""
    ret = func.body.terminator
    aliases = func.attrs.get("aliases") or ()
    return {v.op for v, j in zip(ret.operands, aliases) if j >= 0 and hasattr(v, "op")}


def kernel_count(block: Block) -> int:
    """Kernels codegen makes for a block: fused ops and ops that stay on their own."""
    return sum(op.name not in FREE_OPS for op in block.ops)


CONTROL_OPS = ("kiln.if", "kiln.while", "kiln.scan")


def _loop_blocks(block: Block) -> list[Block]:
    """The region blocks of the control-flow ops in `block`, innermost first."""
    out = []
    for op in block.ops:
        if op.name in CONTROL_OPS:
            for region in op.regions:
                for inner in region.blocks:
                    out += _loop_blocks(inner)
                    out.append(inner)
    return out


@register_pass("fuse")
def fuse(module: Module, max_ops: int = 0) -> dict[str, int]:
    """Group every function's ops into kiln.fused kernels of at most `max_ops`
    ops each (0: DEFAULT_MAX_OPS)."""
    groups = fused_ops = kernels = 0
    for func in module:
        fuser = Fuser(func.body, max_ops)
        for g in fuser.form_groups():
            fused_ops += len(g.members)
            fuser.outline(g)
            groups += 1
        reorder(func.body, _updates(func))
        erase_dead(func.body, Effects(module))  # constants now copied into kernels
        kernels += kernel_count(func.body)
        for block in _loop_blocks(func.body):  # inside control flow: the same grouping
            fuser = Fuser(block, max_ops)
            for g in fuser.form_groups():
                fused_ops += len(g.members)
                fuser.outline(g)
                groups += 1
            reorder(block)
            erase_dead(block, Effects(module))
            kernels += kernel_count(block)
    return {"groups formed": groups, "ops fused": fused_ops, "kernels": kernels}
