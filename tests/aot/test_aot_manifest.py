"""kiln.load trusts neither the manifest nor the caller: the manifest is checked
against a schema and against the contract digest the library embeds, its
library must lie beside it; the C entry rejects NULL buffers and dims whose
sizes would overflow int64 arithmetic."""

from __future__ import annotations

import ctypes
import json
import shutil

import numpy as np
import pytest

import kiln
from kiln.ir import KilnError, parse
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.runtime import aot

SOURCE = """
func @wide(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %t = kiln.tanh %x : tensor<?x?xf32>
  kiln.return %t : tensor<?x?xf32>
}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("aot") / "wide"
    module = parse(SOURCE)
    run_pipeline(module, DEFAULT_PIPELINE)
    aot.build(module, "wide", out)
    return out


def _tampered(built, tmp_path, change):
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    path = out / "wide.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return out


def test_the_untouched_build_loads_and_runs(built):
    lib = kiln.load(built)
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(lib(x)[0], np.tanh(x), rtol=1e-6)


def _drop_input(m):
    m["inputs"].pop()


def _double_input(m):
    m["inputs"].append(dict(m["inputs"][0]))


def _dtype(m):
    m["inputs"][0]["dtype"] = "f64"


def _shape(m):
    m["outputs"][0]["shape"][1] = 1


def _dims(m):
    m["dims"].pop()


def _steps(m):
    m["steps"] = []


@pytest.mark.parametrize("change", [_drop_input, _double_input, _dtype, _shape, _dims, _steps])
def test_a_manifest_that_does_not_match_its_library_is_refused(built, tmp_path, change):
    with pytest.raises(KilnError, match="does not describe|not a valid"):
        kiln.load(_tampered(built, tmp_path, change))


@pytest.mark.parametrize(
    "library", ["../wide/wide.so", "/lib/x86_64-linux-gnu/libc.so.6", "", ".."]
)
def test_a_library_outside_the_manifests_directory_is_refused(built, tmp_path, library):
    def change(m):
        m["library"] = library

    with pytest.raises(KilnError, match="not a file in"):
        kiln.load(_tampered(built, tmp_path, change))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.pop("inputs"),
        lambda m: m.update(weights_bytes="many"),
        lambda m: m["inputs"][0].update(shape=[2**40, 1]),
        lambda m: m["dims"][0].update(max=2**40),
        lambda m: m["inputs"][0].update(dtype="f128"),
        lambda m: m.update(name="x; rm -rf"),
    ],
)
def test_a_manifest_that_breaks_the_schema_is_refused(built, tmp_path, change):
    with pytest.raises(KilnError, match="not a valid kiln library manifest"):
        kiln.load(_tampered(built, tmp_path, change))


def test_dims_whose_sizes_overflow_are_rejected_in_c(built):
    lib = kiln.load(built)
    big = aot.MAX_DIM  # each in range, but 4 * big * big bytes are above 2**62
    shape = (ctypes.c_int64 * 2)()
    assert lib._shape(0, big, big, shape) == -1
    dummy = (ctypes.c_char * 64)()
    p = ctypes.addressof(dummy)
    assert lib._entry(p, p, big, big) == aot.BAD_DIMS
    assert lib._entry(p, p, 2, 2) == aot.OK  # 2x2 floats: 16 bytes each way


def test_null_buffers_are_an_error_code(built):
    lib = kiln.load(built)
    assert lib._entry(None, None, 1, 1) == aot.NULL_BUFFER
    message = lib._lib.wide_error
    message.restype = ctypes.c_char_p
    assert b"NULL" in message(aot.NULL_BUFFER)
