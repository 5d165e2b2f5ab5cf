"""Mutation fuzzing of the IR text path: parse, verify, print, parse again.

Each example takes a valid module (the golden files and examples) and mutates
it (deletes, repeats or swaps spans, inserts tokens, replaces numbers with
absurd ones). Whatever comes out must end in a KilnError (a ParseError with
line:column) or in a module whose printed form parses back to the same text:
no other exception, no hang, no unbounded allocation (the parser's bounds).

The default budget is small (CI); KILN_FUZZ_EXAMPLES raises it, and
`python -m kiln.benchmarks.fuzz --budget SECONDS` runs for a time budget."""

import os

import pytest
from hypothesis import HealthCheck, given, settings

from kiln.benchmarks.fuzz import SEEDS, check, mutated
from kiln.ir import ParseError, parse

EXAMPLES = int(os.environ.get("KILN_FUZZ_EXAMPLES", "150"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_mutated_ir_text_ends_in_a_kiln_error_or_round_trips(text):
    check(text)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeds_round_trip(seed):
    assert check(seed) == "ok"


# minimal cases the fuzzing and the probes found, kept as regressions
REGRESSIONS = [
    # 16 GB constant: refused before allocating, at the type
    "func @f() -> tensor<4294967296xi32> {\n  %c = kiln.constant {value = dense<0> : "
    "tensor<4294967296xi32>} : tensor<4294967296xi32>\n"
    "  kiln.return %c : tensor<4294967296xi32>\n}",
    # a dim far beyond any memory
    "func @f(%x: tensor<99999999999999999999xf32>) -> tensor<99999999999999999999xf32> {\n"
    "  kiln.return %x : tensor<99999999999999999999xf32>\n}",
    # 500 levels of nesting: a ParseError, not a RecursionError
    "func @f() -> () {\n  kiln.return {a = " + "[" * 500 + "1" + "]" * 500 + "} : () -> ()\n}",
    # a unicode digit ('²' passes str.isdigit, int() refuses it)
    "func @f(%x: tensor<2²xf32>) -> tensor<2²xf32> {\n  kiln.return %x : tensor<2²xf32>\n}",
]


@pytest.mark.parametrize("text", REGRESSIONS)
def test_regressions_are_parse_errors_with_a_place(text):
    with pytest.raises(ParseError) as e:
        parse(text)
    assert e.value.line is not None


@pytest.mark.parametrize("shape", ["0", "0x3", "3x0x2", "2x0"])
def test_zero_size_constants_print_in_a_form_that_parses_back(shape):
    t = f"tensor<{shape}xf32>"
    text = f"func @f() -> {t} {{\n  %c = kiln.constant {{value = dense<[]> : {t}}} : {t}\n"
    text += f"  kiln.return %c : {t}\n}}"
    assert check(text) == "ok"
    assert check(str(parse(text))) == "ok"
