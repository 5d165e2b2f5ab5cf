"""The CPU pipeline's result, from the disk cache: a compile that has run before
skips the passes.

The optimised module (after `fuse,plan`: what runtime/cpu.py compiles) is
stored pickled, with the pipeline's report, under a key that hashes the input
module's text, the pipeline, and what every cache key holds (kiln's code, the
host: cache.py). The passes read nothing else (no environment, no host), so a
second process compiling the same module loads the functions the passes would
make (~1.5 ms for the MLP training step's, where the passes and verifying take
~6 ms) and puts them in the caller's module, as the passes would have.

The entry is read through cache.py, so its digest is checked before it is
unpickled (the directory is the user's alone, as for the object code loaded
from it); anything wrong with it (a bad digest, an entry that does not unpickle
to functions) is a miss: the passes run and store a sound one. Modules whose
pickle is larger than `MAX_BYTES` (large constants: weights) are not stored,
so the cache holds code, not models. `KILN_DEBUG` (the kernels level and up)
runs the passes, verifying after each.
"""

from __future__ import annotations

import dataclasses
import pickle

from ..ir import Function, Module, debug
from ..passes import PipelineReport, run_pipeline
from .cache import cache_key, load_object, store_object

MAGIC = b"kiln-optimised-1\n"
MAX_BYTES = 1 << 20


def optimise(module: Module, text: str, pipeline: str) -> PipelineReport:
    """Run `pipeline` over `module` (whose text is `text`) in place, or put the
    functions it made before in `module`; the report of a load has the passes'
    statistics of the run that made them, and no times."""
    if debug.level() >= debug.KERNELS:
        return run_pipeline(module, pipeline)
    key = cache_key(f"optimised by {pipeline}\0{text}", [])
    found = _load(key)
    if found is not None:
        functions, report = found
        module.functions = {}
        for f in functions:
            module.add(f)
        return report
    # verified once, after the last pass (after each with KILN_DEBUG set, as the
    # pass tests do): verifying is a fifth of a warm compile
    report = run_pipeline(module, pipeline, verify_each=False)
    module.verify()
    # the stored report keeps the passes' statistics, not their times: a load
    # runs no pass, and the entry is the same bytes whichever compile wrote it
    stored = PipelineReport([dataclasses.replace(r, seconds=0.0) for r in report.records])
    try:
        data = pickle.dumps((list(module), stored), protocol=pickle.HIGHEST_PROTOCOL)
    except (RecursionError, pickle.PicklingError, TypeError, AttributeError):
        return report  # too deep a graph for the pickler, or an attribute it cannot take
    if len(data) <= MAX_BYTES:
        store_object(key, MAGIC + data)
    return report


def _load(key: str) -> tuple[list[Function], PipelineReport] | None:
    data = load_object(key)
    if data is None or not data.startswith(MAGIC):
        return None
    try:
        functions, report = pickle.loads(data[len(MAGIC) :])
    except Exception:  # noqa: BLE001 - a sound digest over code another kiln pickled
        return None
    if not isinstance(report, PipelineReport) or not all(
        isinstance(f, Function) for f in functions
    ):
        return None
    return functions, report
