"""Object code per kernel, keyed by the kernel's content, shared across programs.

Most kernels recur: within one model (ResNet-50's 59 kernels are 28 distinct
ones: its blocks repeat), between models, and between the training steps and
evaluations of one model. So each kernel is compiled on its own and its object
code is kept under a key that hashes its LLVM IR with its name taken out (the
target and kiln's code are in the key too, as for whole programs: cache.py).
The kernel's function is then named by that key (`kiln_<digest>`), so two steps
with the same code call one function, and the entry's calls are renamed to it.

Objects are kept in this process (`KEPT_BYTES` of them, least recently used
out) and in the disk cache (cache.py: each entry's digest is checked before its
code is used; a bad one is recompiled). A program's own disk entry
(`store_program`) holds its entry's object code and the keys of its kernels: a
second process loads those and compiles nothing; a kernel whose entry is gone
or bad is compiled again from its IR, never run.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import llvmlite.binding as llvm
from llvmlite import ir

from ..codegen.llvm import gemm, gemm_tuning, jit
from .cache import cache_dir, cache_key, load_object, store_object

KEPT_BYTES = 64 << 20  # object code kept in memory, across programs
HOLE = "\0"  # where the kernel's name was (never in LLVM's text)
PROGRAM = b"kiln-program-1\n"

_kept: OrderedDict[str, bytes] = OrderedDict()
_kept_lock = threading.Lock()
stats = {"compiled": 0, "from_memory": 0, "from_disk": 0}  # kernels, this process
# the process's shared GEMM (codegen/llvm/gemm.py) keeps its object code here too
gemm.object_store = (
    lambda text: load_object(cache_key(text, [])),
    lambda text, data: store_object(cache_key(text, []), data),
)
gemm_tuning.directory = cache_dir  # where `kiln tune` keeps the tuned GEMM schedules


_IDENTIFIER = re.compile(r"[-\w$.]")
_GLOBAL = re.compile(r"@([-\w$.]+)")


def _take_out(text: str, name: str, replacement: str) -> str:
    """`text` with `name` replaced where it is an LLVM identifier or its prefix
    (`k3_conv`, `k3_conv.epilogue`), not inside a longer one (`k13_conv`,
    `k3_conv_worker`). A literal search: a look-behind would test every position."""
    pattern = re.compile(re.escape(name) + r"(?![\w$-])")

    def sub(m: re.Match) -> str:
        before = text[m.start() - 1] if m.start() else ""
        return m.group() if _IDENTIFIER.match(before) else replacement

    return pattern.sub(sub, text)


class KernelObject:
    """One kernel's LLVM IR with its name taken out, its key and its symbol."""

    def __init__(self, module: ir.Module, name: str):
        self.name = name
        self.text = _take_out(jit.host_text(module), name, HOLE)
        self.key = cache_key(self.text, ["kernel object"])
        self.symbol = "kiln_" + self.key[:32]

    def llvm_text(self) -> str:
        return self.text.replace(HOLE, self.symbol)


def forget() -> None:
    """Drop the object code kept in this process (the disk cache stays)."""
    with _kept_lock:
        _kept.clear()


def _keep(key: str, data: bytes) -> None:
    with _kept_lock:
        _kept[key] = data
        _kept.move_to_end(key)
        held = sum(map(len, _kept.values()))
        while len(_kept) > 1 and held > KEPT_BYTES:
            _, old = _kept.popitem(last=False)
            held -= len(old)


def stored(key: str) -> bytes | None:
    """The object code stored under `key`: kept in this process, else from the
    disk cache (its digest checked), else None."""
    with _kept_lock:
        data = _kept.get(key)
        if data is not None:
            _kept.move_to_end(key)
            stats["from_memory"] += 1
            return data
    data = load_object(key)
    if data is not None:
        stats["from_disk"] += 1
        _keep(key, data)
    return data


class Compilation:
    """The object code of kernels given one by one (`add`): each stored (kept in
    this process or on disk), else compiled on one of up to `threads()` threads
    from when it is added (LLVM works without the GIL, each thread in an LLVM
    context and with a target machine of its own), so the caller renders the
    next kernel, and builds the entry, while the ones before compile."""

    def __init__(self):
        self._pool: ThreadPoolExecutor | None = None
        self._found: dict[str, bytes | Future] = {}  # key -> stored object, or compiling

    def add(self, kernel: KernelObject) -> None:
        if kernel.key in self._found:
            return
        data = stored(kernel.key)
        if data is None:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(threads(), thread_name_prefix="kiln-compile")
            data = self._pool.submit(_compile, kernel)
        self._found[kernel.key] = data

    def objects(self) -> dict[str, bytes]:
        """Every kernel's object code by key (those compiled, stored now)."""
        try:
            for key, data in self._found.items():
                if isinstance(data, Future):
                    self._found[key] = data = data.result()
                    stats["compiled"] += 1
                    store_object(key, data)
                    _keep(key, data)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
        return self._found  # type: ignore[return-value]


def threads() -> int:
    """Compile threads: `KILN_COMPILE_THREADS`, else one per CPU."""
    try:
        return max(1, int(os.environ.get("KILN_COMPILE_THREADS") or os.cpu_count() or 1))
    except ValueError:
        return 1


def _compile(kernel: KernelObject) -> bytes:
    """Optimise and emit one kernel in this thread's own LLVM context."""
    return jit.compile_object(kernel.llvm_text(), kernel.name)


def rename_calls(entry: llvm.ModuleRef, symbols: dict[str, str]) -> llvm.ModuleRef:
    """`entry` with its calls of each kernel `name` made calls of `symbols[name]`
    (steps sharing code then share one declaration)."""
    # every global identifier in one pass: `@k3_conv(` is renamed, `@k3_conv_worker` not
    text = _GLOBAL.sub(lambda m: "@" + symbols.get(m.group(1), m.group(1)), str(entry))
    lines, declared = [], set()
    for line in text.splitlines():
        if line.startswith("declare "):
            if line in declared:
                continue
            declared.add(line)
        lines.append(line)
    return jit.parse("\n".join(lines), entry.name)


def load_program(key: str) -> list[bytes] | None:
    """The object files of the program stored under `key` (its entry's, then its
    kernels'), or None when it or any of its kernels is not stored soundly."""
    data = load_object(key)
    program = unpack_program(data) if data is not None else None
    if program is None:
        return None
    entry_object, kernel_keys = program
    kernels = [stored(k) for k in kernel_keys]
    return None if None in kernels else [entry_object, *kernels]


def store_program(key: str, entry_object: bytes, kernel_keys: Sequence[str]) -> None:
    store_object(key, pack_program(entry_object, kernel_keys))


def pack_program(entry_object: bytes, kernel_keys: Sequence[str]) -> bytes:
    return PROGRAM + " ".join(kernel_keys).encode() + b"\n" + entry_object


def unpack_program(data: bytes) -> tuple[bytes, list[str]] | None:
    """(entry object, kernel keys) of a program entry, or None for anything else."""
    if not data.startswith(PROGRAM):
        return None
    keys, newline, entry_object = data[len(PROGRAM) :].partition(b"\n")
    if not newline:
        return None
    return entry_object, keys.decode("ascii", "replace").split()
