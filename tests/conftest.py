"""What every test shares: the compile cache of this test run.

Tests compile through the disk cache (runtime/cache.py) like any program, but into
a directory of this run's own, not ~/.cache/kiln: a run neither fills the user's
cache nor is made fast by what an earlier run left there (CI starts cold too).
Under pytest-xdist the workers share one directory (the cache's writes are atomic),
so a graph that several tests compile is compiled once per run, not once per worker.
An explicit KILN_CACHE_DIR is kept.
"""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def run_compile_cache(tmp_path_factory, request):
    if os.environ.get("KILN_CACHE_DIR"):
        yield
        return
    base = tmp_path_factory.getbasetemp()
    # an xdist worker's base is <run's base>/popen-gwN: share the run's
    root = base.parent if hasattr(request.config, "workerinput") else base
    os.environ["KILN_CACHE_DIR"] = str(root / "kiln-cache")
    yield
    del os.environ["KILN_CACHE_DIR"]
