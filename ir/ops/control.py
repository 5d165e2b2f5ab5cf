"""Calls and returns."""

from __future__ import annotations

from ..attributes import Attr, symbol
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
            raise self.error(f"@{name} takes ({', '.join(map(str, callee.arg_types))}), "
                             f"got ({', '.join(map(str, got))})")
        results = [r.type for r in self.results]
        if results != (callee.result_types or []):
            raise self.error(f"@{name} returns ({', '.join(map(str, callee.result_types))}), "
                             f"the call says ({', '.join(map(str, results))})", VerifyError)

    def evaluate(self, interpreter, args):
        return interpreter.call(self.callee.name, args)
