"""autodiff: every gradient rule against central differences through the
reference interpreter (float64), broadcasting and symbolic dims, graphs
that reuse values, deep graphs, second derivatives, and the errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from kiln.ir import (
    OPS,
    Builder,
    KilnError,
    Module,
    Operation,
    TensorType,
    dtype_of,
    interpret,
    parse,
)
from kiln.ir.registry import has_gradient_rule
from kiln.passes import run_pipeline
from kiln.passes.autodiff import differentiate

rng = np.random.default_rng(0)


def normal(*shape):
    return np.asarray(rng.standard_normal(shape))


def positive(*shape):
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def away_from_zero(*shape):
    """Values at least 0.3 from 0, where relu, abs and friends have kinks."""
    return np.asarray(rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape))


def distinct(*shape):
    """Values 0.1 apart at least, so a max or a max pool picks one element."""
    return (rng.permutation(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape)


def build(args: Sequence[np.ndarray], body: Callable, types: Sequence[TensorType] = ()) -> Module:
    """A module with @f(args...) = body(builder, *arguments); `types`, when given,
    are the argument types instead of the arrays'."""
    m = Module()
    types = list(types) or [TensorType(dtype_of(a.dtype), a.shape) for a in args]
    f = m.add_function("f", types, [f"a{i}" for i in range(len(types))])
    b = Builder.at_end(f.body)
    out = body(b, *f.args)
    b.ret(*(out if isinstance(out, tuple) else (out,)))
    return m.verify()


def numeric_gradient(loss: Callable, args: list[np.ndarray], i: int, eps: float) -> np.ndarray:
    out = np.zeros_like(args[i])
    for index in np.ndindex(args[i].shape):
        shifted = []
        for sign in (1, -1):
            moved = [a.copy() for a in args]
            moved[i][index] += sign * eps
            shifted.append(loss(moved))
        out[index] = (shifted[0] - shifted[1]) / (2 * eps)
    return out


def check_gradients(
    m: Module,
    args: Sequence[np.ndarray],
    wrt: Sequence[int] | None = None,
    eps: float = 1e-6,
    tol: float = 1e-6,
    name: str = "f",
) -> Module:
    """@<name>_grad, seeded with random cotangents v, against central differences of
    sum(v * <name>(args)); also checks that the module verifies and round-trips."""
    args = list(args)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    outs = interpret(m, name, *args)
    seeds = [normal(*o.shape) for o in outs]
    grad = differentiate(m, name, wrt, of=range(len(outs)), seeds=True)
    m.verify()
    assert parse(str(m)) == m
    got = interpret(m, grad.name, *args, *seeds)
    for want, have in zip(outs, got):  # a composite op's decomposition may round differently
        np.testing.assert_allclose(have, want, rtol=1e-12)

    def loss(xs):
        return sum(float(np.sum(s * o)) for s, o in zip(seeds, interpret(m, name, *xs)))

    for k, i in enumerate(wrt):
        np.testing.assert_allclose(
            got[len(outs) + k],
            numeric_gradient(loss, args, i, eps),
            rtol=tol,
            atol=tol,
            err_msg=f"gradient of argument {i}",
        )
    return m


@dataclass
class Case:
    name: str
    args: list[np.ndarray]
    body: Callable
    tol: float = 1e-6
    eps: float = 1e-6
    second_order: bool = True  # False: the gradient is not differentiable at these inputs


def f64(b, value):
    return b.constant(value, "f64")


def op_case(name, args, label="", **attrs):
    """`kiln.<name>` of `args`."""
    return Case(label or name, args, lambda b, *xs: getattr(b, name)(*xs, **attrs))


def unary(name, sample=normal, **attrs):
    return op_case(name, [sample(3, 4)], **attrs)


def matmul(a_shape, b_shape, **attrs):
    label = f"matmul {a_shape}x{b_shape} {' '.join(attrs)}"
    return op_case("matmul", [normal(*a_shape), normal(*b_shape)], label, **attrs)


def conv(x_shape, w_shape, **attrs):
    return op_case("conv2d", [normal(*x_shape), normal(*w_shape)], f"conv2d {attrs}", **attrs)


def pool(name, **attrs):
    return op_case(name, [distinct(2, 5, 5, 2)], f"{name} {attrs}", **attrs)


def near_pair(*shape):
    x = normal(*shape)
    return [x, x + away_from_zero(*shape)]


def with_zeros(*zeros):
    x = positive(3, 4)
    for index in zeros:
        x[index] = 0.0
    return x


POOL = {"ksize": [3, 3], "strides": [2, 2], "padding": "SAME"}

CASES = [
    *(unary(n) for n in ("neg", "square", "exp", "tanh", "sigmoid")),
    *(unary(n, away_from_zero) for n in ("abs", "sign", "relu", "elu")),
    *(unary(n, positive) for n in ("log", "sqrt", "rsqrt")),
    Case("elu alpha", [away_from_zero(3, 4)], lambda b, x: b.elu(x, alpha=0.5)),
    Case("add bias", [normal(4, 3), normal(3)], lambda b, x, y: b.add(x, y)),
    Case("add both broadcast", [normal(4, 1), normal(1, 3)], lambda b, x, y: b.add(x, y)),
    Case("sub scalar", [normal(2, 3), normal()], lambda b, x, y: b.sub(x, y)),
    Case("mul", [normal(2, 3, 4), normal(3, 1)], lambda b, x, y: b.mul(x, y)),
    Case("div", [normal(2, 3), positive(3)], lambda b, x, y: b.div(x, y)),
    Case("pow", [positive(2, 3), normal(3)], lambda b, x, y: b.pow(x, y)),
    Case("max", near_pair(3, 4), lambda b, x, y: b.max(x, y)),
    Case("min", near_pair(3, 4), lambda b, x, y: b.min(x, y)),
    Case(
        "select", [normal(3, 4) > 0, normal(3, 4), normal(4)], lambda b, c, x, y: b.select(c, x, y)
    ),
    Case(
        "cast f64 -> f32 -> f64",
        [normal(3)],
        tol=1e-4,
        eps=1e-3,
        body=lambda b, x: b.cast(b.mul(b.cast(x, dtype="f32"), b.constant(3.0)), dtype="f64"),
    ),
    Case("reduce_sum axis", [normal(3, 4)], lambda b, x: b.reduce_sum(x, axes=[1])),
    Case(
        "reduce_sum keepdims",
        [normal(2, 3, 4)],
        lambda b, x: b.reduce_sum(x, axes=[0, 2], keepdims=True),
    ),
    Case("reduce_sum all", [normal(3, 4)], lambda b, x: b.reduce_sum(x)),
    Case("reduce_mean", [normal(2, 3, 4)], lambda b, x: b.reduce_mean(x, axes=[0, 2])),
    Case("reduce_max", [distinct(3, 4)], lambda b, x: b.reduce_max(x, axes=[1])),
    Case(
        "reduce_min keepdims",
        [distinct(3, 4)],
        lambda b, x: b.reduce_min(x, axes=[0], keepdims=True),
    ),
    Case("reduce_prod", [positive(3, 4)], lambda b, x: b.reduce_prod(x, axes=[1])),
    Case(
        "reduce_prod one zero",
        [with_zeros((0, 1), (2, 3))],
        lambda b, x: b.reduce_prod(x, axes=[1]),
    ),
    Case(
        "reduce_prod two zeros",
        [with_zeros((1, 0), (1, 2))],
        second_order=False,
        body=lambda b, x: b.reduce_prod(x, axes=[1]),
    ),
    matmul((3, 4), (4, 2)),
    matmul((4, 3), (4, 2), transpose_a=True),
    matmul((3, 4), (2, 4), transpose_b=True),
    matmul((4, 3), (2, 4), transpose_a=True, transpose_b=True),
    matmul((2, 3, 4), (4, 5)),
    matmul((2, 1, 3, 4), (3, 5, 4), transpose_b=True),
    matmul((4,), (4, 2)),
    matmul((3, 4), (4,)),
    matmul((4,), (4,)),
    matmul((2, 3, 4), (4,)),
    matmul((4,), (2, 4, 3)),
    Case("reshape", [normal(2, 3, 4)], lambda b, x: b.reshape(x, shape=[4, -1])),
    Case("transpose", [normal(2, 3, 4)], lambda b, x: b.transpose(x, perm=[2, 0, 1])),
    Case(
        "concat", [normal(2, 1), normal(2, 3), normal(2, 2)], lambda b, *xs: b.concat(*xs, axis=1)
    ),
    Case(
        "slice steps",
        [normal(5, 7)],
        lambda b, x: b.slice(x, axes=[0, 1], starts=[1, -6], stops=[4, 100], steps=[1, 2]),
    ),
    Case(
        "slice negative step",
        [normal(7, 2)],
        lambda b, x: b.slice(x, axes=[0], starts=[5], stops=[0], steps=[-2]),
    ),
    Case("pad", [normal(2, 3)], lambda b, x: b.pad(x, low=[1, 0], high=[0, 2], value=3.0)),
    Case(
        "gather repeated",
        [normal(5, 3), np.array([[0, 2], [2, 4]])],
        lambda b, p, i: b.gather(p, i),
    ),
    Case(
        "gather axis 1", [normal(2, 4), np.array([3, 0, 3])], lambda b, p, i: b.gather(p, i, axis=1)
    ),
    Case(
        "scatter_add",
        [normal(5, 3), np.array([1, 1, 4]), normal(3, 3)],
        lambda b, x, i, u: b.scatter_add(x, i, u),
    ),
    Case("expand_dims", [normal(3, 4)], lambda b, x: b.expand_dims(x, axis=-1)),
    Case("squeeze", [normal(3, 1, 4, 1)], lambda b, x: b.squeeze(x, axes=[1, -1])),
    Case("broadcast_to", [normal(4, 1)], lambda b, x: b.broadcast_to(x, shape=[2, 4, 3])),
    Case("broadcast_like", [normal(3), normal(2, 3)], lambda b, x, y: b.broadcast_like(x, y)),
    Case(
        "random like",
        [normal(3, 4)],
        lambda b, x: b.mul(x, b.random(x, distribution="normal", seed=7, dtype="f64")),
    ),
    conv((2, 5, 6, 3), (3, 2, 3, 2)),
    conv((2, 5, 6, 3), (3, 3, 3, 2), strides=[2, 2], padding="SAME"),
    conv((1, 7, 6, 2), (2, 3, 2, 2), dilations=[2, 1], strides=[1, 2]),
    conv(
        (1, 6, 7, 2),
        (3, 2, 2, 3),
        strides=[2, 3],
        padding="EXPLICIT",
        explicit_padding=[1, 2, 0, 1],
    ),
    conv((1, 4, 4, 1), (2, 2, 1, 1), padding="EXPLICIT", explicit_padding=[3, 0, 0, 2]),
    conv((2, 5, 4, 3), (1, 1, 3, 4)),  # 1x1: the filter gradient is one matmul
    conv((2, 5, 6, 3), (1, 1, 3, 2), strides=[2, 3], padding="SAME"),
    pool("max_pool", ksize=[2, 2], strides=[2, 2]),
    pool("max_pool", **POOL),
    pool("avg_pool", **POOL),
    pool("avg_pool", ksize=[2, 3]),
    op_case("max_pool_grad", [distinct(2, 5, 5, 2), normal(2, 3, 3, 2)], **POOL),
    op_case("max_pool_grad_grad", [distinct(2, 5, 5, 2), normal(2, 5, 5, 2)], **POOL),
    op_case("avg_pool_grad", [normal(2, 5, 5, 2), normal(2, 3, 3, 2)], **POOL),
    unary("erf"),
    unary("print", message="value"),
]

# Composite ops (ir/ops/nn.py), by their rule or through their decomposition,
# against differences of their reference.
COMPOSITES = [
    unary("softmax"),
    unary("log_softmax", axis=0),
    op_case("logsumexp", [normal(3, 4)], axes=[1]),
    op_case("softmax_cross_entropy", [normal(3, 4), positive(3, 4)]),
    op_case("softmax_cross_entropy", [normal(3, 4), positive(1, 4)], "broadcast labels"),
    op_case("sparse_softmax_cross_entropy", [normal(2, 3, 4), np.array([[0, 3, 1], [2, 2, 0]])]),
    op_case("sigmoid_cross_entropy", [normal(3, 4), rng.uniform(0, 1, (3, 4))]),
    unary("l2_loss"),
    op_case("layer_norm", [normal(3, 4), normal(4), normal(4)]),
    op_case("batch_norm", [normal(3, 4), normal(4), positive(4), normal(4), normal(4)]),
    unary("softplus", away_from_zero),
    unary("relu6", lambda *s: 3 * away_from_zero(*s)),
    unary("leaky_relu", away_from_zero),
    unary("selu", away_from_zero),
    unary("gelu"),
    unary("gelu", approximate=True),
]


@pytest.mark.parametrize("case", CASES + COMPOSITES, ids=lambda c: c.name)
def test_rule_matches_finite_differences(case: Case):
    check_gradients(build(case.args, case.body), case.args, eps=case.eps, tol=case.tol)


def test_every_op_has_a_rule_or_is_marked():
    driver = {"kiln.call", "kiln.return", "kiln.yield", "kiln.fused"}  # inlined, ends, after fuse
    missing = [
        name
        for name, cls in OPS.items()
        if not has_gradient_rule(cls)
        and name not in driver
        and cls.decompose is Operation.decompose
    ]
    assert not missing, f"ops without a gradient rule: {missing}"


# ------------------------------------------------------------------ graphs


def test_symbolic_batch_dims():
    m = parse("""
func @f(%x: tensor<Nx3xf64>, %w: tensor<3x2xf64>, %b: tensor<2xf64>, %c: tensor<?x2xf64>)
    -> tensor<f64> {
  %0 = kiln.matmul %x, %w : (tensor<Nx3xf64>, tensor<3x2xf64>) -> tensor<Nx2xf64>
  %1 = kiln.add %0, %b : (tensor<Nx2xf64>, tensor<2xf64>) -> tensor<Nx2xf64>
  %2 = kiln.mul %1, %c : (tensor<Nx2xf64>, tensor<?x2xf64>) -> tensor<?x2xf64>
  %3 = kiln.tanh %2 : tensor<?x2xf64>
  %4 = kiln.reduce_mean %3 {axes = [0]} : (tensor<?x2xf64>) -> tensor<2xf64>
  %5 = kiln.reduce_max %4 : (tensor<2xf64>) -> tensor<f64>
  kiln.return %5 : tensor<f64>
}""")
    check_gradients(m, [normal(4, 3), normal(3, 2), normal(2), normal(4, 2)])
    assert m["f_grad"].result_types[1:] == m["f"].arg_types


def test_symbolic_shape_ops():
    n3, n5 = TensorType("f64", ["N", 3]), TensorType("f64", ["N", 5, 5, 2])

    def body(b, x, y, image, w):
        joined = b.concat(y, x, y, axis=0)  # (N + 4, 3): one piece of symbolic size
        cut = b.slice(b.pad(joined, low=[1, 0], high=[2, 1]), axes=[0], starts=[2], stops=[-1])
        pooled = b.max_pool(b.conv2d(image, w, strides=[2, 2], padding="SAME"), ksize=[2, 2])
        return b.add(b.reduce_sum(b.mul(cut, cut)), b.reduce_sum(pooled))

    types = [n3, TensorType("f64", [2, 3]), n5, TensorType("f64", [2, 2, 2, 3])]
    args = [normal(3, 3), normal(2, 3), normal(3, 5, 5, 2), normal(2, 2, 2, 3)]
    check_gradients(build([], body, types), args)


def test_broadcasting_is_undone_once_by_the_driver():
    """Golden: the bias (3) and scale (1x3) cotangents are summed over the batch
    by the driver; the rules of add and mul know nothing of broadcasting."""
    m = parse("""
func @f(%x: tensor<Nx3xf32>, %b: tensor<3xf32>, %s: tensor<1x3xf32>) -> tensor<Nx3xf32> {
  %0 = kiln.add %x, %b : (tensor<Nx3xf32>, tensor<3xf32>) -> tensor<Nx3xf32>
  %1 = kiln.mul %0, %s : (tensor<Nx3xf32>, tensor<1x3xf32>) -> tensor<Nx3xf32>
  kiln.return %1 : tensor<Nx3xf32>
}""")
    differentiate(m, "f", [0, 1, 2], seeds=True)
    assert (
        str(m["f_grad"]).splitlines()[3:]
        == """\
  %2 = kiln.mul %seed0, %s : (tensor<Nx3xf32>, tensor<1x3xf32>) -> tensor<Nx3xf32>
  %3 = kiln.mul %seed0, %0 : tensor<Nx3xf32>
  %4 = kiln.reduce_sum %3 {axes = [0], keepdims = true} : (tensor<Nx3xf32>) -> tensor<1x3xf32>
  %5 = kiln.reduce_sum %2 {axes = [0]} : (tensor<Nx3xf32>) -> tensor<3xf32>
  kiln.return %1, %2, %5, %4 : (tensor<Nx3xf32>, tensor<Nx3xf32>, tensor<3xf32>, \
tensor<1x3xf32>) -> ()
}""".splitlines()
    )


def test_value_used_twice():
    """reduce_sum(x + sigmoid(x)): x's cotangent has two parts to add up."""
    m = build([normal(5)], lambda b, x: b.reduce_sum(b.add(x, b.sigmoid(x))))
    x = normal(5)
    differentiate(m, "f", [0])
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(interpret(m, "f_grad", x)[1], 1 + s * (1 - s), rtol=1e-12)


def test_deep_chain_does_not_recurse():
    def body(b, x):
        for _ in range(1000):
            x = b.add(b.mul(x, f64(b, 1.0005)), f64(b, 0.001))
        return b.reduce_sum(x)

    m = build([normal(2)], body)
    differentiate(m, "f", [0])
    m.verify()
    (_, grad) = interpret(m, "f_grad", np.ones(2))
    np.testing.assert_allclose(grad, np.full(2, 1.0005**1000), rtol=1e-9)


def test_second_derivative_of_tanh():
    m = build([normal()], lambda b, x: b.tanh(x))
    differentiate(m, "f", [0])
    differentiate(m, "f_grad", [0], of=[1], name="f_hess")
    x = np.float64(0.7)
    y, dy, d2y = interpret(m, "f_hess", x)
    t = np.tanh(x)
    np.testing.assert_allclose([y, dy, d2y], [t, 1 - t * t, -2 * t * (1 - t * t)], rtol=1e-12)


@pytest.mark.parametrize(
    "cube",
    [
        lambda b, x: b.pow(x, f64(b, 3.0)),
        lambda b, x: b.mul(b.mul(x, x), x),
    ],
    ids=["pow", "mul"],
)
def test_second_and_third_derivative_of_cube(cube):
    m = build([normal()], cube)
    differentiate(m, "f", [0])
    differentiate(m, "f_grad", [0], of=[1])
    differentiate(m, "f_grad_grad", [0], of=[2])
    x = 1.3
    assert np.allclose(
        interpret(m, "f_grad_grad_grad", np.float64(x)), [x**3, 3 * x * x, 6 * x, 6.0], rtol=1e-12
    )


def test_hessian_vector_product_of_a_layer():
    """Second order through matmul, broadcasting and reductions, against differences
    of the first-order gradient."""
    m = build(
        [normal(4, 3), normal(3, 2), normal(2)],
        lambda b, x, w, c: b.reduce_mean(b.sigmoid(b.add(b.matmul(x, w), c))),
    )
    differentiate(m, "f", [1, 2])
    check_gradients(
        m, [normal(4, 3), normal(3, 2), normal(2)], wrt=[0, 1, 2], tol=1e-5, name="f_grad"
    )


def test_unused_argument_gets_zeros():
    m = parse("""
func @f(%x: tensor<Nx3xf64>, %y: tensor<?x2xf64>) -> tensor<f64> {
  %0 = kiln.reduce_sum %x : (tensor<Nx3xf64>) -> tensor<f64>
  kiln.return %0 : tensor<f64>
}""")
    grad = differentiate(m, "f", [0, 1])
    m.verify()
    assert grad.result_types[1:] == grad.arg_types
    _, dx, dy = interpret(m, "f_grad", normal(4, 3), normal(5, 2))
    np.testing.assert_array_equal(dx, np.ones((4, 3)))
    np.testing.assert_array_equal(dy, np.zeros((5, 2)))


def test_only_ops_on_a_path_are_differentiated():
    """d/dx sum(x * exp(c)): no cotangent for c, nothing built for exp."""
    m = build([normal(3), normal(3)], lambda b, x, c: b.reduce_sum(b.mul(x, b.exp(c))))
    grad = differentiate(m, "f", [0])
    backward = [op.name for op in grad.ops[len(m["f"].ops) - 1 :]]
    assert backward == ["kiln.constant", "kiln.broadcast_like", "kiln.mul", "kiln.return"]


def test_integer_paths_carry_no_gradient():
    """argmax and a cast to an integer are not differentiated; gather still is."""

    def body(b, x):
        picked = b.gather(x, b.argmax(x, axis=0))
        as_int = b.cast(b.cast(x, dtype="i64"), dtype="f64")
        return b.reduce_sum(b.add(b.mul(picked, picked), as_int))

    x = np.array([0.3, 2.5, -1.0])
    m = build([x], body)
    differentiate(m, "f", [0])
    np.testing.assert_array_equal(interpret(m, "f_grad", x)[1], [0.0, 15.0, 0.0])


def test_stop_gradient_is_a_constant():
    """d/dx sum(x * stop_gradient(x)) = stop_gradient(x) = x."""
    m = build([normal(3)], lambda b, x: b.reduce_sum(b.mul(x, b.stop_gradient(x))))
    differentiate(m, "f", [0])
    x = normal(3)
    np.testing.assert_array_equal(interpret(m, "f_grad", x)[1], x)


def test_reduce_max_shares_ties():
    m = build([normal(3)], lambda b, x: b.reduce_max(x))
    differentiate(m, "f", [0])
    np.testing.assert_array_equal(
        interpret(m, "f_grad", np.array([1.0, 3.0, 3.0]))[1], [0.0, 0.5, 0.5]
    )


def test_calls_are_inlined():
    m = parse("""
func @square_sum(%v: tensor<3xf64>) -> tensor<f64> {
  %0 = kiln.mul %v, %v : tensor<3xf64>
  %1 = kiln.reduce_sum %0 : (tensor<3xf64>) -> tensor<f64>
  kiln.return %1 : tensor<f64>
}

func @inner(%v: tensor<3xf64>) -> tensor<f64> {
  %0 = kiln.call %v {callee = @square_sum} : (tensor<3xf64>) -> tensor<f64>
  kiln.return %0 : tensor<f64>
}

func @f(%x: tensor<3xf64>) -> tensor<f64> {
  %0 = kiln.call %x {callee = @inner} : (tensor<3xf64>) -> tensor<f64>
  kiln.return %0 : tensor<f64>
}""")
    grad = check_gradients(m, [normal(3)])["f_grad"]
    assert "kiln.call" not in {op.name for op in grad.ops}


def test_composite_without_rule_is_decomposed(monkeypatch):
    square = OPS["kiln.square"]
    monkeypatch.setattr(square, "decompose", lambda op, b: b.mul(op.x, op.x), raising=False)
    monkeypatch.delattr(square, "vjp")
    m = check_gradients(build([normal(4)], lambda b, x: b.square(x)), [normal(4)])
    assert "kiln.square" not in {op.name for op in m["f_grad"].ops}


def test_op_without_rule_is_an_error(monkeypatch):
    monkeypatch.delattr(OPS["kiln.tanh"], "vjp")
    m = build([normal(3)], lambda b, x: b.reduce_sum(b.tanh(x)))
    with pytest.raises(KilnError, match=r"kiln.tanh has no gradient rule"):
        differentiate(m, "f", [0])


def test_fused_ops_are_not_differentiated():
    m = build([normal(3)], lambda b, x: b.reduce_sum(b.tanh(b.exp(x))))
    run_pipeline(m, "fuse")
    with pytest.raises(KilnError, match=r"kiln.fused has no gradient rule"):
        differentiate(m, "f", [0])


def test_bad_requests_are_errors():
    m = build([normal(3), np.arange(3)], lambda b, x, i: (b.exp(x), b.reduce_sum(x), i))
    with pytest.raises(KilnError, match=r"result 0 is tensor<3xf64>, not a scalar"):
        differentiate(m, "f", [0])
    with pytest.raises(KilnError, match=r"argument 1 is tensor<3xi64>"):
        differentiate(m, "f", [1], of=[1])
    with pytest.raises(KilnError, match=r"result 2 is tensor<3xi64>"):
        differentiate(m, "f", [0], of=[2], seeds=True)
    with pytest.raises(KilnError, match=r"wrt=\[5\]: expected indices in \[0, 2\)"):
        differentiate(m, "f", [5])
    differentiate(m, "f", 0, of=1)
    with pytest.raises(KilnError, match=r"already has a function @f_grad"):
        differentiate(m, "f", [0], of=[1])


def test_filter_gradient_needs_static_spatial_dims():
    types = [TensorType("f64", [1, "?", "?", 2]), TensorType("f64", [3, 3, 2, 1])]
    m = build([], lambda b, x, w: b.reduce_sum(b.conv2d(x, w, padding="SAME")), types)
    differentiate(m, "f", [0], name="input_only")  # stride 1: the input gradient is fine
    x, w = normal(1, 4, 5, 2), normal(3, 3, 2, 1)
    want = interpret(m, "input_only", x, w)[1]
    assert want.shape == x.shape
    with pytest.raises(KilnError, match=r"kiln.conv2d: its filter gradient needs static output"):
        differentiate(m, "f", [1])


def test_recursive_calls_are_an_error():
    m = parse("""
func @f(%x: tensor<f64>) -> tensor<f64> {
  %0 = kiln.call %x {callee = @f} : (tensor<f64>) -> tensor<f64>
  kiln.return %0 : tensor<f64>
}""")
    with pytest.raises(KilnError, match=r"@f calls itself"):
        differentiate(m, "f", [0])


@pytest.mark.parametrize(
    "case", [c for c in CASES + COMPOSITES if c.second_order], ids=lambda c: c.name
)
def test_gradient_of_gradient_matches_finite_differences(case: Case):
    """Every op a rule builds has a rule: differentiate @f_grad (arguments and
    seeds) and check it against differences of @f_grad itself (cases whose
    gradient has a kink at their inputs say second_order=False)."""
    m = build(case.args, case.body)
    outs = interpret(m, "f", *case.args)
    differentiate(
        m,
        "f",
        [i for i, a in enumerate(case.args) if a.dtype.kind == "f"],
        of=range(len(outs)),
        seeds=True,
    )
    check_gradients(
        m,
        [*case.args, *(normal(*o.shape) for o in outs)],
        name="f_grad",
        eps=case.eps,
        tol=10 * case.tol,
    )
