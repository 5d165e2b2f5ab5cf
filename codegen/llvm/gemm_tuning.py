"""gemm_tuning: the database of tuned GEMM schedules that compiles read (`choose`).

`kiln tune` (runtime/tune.py) times schedules around the analytic default
(codegen/llvm/gemm_schedule.py) for each GEMM of a model and keeps the winner
here; a later compile of a kernel with the same signature renders that
schedule instead of the default. The key of an entry is the kernel's
signature (`GemmSignature`: dtype, M/N/K where static, else `?`, the
transposes, the thread count) and the CPU model, so a database copied to
another machine, or a run with other KILN_NUM_THREADS, finds nothing and
falls back to the default. The chosen schedule's tag is part of the kernel's
listing and of the GEMM's function name, hence of every cache key: a tuned
kernel never reuses a default kernel's object code.

The file (`KILN_TUNE_DB`, else `gemm_tuning.json` in kiln's cache directory,
which runtime/objects.py supplies through `directory`: codegen cannot import
the runtime) is data that another process wrote, so it is checked, never
trusted: the schema name, each entry's SHA-256 digest of its own contents,
and every schedule's fields (ints in bounds, the host's vector width, a valid
GemmSchedule). A file or entry that fails is ignored with one warning and the
default is used; a bad schedule could otherwise render an absurd kernel.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import llvmlite.binding as llvm

from ...ir.dtypes import DType
from .gemm_schedule import GemmSchedule

SCHEMA = "kiln-gemm-tuning-1"
FILE_NAME = "gemm_tuning.json"
# what a stored schedule's fields may be: larger ones are not a schedule any model gives
BOUNDS = {"mr": 32, "nr": 256, "kc": 8192, "mc": 16384, "nc": 65536, "unroll": 16, "threads": 1024}
# set by runtime/objects.py: kiln's cache directory (None: no database unless KILN_TUNE_DB)
directory: Callable[[], Path] | None = None


@dataclass(frozen=True)
class GemmSignature:
    """What a GEMM's best schedule depends on: m, n, k are its static extents,
    or `?` where a dim is symbolic (every size of that dim shares one entry)."""

    dtype: str
    m: int | str
    n: int | str
    k: int | str
    ta: bool
    tb: bool
    threads: int

    @property
    def key(self) -> str:
        t = f"{'T' if self.ta else 'N'}{'T' if self.tb else 'N'}"
        return f"{self.dtype}:{self.m}x{self.n}x{self.k}:{t}:t{self.threads}"

    @property
    def static(self) -> bool:
        return all(isinstance(d, int) for d in (self.m, self.n, self.k))

    @property
    def flops(self) -> int:
        """2 m n k (0 when a dim is symbolic)."""
        return 2 * self.m * self.n * self.k if self.static else 0  # type: ignore[operator]


def signature(dtype: DType, m, n, k, ta: bool, tb: bool, threads: int) -> GemmSignature:
    """The signature of a GEMM whose extents are ints or symbolic dims (anything else)."""
    dims = [d if isinstance(d, int) else "?" for d in (m, n, k)]
    return GemmSignature(dtype.name, *dims, bool(ta), bool(tb), int(threads))


@functools.cache
def cpu_model() -> str:
    """LLVM's CPU name and /proc/cpuinfo's model name: what a database entry is for."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "cpu model")):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return f"{llvm.get_host_cpu_name()}/{model}" if model else llvm.get_host_cpu_name()


def database_path() -> Path | None:
    """Where the database is (KILN_TUNE_DB, else the cache directory's), or None."""
    env = os.environ.get("KILN_TUNE_DB")
    if env:
        return Path(env)
    return directory() / FILE_NAME if directory else None


def entry_key(sig: GemmSignature) -> str:
    return f"{cpu_model()}|{sig.key}"


def digest(key: str, body: dict) -> str:
    """The SHA-256 of an entry's key and contents (its `digest` field left out)."""
    data = {k: v for k, v in body.items() if k != "digest"}
    text = json.dumps([key, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def schedule_from(data, width: int) -> GemmSchedule:
    """The GemmSchedule a stored dict describes; ValueError unless every field is
    an int in bounds and the vector width is `width` (the host's for the dtype)."""
    names = [f.name for f in fields(GemmSchedule)]
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        raise ValueError(f"a schedule has the fields {names}")
    for name in names:
        value = data[name]
        if type(value) is not int or not 1 <= value <= BOUNDS.get(name, 1 << 16):
            raise ValueError(f"schedule field {name} = {value!r} is out of bounds")
    if data["width"] != width:
        raise ValueError(f"schedule width {data['width']} is not the host's {width}")
    return GemmSchedule(**data)


_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(f"kiln: {message}; using the default GEMM schedules", stacklevel=3)


def read_database(path: Path | None = None) -> dict[str, dict]:
    """The database's entries (key -> entry, digests checked); {} when there is
    none or it is bad (with a warning). Entries of other CPUs are kept (so that
    `kiln tune` writes them back) but never match this host."""
    path = path or database_path()
    if path is None:
        return {}
    try:
        stat = path.stat()
    except OSError:
        return {}
    return dict(_read(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime: int, size: int) -> tuple[tuple[str, dict], ...]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        _warn(f"the GEMM tuning database {path} is unreadable ({e})")
        return ()
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        _warn(f"the GEMM tuning database {path} is not a {SCHEMA} file")
        return ()
    entries = data.get("entries")
    if not isinstance(entries, dict):
        _warn(f"the GEMM tuning database {path} has no entries table")
        return ()
    good = []
    for key, body in entries.items():
        if not isinstance(body, dict) or body.get("digest") != digest(key, body):
            _warn(f"the GEMM tuning database {path}: entry {key!r} fails its digest check")
            continue
        good.append((key, body))
    return tuple(good)


def choose(sig: GemmSignature, default: GemmSchedule) -> GemmSchedule:
    """The tuned schedule of `sig` on this CPU when the database has a valid one,
    else `default`. Read at each kernel's compile (the file is parsed once per
    change of it)."""
    body = read_database().get(entry_key(sig))
    if body is None:
        return default
    try:
        return schedule_from(body.get("schedule"), default.width)
    except (TypeError, ValueError) as e:
        _warn(f"the tuned GEMM schedule of {sig.key} is invalid ({e})")
        return default


def store(sig: GemmSignature, schedule: GemmSchedule, **measured: object) -> Path:
    """Record `schedule` as the tuned one of `sig` on this CPU (with `measured`
    figures: default_s, tuned_s, ...); the file is replaced atomically."""
    path = database_path()
    if path is None:
        raise OSError("no GEMM tuning database: set KILN_TUNE_DB or use kiln's runtime")
    entries = read_database(path)
    key = entry_key(sig)
    body = {"signature": asdict(sig), "schedule": asdict(schedule), **measured}
    body["digest"] = digest(key, body)
    entries[key] = body
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"schema": SCHEMA, "entries": entries}, indent=1, sort_keys=True))
    tmp.replace(path)
    return path
