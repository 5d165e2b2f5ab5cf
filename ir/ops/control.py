"""Calls, returns, fused groups (an op whose region is a kernel's body), print."""

from __future__ import annotations

from ..attributes import Attr, one_of, str_, symbol
from ..core import Operation, Trait
from ..errors import VerifyError
from ..registry import op


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
