"""Calls, returns, fused groups (an op whose region is a kernel's body), print,
and the control-flow region ops kiln.if, kiln.while, kiln.scan."""

from __future__ import annotations

import numpy as np

from ..attributes import Attr, bool_, int_, one_of, str_, symbol
from ..core import Operation, Trait
from ..errors import ExecutionError, KilnError, VerifyError
from ..registry import op
from ..types import may_equal


@op("kiln.return", ["*values"], results=0, traits=[Trait.TERMINATOR])
class Return(Operation):
    """Ends a function body; its operands are the function's results."""

    def infer(self, *types):
        return ()


@op("kiln.call", ["*args"], {"callee": Attr(symbol)}, results=None)
class Call(Operation):
    """Call another function of the module; results are the callee's."""

    def verify_in(self, module) -> None:
        name = self.callee.name
        if name not in module:
            raise self.error(f"calls @{name}, which the module does not define")
        callee = module[name]
        got = [v.type for v in self.operands]
        if got != callee.arg_types:
            raise self.error(
                f"@{name} takes ({', '.join(map(str, callee.arg_types))}), "
                f"got ({', '.join(map(str, got))})"
            )
        results = [r.type for r in self.results]
        if results != (callee.result_types or []):
            raise self.error(
                f"@{name} returns ({', '.join(map(str, callee.result_types))}), "
                f"the call says ({', '.join(map(str, results))})",
                VerifyError,
            )

    def evaluate(self, interpreter, args):
        return interpreter.call(self.callee.name, args)


FUSED_KINDS = ("pointwise", "reduction", "matmul", "conv")


@op("kiln.yield", ["*values"], results=0, traits=[Trait.TERMINATOR])
class Yield(Operation):
    """Ends a region; its operands are the enclosing op's results."""

    def infer(self, *types):
        return ()


@op("kiln.fused", ["*inputs"], {"kind": Attr(one_of(*FUSED_KINDS))}, results=None, regions=1)
class Fused(Operation):
    """A group of ops that becomes one kernel (made by the `fuse` pass).

    The region's block takes one argument per input and ends with kiln.yield
    of the results. `kind` names the kernel template: pointwise (one
    iteration space), reduction (rows reduced over the same axes, with
    elementwise work before and after), matmul / conv (the contraction with an
    elementwise epilogue).
    """

    @property
    def body(self):
        return self.regions[0].blocks[0]

    def verify_in(self, module) -> None:
        if len(self.regions[0].blocks) != 1:
            raise self.error("its region must hold exactly one block")
        body = self.body
        got = [a.type for a in body.args]
        want = [v.type for v in self.operands]
        if got != want:
            raise self.error(
                f"region arguments ({', '.join(map(str, got))}) differ from the "
                f"inputs ({', '.join(map(str, want))})"
            )
        end = body.terminator
        if end is None or end.name != "kiln.yield":
            raise self.error("its region must end with kiln.yield")
        yielded = [v.type for v in end.operands]
        results = [r.type for r in self.results]
        if yielded != results:
            raise self.error(
                f"yields ({', '.join(map(str, yielded))}) but its results are "
                f"({', '.join(map(str, results))})"
            )
        for inner in body.ops:
            if inner.regions or inner.name == "kiln.call":
                raise self.error(f"cannot hold {inner.name}")

    def evaluate(self, interpreter, args):
        return interpreter.run_block(self.body, args)


@op("kiln.print", ["x"], {"message": Attr(str_, "")}, traits=[Trait.SIDE_EFFECT], tf="Print")
class Print(Operation):
    """Print `x` (with `message`) when it runs and pass it on, as tf.print.

    A side effect: passes never merge, move past each other or drop it."""

    def infer(self, x):
        return x

    def reference(self, x):
        print(f"{self.message}: {x}" if self.message else x, flush=True)
        return x

    def vjp(self, b, g):
        """The identity to the gradient (the backward pass prints nothing)."""
        return [g]


# ------------------------------------------------------------------ control flow
# Region ops, isolated from above: every value a region uses comes in as a
# block argument (the op's operands), each region is one block ending in
# kiln.yield. Their result types follow from the regions (`infer` reads the
# yields), so the verifier checks them as any other op's.


def _types(values) -> str:
    return "(" + ", ".join(str(v.type if hasattr(v, "type") else v) for v in values) + ")"


def _region_block(op: Operation, index: int, what: str, arg_types, yields=None) -> list:
    """The one block of region `index`, checked: its arguments have `arg_types`
    and it ends in kiln.yield; returns the yielded values' types, checked
    against `yields` when given."""
    region = op.regions[index]
    if len(region.blocks) != 1:
        raise op.error(f"its {what} region must hold exactly one block", VerifyError)
    block = region.blocks[0]
    got = [a.type for a in block.args]
    if got != list(arg_types):
        raise op.error(
            f"its {what} region takes {_types(got)}, expected {_types(arg_types)}", VerifyError
        )
    end = block.terminator
    if end is None or end.name != "kiln.yield":
        raise op.error(f"its {what} region must end with kiln.yield", VerifyError)
    yielded = [v.type for v in end.operands]
    if yields is not None and yielded != list(yields):
        raise op.error(
            f"its {what} region yields {_types(yielded)}, expected {_types(yields)}", VerifyError
        )
    return yielded


def _scalar_bool(op: Operation, t, what: str) -> None:
    if t.rank != 0 or not t.dtype.is_bool:
        raise op.error(f"{what} must be a rank-0 bool tensor, got {t}", VerifyError)


@op("kiln.if", ["pred", "*args"], results=None, regions=2, tf="If", onnx="If")
class If(Operation):
    """`then` (region 0) or `else` (region 1) on `args`, as `pred` says.

    Both regions take the types of `args` and yield the op's result types."""

    @property
    def then_block(self):
        return self.regions[0].blocks[0]

    @property
    def else_block(self):
        return self.regions[1].blocks[0]

    def infer(self, pred, *args):
        _scalar_bool(self, pred, "the predicate")
        then = _region_block(self, 0, "then", args)
        _region_block(self, 1, "else", args, then)
        return tuple(then)

    def evaluate(self, interpreter, args):
        block = self.then_block if bool(args[0]) else self.else_block
        return interpreter.run_block(block, args[1:])

    def vjp(self, b, *cotangents):
        """A kiln.if on the same predicate over the two branches' adjoints: each
        takes the args and the results' cotangents and yields the cotangents of
        the floating-point args (the adjoint of the branch taken)."""
        from ..control_flow import build_if
        from ..gradient import region_adjoint, zeros_like

        args = list(self.args)
        floats = [k for k, a in enumerate(args) if a.type.dtype.is_float]
        seeded = [(k, g) for k, g in enumerate(cotangents) if g is not None]
        if not floats or not seeded:
            return [None] * len(self.operands)

        def adjoint(block):
            def build(bb, *values):
                xs, gs = values[: len(args)], values[len(args) :]
                seeds = {k: g for (k, _), g in zip(seeded, gs)}
                out = region_adjoint(bb, block, xs, seeds)
                return [out[k] if out[k] is not None else zeros_like(bb, xs[k]) for k in floats]

            return build

        operands = [*args, *(g for _, g in seeded)]
        results = build_if(
            b, self.pred, operands, adjoint(self.then_block), adjoint(self.else_block)
        )
        grads: list = [None] * len(self.operands)
        for k, r in zip(floats, results):
            grads[1 + k] = r
        return grads


@op(
    "kiln.while",
    ["*init"],
    {"max_iterations": Attr(int_, -1)},
    results=None,
    regions=2,
    tf="While",
    onnx="Loop",
)
class While(Operation):
    """Loop-carried values: while `cond` (region 0) yields true on them, `body`
    (region 1) maps them to their next values; the results are the last ones.
    `max_iterations` (>= 0) stops the loop after that many trips, as
    tf.while_loop's maximum_iterations; -1: no bound."""

    @property
    def cond_block(self):
        return self.regions[0].blocks[0]

    @property
    def body_block(self):
        return self.regions[1].blocks[0]

    def infer(self, *init):
        if self.max_iterations < -1:
            raise self.error(f"max_iterations must be >= -1, got {self.max_iterations}")
        cond = _region_block(self, 0, "cond", init)
        if len(cond) != 1:
            raise self.error(f"its cond region must yield one value, got {_types(cond)}")
        _scalar_bool(self, cond[0], "the cond region's yield")
        _region_block(self, 1, "body", init, init)
        return tuple(init)

    def evaluate(self, interpreter, args):
        values, trips = list(args), 0
        while self.max_iterations < 0 or trips < self.max_iterations:
            (go,) = interpreter.run_block(self.cond_block, values)
            if not bool(go):
                break
            values = interpreter.run_block(self.body_block, values)
            trips += 1
        return values

    def vjp(self, b, *cotangents):
        """Needs `max_iterations` (M >= 0): a forward loop like this one that also
        counts its trips n and stores each trip's carried inputs into buffers
        of M slots (as TF's while-loop gradient stacks them), then a loop of n
        trips from the last to the first that takes each trip's inputs from
        the buffers and runs the body's adjoint on them."""
        from ..control_flow import build_while
        from ..gradient import region_adjoint, zeros_like

        n = len(self.operands)
        init = list(self.init)
        floats = [k for k in range(n) if init[k].type.dtype.is_float]
        if not floats or all(g is None for g in cotangents):
            return [None] * n
        bound = self.max_iterations
        if bound < 0:
            raise self.error(
                "its gradient needs max_iterations (the forward loop stores each trip's "
                "carried values in buffers of that many slots); give the loop a bound, "
                "as tf.while_loop's maximum_iterations",
                KilnError,
            )
        cond, body = self.cond_block, self.body_block

        def buffer(x):
            slots = b.expand_dims(zeros_like(b, x), axis=0)
            return b.broadcast_to(slots, shape=[bound] + [-1] * x.type.rank)

        def run(bb, block, values):
            mapping = dict(zip(block.args, values))
            for inner in list(block.ops)[:-1]:
                copy = _copy_op(inner, mapping)
                bb.insert(copy)
            return [mapping[v] for v in block.terminator.operands]

        def fwd_cond(bb, i, *rest):
            return run(bb, cond, rest[:n])

        def fwd_body(bb, i, *rest):
            cs, bufs = rest[:n], rest[n:]
            stored = [bb.scatter_add(buf, i, c) for buf, c in zip(bufs, cs)]
            return [bb.add(i, bb.constant(1, "i32")), *run(bb, body, cs), *stored]

        zero = b.constant(0, "i32")
        forward = build_while(
            b, [zero, *init, *(buffer(x) for x in init)], fwd_cond, fwd_body, bound
        )
        trips, bufs = forward[0], forward[1 + n :]

        def bwd_cond(bb, j, *rest):
            return [bb.less(bb.constant(-1, "i32"), j)]

        def bwd_body(bb, j, *rest):
            gs, stored = rest[: len(floats)], rest[len(floats) :]
            cs = [bb.gather(buf, j) for buf in stored]
            out = region_adjoint(bb, body, cs, dict(zip(floats, gs)))
            new = [out[k] if out[k] is not None else zeros_like(bb, cs[k]) for k in floats]
            return [bb.sub(j, bb.constant(1, "i32")), *new, *stored]

        seeds = [
            cotangents[k] if cotangents[k] is not None else zeros_like(b, init[k]) for k in floats
        ]
        last = b.sub(trips, b.constant(1, "i32"))
        back = build_while(b, [last, *seeds, *bufs], bwd_cond, bwd_body, bound)
        grads: list = [None] * n
        for i, k in enumerate(floats):
            grads[k] = back[1 + i]
        return grads


@op(
    "kiln.scan",
    ["*inputs"],
    {"num_carried": Attr(int_), "reverse": Attr(bool_, False)},
    results=None,
    regions=1,
    tf="Scan",
    onnx="Scan",
)
class Scan(Operation):
    """A loop over the leading dim T of `xs`: the operands are `num_carried`
    initial carried values, then the xs (at least one, all of length T). The
    body takes the carried values and one slice of each xs and yields the next
    carried values and the step's outputs. Results: the final carried values,
    then each step output stacked on a new leading dim T. `reverse` walks the
    slices from T-1 down to 0 (outputs stay at their step's index), as
    jax.lax.scan's reverse."""

    @property
    def body(self):
        return self.regions[0].blocks[0]

    @property
    def init(self):
        return self.operands[: self.num_carried]

    @property
    def xs(self):
        return self.operands[self.num_carried :]

    @property
    def length(self):
        """The trip count T: the leading dim of the xs (an int or a Symbol)."""
        return self.operands[self.num_carried].type.shape[0]

    def infer(self, *types):
        n = self.num_carried
        if not 0 <= n < len(types):
            raise self.error(
                f"num_carried={n} must leave at least one xs among its {len(types)} operands"
            )
        carried, xs = types[:n], types[n:]
        for k, t in enumerate(xs):
            if t.rank == 0:
                raise self.error(f"xs {k} is a scalar ({t}); a scanned input needs a leading dim")
        length = xs[0].shape[0]
        for k, t in enumerate(xs[1:], 1):
            if not may_equal(t.shape[0], length) or (
                not isinstance(length, int) and not length.anonymous and t.shape[0] != length
            ):
                raise self.error(
                    f"xs {k} ({t}) has a leading dim other than xs 0's ({xs[0]}); "
                    "all xs must have the same length"
                )
        slices = [t.with_shape(t.shape[1:]) for t in xs]
        yielded = _region_block(self, 0, "body", [*carried, *slices])
        if [*yielded[:n]] != list(carried):
            raise self.error(
                f"its body yields carried values {_types(yielded[:n])}, expected {_types(carried)}"
            )
        stacked = [t.with_shape((length, *t.shape)) for t in yielded[n:]]
        return (*carried, *stacked)

    def evaluate(self, interpreter, args):
        n = self.num_carried
        carried, xs = list(args[:n]), args[n:]
        length = xs[0].shape[0]
        for k, x in enumerate(xs[1:], 1):
            if x.shape[0] != length:
                raise self.error(
                    f"xs {k} has length {x.shape[0]}, xs 0 has {length}", ExecutionError
                )
        steps = range(length - 1, -1, -1) if self.reverse else range(length)
        ys: list = [None] * length
        for t in steps:
            out = interpreter.run_block(self.body, [*carried, *(x[t] for x in xs)])
            carried, ys[t] = out[:n], out[n:]
        stacked = []
        named = {}  # the named dims the operands bind (the empty outputs' other dims)
        for v, a in zip(self.operands, args):
            for d, size in zip(v.type.shape, np.shape(a)):
                if not isinstance(d, int) and not d.anonymous:
                    named[d.name] = size
        for k, r in enumerate(self.results[n:]):
            if length:
                stacked.append(np.stack([y[k] for y in ys]))
            else:
                shape = [0] + [
                    d if isinstance(d, int) else (0 if d.anonymous else named.get(d.name, 0))
                    for d in r.type.shape[1:]
                ]
                stacked.append(np.zeros(shape, r.type.dtype.numpy))
        return [*carried, *stacked]

    def vjp(self, b, *cotangents):
        """As jax.lax.scan's transpose: a forward scan that also stacks each
        step's carried inputs (the residuals the backward needs), then a scan
        in the other direction over them, the xs and the outputs' cotangents,
        carrying the carried values' cotangents and giving the xs' per step.

        The residual scan is built here, next to the original one (which the
        function's results keep using; `fuse_scans` in canonicalize merges
        the two into one loop)."""
        from ..control_flow import build_if, build_scan  # noqa: F401
        from ..gradient import region_adjoint, zeros_like

        n = self.num_carried
        init, xs = list(self.init), list(self.xs)
        carry_floats = [k for k in range(n) if init[k].type.dtype.is_float]
        x_floats = [k for k, x in enumerate(xs) if x.type.dtype.is_float]
        ys = range(len(self.results) - n)
        if not any(g is not None for g in cotangents):
            return [None] * len(self.operands)
        # carried values the body passes through unchanged (weights): the backward
        # scan carries them too instead of a stack of T copies
        fixed = self.invariant()
        varying = [k for k in range(n) if k not in fixed]
        residuals = self.residuals(b) if varying else []

        g_final = [cotangents[k] for k in carry_floats]
        g_final = [
            g if g is not None else zeros_like(b, init[k]) for g, k in zip(g_final, carry_floats)
        ]
        g_ys = [(j, cotangents[n + j]) for j in ys if cotangents[n + j] is not None]
        body = self.body
        n_g, n_fixed = len(carry_floats), len(fixed)

        def step(bb, *values):
            gc = values[:n_g]
            kept = dict(zip(fixed, values[n_g : n_g + n_fixed]))
            rest = values[n_g + n_fixed :]
            stacked, rest = rest[: len(varying)], rest[len(varying) :]
            cs = [kept[k] if k in kept else stacked[varying.index(k)] for k in range(n)]
            xt, gy = rest[: len(xs)], rest[len(xs) :]
            seeds = {k: g for k, g in zip(carry_floats, gc)}
            seeds.update({n + j: g for (j, _), g in zip(g_ys, gy)})
            out = region_adjoint(bb, body, [*cs, *xt], seeds)
            carried = [
                out[k] if out[k] is not None else zeros_like(bb, cs[k]) for k in carry_floats
            ]
            per_step = [
                out[n + k] if out[n + k] is not None else zeros_like(bb, xt[k]) for k in x_floats
            ]
            # an invariant weight's cotangent grows by A_t^T G_t per step: the step
            # yields A_t and G_t instead, summed after the loop as one matmul
            # (K = T M: as PyTorch's LSTM backward), and carries its cotangent unchanged
            terms = []
            for i, k in enumerate(carry_floats):
                term = _matmul_term(carried[i], gc[i]) if k in kept else None
                if term is not None:
                    hoisted.append(i)
                    terms += term
                    carried[i] = gc[i]
            return [*carried, *(kept[k] for k in fixed), *per_step, *terms]

        hoisted: list[int] = []  # positions in carry_floats, filled by `step`
        results = build_scan(
            b,
            [*g_final, *(init[k] for k in fixed)],
            [*residuals, *xs, *(g for _, g in g_ys)],
            step,
            reverse=not self.reverse,
        )
        grads: list = [None] * len(self.operands)
        for i, k in enumerate(carry_floats):
            grads[k] = results[i]
        for i, k in enumerate(x_floats):
            grads[n + k] = results[n_g + n_fixed + i]
        stacks = results[n_g + n_fixed + len(x_floats) :]
        for j, i in enumerate(hoisted):
            a, g = stacks[2 * j : 2 * j + 2]
            rows_a = b.reshape(a, shape=[-1, a.type.shape[-1]])
            rows_g = b.reshape(g, shape=[-1, g.type.shape[-1]])
            k = carry_floats[i]
            grads[k] = b.add(results[i], b.matmul(rows_a, rows_g, transpose_a=True))
        return grads

    def invariant(self) -> list[int]:
        """The carried values the body yields unchanged (its argument k as yield k)."""
        body = self.body
        yielded = body.terminator.operands
        return [k for k in range(self.num_carried) if yielded[k] is body.args[k]]

    def residuals(self, b):
        """Each step's carried inputs but the invariant ones, stacked: a scan like
        this one whose body also yields those carried arguments (built with `b`)."""
        from ..control_flow import build_scan

        n, body = self.num_carried, self.body
        fixed = set(self.invariant())

        def step(bb, *values):
            mapping = dict(zip(body.args, values))
            for inner in list(body.ops)[:-1]:
                bb.insert(_copy_op(inner, mapping))
            out = [mapping[v] for v in body.terminator.operands]
            return [*out, *(values[k] for k in range(n) if k not in fixed)]

        results = build_scan(b, list(self.init), list(self.xs), step, reverse=self.reverse)
        return results[len(self.results) :]


def _matmul_term(total, carried):
    """(A, G) when `total` is `carried + matmul(A, G, transpose_a)` of matrices
    with static columns (an RNN weight's cotangent in one step), else None."""
    op = getattr(total, "op", None)
    if op is None or op.name != "kiln.add" or carried not in op.operands:
        return None
    x, y = op.operands
    other = y if x is carried else x
    mm = getattr(other, "op", None)
    if (
        mm is None
        or mm.name != "kiln.matmul"
        or not mm.transpose_a
        or mm.transpose_b
        or x.type != y.type
        or any(v.type.rank != 2 or not isinstance(v.type.shape[1], int) for v in mm.operands)
    ):
        return None
    return list(mm.operands)


def _copy_region(region, mapping):
    """A copy of `region` (its values added to `mapping`)."""
    from ..builder import Builder
    from ..core import Block, Region

    out = Region()
    for block in region.blocks:
        new = out.add_block(Block([a.type for a in block.args], [a.name for a in block.args]))
        mapping.update(zip(block.args, new.args))
        bb = Builder.at_end(new)
        for inner in block.ops:
            bb.insert(_copy_op(inner, mapping))
    return out


def _copy_op(op, mapping):
    """A copy of `op` (in no block) on the values `mapping` gives for its
    operands; its results are added to `mapping`."""
    copy = type(op)(
        [mapping[v] for v in op.operands],
        dict(op.attrs),
        [r.type for r in op.results],
        [_copy_region(r, mapping) for r in op.regions],
        op.loc,
    )
    mapping.update(zip(op.results, copy.results))
    return copy
