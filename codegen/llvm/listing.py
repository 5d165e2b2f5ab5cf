"""What KILN_DEBUG and `kiln opt --emit` show of an LLVM kernel, by level:
its kernel form (2), its LLVM IR as rendered (3), its host assembly after
optimisation (4). A kernel whose object code came from the disk cache was
never rendered: asking for its IR or assembly renders it now from its form."""

from __future__ import annotations

from ...ir import debug
from .jit import assembly
from .native import NativeKernel

SECTIONS = ("kernel", "llvm", "asm")


def sections_for(level: int) -> tuple[str, ...]:
    """The sections a KILN_DEBUG level shows: the kernel form from 2, the LLVM IR
    from 3, the assembly from 4."""
    return SECTIONS[: max(0, level - debug.KERNELS)]


def kernel_listing(kernel: NativeKernel, sections: tuple[str, ...]) -> str:
    """The chosen `sections` of `kernel`, each under a `// kiln:` header."""
    parts = []
    if "kernel" in sections:
        parts.append(f"// kiln: kernel form of @{kernel.name}\n{kernel.text}")
    if "llvm" in sections:
        parts.append(f"// kiln: LLVM IR of @{kernel.name}\n{kernel.module}")
    if "asm" in sections:
        parts.append(f"// kiln: assembly of @{kernel.name}\n{assembly(kernel.module)}")
    return "\n".join(p.rstrip("\n") for p in parts)
