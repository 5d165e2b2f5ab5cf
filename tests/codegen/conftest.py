"""Shared helpers of the codegen tests: build kiln.fused ops, run them natively
and through the reference interpreter, compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace

import numpy as np
import pytest

from kiln.codegen.llvm import run_kernel
from kiln.ir import (
    Block,
    Builder,
    Interpreter,
    Module,
    Operation,
    Region,
    TensorType,
    Value,
    dtype_of,
    parse,
)
from kiln.passes import run_pipeline


def make_fused(
    arg_types: Sequence[str | TensorType],
    build: Callable[[Builder, list[Value]], Sequence[Value]],
    kind: str = "pointwise",
) -> tuple[Module, Operation]:
    """A module whose function @f is one kiln.fused op of `kind` with the body
    `build(builder, args)` (the values it returns are yielded)."""
    types = [t if isinstance(t, TensorType) else _type(t) for t in arg_types]
    m = Module()
    f = m.add_function("f", types)
    body = Block(types)
    outs = list(build(Builder.at_end(body), body.args))
    Builder.at_end(body).create("kiln.yield", *outs)
    fused = Builder.at_end(f.body).create(
        "kiln.fused",
        *f.args,
        result_types=[v.type for v in outs],
        regions=[Region([body])],
        kind=kind,
    )
    Builder.at_end(f.body).ret(*fused.results)
    return m.verify(), fused


def fused_from_text(text: str, passes: str = "fuse") -> tuple[Module, list[Operation]]:
    """Parse `text`, run `passes`, return the module and every kiln.fused op."""
    m = parse(text)
    run_pipeline(m, passes)
    return m, [op for f in m for op in f.walk() if op.name == "kiln.fused"]


def _type(text: str) -> TensorType:
    """'?x10xf32' -> TensorType."""
    *dims, dtype = text.split("x")
    return TensorType(dtype, [d if d in ("?",) or d.isupper() else int(d) for d in dims])


def check(
    m: Module,
    op: Operation,
    *arrays: np.ndarray,
    rtol: float = 1e-6,
    atol: float = 0.0,
    names: Sequence[str] = (),
) -> list[np.ndarray]:
    """Run `op` natively and in the interpreter on `arrays`; assert they agree
    (NaN equals NaN; integers and bools exactly)."""
    got = run_kernel(op, *arrays)
    want = Interpreter(m).run_block(op.body, list(arrays))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        what = names[i] if i < len(names) else f"result {i}"
        assert g.shape == w.shape and g.dtype == w.dtype, (what, g.shape, w.shape)
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)
    return got


def floats(rng: np.random.Generator, shape, dtype, specials: bool = True) -> np.ndarray:
    """Random normal values, with NaN, infinities and signed zeros sprinkled in."""
    x = (rng.standard_normal(shape) * 3).astype(dtype_of(dtype).numpy)
    if specials and x.size >= 8:
        flat = x.reshape(-1)
        flat[rng.choice(x.size, 6, replace=False)] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0]
    return x


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def kernels() -> SimpleNamespace:
    """The helpers above, for the test modules (pytest's importlib mode keeps
    conftest off sys.path, so they come as a fixture)."""
    return SimpleNamespace(
        make_fused=make_fused, fused_from_text=fused_from_text, check=check, floats=floats
    )
