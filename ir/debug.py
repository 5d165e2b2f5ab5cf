"""KILN_DEBUG: kiln's one debug switch, with levels (as tinygrad's DEBUG=).

    KILN_DEBUG=1  every kernel formed, and the times: each kernel's build, the
                  function's LLVM compile or its load from the disk cache (the
                  IR is also verified after every pass)
    KILN_DEBUG=2  also each kernel's form (codegen/kernel.py's listing) and the
                  IR after every pass
    KILN_DEBUG=3  also the generated code: LLVM IR, Triton source
    KILN_DEBUG=4  also the assembly: host assembly, PTX

Kernels print whether or not the disk cache hit. Only this module reads
the variable; it lives in ir/ so that every layer may ask it.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

KERNELS, FORMS, CODE, ASSEMBLY = 1, 2, 3, 4  # what each level adds


def level() -> int:
    """The KILN_DEBUG level: 0 when unset, empty or 0; a number as given; any
    other text (KILN_DEBUG=yes) is 1."""
    value = os.environ.get("KILN_DEBUG", "").strip()
    if value in ("", "0"):
        return 0
    try:
        return max(0, int(value))
    except ValueError:
        return 1


def out() -> TextIO:
    """Where debug output goes: stderr (so that it never mixes with results)."""
    return sys.stderr
