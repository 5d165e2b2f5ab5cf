"""`kiln.compile`: a callable for one function of a module.

    run = kiln.compile(module, "step")            # backend="interpreter" today
    outputs = run(x, w)                           # numpy arrays in, numpy arrays out

The module is optimised by the pass pipeline first. The reference
interpreter is the backend until the CPU backend lands; it stays selectable
for debugging (`backend="interpreter"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Interpreter, KilnError, Module
from ..passes import PipelineReport, run_pipeline

BACKENDS = ("interpreter",)
INTERPRETER_PIPELINE = "decompose,canonicalize,fold,cse,dce"


class Executable:
    """A compiled function: call it with numpy arrays; returns a list of arrays."""

    def __init__(self, module: Module, name: str, backend: str = "interpreter",
                 pipeline: str | None = None):
        if backend not in BACKENDS:
            raise KilnError(f"unknown backend {backend!r} (kiln has: {', '.join(BACKENDS)})")
        module[name]  # a clear error for a missing function
        self.module, self.name, self.backend = module, name, backend
        self.report: PipelineReport = run_pipeline(module, pipeline or INTERPRETER_PIPELINE)
        self._interpreter = Interpreter(module)

    def __call__(self, *args: Any) -> list[np.ndarray]:
        return self._interpreter.call(self.name, list(args))

    @property
    def arg_types(self) -> Sequence:
        return self.module[self.name].arg_types


def compile(module: Module, name: str, backend: str = "interpreter",
            pipeline: str | None = None) -> Executable:
    """Optimise `module` and return a callable for its function `name`."""
    return Executable(module, name, backend, pipeline)
