"""The GPU backend's tests run its Triton kernels in Triton's interpreter, on
the CPU (no GPU, no torch needed): TRITON_INTERPRET must be set before triton
is imported, and Triton's cache goes to a temporary directory."""

import os
import tempfile
import warnings

os.environ["TRITON_INTERPRET"] = "1"
os.environ.setdefault("TRITON_CACHE_DIR", tempfile.mkdtemp(prefix="kiln-triton-"))
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kiln  # noqa: E402
from kiln.ir import interpret, parse  # noqa: E402


def compare(text: str, *arrays, name: str = "f", rtol: float = 1e-5, atol: float = 1e-6):
    """Compile `text` for the GPU, run it on `arrays`, compare with the reference
    interpreter (NaN equals NaN; ints and bools exactly); return the executable."""
    exe = kiln.compile(parse(text), name, backend="gpu")
    assert exe.backend == "gpu"
    got = exe(*arrays)
    want = interpret(parse(text), name, *arrays)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (i, g.shape, w.shape, g.dtype, w.dtype)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(
                g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"result {i}"
            )
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"result {i}")
    return exe


@pytest.fixture(autouse=True)
def _quiet_interpreter():
    # numpy's warnings from inside the interpreter (log(0) in masked lanes,
    # 0 * inf) are values under test, not problems
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=RuntimeWarning, module="triton.runtime.interpreter"
        )
        yield


@pytest.fixture(scope="session")
def gpu():
    from types import SimpleNamespace

    return SimpleNamespace(compare=compare)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)
