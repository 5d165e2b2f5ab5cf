"""What every test shares: the compile cache the tests write, and a central-difference
gradient (the `central_differences` fixture).

Tests compile through the disk cache (runtime/cache.py) like any program. They use a
cache of their own, in pytest's cache directory (tests/.pytest_cache/d/kiln-compile),
not the user's ~/.cache/kiln: a run of the tests does not fill the user's cache with
objects of every edit's code, and a second run does not compile again what did not
change (the key holds a digest of the code generators' source, so an object of other
code is never loaded). `pytest --cache-clear` starts cold, as CI does; with the cache
plugin off (-p no:cacheprovider) the run's temporary directory is used. pytest-xdist's
workers share the directory: the cache's writes are atomic (write, then rename).
An explicit KILN_CACHE_DIR is kept.
"""

import os
import time

import numpy as np
import pytest

_KEEP_DAYS = 7  # older objects are of code long changed: removed at the start of a run


@pytest.fixture(scope="session", autouse=True)
def tests_compile_cache(tmp_path_factory, request):
    if os.environ.get("KILN_CACHE_DIR"):
        yield
        return
    config = request.config
    worker = hasattr(config, "workerinput")  # a pytest-xdist worker
    if getattr(config, "cache", None) is not None:
        directory = config.cache.mkdir("kiln-compile")
    else:  # a worker's base is <the run's base>/popen-gwN: share the run's
        base = tmp_path_factory.getbasetemp()
        directory = (base.parent if worker else base) / "kiln-compile"
    os.environ["KILN_CACHE_DIR"] = str(directory)
    yield
    del os.environ["KILN_CACHE_DIR"]


def pytest_configure(config):
    # once per run: in the controller of an xdist run, which runs no test itself
    if os.environ.get("KILN_CACHE_DIR") or hasattr(config, "workerinput"):
        return
    if getattr(config, "cache", None) is not None:
        _remove_old_objects(config.cache.mkdir("kiln-compile"))


def _remove_old_objects(directory) -> None:
    cutoff = time.time() - _KEEP_DAYS * 86400
    for path in directory.glob("*.o"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # another run removed it


def _central_differences(loss, args, k, eps=1e-6):
    """d loss / d args[k] by central differences; `loss` returns a float."""
    grad = np.zeros_like(args[k])
    for j in np.ndindex(grad.shape):
        shifted = [a.copy() for a in args]
        shifted[k][j] += eps
        up = loss(*shifted)
        shifted[k][j] -= 2 * eps
        grad[j] = (up - loss(*shifted)) / (2 * eps)
    return grad


@pytest.fixture
def central_differences():
    return _central_differences
