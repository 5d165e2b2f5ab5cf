"""Large constants in the text form: printed as dense_resource<name> references
with their bytes in a resource section at the end, read back exactly; elided
(no section) for reading, with the data then given to the parser; and the
text of an imported ResNet-50 reads line by line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiln.ir import Builder, Module, ParseError, interpret, parse, print_module
from kiln.ir.printer import RESOURCE_LIMIT


def _module() -> tuple[Module, np.ndarray, np.ndarray]:
    big = np.arange(3 * 100, dtype=np.float32).reshape(3, 100) / 7
    ints = np.arange(RESOURCE_LIMIT + 1, dtype=np.int64) - 5
    m = Module()
    f = m.add_function("f", [])
    b = Builder.at_end(f.body)
    w = b.constant(big)
    w.name = "conv1.w"
    small = b.constant(np.arange(20, dtype=np.float32))
    b.ret(b.reduce_sum(w), b.reduce_sum(b.constant(ints)), b.reduce_sum(small))
    return m, big, ints


def test_large_constants_print_by_reference_and_read_back_exactly():
    m, big, ints = _module()
    text = str(m)
    body, section = text.split("{-# resources\n")
    assert "dense_resource<conv1_w> : tensor<3x100xf32>" in body
    assert "dense_resource<c2> : tensor<33xi64>" in body
    assert 'dense<"0x' in body  # 20 elements: inline hex, as before
    assert all(len(line) < 300 for line in body.splitlines())
    assert section.startswith('  conv1_w: "0x') and section.endswith("#-}\n")
    back = parse(text)
    assert str(back) == text
    np.testing.assert_array_equal(interpret(back, "f")[0], interpret(m, "f")[0])
    np.testing.assert_array_equal(interpret(back, "f")[1], ints.sum())


def test_inline_prints_every_constant_in_place():
    m, _, _ = _module()
    text = print_module(m, "inline")
    assert "dense_resource" not in text and "{-#" not in text
    assert str(parse(text)) == str(m)


def test_elided_text_parses_with_the_data_given_else_names_the_resource():
    m, big, ints = _module()
    text = print_module(m, "elide")
    assert "{-#" not in text and "dense_resource<conv1_w>" in text
    with pytest.raises(ParseError, match=r"2:\d+: constant resource conv1_w is not in the text"):
        parse(text)
    back = parse(text, resources={"conv1_w": big, "c2": ints.tobytes()})
    assert str(back) == str(m)
    with pytest.raises(ParseError, match=r"resource conv1_w has shape \(300,\)"):
        parse(text, resources={"conv1_w": big.reshape(-1), "c2": ints})
    with pytest.raises(ParseError, match="hex constant has 8 bytes"):
        parse(text, resources={"conv1_w": big, "c2": b"\0" * 8})


def test_a_bad_resource_section_is_a_parse_error_at_its_line():
    m, _, _ = _module()
    text = str(m)
    lines = text.splitlines()
    at = lines.index("{-# resources") + 2
    lines[at - 1] = "  conv1_w: 0x00"
    with pytest.raises(ParseError, match=f"{at}:1: expected a resource"):
        parse("\n".join(lines) + "\n")
    entry = text.splitlines()[at - 1]
    doubled = text.replace("#-}", entry + "\n#-}")
    with pytest.raises(ParseError, match="resource conv1_w is given twice"):
        parse(doubled)


def test_kiln_opt_large_constants_flag(tmp_path, capsys):
    from kiln.cli import main

    m, _, _ = _module()
    path = tmp_path / "m.kiln"
    path.write_text(str(m))
    assert main(["opt", str(path), "--large-constants", "elide"]) == 0
    out = capsys.readouterr().out
    assert "dense_resource<conv1_w>" in out and "{-#" not in out
    assert main(["opt", str(path)]) == 0
    assert capsys.readouterr().out == str(m)


@pytest.mark.slow
def test_imported_resnet50_text_reads_line_by_line_and_round_trips():
    onnx = pytest.importorskip("onnx")
    from kiln.onnx import import_model

    path = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    text = str(import_model(str(path)))
    body = text.split("{-# resources\n")[0]
    assert max(len(line) for line in body.splitlines()) < 400  # was 600,000
    # its weights are ConstantOfShape splats (one element each, printed as dense<v>)
    # and 28 arrays of more than 32 elements, referenced
    assert body.count("dense_resource<") == 28
    assert len(body) < 200_000 and len(text) > len(body) + 10_000
    assert str(parse(text)) == text
