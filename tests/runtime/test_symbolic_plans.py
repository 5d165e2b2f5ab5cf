"""One layout per executable for every shape: from the second set of argument
shapes on, a plan's integers are the symbolic layout's polynomials evaluated
(runtime/symbolic.py `SymbolicLayout`, fitted as AOT fits its C glue), so a new
batch size computes no layout; where the fit does not hold, each shape computes
its own. Every result is checked against the reference interpreter."""

import numpy as np

import kiln
from kiln.benchmarks.probes import SOURCE
from kiln.ir import Interpreter, parse
from kiln.runtime import cpu
from kiln.runtime.symbolic import SymbolicLayout

TWO_DIMS = """
func @f(%x: tensor<BxDxf32>, %y: tensor<Dxf32>) -> (tensor<BxDxf32>, tensor<Dxf32>) {
  %m = kiln.mul %x, %y : (tensor<BxDxf32>, tensor<Dxf32>) -> tensor<BxDxf32>
  %t = kiln.tanh %m : tensor<BxDxf32>
  %s = kiln.reduce_sum %t {axes = [0]} : (tensor<BxDxf32>) -> tensor<Dxf32>
  kiln.return %t, %s : (tensor<BxDxf32>, tensor<Dxf32>) -> ()
}
"""

X, K, Y = "tensor<?x?x?x3xf32>", "tensor<3x3x3x4xf32>", "tensor<?x?x?x4xf32>"
STRIDED = f"""
func @f(%x: {X}, %k: {K}) -> {Y} {{
  %c = kiln.conv2d %x, %k {{strides = [2, 2], padding = "SAME"}} : ({X}, {K}) -> {Y}
  %r = kiln.relu %c : {Y}
  kiln.return %r : {Y}
}}
"""


def _agree(source, calls):
    """Compile `source`'s @f, call it on each argument list, compare each result
    with the interpreter's; returns the executable's CpuExecutable."""
    exe = kiln.compile(parse(source), "f", backend="cpu")
    reference = Interpreter(parse(source))
    for args in calls:
        got = exe(*args)
        want = reference.call("f", list(args))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape, [a.shape for a in args]
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    return exe.compiled


def test_new_batch_sizes_compute_no_layout(monkeypatch):
    """153 batch sizes (0, 1, odd ones, a large one): the layouts computed are the
    first call's and the fit's samples; every later plan comes from the polynomials."""
    monkeypatch.setattr(cpu, "SYMBOLIC_CHECK_EVERY", 10**9)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((256, 64), np.float32) / 16
    sizes = [1, 0, 2, 3, 5, 7, 1000, *range(8, 301, 2)]  # 153 distinct
    calls = [(rng.standard_normal((b, 256), np.float32), w) for b in sizes]
    exe = _agree(SOURCE, calls[:2])
    assert isinstance(exe.symbolic, SymbolicLayout)
    fitted = exe.layouts
    reference = Interpreter(parse(SOURCE))
    for i, (x, _) in enumerate(calls[2:]):
        got = exe(x, w)
        # the interpreter on every 8th (its matmul is slow), numpy on all
        t = np.tanh(x.astype(np.float64) @ w)
        want = reference.call("f", [x, w]) if i % 8 == 0 else [t, t.sum(1)]
        for g, r in zip(got, want):
            assert g.shape == r.shape
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)
    assert exe.layouts == fitted  # no new layout for any new shape
    assert exe.from_symbolic == len(sizes) - 1
    assert len(exe.plans) == len(sizes)


def test_two_symbolic_dims_and_sizes_zero_and_one():
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (1, 1), (0, 5), (5, 0), (1, 9), (17, 1), (31, 33), (2, 1000), (0, 0)]
    calls = [
        (rng.standard_normal(s, np.float32), rng.standard_normal(s[1], np.float32)) for s in shapes
    ]
    exe = _agree(TWO_DIMS, calls)
    assert isinstance(exe.symbolic, SymbolicLayout)
    # one computed layout, the fit's samples, and shapes below the fit's min_dim
    below = sum(min(s) < exe.symbolic.fit.min_dim for s in shapes[1:])
    assert exe.from_symbolic == len(shapes) - 1 - below


def test_sizes_that_are_not_polynomials_plan_per_shape():
    """A stride-2 SAME conv's output is ceil(h / 2): no polynomial, so no symbolic
    layout; every shape computes its own and is still right."""
    rng = np.random.default_rng(2)
    k = rng.standard_normal((3, 3, 3, 4), np.float32)
    calls = [
        (rng.standard_normal((n, h, w, 3), np.float32), k)
        for n, h, w in [(1, 5, 6), (2, 7, 7), (1, 8, 3), (3, 1, 1), (1, 9, 10)]
    ]
    exe = _agree(STRIDED, calls)
    assert exe.symbolic is False
    assert exe.from_symbolic == 0


def test_a_check_that_differs_retires_the_symbolic_layout(monkeypatch):
    """Every SYMBOLIC_CHECK_EVERY-th plan from the polynomials is compared with a
    computed layout; one that differs (here: a fit made wrong on purpose) retires
    the symbolic layout, and that call and every later one use computed layouts."""
    monkeypatch.setattr(cpu, "SYMBOLIC_CHECK_EVERY", 3)
    real = SymbolicLayout.values

    def wrong(self, arg_shapes):
        values = real(self, arg_shapes)
        if values is not None:
            values[("result", 0, 0)] += 1  # a row too many
        return values

    monkeypatch.setattr(SymbolicLayout, "values", wrong)
    rng = np.random.default_rng(3)
    w = rng.standard_normal((256, 64), np.float32) / 16
    exe = kiln.compile(parse(SOURCE), "f", backend="cpu").compiled
    for b in (1, 2):
        exe(rng.standard_normal((b, 256), np.float32), w)
    for b in range(3, 12):
        x = rng.standard_normal((b, 256), np.float32)
        if exe.symbolic is False:  # retired: results right again
            (t, _) = exe(x, w)
            np.testing.assert_allclose(t, np.tanh(x @ w), rtol=1e-4, atol=1e-5)
        else:
            exe(x, w)
    assert exe.symbolic is False
    assert exe.from_symbolic == 3


def test_where_the_polynomials_are_not_trusted():
    """`values` gives None (compute the layout) for a dim below the fit's min_dim,
    for integers that could overflow int64 and for a negative size or extent; a
    negative run-time int (a stride, say) is allowed."""
    from kiln.runtime.symbolic import Fit, Param

    n = Param("n", [(0, 0)])
    polys = {("size", 3): {(0,): 4, (): -20}, ("dims", 0, 0): {(0,): -1}, ("outer", 0): {(0,): 1}}
    symbolic = SymbolicLayout(Fit([n], polys, 1))
    assert symbolic.values([(9,)]) == {("size", 3): 16, ("dims", 0, 0): -9, ("outer", 0): 9}
    assert symbolic.values([(0,)]) is None  # below min_dim
    assert symbolic.values([(4,)]) is None  # a size of -4
    assert symbolic.values([(2**61,)]) is None  # 4 * 2^61 does not fit int64
    assert symbolic.dims_count[0] == 1 and symbolic.dims_count[5] == 0


def test_an_executable_with_a_huge_dim_still_plans_exactly():
    exe = kiln.compile(parse(TWO_DIMS), "f", backend="cpu").compiled
    rng = np.random.default_rng(4)
    for shape in [(3, 4), (5, 6)]:
        exe(rng.standard_normal(shape, np.float32), rng.standard_normal(shape[1], np.float32))
    assert isinstance(exe.symbolic, SymbolicLayout)
    assert exe.symbolic.values([(2**31, 2**31), (2**31,)]) is None
    assert exe.symbolic.values([(7, 9), (9,)]) is not None


BATCHED = """
func @f(%a: tensor<Nx5x7xf32>, %b: tensor<Nx7x3xf32>) -> tensor<Nx5x3xf32> {
  %c = kiln.matmul %a, %b : (tensor<Nx5x7xf32>, tensor<Nx7x3xf32>) -> tensor<Nx5x3xf32>
  %t = kiln.tanh %c : tensor<Nx5x3xf32>
  kiln.return %t : tensor<Nx5x3xf32>
}
"""


def test_piecewise_sizes_at_dims_of_one(monkeypatch):
    """A batched matmul's batch stride is 0 at N = 1 (the broadcast rule), so the
    fit is piecewise there (runtime/aot.py `Piecewise`): the symbolic layout
    evaluates those sizes one by one and every batch size, 1 among them, agrees
    with the interpreter; with a check on every plan, none retires the layout."""
    monkeypatch.setattr(cpu, "SYMBOLIC_CHECK_EVERY", 1)
    rng = np.random.default_rng(3)
    sizes = [2, 3, 1, 4, 1, 9, 17, 1, 2]
    calls = [
        (rng.standard_normal((n, 5, 7), np.float32), rng.standard_normal((n, 7, 3), np.float32))
        for n in sizes
    ]
    exe = _agree(BATCHED, calls)
    assert isinstance(exe.symbolic, SymbolicLayout)
    assert exe.from_symbolic > 0
