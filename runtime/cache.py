"""The compile cache: object code on disk, keyed by what determines it.

The key hashes the optimised IR text of the function, the kernels' listings,
the host target (triple, CPU name and features) and a digest of the source
of kiln's IR, passes, code generators and runtime (`code_digest`), so a
second process compiling the same module loads the object code instead of
running LLVM again. The directory is `KILN_CACHE_DIR`, else
`~/.cache/kiln`, created private to the user (0700; a directory others can
write is not used). Each entry carries a header and the SHA-256 of its key
and content, checked before the object code is loaded: a truncated,
flipped or foreign entry is removed and recompiled, never executed. Writes
are atomic (write, then rename), and the least recently used entries beyond
`KILN_CACHE_MAX_BYTES` (default 512 MiB) are evicted (a scan of the directory
only when its kept total says the cap may be passed: `_account`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..codegen.llvm.jit import host


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
        *host(),
        ir_text,
        *kernel_texts,
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


MAGIC = b"kiln-object-1\n"
DIGEST = hashlib.sha256().digest_size
MAX_BYTES = 512 << 20  # the cache's default size cap; KILN_CACHE_MAX_BYTES overrides


def max_bytes() -> int:
    try:
        return int(os.environ.get("KILN_CACHE_MAX_BYTES") or MAX_BYTES)
    except ValueError:
        return MAX_BYTES


def _digest(key: str, data: bytes) -> bytes:
    return hashlib.sha256(key.encode() + b"\0" + data).digest()


def _private(directory: Path) -> bool:
    """Whether only this user can write `directory`: owned by this user, not
    writable by group or others (an entry there is then one this user wrote).
    kiln creates it 0700; one made 0755 by hand is used as well."""
    try:
        st = directory.stat()
    except OSError:
        return False
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def load_object(key: str) -> bytes | None:
    """The object code stored under `key`, or None when there is none or the
    entry is not sound: a wrong header, a short file or a digest that does not
    match its content (the entry is then removed, and the caller recompiles:
    a bad entry is never handed to the linker). Entries in a directory that
    others can write are never read."""
    if os.environ.get("KILN_NO_CACHE"):
        return None
    directory = cache_dir()
    if not _private(directory):
        return None
    path = directory / f"{key}.o"
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    head = len(MAGIC) + DIGEST
    data = blob[head:]
    if (
        len(blob) < head
        or not blob.startswith(MAGIC)
        or blob[len(MAGIC) : head] != _digest(key, data)
    ):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: evicted last
    return data


def store_object(key: str, data: bytes) -> None:
    """Store `data` under `key`: written to a temporary file, then renamed, so
    concurrent writers and readers only ever see whole entries; then evict the
    least recently used entries beyond the size cap."""
    if os.environ.get("KILN_NO_CACHE"):
        return
    directory = cache_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(directory):
            return  # a directory others can write would let them swap in code
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + _digest(key, data) + data)
            os.replace(tmp, directory / f"{key}.o")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _account(directory, len(MAGIC) + DIGEST + len(data), max_bytes())
    except OSError:
        pass  # a cache that cannot be written only costs a recompile


# A full scan of the cache (stat every entry) costs ~20 us an entry: 0.3 s for a
# cache of 15,000 kernels, which every store paid. The scan's total is kept in
# the directory (STAMP: its text the bytes, its mtime when); a store adds what this
# process wrote since and scans again only when that may pass the cap, or when the
# stamp is SCAN_EVERY seconds old (which also removes a killed writer's leftovers).
# Other processes' writes since the stamp are not counted: the cap can be passed by
# what the processes writing at once store between two scans.
STAMP = ".total"
SCAN_EVERY = 3600.0
_written: dict[str, tuple[float, int]] = {}  # directory -> (stamp's mtime seen, bytes since)


def _account(directory: Path, added: int, limit: int) -> None:
    stamp = directory / STAMP
    try:
        seen = stamp.stat().st_mtime
        base = int(stamp.read_text())
    except (OSError, ValueError):
        seen, base = None, None
    key = str(directory)
    since, written = _written.get(key, (None, 0))
    written = (written if since == seen else 0) + added
    if base is not None and time.time() - seen < SCAN_EVERY and base + written <= limit:
        _written[key] = (seen, written)
        return
    total = evict(directory, limit)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f"{STAMP}.")
    with os.fdopen(fd, "w") as f:
        f.write(str(total))
    os.replace(tmp, stamp)
    _written[key] = (stamp.stat().st_mtime, 0)


def evict(directory: Path, limit: int) -> int:
    """Remove the least recently used entries until the rest fit in `limit` bytes
    (and temporary files a killed writer left, once an hour old); the bytes left."""
    entries = []
    now = time.time()
    for path in directory.iterdir():
        try:
            st = path.stat()
        except OSError:
            continue
        if path.name.startswith(".") and now - st.st_mtime > 3600:
            with contextlib.suppress(OSError):
                path.unlink()
        elif path.suffix == ".o":
            entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
        total -= size
    return total
