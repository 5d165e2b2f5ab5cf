"""Composite NN ops (ir/ops/nn.py): every reference against an independent
numpy formula (large logits included), every decomposition against the op
in the interpreter (static, anonymous and named batch dims, after a text
round trip), and the type rules' errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from kiln.ir import (
    OPS,
    Builder,
    KilnError,
    Module,
    Operation,
    ShapeError,
    TensorType,
    interpret,
    parse,
)

# every op that declares a decomposition (reduce_mean keeps itself where its
# count is symbolic: `_remaining_means_are_symbolic` checks that apart)
COMPOSITES = {
    name
    for name, cls in OPS.items()
    if cls.decompose is not Operation.decompose and name != "kiln.reduce_mean"
}
TOLERANCE = {"float32": {"rtol": 2e-5, "atol": 2e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}
BATCH = 4  # the size every symbolic batch dim has at run time


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def logits(shape, dtype, rng):
    """Normal values around 1000: a softmax computed naively would overflow."""
    return (rng.standard_normal(shape) * 3 + 1000).astype(dtype)


def wide(shape, dtype, rng):
    """Normal values with every fifth one at +-1000: exp overflows there."""
    x = rng.standard_normal(shape) * 3
    x.flat[::5] = 1000.0 * np.resize([1, -1], x.flat[::5].shape)
    return x.astype(dtype)


def normal(shape, dtype, rng):
    return rng.standard_normal(shape).astype(dtype)


def positive(shape, dtype, rng):
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


def probabilities(shape, dtype, rng):
    p = rng.uniform(size=shape)
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


def unit(shape, dtype, rng):
    return rng.uniform(size=shape).astype(dtype)


def class_ids(shape, dtype, rng):
    return rng.integers(0, 10, shape).astype("int32")


def apply(name: str, *arrays: np.ndarray, **attrs) -> np.ndarray:
    """Run one op on arrays in the interpreter (its reference, types checked)."""
    m = Module()
    f = m.add_function("f", [TensorType(a.dtype, a.shape) for a in arrays])
    b = Builder.at_end(f.body)
    b.ret(getattr(b, name)(*f.args, **attrs))
    (out,) = interpret(m.verify(), "f", *arrays)
    return out


def assert_close(got: np.ndarray, want: np.ndarray, dtype: str) -> None:
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


# ------------------------------------------------------------------ references


def lse(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    return np.logaddexp.reduce(x.astype(np.float64), axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_family_references(dtype):
    x = logits((5, 7), dtype, _rng())
    x64 = x.astype(np.float64)
    for axis in (-1, 0):
        assert_close(apply("softmax", x, axis=axis), np.exp(x64 - lse(x, axis, True)), dtype)
        assert_close(apply("log_softmax", x, axis=axis), x64 - lse(x, axis, True), dtype)
    assert_close(apply("logsumexp", x, axes=[1]), lse(x, 1), dtype)
    assert_close(apply("logsumexp", x, axes=[0], keepdims=True), lse(x, 0, True), dtype)
    assert_close(apply("logsumexp", x), lse(x.reshape(-1), 0), dtype)


def test_logsumexp_of_infinite_slices_is_not_nan():
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, 0.0]], np.float32)
    got = apply("logsumexp", x, axes=[1])
    np.testing.assert_array_equal(got, [-np.inf, np.inf, np.log(2, dtype=np.float32)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_references(dtype):
    rng = _rng(1)
    x, labels = logits((6, 10), dtype, rng), probabilities((6, 10), dtype, rng)
    x64 = x.astype(np.float64)
    want = -np.sum(labels * (x64 - lse(x, -1, True)), axis=-1)
    assert_close(apply("softmax_cross_entropy", x, labels), want, dtype)
    ids = rng.integers(0, 10, 6)
    for id_dtype in (np.int32, np.int64):
        want = lse(x) - np.take_along_axis(x64, ids[:, None], -1)[:, 0]
        assert_close(apply("sparse_softmax_cross_entropy", x, ids.astype(id_dtype)), want, dtype)
    x, z = wide((6, 10), dtype, rng), unit((6, 10), dtype, rng)
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    want = z64 * np.logaddexp(0, -x64) + (1 - z64) * np.logaddexp(0, x64)
    assert_close(apply("sigmoid_cross_entropy", x, z), want, dtype)
    assert_close(apply("l2_loss", x), np.linalg.norm(x64) ** 2 / 2, dtype)


def test_sparse_label_outside_the_classes_has_infinite_loss():
    x = np.zeros((3, 4), np.float32)
    got = apply("sparse_softmax_cross_entropy", x, np.array([0, 4, -1], np.int32))
    np.testing.assert_array_equal(got, [np.log(4, dtype=np.float32), np.inf, np.inf])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalization_references(dtype):
    rng = _rng(2)
    x = (rng.standard_normal((3, 4, 5)) * 5 + 20).astype(dtype)
    scale, offset = positive((4, 5), dtype, rng), normal((4, 5), dtype, rng)
    x64 = x.astype(np.float64)
    for axes, eps in (((1, 2), 1e-3), ((-1,), 1e-5)):
        norm = (x64 - x64.mean(axis=axes, keepdims=True)) / np.sqrt(
            x64.var(axis=axes, keepdims=True) + eps
        )
        got = apply("layer_norm", x, scale, offset, axes=axes, epsilon=eps)
        assert_close(got, norm * scale + offset, dtype)
    mean, var = normal((5,), dtype, rng), positive((5,), dtype, rng)
    want = (x64 - mean) / np.sqrt(var.astype(np.float64) + 1e-3) * scale + offset
    assert_close(apply("batch_norm", x, mean, var, offset, scale), want, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_references(dtype):
    x = wide((40,), dtype, _rng(3))
    x64 = x.astype(np.float64)
    erfc = np.vectorize(math.erfc)
    with np.errstate(over="ignore"):
        selu = 1.0507009873554805 * np.where(x64 > 0, x64, 1.6732632423543772 * np.expm1(x64))
    tanh_form = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    assert_close(apply("softplus", x), np.logaddexp(0, x64), dtype)
    assert_close(apply("relu6", x), np.clip(x64, 0, 6), dtype)
    assert_close(apply("leaky_relu", x), np.maximum(0.2 * x64, x64), dtype)
    assert_close(apply("leaky_relu", x, alpha=0.01), np.maximum(0.01 * x64, x64), dtype)
    assert_close(apply("selu", x), selu, dtype)
    assert_close(apply("gelu", x), x64 * 0.5 * erfc(-x64 / math.sqrt(2)), dtype)
    assert_close(apply("gelu", x, approximate=True), tanh_form, dtype)


def test_erf_reference():
    x = np.array([0.0, 1.0, -1.0, 0.5, np.inf, -np.inf], np.float64)
    got = apply("erf", x)
    np.testing.assert_allclose(
        got, [0, 0.8427007929497149, -0.8427007929497149, 0.5204998778130465, 1, -1], rtol=1e-15
    )
    assert apply("erf", np.float32(1.0)).dtype == np.float32


# ------------------------------------------------------------------ decompositions


@dataclass
class Case:
    """One op applied to operands made by `makers` on `shapes`; "B" in a
    shape is the batch dim, static or symbolic."""

    op: str
    shapes: list[tuple]
    makers: list[Callable]
    attrs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        attrs = ",".join(f"{k}={v}" for k, v in self.attrs.items())
        return self.op + (f"[{attrs}]" if attrs else "")


CASES = [
    Case("softmax", [("B", 10)], [logits]),
    Case("softmax", [("B", 10)], [logits], {"axis": 0}),
    Case("log_softmax", [("B", 10)], [logits]),
    Case("log_softmax", [("B", 3, 10)], [logits], {"axis": 1}),
    Case("logsumexp", [("B", 10)], [logits]),
    Case("logsumexp", [("B", 10)], [logits], {"axes": [1], "keepdims": True}),
    Case("logsumexp", [("B", 3, 10)], [logits], {"axes": [0, 2]}),
    Case("softmax_cross_entropy", [("B", 10), ("B", 10)], [logits, probabilities]),
    Case("softmax_cross_entropy", [("B", 10), (1, 10)], [logits, probabilities]),
    Case("softmax_cross_entropy", [(10, "B"), (10, "B")], [logits, unit], {"axis": 0}),
    Case("sparse_softmax_cross_entropy", [("B", 10), ("B",)], [logits, class_ids]),
    Case("sparse_softmax_cross_entropy", [("B", 2, 10), ("B", 2)], [logits, class_ids]),
    Case("sigmoid_cross_entropy", [("B", 10), ("B", 10)], [wide, unit]),
    Case("sigmoid_cross_entropy", [("B", 10), (10,)], [wide, unit]),
    Case("l2_loss", [("B", 10)], [normal]),
    Case("layer_norm", [("B", 10), (10,), (10,)], [normal, positive, normal]),
    Case(
        "layer_norm",
        [("B", 3, 10), (3, 10), (10,)],
        [normal, positive, normal],
        {"axes": [1, 2], "epsilon": 1e-5},
    ),
    Case("layer_norm", [("B", 10), (10,), (1,)], [normal, positive, normal], {"axes": [0]}),
    Case("batch_norm", [("B", 10)] + [(10,)] * 4, [normal, normal, positive, normal, positive]),
    Case(
        "batch_norm",
        [("B", 10), ("B", 1), ("B", 1), (), ()],
        [normal, normal, positive, normal, positive],
        {"epsilon": 0.5},
    ),
    Case("relu6", [("B", 10)], [wide]),
    Case("leaky_relu", [("B", 10)], [wide]),
    Case("leaky_relu", [("B", 10)], [wide], {"alpha": 0.01}),
    Case("selu", [("B", 10)], [wide]),
    Case("gelu", [("B", 10)], [wide]),
    Case("gelu", [("B", 10)], [wide], {"approximate": True}),
    Case("reduce_mean", [("B", 10)], [normal], {"axes": [1]}),
    Case("reduce_mean", [("B", 10)], [normal], {"axes": [0], "keepdims": True}),
]


def decompose_all(m: Module) -> Module:
    """One sweep of every op's `decompose` (what the decompose pass does)."""
    for func in m:
        for op in list(func.walk()):
            out = op.decompose(Builder.before(op))
            if out is None:
                continue
            assert out.type == op.result.type, f"{op.name}: {out.type} != {op.result.type}"
            op.result.replace_all_uses_with(out)
            op.parent.erase(op)
    return m


def _case_module(case: Case, dtype: str, batch) -> Module:
    m = Module()
    types = [
        TensorType("i32" if make is class_ids else dtype, [batch if d == "B" else d for d in shape])
        for shape, make in zip(case.shapes, case.makers)
    ]
    f = m.add_function("f", types)
    b = Builder.at_end(f.body)
    b.ret(getattr(b, case.op)(*f.args, **case.attrs))
    return m.verify()


def _remaining_means_are_symbolic(m: Module) -> bool:
    for op in m["f"].walk():
        if op.name == "kiln.reduce_mean":
            shape = op.x.type.shape
            if all(isinstance(shape[a], int) for a in op.reduced_axes(len(shape))):
                return False
    return True


@pytest.mark.parametrize("batch", [BATCH, "?", "N"], ids=["static", "anonymous", "named"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_decomposition_matches_the_op(case, dtype, batch):
    m = _case_module(case, dtype, batch)
    rng = _rng(7)
    args = [
        make([BATCH if d == "B" else d for d in shape], dtype, rng)
        for shape, make in zip(case.shapes, case.makers)
    ]
    (want,) = interpret(m, "f", *args)

    lowered = decompose_all(parse(str(m)))
    names = {op.name for op in lowered["f"].walk()}
    assert not names & COMPOSITES, f"left composite ops: {names & COMPOSITES}"
    assert _remaining_means_are_symbolic(lowered)
    text = str(lowered.verify())
    reparsed = parse(text).verify()
    assert str(reparsed) == text
    (got,) = interpret(reparsed, "f", *args)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


def test_decomposed_losses_keep_edge_cases():
    """+inf for a label naming no class; -inf (not NaN) for logsumexp of -infs."""
    m = Module()
    f = m.add_function("f", [TensorType("f32", ["?", 4]), TensorType("i64", ["?"])])
    b = Builder.at_end(f.body)
    b.ret(b.sparse_softmax_cross_entropy(*f.args), b.logsumexp(f.args[0], axes=[1]))
    m.verify()
    x = np.array([[0, 0, 0, 0], [-np.inf] * 4, [1, 2, 3, 4]], np.float32)
    ids = np.array([4, 0, -3], np.int64)
    before = interpret(m, "f", x, ids)
    after = interpret(decompose_all(m).verify(), "f", x, ids)
    for got, want in zip(after, before):
        np.testing.assert_array_equal(got, want)
    assert before[1][1] == -np.inf and np.isposinf(before[0][[0, 2]]).all()


def test_ops_are_kept_where_they_cannot_decompose():
    m = Module()
    f = m.add_function(
        "f", [TensorType("f32", [3, "C"]), TensorType("i32", [3]), TensorType("i32", [3, 5])]
    )
    b = Builder.at_end(f.body)
    b.ret(
        b.sparse_softmax_cross_entropy(f.args[0], f.args[1]),  # symbolic class dim
        b.reduce_mean(f.args[0], axes=[1]),  # symbolic count
        b.reduce_mean(f.args[2], axes=[1]),
    )  # integer mean
    kept = [op.name for op in decompose_all(m)["f"].ops]
    assert kept == [
        "kiln.sparse_softmax_cross_entropy",
        "kiln.reduce_mean",
        "kiln.reduce_mean",
        "kiln.return",
    ]


def test_mean_decomposes_to_sum_times_reciprocal():
    m = Module()
    f = m.add_function("f", [TensorType("f32", ["N", 4, 5])])
    b = Builder.at_end(f.body)
    b.ret(b.reduce_mean(f.args[0], axes=[1, 2]))
    text = str(decompose_all(m))
    assert "kiln.reduce_sum" in text and "dense<0.05> : tensor<f32>" in text
    assert "kiln.reduce_mean" not in text


# ------------------------------------------------------------------ type errors


def _build(name: str, types: list[TensorType], **attrs) -> None:
    m = Module()
    f = m.add_function("f", types)
    b = Builder.at_end(f.body)
    getattr(b, name)(*f.args, **attrs)


F = TensorType("f32", ["?", 10])


@pytest.mark.parametrize(
    "name, types, attrs, message",
    [
        ("softmax", [F], {"axis": 2}, "kiln.softmax: axis 2 is out of range for rank 2"),
        ("log_softmax", [F], {"axis": -3}, "kiln.log_softmax: axis -3 is out of range"),
        ("logsumexp", [TensorType("i32", [3])], {}, "kiln.logsumexp: expected floating-point"),
        ("logsumexp", [F], {"axes": [1, -1]}, r"kiln.logsumexp: repeated axis in \[1, -1\]"),
        (
            "softmax_cross_entropy",
            [F, TensorType("f32", [4, 9])],
            {},
            "kiln.softmax_cross_entropy: shapes .* do not broadcast",
        ),
        ("softmax_cross_entropy", [F, TensorType("f32", [10])], {}, "must have one rank"),
        ("softmax_cross_entropy", [F, TensorType("f64", ["?", 10])], {}, "one dtype"),
        (
            "sparse_softmax_cross_entropy",
            [F, TensorType("f32", ["?"])],
            {},
            "kiln.sparse_softmax_cross_entropy: labels must be integers",
        ),
        (
            "sparse_softmax_cross_entropy",
            [F, TensorType("i32", ["?", 10])],
            {},
            "shape of logits less its last dim",
        ),
        (
            "sparse_softmax_cross_entropy",
            [TensorType("f32", [4, 10]), TensorType("i32", [5])],
            {},
            "do not match logits",
        ),
        (
            "sigmoid_cross_entropy",
            [TensorType("i32", [3])] * 2,
            {},
            "kiln.sigmoid_cross_entropy: expected a floating-point",
        ),
        (
            "layer_norm",
            [F, TensorType("f32", [10]), TensorType("f32", [10])],
            {"axes": [2]},
            "kiln.layer_norm: axis 2 is out of range",
        ),
        (
            "layer_norm",
            [F, TensorType("f32", [9]), TensorType("f32", [10])],
            {},
            "kiln.layer_norm: shapes .* do not broadcast",
        ),
        ("batch_norm", [F] * 4 + [TensorType("f64", [10])], {}, "kiln.batch_norm: .*one dtype"),
        ("gelu", [TensorType("i32", [3])], {}, "kiln.gelu: expected a floating-point"),
        ("erf", [TensorType("bool", [3])], {}, "kiln.erf: expected a floating-point"),
        ("l2_loss", [TensorType("i64", [3])], {}, "kiln.l2_loss: expected floating-point"),
        ("leaky_relu", [F], {"alpha": "big"}, "kiln.leaky_relu: attribute 'alpha'"),
    ],
)
def test_type_rule_errors_name_the_op(name, types, attrs, message):
    with pytest.raises(ShapeError, match=message):
        _build(name, types, **attrs)


def test_unknown_attribute_is_refused():
    with pytest.raises(KilnError, match="kiln.softmax: unknown attribute 'axes'"):
        _build("softmax", [F], axes=[1])
