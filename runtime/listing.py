"""What KILN_DEBUG shows of a compiled function, and `kiln opt --emit` of a file.

The levels are ir/debug.py's: 1 lists every kernel formed with its build
time and the function's compile time (or its load from the disk cache); 2
adds each kernel's form, 3 its generated code (LLVM IR, Triton source), 4
its assembly (host assembly; PTX on a GPU). A kernel whose object code came
from the disk cache is rendered again when its IR or assembly is asked for,
so the listing is the same whether or not the cache hit. Per-kernel run
times are the profiler's job (`KILN_PROFILE=1`, runtime/profile.py).
"""

from __future__ import annotations

from typing import TextIO

from ..codegen.llvm import listing as llvm_listing
from ..ir import KilnError, Module, debug

EMIT_FORMS = ("kernel", "llvm", "asm", "triton")


def _kind(op) -> str:
    return f"fused:{op.kind}" if op.name == "kiln.fused" else op.name.split(".", 1)[-1]


def _kernel_line(name: str, op, seconds: float | None) -> str:
    where = f" {op.loc.name}" if op.loc.name else ""
    took = f": built in {seconds * 1e3:.2f} ms" if seconds is not None else ""
    return f"// kiln:   kernel @{name} {_kind(op)}{where}{took}"


def show_cpu_program(program, seconds: float, cached: bool, out: TextIO | None = None) -> None:
    """KILN_DEBUG's listing of a CpuExecutable just compiled (`seconds` of LLVM
    work, or of loading from the disk cache when `cached`)."""
    out = out or debug.out()
    level = debug.level()
    how = "loaded from the disk cache" if cached else "compiled by LLVM"
    print(
        f"// kiln: @{program.name} on the CPU: {len(program.steps)} kernels, object code "
        f"{how} in {seconds * 1e3:.1f} ms",
        file=out,
    )
    sections = llvm_listing.sections_for(level)
    for step in program.steps:
        print(_kernel_line(step.kernel.name, step.op, step.seconds), file=out)
        if sections:
            print(llvm_listing.kernel_listing(step.kernel, sections), file=out)


def show_gpu_program(exe, out: TextIO | None = None) -> None:
    """KILN_DEBUG's listing of a GpuExecutable just built (Triton compiles each
    kernel on its first launch; PTX shows when a call first plans its shapes)."""
    from ..codegen.triton import listing as triton_listing

    out = out or debug.out()
    sections = tuple(s for s in triton_listing.sections_for(debug.level()) if s != "ptx")
    print(
        f"// kiln: @{exe.name} on the GPU ({exe.memory.name}): {len(exe.steps)} kernels", file=out
    )
    for step in exe.steps:
        if step.kernel is None:
            print(f"// kiln:   @{step.name} {_kind(step.op)}: runs on the host", file=out)
            continue
        print(_kernel_line(step.kernel.name, step.op, step.seconds), file=out)
        if sections:
            print(triton_listing.kernel_listing(step.kernel, sections), file=out)


def show_first_launch(step, launch, seconds: float, out: TextIO | None = None) -> None:
    """KILN_DEBUG=1 on the GPU: a kernel's first launch with new shapes (Triton's
    compile, or its load from Triton's cache, and one run)."""
    print(
        f"// kiln:   kernel @{step.kernel.name} first launch, grid {list(launch.grid)}: "
        f"{seconds * 1e3:.2f} ms (Triton compile + run)",
        file=out or debug.out(),
    )


def show_ptx(exe, launches, out: TextIO | None = None) -> None:
    """KILN_DEBUG=4 on a GPU: each kernel's PTX in the configuration it launches."""
    from ..codegen.triton import listing as triton_listing

    out = out or debug.out()
    for step, launch in zip(exe.steps, launches):
        if step.kernel is not None and launch is not None:
            print(triton_listing.kernel_listing(step.kernel, ("ptx",), launch.constants), file=out)


def emit(module: Module, form: str, out: TextIO) -> None:
    """`kiln opt --emit=FORM`: every kernel of every function of `module` as its
    kernel form, LLVM IR, host assembly or Triton source (rendered without a
    GPU). A module not yet through `fuse,plan` runs the default pipeline first."""
    from ..passes import DEFAULT_PIPELINE, run_pipeline

    if form not in EMIT_FORMS:
        raise KilnError(f"--emit: unknown form {form!r} (kiln has: {', '.join(EMIT_FORMS)})")
    if any("plan.buffers" not in f.attrs for f in module):
        run_pipeline(module, DEFAULT_PIPELINE)
    for func in module:
        if form == "triton":
            _emit_triton(module, func, out)
            continue
        from .cpu import CpuProgram

        program = CpuProgram(module, func.name)
        print(f"// kiln: @{func.name}: {len(program.steps)} kernels", file=out)
        for step in program.steps:
            print(_kernel_line(step.kernel.name, step.op, None), file=out)
            print(llvm_listing.kernel_listing(step.kernel, (form,)), file=out)


def _emit_triton(module: Module, func, out: TextIO) -> None:
    from ..codegen.triton import listing as triton_listing
    from ..codegen.triton import triton_kernel
    from ..ir import CompileError
    from .control import Walker

    # every kernel, those inside if/while/scan regions too (the GPU runs them all)
    ops = Walker(func, {a: j for j, a in enumerate(func.args)}, {}).tree.kernels
    print(f"// kiln: @{func.name}: {len(ops)} kernels", file=out)
    for name, op, _ids in ops:
        try:
            kernel = triton_kernel(op, name)
        except CompileError as e:
            print(f"// kiln:   @{name} {_kind(op)}: runs on the host ({e})", file=out)
            continue
        print(_kernel_line(name, op, None), file=out)
        print(triton_listing.kernel_listing(kernel, ("triton",)), file=out)


def fallbacks(module: Module) -> list[str]:
    """One line per op of `module` that a backend does not compile but runs
    another way (the declared fallbacks: codegen.llvm.INTERPRETED,
    codegen.triton.HOST_OPS), with the reason; `kiln opt --stats` prints them."""
    from ..codegen import llvm, triton

    declared = [
        (llvm.INTERPRETED, "the CPU backend runs it in the reference interpreter"),
        (triton.HOST_OPS, "the GPU backend runs it on the host"),
    ]
    return [
        f"@{func.name}: {op.describe()}: {how} ({reasons[op.name]})"
        for func in module
        for op in func.walk()
        for reasons, how in declared
        if op.name in reasons
    ]
