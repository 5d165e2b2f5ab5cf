"""The text form's parser: errors with line:column, verifier errors, a fuzz
test that only KilnErrors escape, and golden files in canonical form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.ir import KilnError, ParseError, VerifyError, interpret, parse

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.kiln"))

VALID = """\
func @f(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  %0 = kiln.add %a, %b : tensor<3xf32>
  kiln.return %0 : tensor<3xf32>
}
"""

# Richer text for the fuzz test: attributes, constants, symbols, calls, locs.
FUZZ_SEED = """\
func @g(%x: tensor<Nx4xf32>) -> (tensor<Nx1xf32>, tensor<4xf32>) {
  %m = kiln.reduce_mean %x {axes = [1], keepdims = true} : (tensor<Nx4xf32>) -> tensor<Nx1xf32>
  %c = kiln.constant {value = dense<[-0.0, nan, inf, 1.5]> : tensor<4xf32>} : () -> tensor<4xf32>
  kiln.return %m, %c : (tensor<Nx1xf32>, tensor<4xf32>) -> ()
}

func @f(%x: tensor<Nx4xf32>) -> tensor<Nx4xf32> {
  %m, %c = kiln.call %x {callee = @g} : (tensor<Nx4xf32>) -> (tensor<Nx1xf32>, tensor<4xf32>)
  %0 = kiln.sub %x, %m : (tensor<Nx4xf32>, tensor<Nx1xf32>) -> tensor<Nx4xf32> loc("a/b")
  %t = kiln.transpose %0 {perm = [1, 0]} : (tensor<Nx4xf32>) -> tensor<4xNxf32>
  %r = kiln.reshape %t {shape = [-1, 4]} : (tensor<4xNxf32>) -> tensor<Nx4xf32>
  %1 = kiln.mul %r, %c : (tensor<Nx4xf32>, tensor<4xf32>) -> tensor<Nx4xf32>
  %h = kiln.constant {value = dense<"0xHEX"> : tensor<17xf32>} : () -> tensor<17xf32>
  kiln.return %1 : tensor<Nx4xf32>
}
""".replace("HEX", "0000803F" * 17)


def _parse_error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(text)
    return info.value


# ------------------------------------------------------------ parse errors


@pytest.mark.parametrize(
    "text, line, column, fragment",
    [
        pytest.param(
            VALID.replace("%b : tensor<3xf32>\n", "%b tensor<3xf32>\n"),
            2,
            24,
            "expected ',', ':', '=', '{'",
            id="missing-colon",
        ),
        pytest.param(
            VALID.replace("kiln.add", "kiln.addd"), 2, 8, "unknown op 'kiln.addd'", id="unknown-op"
        ),
        pytest.param(
            VALID.replace("(%a: tensor<3xf32>", "(%a: tensor<3xf17>"),
            1,
            13,
            "unknown element type 'f17' in tensor<3xf17>",
            id="unknown-dtype",
        ),
        pytest.param(
            VALID.replace("(%a: tensor<3xf32>", "(%a: tensor<3xnxf32>"),
            1,
            13,
            "bad dimension 'n' in tensor<3xnxf32>",
            id="bad-dim",
        ),
        pytest.param(
            VALID.replace("(%a: tensor<3xf32>", "(%a: tensor<-3xf32>"),
            1,
            13,
            "bad dimension '-3'",
            id="negative-dim",
        ),
        pytest.param(
            VALID.replace("%a, %b", "%a, %c"),
            2,
            21,
            "use of undefined value %c",
            id="undefined-value",
        ),
        pytest.param(
            VALID.replace("kiln.return %0", "%0 = kiln.neg %0 : tensor<3xf32>\n  kiln.return %0"),
            3,
            3,
            "value %0 is defined twice",
            id="defined-twice",
        ),
        pytest.param(
            VALID.replace("%b: tensor<3xf32>", "%a: tensor<3xf32>"),
            1,
            28,
            "value %a is defined twice",
            id="argument-twice",
        ),
        pytest.param(
            VALID.replace(
                "kiln.add %a, %b : tensor<3xf32>",
                "kiln.reduce_sum %a {keepdims = true, keepdims = false} : "
                "(tensor<3xf32>) -> tensor<1xf32>",
            ),
            2,
            45,
            "attribute keepdims is given twice",
            id="attribute-twice",
        ),
        pytest.param(
            VALID.replace("%b: tensor<3xf32>", "%b: tensor<3xf64>"),
            2,
            21,
            "%b has type tensor<3xf64>, but the signature of kiln.add says tensor<3xf32>",
            id="operand-type",
        ),
        pytest.param(
            VALID.replace("%0 = kiln.add", "%0, %1 = kiln.add"),
            2,
            12,
            "kiln.add defines 2 values but its signature lists 1 result types",
            id="result-count",
        ),
        pytest.param(
            VALID.replace(
                "kiln.add %a, %b : tensor<3xf32>",
                "kiln.add %a, %b : (tensor<3xf32>) -> tensor<3xf32>",
            ),
            2,
            8,
            "kiln.add has 2 operands but its signature lists 1 types",
            id="operand-count",
        ),
        pytest.param(
            VALID.replace("kiln.add %a, %b", "kiln.neg %a, %b"),
            2,
            8,
            "expected 1 operands",
            id="op-arity",
        ),
        pytest.param(VALID.replace("}\n", ""), 3, 20, "unexpected end of input", id="eof"),
        pytest.param(
            VALID.replace("%0 = kiln", "%0 = #kiln"),
            2,
            8,
            "unexpected character '#'",
            id="bad-character",
        ),
        pytest.param(VALID + VALID, 5, 6, "function @f is defined twice", id="function-twice"),
        pytest.param(
            VALID.replace(
                "kiln.add %a, %b : tensor<3xf32>", "kiln.call %a, %b {callee = @g} : tensor<3xf32>"
            ),
            2,
            8,
            "needs a full signature",
            id="call-short-signature",
        ),
        pytest.param(
            VALID.replace(
                "kiln.add %a, %b : tensor<3xf32>",
                'kiln.constant {value = dense<"0x00"> : tensor<3xf32>} : () -> tensor<3xf32>',
            ),
            2,
            47,
            "hex constant has 1 bytes, tensor<3xf32> needs 12",
            id="short-hex",
        ),
        pytest.param(
            VALID.replace(
                "kiln.add %a, %b : tensor<3xf32>",
                "kiln.constant {value = dense<[1.0, 2.0]> : tensor<3xf32>} : () -> tensor<3xf32>",
            ),
            2,
            51,
            "does not match tensor<3xf32>",
            id="constant-shape",
        ),
        pytest.param(
            VALID.replace(
                "kiln.add %a, %b : tensor<3xf32>", "kiln.add %a, %b {bogus = 1} : tensor<3xf32>"
            ),
            2,
            8,
            "unknown attribute 'bogus'",
            id="unknown-attribute",
        ),
    ],
)
def test_parse_errors_point_at_the_token(text, line, column, fragment):
    e = _parse_error(text)
    assert (e.line, e.column) == (line, column), str(e)
    assert fragment in str(e)
    assert str(e).startswith(f"{line}:{column}: ")


def test_parse_error_is_a_kiln_error():
    assert issubclass(ParseError, KilnError)


# ------------------------------------------------------------ verifier errors


def test_wrong_result_type_names_the_op_and_line():
    text = VALID.replace(
        "%0 = kiln.add %a, %b : tensor<3xf32>",
        "%0 = kiln.add %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<4xf32>",
    )
    text = text.replace("tensor<3xf32> {", "tensor<4xf32> {")
    text = text.replace("kiln.return %0 : tensor<3xf32>", "kiln.return %0 : tensor<4xf32>")
    with pytest.raises(VerifyError) as info:
        parse(text)
    msg = str(info.value)
    assert msg.startswith("kiln.add (line 2:8)")
    assert "line 2:" in msg
    assert "(tensor<4xf32>) differ from the inferred (tensor<3xf32>)" in msg
    parse(text, verify=False)  # the text itself is well formed


def test_function_without_return():
    with pytest.raises(VerifyError, match=r"function @f does not end with kiln\.return"):
        parse(VALID.replace("  kiln.return %0 : tensor<3xf32>\n", ""))


def test_function_without_result_types():
    with pytest.raises(VerifyError, match="function @f has no result types"):
        parse(VALID.replace(" -> tensor<3xf32> {", " {"))


def test_return_types_must_match_the_signature():
    with pytest.raises(VerifyError) as info:
        parse(VALID.replace("-> tensor<3xf32> {", "-> tensor<3xf64> {"))
    assert str(info.value) == (
        "kiln.return (line 3:3): returns (tensor<3xf32>) but function @f declares (tensor<3xf64>)"
    )


def test_call_to_missing_function():
    text = VALID.replace(
        "%0 = kiln.add %a, %b : tensor<3xf32>",
        "%0 = kiln.call %a, %b {callee = @g} : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>",
    )
    with pytest.raises(
        VerifyError,
        match=r"kiln\.call \(line 2:8\): calls @g, which the "
        "module does not define",
    ):
        parse(text)


def test_call_with_wrong_argument_types():
    text = FUZZ_SEED.replace("func @g(%x: tensor<Nx4xf32>)", "func @g(%x: tensor<Nx5xf32>)")
    text = text.replace(
        "(tensor<Nx4xf32>) -> tensor<Nx1xf32>\n", "(tensor<Nx5xf32>) -> tensor<Nx1xf32>\n", 1
    )
    with pytest.raises(
        VerifyError,
        match=r"kiln\.call \(line 8:\d+\): @g takes "
        r"\(tensor<Nx5xf32>\), got \(tensor<Nx4xf32>\)",
    ):
        parse(text)


def test_terminator_not_last():
    text = VALID.replace(
        "  kiln.return %0 : tensor<3xf32>\n",
        "  kiln.return %0 : tensor<3xf32>\n  kiln.return %a : tensor<3xf32>\n",
    )
    with pytest.raises(
        VerifyError,
        match=r"kiln\.return \(line 3:3\): is a terminator but "
        "is not last",
    ):
        parse(text)


# ------------------------------------------------------------ fuzzing


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    chars = list(text)
    for kind, pos, ch in edits:
        i = pos % (len(chars) + 1)
        if kind == 0 and chars:
            del chars[min(i, len(chars) - 1)]
        elif kind == 1:
            chars.insert(i, ch)
        elif chars:
            chars[min(i, len(chars) - 1)] = ch
    return "".join(chars)


_EDIT = st.tuples(
    st.integers(0, 2),
    st.integers(0, 10_000),
    st.sampled_from(list('%@:,=(){}[]<>x?N0123456789.-e"\\ \nfikln#^ü')),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([VALID, FUZZ_SEED]), st.lists(_EDIT, min_size=1, max_size=4))
def test_mutated_text_raises_only_kiln_errors(seed, edits):
    text = _mutate(seed, edits)
    try:
        m = parse(text)
    except KilnError:
        return
    # Accepted: it must then print in a form that parses back to the same module.
    assert parse(str(m)) == m


# ------------------------------------------------------------ golden files


def test_golden_files_exist():
    assert {p.name for p in GOLDEN} >= {
        "mlp_layer.kiln",
        "conv_pool.kiln",
        "multi_result_call.kiln",
    }


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_file_is_canonical(path):
    text = path.read_text()
    m = parse(text)
    printed = str(m)
    assert printed == text  # the file is already in printed form
    assert str(parse(printed)) == printed


def test_golden_modules_run():
    mlp = parse((GOLDEN[0].parent / "mlp_layer.kiln").read_text())
    x = np.ones((2, 784), np.float32)
    w = np.full((784, 128), 0.01, np.float32)
    b = np.linspace(-10, 10, 128, dtype=np.float32)
    (y,) = interpret(mlp, "mlp_layer", x, w, b)
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-5)

    norm = parse((GOLDEN[0].parent / "multi_result_call.kiln").read_text())
    x = np.arange(8.0).reshape(2, 4)
    (out,) = interpret(norm, "normalize", x)
    want = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, want, rtol=1e-12)

    consts = parse((GOLDEN[0].parent / "constants.kiln").read_text())
    _, big, mask = interpret(consts, "constants", np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(big, np.arange(20, dtype=np.int32).reshape(4, 5))
    np.testing.assert_array_equal(mask, [True, False, True])
