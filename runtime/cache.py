"""The compile cache: object code on disk, keyed by what determines it.

The key hashes the optimised IR text of the function, the kernels' listings,
the host target (triple, CPU name and features) and a digest of the source
of kiln's IR, passes, code generators and runtime (`code_digest`), so a
second process compiling the same module loads the object code instead of
running LLVM again. The directory is `KILN_CACHE_DIR`, else
`~/.cache/kiln`; writes are atomic (write, then rename), and an unreadable
cache entry is simply recompiled.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import llvmlite.binding as llvm


def cache_dir() -> Path:
    return Path(os.environ.get("KILN_CACHE_DIR") or Path.home() / ".cache" / "kiln")


@functools.cache
def code_digest() -> str:
    """A digest of the source of kiln's IR, passes, code generators and runtime:
    what other code made (a development checkout between versions) is never
    loaded for this code's."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(
        p for d in ("ir", "passes", "codegen", "runtime") for p in root.glob(f"{d}/**/*.py")
    ):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(ir_text: str, kernel_texts: Sequence[str]) -> str:
    """The key of the object code of `ir_text` with these kernels. kiln's version
    is not a part: `code_digest` covers every line of code that makes object
    code, and reading the version would import the package root (the frontend)."""
    h = hashlib.sha256()
    for part in (
        code_digest(),
        llvm.get_process_triple(),
        llvm.get_host_cpu_name(),
        llvm.get_host_cpu_features().flatten(),
        ir_text,
        *kernel_texts,
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def load_object(key: str) -> bytes | None:
    if os.environ.get("KILN_NO_CACHE"):
        return None
    try:
        return (cache_dir() / f"{key}.o").read_bytes()
    except OSError:
        return None


def store_object(key: str, data: bytes) -> None:
    if os.environ.get("KILN_NO_CACHE"):
        return
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, directory / f"{key}.o")
    except OSError:
        pass  # a cache that cannot be written only costs a recompile
