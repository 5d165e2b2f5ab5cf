"""KILN_DEBUG's levels (ir/debug.py) and `kiln opt --emit`: each level shows
what it should, whether or not the disk cache hit."""

from __future__ import annotations

import re

import numpy as np
import pytest

import kiln
from kiln.cli import main
from kiln.ir import debug, parse

MODULE = """\
func @f(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>) -> tensor<?x4xf32> {
  %m = kiln.matmul %x, %w : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t = kiln.tanh %m : tensor<?x4xf32>
  %s = kiln.softmax %t : tensor<?x4xf32>
  kiln.return %s : tensor<?x4xf32>
}
"""
ASSEMBLY = re.compile(r"^\s+(ret|vmovups|vmovaps|movq|movl)\b", re.M)


@pytest.mark.parametrize(
    "value, want", [("", 0), ("0", 0), ("1", 1), ("3", 3), ("yes", 1), (" 4 ", 4)]
)
def test_level_reads_kiln_debug(monkeypatch, value, want):
    monkeypatch.setenv("KILN_DEBUG", value)
    assert debug.level() == want


def test_level_is_zero_when_unset(monkeypatch):
    monkeypatch.delenv("KILN_DEBUG", raising=False)
    assert debug.level() == 0


def _compile_and_run(monkeypatch, capsys, level: int) -> str:
    monkeypatch.setenv("KILN_DEBUG", str(level))
    exe = kiln.compile(parse(MODULE), "f", backend="cpu")
    x, w = np.ones((3, 8), np.float32), np.ones((8, 4), np.float32)
    np.testing.assert_allclose(exe(x, w)[0], np.full((3, 4), 0.25), rtol=1e-6)
    return capsys.readouterr().err


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_each_level_shows_its_part_on_a_miss_and_on_a_hit(monkeypatch, capsys, tmp_path, level):
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("KILN_NO_CACHE", raising=False)
    miss = _compile_and_run(monkeypatch, capsys, level)
    hit = _compile_and_run(monkeypatch, capsys, level)
    assert "object code compiled by LLVM" in miss
    assert "object code loaded from the disk cache" in hit
    for err in (miss, hit):
        # level 1: every kernel formed, with its build time, and the compile time
        assert re.search(r"@f on the CPU: 2 kernels, object code .* in [\d.]+ ms", err)
        assert re.search(r"kernel @k\d+_fused fused:matmul: built in [\d.]+ ms", err)
        assert re.search(r"kernel @k\d+_fused fused:reduction: built in [\d.]+ ms", err)
        # level 2: the kernel form, and the IR after every pass
        assert ("kernel form of @" in err and "domain:" in err) == (level >= 2)
        assert ("// ----- IR after fuse -----" in err) == (level >= 2)
        # level 3: the LLVM IR (rendered again from the form on a cache hit)
        assert ("LLVM IR of @" in err and "define i32 @" in err) == (level >= 3)
        # level 4: the host assembly
        assert ("assembly of @" in err and bool(ASSEMBLY.search(err))) == (level >= 4)


def test_no_debug_prints_nothing(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path))
    assert _compile_and_run(monkeypatch, capsys, 0) == ""


@pytest.fixture
def module_file(tmp_path):
    path = tmp_path / "f.kiln"
    path.write_text(MODULE)
    return path


@pytest.mark.parametrize(
    "form, expected, absent",
    [
        ("kernel", ["kernel form of @k", "domain:", "kiln's GEMM (mr"], ["define ", "@triton.jit"]),
        ("llvm", ["LLVM IR of @k", "define i32 @"], ["domain:", "@triton.jit"]),
        ("asm", ["assembly of @k"], ["define ", "domain:"]),
        ("triton", ["Triton source of @k", "@triton.jit", "tl.dot(", "tl.load("], ["define "]),
    ],
)
def test_opt_emit_prints_every_kernel_in_a_form(module_file, capsys, form, expected, absent):
    assert main(["opt", "--emit", form, str(module_file)]) == 0
    out = capsys.readouterr().out
    assert "// kiln: @f: 2 kernels" in out
    assert len(re.findall(r"// kiln:   kernel @k\d+_fused fused:(matmul|reduction)", out)) == 2
    for text in expected:
        assert text in out, text
    for text in absent:
        assert text not in out, text
    if form == "asm":
        assert ASSEMBLY.search(out)


H, U, XS = "tensor<2x4xf32>", "tensor<4x4xf32>", "tensor<Tx2x4xf32>"
TYPES = f"({H}, {U}, {XS}) -> ({H}, {U}, {XS})"
SCAN = f"""
func @rnn(%h0: {H}, %u: {U}, %xs: {XS}) -> {XS} {{
  %h, %q, %ys = kiln.scan %h0, %u, %xs {{num_carried = 2}} : {TYPES} ({{
  ^bb0(%c: {H}, %ua: {U}, %x: {H}):
    %r = kiln.matmul %c, %ua : ({H}, {U}) -> {H}
    %s = kiln.add %x, %r : {H}
    %n = kiln.tanh %s : {H}
    kiln.yield %n, %ua, %n : ({H}, {U}, {H}) -> ()
  }})
  kiln.return %ys : {XS}
}}
"""


def test_opt_emit_triton_lists_the_kernels_inside_regions(tmp_path, capsys):
    """The GPU runs a scan's body kernels from its host loop, so `--emit=triton`
    lists them (runtime/control.py's Walker), not only the top level."""
    path = tmp_path / "rnn.kiln"
    path.write_text(SCAN)
    assert main(["opt", "--emit", "triton", str(path)]) == 0
    out = capsys.readouterr().out
    match = re.search(r"// kiln: @rnn: (\d+) kernels", out)
    assert match and int(match.group(1)) >= 1, out
    assert "@triton.jit" in out and "tl.dot(" in out  # the body's h @ u


def test_opt_emit_after_a_pipeline_that_planned_keeps_its_plan(module_file, capsys):
    assert main(["opt", "-p", "decompose,fuse,plan", "--emit", "kernel", str(module_file)]) == 0
    out = capsys.readouterr().out
    assert "kernel form of @k" in out and "func @f" not in out
