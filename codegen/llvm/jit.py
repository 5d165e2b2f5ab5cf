"""jit: LLVM modules -> native code for the host CPU, callable through ctypes.

The target machine is the host's (its CPU name and features, so AVX2 or
AVX-512 where present), optimised at O2 with the new pass manager, loop and
SLP vectorisation on, loop unrolling off (see `optimize`). llvmlite 0.50
must not call `llvm.initialize()`; the native target and asm printer are
enough (shared/FACTS.md).
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import llvmlite.binding as llvm
from llvmlite import ir
from llvmlite.binding import ffi

from ..kernel import CompileError

# The kernel ABI: int32 kernel(void **buffers, int64 *dims, int64 begin, int64 end).
KERNEL_SIGNATURE = ctypes.CFUNCTYPE(
    ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64
)

# LLVM's JIT objects are not safe to build concurrently: hold it. Reentrant:
# rendering a kernel under it may compile the process's shared GEMM (llvm/gemm.py).
llvm_lock = threading.RLock()


@functools.cache
def host() -> tuple[str, str, str]:
    """The host's (process triple, CPU name, CPU features), read once: they do not
    change while a process runs, and reading them costs ~0.4 ms, which a compile
    from the disk cache paid for each target machine and cache key."""
    features = llvm.get_host_cpu_features().flatten()
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), features


def new_target_machine(opt: int = 3) -> llvm.TargetMachine:
    """A target machine for the host CPU (its name and features)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    _, cpu, features = host()
    return target.create_target_machine(cpu=cpu, features=features, opt=opt)


@functools.cache
def target_machine() -> llvm.TargetMachine:
    """The shared host target machine for optimising and printing assembly.
    An execution engine takes ownership of its target machine (and frees it
    with itself), so each engine gets a `new_target_machine()` of its own."""
    return new_target_machine()


@functools.cache
def glue_machine() -> llvm.TargetMachine:
    """The target machine for code that only calls other code (the entry), used
    without IR optimisation: its code is a few loads and calls per kernel, which
    O3 and the vectoriser do not make faster (measured on the MLP step's entry:
    76 ms to compile with O3, 24 ms so)."""
    return new_target_machine(opt=0)


def optimize(module: llvm.ModuleRef, machine: llvm.TargetMachine | None = None) -> None:
    """O2 with loop and SLP vectorisation (and interleaving), no loop unrolling,
    in place. Measured on the CPU benchmarks' kernels: as fast as O3 with
    unrolling, and 35-40% less compile time (the MLP training step's)."""
    builder = llvm.create_pass_builder(machine or target_machine(), _tuning())
    builder.getModulePassManager().run(module, builder)


_local = threading.local()


def _unlocked(function: str):
    """llvmlite's C function `function` called directly: llvmlite wraps every call
    into LLVM in one process-wide lock, so two threads' parses, pass pipelines and
    code emission would take turns; LLVM itself allows them side by side in
    separate contexts with separate target machines, which `compile_object` gives
    each thread (ctypes drops the GIL for the call). Measured: 40 kernel modules on
    2 threads 0.50 s locked, 0.26 s so (tests/codegen/test_parallel_compile.py
    checks the objects are byte-identical)."""
    return getattr(ffi.lib, function)._cfn


@functools.cache
def _tuning(vectorize: bool = True) -> llvm.PipelineTuningOptions:
    """`optimize`'s pipeline options, made once (read-only while a pipeline runs);
    without LLVM's vectorisers for code written in vectors already (the GEMM)."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=2)
    tuning.loop_vectorization = vectorize
    tuning.slp_vectorization = vectorize
    tuning.loop_unrolling = False
    return tuning


def compile_object(text: str, name: str, vectorize: bool = True) -> bytes:
    """The object code of LLVM IR `text` (module `name`), optimised: in an LLVM
    context and with a target machine of this thread's own, and with the long calls
    (parse, verify, the pass pipeline, code emission) made past llvmlite's lock
    (`_unlocked`), so threads compile side by side. `vectorize=False` leaves out
    LLVM's loop and SLP vectorisers (`_tuning`)."""
    if not hasattr(_local, "machine"):
        _local.machine = new_target_machine()
    context = llvm.create_context()
    parsed = parse(text, name, context)
    builder = llvm.create_pass_builder(_local.machine, _tuning(vectorize))
    passes = builder.getModulePassManager()
    _unlocked("LLVMPY_RunNewModulePassManager")(passes, parsed, builder)
    with ffi.OutputString() as error:
        buffer = _unlocked("LLVMPY_TargetMachineEmitToMemory")(_local.machine, parsed, 1, error)
        if not buffer:
            raise CompileError(f"LLVM could not emit module {name!r}: {error}")
    try:
        data = ctypes.string_at(
            ffi.lib.LLVMPY_GetBufferStart(buffer), ffi.lib.LLVMPY_GetBufferSize(buffer)
        )
    finally:
        ffi.lib.LLVMPY_DisposeMemoryBuffer(buffer)
    del passes, builder, parsed  # before its context
    return data


def host_text(module: ir.Module) -> str:
    """The builder's module as LLVM IR text, set up for the host target."""
    module.triple = llvm.get_process_triple()
    module.data_layout = str(target_machine().target_data)
    return str(module)


def to_llvm(module: ir.Module) -> llvm.ModuleRef:
    """The builder's module parsed and verified, set up for the host target."""
    return parse(host_text(module), module.name)


def parse(text: str, name: str, context=None) -> llvm.ModuleRef:
    """LLVM IR text parsed and verified (module `name`, for the message), in
    `context`, a thread's own, past llvmlite's lock (`_unlocked`); else in LLVM's
    global one, which `llvm_lock` guards, through llvmlite."""
    if context is None:
        try:
            parsed = llvm.parse_assembly(text)
            parsed.verify()
        except RuntimeError as e:
            error = e
        else:
            return parsed
    else:
        with ffi.OutputString() as out:
            handle = _unlocked("LLVMPY_ParseAssembly")(context, ctypes.c_char_p(text.encode()), out)
            if handle:
                parsed = llvm.ModuleRef(handle, context)
                if not _unlocked("LLVMPY_VerifyModule")(parsed, out):
                    return parsed
                parsed.close()
            error = str(out)
    # a renderer bug, never a user's mistake
    raise CompileError(f"LLVM rejected the generated module {name!r}: {error}")


# what must be done before code is linked, in order: registering the symbols
# of functions compiled meanwhile (llvm/gemm.py's shared functions)
_before_link: list[Callable[[], None]] = []


def before_link(work: Callable[[], None]) -> None:
    """Have `work` done before the next link (`settle`). Hold `llvm_lock`."""
    _before_link.append(work)


def settle() -> None:
    """Do what `before_link` was given (waiting for functions still compiling),
    so the symbols code may call are all registered. Hold `llvm_lock`."""
    with llvm_lock:
        while _before_link:
            _before_link.pop(0)()


def link(objects: list[bytes]) -> llvm.ExecutionEngine:
    """An engine holding these object files, their calls of each other resolved.
    Hold `llvm_lock`."""
    settle()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_target_machine())
    for data in objects:
        engine.add_object_file(llvm.ObjectFileRef.from_data(data))
    engine.finalize_object()
    return engine


@dataclass
class Compiled:
    """A module compiled to native code; `function(entry)` is a ctypes callable."""

    name: str
    llvm_ir: str  # after optimisation
    engine: llvm.ExecutionEngine
    _functions: dict = field(default_factory=dict)

    def function(self, entry: str):
        if entry not in self._functions:
            address = self.engine.get_function_address(entry)
            if not address:
                raise CompileError(f"module {self.name!r} defines no function {entry!r}")
            self._functions[entry] = KERNEL_SIGNATURE(address)
        return self._functions[entry]

    def assembly(self) -> str:
        """The host assembly of the optimised module."""
        with llvm_lock:
            return target_machine().emit_assembly(llvm.parse_assembly(self.llvm_ir))


def assembly(module: ir.Module) -> str:
    """The host assembly of `module` after `optimize` (what KILN_DEBUG=4 shows)."""
    with llvm_lock:
        parsed = to_llvm(module)
        optimize(parsed)
        return target_machine().emit_assembly(parsed)


def compile_module(module: ir.Module) -> Compiled:
    """Optimise and JIT-compile `module` for the host."""
    with llvm_lock:
        parsed = to_llvm(module)
        optimize(parsed)
        text = str(parsed)
        settle()
        engine = llvm.create_mcjit_compiler(parsed, new_target_machine())
        engine.finalize_object()
    return Compiled(module.name, text, engine)
