"""Coverage, driven by the op registry: for EVERY registered op (ir.OPS) kiln
has what it needs, so a new op fails here until it is complete:

- a reference (`reference`, or an `evaluate` of its own);
- a gradient rule (`vjp`), a declared `not_differentiable` reason, or a
  decomposition autodiff goes through;
- a lowering on each backend: an elementwise op's scalar form is lowered
  into a one-op kernel, compiled and run with LLVM against the reference
  interpreter, and rendered as Triton source (checked as Python; no GPU
  here); every scalar instruction it uses is in each renderer's registry;
  a reduction's fold is a kernel-form reduction; any other op is in each
  backend's registry of kernels or its declared fallback;
- a test: a kernel op's scalar form or fold is run against its reference
  here; any other op needs a golden file or a numeric test elsewhere in
  tests/ that names it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from kiln.codegen import llvm as cpu
from kiln.codegen import triton as gpu
from kiln.codegen.kernel import REDUCTION_KINDS
from kiln.codegen.lower import lower
from kiln.ir import (
    OPS,
    Block,
    Builder,
    DType,
    KilnError,
    Module,
    Operation,
    Region,
    TensorType,
    Trait,
)
from kiln.ir.interpreter import Interpreter
from kiln.ir.registry import has_gradient_rule
from kiln.ir.scalar import Tally
from kiln.passes.fuse import FREE_OPS, category

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng():
    return np.random.default_rng(16)


# Ops that are the IR's structure rather than computations; why each needs no
# gradient rule and no kernel of its own.
STRUCTURE = {
    "kiln.call": "autodiff and the runtime inline calls",
    "kiln.fused": "formed by `fuse`, after autodiff; its kinds are the backends' kernels",
    "kiln.yield": "ends a kiln.fused body",
    "kiln.return": "ends a function",
}

# Attribute values a sample op is built with when the attribute has no default.
SAMPLE_ATTRS = {"dtype": DType.f32, "shape": [7], "axis": 0, "k": 2, "perm": [0]}
SAMPLE_DTYPES = (DType.f64, DType.i32, DType.bool)


def declares(cls: type[Operation], method: str) -> bool:
    return getattr(cls, method) is not getattr(Operation, method)


def is_composite(cls: type[Operation]) -> bool:
    return declares(cls, "decompose")


def sample(cls: type[Operation], shape=(7,)) -> Operation | None:
    """`cls` built in a fresh block on operands of one of SAMPLE_DTYPES (select:
    a bool condition), or None when no sample applies."""
    attrs = {
        k: SAMPLE_ATTRS[k]
        for k, spec in cls.attr_specs.items()
        if spec.required and k in SAMPLE_ATTRS
    }
    count = len(cls.operand_names)
    for dtype in SAMPLE_DTYPES:
        dtypes = [dtype] * count
        if cls.name == "kiln.select":
            dtypes[0] = DType.bool
        block = Block([TensorType(t, shape) for t in dtypes])
        try:
            return Builder.at_end(block).create(cls, *block.args, **attrs)
        except KilnError:
            continue
    return None


def one_op_kernel(cls: type[Operation], kind: str, shape=(7,)):
    """A module @f that is one kiln.fused op of `kind` around a sample of `cls`."""
    op = sample(cls, shape)
    assert op is not None, f"{cls.name}: no sample could be built (add to SAMPLE_ATTRS)"
    types = [v.type for v in op.operands]
    m = Module()
    f = m.add_function("f", types)
    body = Block(types)
    inner = Builder.at_end(body).create(
        cls, *body.args, **{k: v for k, v in op.attrs.items() if k in cls.attr_specs}
    )
    Builder.at_end(body).create("kiln.yield", *inner.results)
    fused = Builder.at_end(f.body).create(
        "kiln.fused",
        *f.args,
        result_types=[r.type for r in inner.results],
        regions=[Region([body])],
        kind=kind,
    )
    Builder.at_end(f.body).ret(*fused.results)
    return m.verify(), fused


def random_inputs(fused: Operation, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for v in fused.operands:
        t, shape = v.type.dtype, tuple(v.type.shape)
        if t.is_float:
            out.append((rng.standard_normal(shape) * 3).astype(t.numpy))
        elif t.is_bool:
            out.append(rng.random(shape) < 0.5)
        else:  # small positive ints: no division by zero, no negative power
            out.append(rng.integers(1, 5, shape).astype(t.numpy))
    return out


def instructions_used(cls: type[Operation]) -> list:
    op = sample(cls)
    tally = Tally(op.results[0].type.dtype, [v.type.dtype for v in op.operands])
    op.scalar(tally, *tally.operands)
    return [(i.name, tally.operands[0] if tally.operands else tally.dtype) for i in tally.used]


NAMES = sorted(OPS)
SCALAR = [n for n in NAMES if OPS[n].has_scalar_form()]
FOLDS = [n for n in NAMES if OPS[n].fold]


# ------------------------------------------------------------------ reference, gradient


@pytest.mark.parametrize("name", NAMES)
def test_reference(name):
    cls = OPS[name]
    assert (
        declares(cls, "reference") or declares(cls, "evaluate") or Trait.TERMINATOR in cls.traits
    ), f"{name} has no reference implementation"


@pytest.mark.parametrize("name", NAMES)
def test_gradient_rule_or_reason(name):
    cls = OPS[name]
    assert has_gradient_rule(cls) or is_composite(cls) or name in STRUCTURE, (
        f"{name} has no gradient rule: give it a vjp, declare it not_differentiable with "
        "the reason, or make it a composite (decompose)"
    )


# ------------------------------------------------------------------ lowering


def test_every_renderer_implements_every_instruction():
    from kiln.ir.scalar import INSTRUCTIONS

    assert set(INSTRUCTIONS) == set(cpu.INSTRUCTIONS) == set(gpu.INSTRUCTIONS)


@pytest.mark.parametrize("name", NAMES)
def test_lowering_declared(name):
    """Every op reaches a backend somehow: as a kernel-form scalar form or fold,
    decomposed, as a view, or through each backend's registry or fallback."""
    cls = OPS[name]
    if cls.has_scalar_form():
        for instruction, dtype in instructions_used(cls):
            floats, others = cpu.INSTRUCTIONS.get(instruction, (None, None))
            assert (floats if dtype.is_float else others) is not None, (
                f"{name}: the LLVM renderer has no {instruction} for {dtype}"
            )
            assert instruction in gpu.INSTRUCTIONS, (
                f"{name}: the Triton renderer has no {instruction}"
            )
        return
    if cls.fold:
        assert cls.fold in REDUCTION_KINDS, f"{name}: no kernel-form reduction {cls.fold!r}"
        return
    if is_composite(cls) or name in FREE_OPS or name in STRUCTURE:
        return
    kind = category(object.__new__(cls))  # reads only the class: its name, traits, base
    key = f"kiln.fused:{kind}" if kind in ("matmul", "conv") else name
    assert key in cpu.BUILDERS or name in cpu.INTERPRETED or name in cpu.CONTROL, (
        f"{name}: the CPU backend has no kernel for it and no declared fallback"
    )
    assert key in gpu.BUILDERS or name in gpu.HOST_OPS, (
        f"{name}: the GPU backend has no kernel for it and does not declare it host-run"
    )


@pytest.mark.parametrize("name", SCALAR)
def test_scalar_form_runs_on_llvm_and_renders_for_triton(name, rng):
    m, fused = one_op_kernel(OPS[name], "pointwise")
    arrays = random_inputs(fused, rng)
    want = Interpreter(m).run_block(fused.body, arrays)
    got = _run_llvm(fused, arrays)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=name)
    _render_triton(fused)


@pytest.mark.parametrize("name", FOLDS)
def test_fold_runs_on_llvm_and_renders_for_triton(name, rng):
    m, fused = one_op_kernel(OPS[name], "reduction", shape=(3, 5))
    arrays = random_inputs(fused, rng)
    want = Interpreter(m).run_block(fused.body, arrays)
    for g, w in zip(_run_llvm(fused, arrays), want):
        np.testing.assert_allclose(g, w, rtol=1e-12, err_msg=name)
    _render_triton(fused)


def _run_llvm(fused, arrays):
    return cpu.run_kernel(fused, *arrays)


def _render_triton(fused):
    source = gpu.render(lower(fused)).source
    compile(source, "<triton kernel>", "exec")  # well-formed Python (Triton's own syntax)


# ------------------------------------------------------------------ tests of its own


@pytest.fixture(scope="module")
def test_text() -> str:
    files = [
        p
        for p in TESTS.rglob("*")
        if p.suffix in (".py", ".kiln") and p.name != Path(__file__).name
    ]
    return "\n".join(p.read_text() for p in files)


@pytest.mark.parametrize("name", NAMES)
def test_has_a_test_of_its_own(name, test_text):
    """A kernel op's scalar form or fold is checked against its reference above
    (and by the registry-driven lists of tests/codegen); any other op needs a
    golden file or a numeric test that names it."""
    if name in SCALAR or name in FOLDS:
        return
    short = name.removeprefix("kiln.")
    named = re.search(rf"{re.escape(name)}\b|[.\"']{re.escape(short)}\b[\"'(]", test_text)
    assert named, f"no golden or numeric test in tests/ names {name}"
