"""`kiln.compile`: a callable for one function of a module.

    run = kiln.compile(module, "step")            # native code for the host CPU
    outputs = run(x, w)                           # numpy arrays in, numpy arrays out
    run.compiled                                  # the CpuExecutable / GpuExecutable

The module is optimised by the pass pipeline first, then compiled to native
code for the host CPU (`backend="cpu"`: runtime/cpu.py). The default,
`backend="auto"`, uses the CPU backend unless the function holds an op it has
no kernel for yet, then the reference interpreter (with a warning naming the
op); the interpreter stays selectable for debugging (`backend="interpreter"`).
`backend="gpu"` compiles to Triton kernels (runtime/gpu.py), falling back to
the CPU with a warning when no GPU exists.
`KILN_BACKEND` sets the default (`KILN_DEVICE=gpu` too).
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import CompileError, Interpreter, KilnError, Module, parse
from ..passes import DEFAULT_PIPELINE, PipelineReport, run_pipeline
from . import optimised
from .cpu import CpuExecutable

BACKENDS = ("cpu", "interpreter", "auto", "gpu")
INTERPRETER_PIPELINE = "decompose,canonicalize,fold,cse,dce"
CPU_PIPELINE = DEFAULT_PIPELINE


def default_backend() -> str:
    if "KILN_BACKEND" in os.environ:
        return os.environ["KILN_BACKEND"]
    device = os.environ.get("KILN_DEVICE", "").lower()
    return "gpu" if "gpu" in device or "cuda" in device else "auto"


@contextlib.contextmanager
def collector_paused():
    """Python's cycle collector paused (then restored): a compile allocates IR and
    LLVM builder objects by the hundred thousand, few of them garbage, and each
    full collection walks all of them, so its cost grew with the square of the
    graph (8,000 ops: 14.5 s of CPU with it, 6.0 s without)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Executable:
    """A compiled function: call it with numpy arrays; returns a list of arrays."""

    def __init__(
        self, module: Module, name: str, backend: str | None = None, pipeline: str | None = None
    ):
        with collector_paused():
            self._build(module, name, backend, pipeline)

    def _build(self, module: Module, name: str, backend: str | None, pipeline: str | None):
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise KilnError(f"unknown backend {backend!r} (kiln has: {', '.join(BACKENDS)})")
        module[name]  # a clear error for a missing function
        self.module, self.name = module, name
        if backend == "gpu":
            from .gpu import GpuExecutable, gpu_available, no_gpu_reason

            if gpu_available():
                self.report = run_pipeline(module, pipeline or CPU_PIPELINE)
                self._run = GpuExecutable(module, name)
                self.backend = "gpu"
                return
            warnings.warn(
                f"kiln: no GPU ({no_gpu_reason()}); running @{name} on the CPU", stacklevel=4
            )
            backend = "auto"
        if backend == "interpreter":
            self._use_interpreter(pipeline)
            return
        text = str(module)  # the key of the optimised module, and the fallback's source
        self.report: PipelineReport = optimised.optimise(module, text, pipeline or CPU_PIPELINE)
        original = text if backend == "auto" else None
        try:
            self._run = CpuExecutable(module, name)
            self.backend = "cpu"
        except CompileError as e:
            if original is None:
                raise
            warnings.warn(f"kiln: running @{name} in the reference interpreter: {e}", stacklevel=4)
            self.module = parse(original)
            self._use_interpreter(pipeline)

    def _use_interpreter(self, pipeline: str | None) -> None:
        self.backend = "interpreter"
        self.report = run_pipeline(self.module, pipeline or INTERPRETER_PIPELINE)
        interpreter = Interpreter(self.module)
        self._run = lambda *args: interpreter.call(self.name, list(args))

    def __call__(self, *args: Any) -> list[np.ndarray]:
        return self._run(*args)

    @property
    def compiled(self):
        """The backend's executable (CpuExecutable, GpuExecutable: its steps,
        kernels and plans, for the profiler and tests); None on the interpreter."""
        return None if self.backend == "interpreter" else self._run

    def run_resident(self, *args: Any) -> list:
        """Like a call, but on the GPU backend arguments and results may stay in
        device memory (runtime/gpu.py's DeviceArray; np.asarray copies one to
        the host). Other backends give numpy arrays."""
        if self.backend == "gpu":
            return self._run.run_device(*args)
        return self._run(*args)

    @property
    def arg_types(self) -> Sequence:
        return self.module[self.name].arg_types


def compile(
    module: Module, name: str, backend: str | None = None, pipeline: str | None = None
) -> Executable:
    """Optimise `module` and return a callable for its function `name`."""
    return Executable(module, name, backend, pipeline)
