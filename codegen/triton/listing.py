"""What KILN_DEBUG and `kiln opt --emit=triton` show of a Triton kernel: its
kernel form (KILN_DEBUG=2), its Triton source (3) and, given a launch
configuration and a Triton that compiles, its PTX (4)."""

from __future__ import annotations

from ...ir import debug
from .program import TritonKernel, compile_ptx

SECTIONS = ("kernel", "triton", "ptx")


def sections_for(level: int) -> tuple[str, ...]:
    """The sections a KILN_DEBUG level shows: the kernel form from 2, the source
    from 3, the PTX from 4."""
    return SECTIONS[: max(0, level - debug.KERNELS)]


def kernel_listing(
    kernel: TritonKernel, sections: tuple[str, ...], config: dict[str, int] | None = None
) -> str:
    """The chosen `sections` of `kernel`, each under a `// kiln:` header (the PTX
    only with a `config`: block sizes are compile-time constants)."""
    parts = []
    if "kernel" in sections:
        parts.append(f"// kiln: kernel form of @{kernel.name}\n{kernel.text}")
    if "triton" in sections:
        parts.append(f"// kiln: Triton source of @{kernel.name}\n{kernel.source}")
    if "ptx" in sections and config is not None:
        parts.append(f"// kiln: PTX of @{kernel.name} ({config})\n{compile_ptx(kernel, config)}")
    return "\n".join(p.rstrip("\n") for p in parts)
