"""The kernel form: what `lower` makes of fused groups, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.codegen import CompileError, lower
from kiln.codegen.kernel import Compute, Load, Store, Sweep
from kiln.ir import Builder, Module, TensorType


def test_full_shape_operands_make_one_flat_axis(kernels):
    m, op = kernels.make_fused(
        ["?x10x3xf32", "?x10x3xf32", "f32"], lambda b, a: [b.relu(b.add(b.mul(a[0], a[2]), a[1]))]
    )
    k = lower(op)
    assert len(k.domain) == 1 and k.domain[0].origin == (0, 1, 2)
    assert str(k.domain[0].size) == "d0*30"
    loads = [x for x in k.body if isinstance(x, Load)]
    assert sorted(x.map for x in loads) == [(False,), (True,), (True,)]
    assert [x.op for x in k.body if isinstance(x, Compute)] == ["mul", "add", "max"]


def test_broadcast_axes_stay_apart(kernels):
    m, op = kernels.make_fused(["?x1x3xf32", "5x3xf32"], lambda b, a: [b.add(*a)])
    k = lower(op)
    assert [a.origin for a in k.domain] == [(0,), (1,), (2,)]
    assert k.params[0].axes == ((0,), (), (2,))
    m, op = kernels.make_fused(["4x5x3xf32", "5x3xf32"], lambda b, a: [b.add(*a)])
    assert [a.origin for a in lower(op).domain] == [(0,), (1, 2)]


def test_softmax_computes_exp_once_storing_it_in_the_output(kernels):
    """Three sweeps (max; sum of exp; exp / sum): exp is stored into the output
    by the second sweep and read back by the third instead of recomputed."""

    def softmax(b, a):
        e = b.exp(b.sub(a[0], b.reduce_max(a[0], axes=[1], keepdims=True)))
        return [b.div(e, b.reduce_sum(e, axes=[1], keepdims=True))]

    m, op = kernels.make_fused(["?x8xf32"], softmax, "reduction")
    k = lower(op)
    sweeps = [s for s in k.body if isinstance(s, Sweep)]
    assert [[r.kind for r in s.reductions] for s in sweeps] == [["max"], ["sum"], []]
    assert [x.op for x in sweeps[1].body if isinstance(x, Compute)] == ["sub", "exp"]
    assert [x.param for x in sweeps[1].body if isinstance(x, Store)] == [1]  # the output
    assert [x.op for x in sweeps[2].body if isinstance(x, Compute)] == ["div"]
    assert [x.param for x in sweeps[2].body if isinstance(x, Load)] == [1]
    assert isinstance(sweeps[-1].body[-1], Store)
    assert k.outputs[0].axes == ((0,), (1,))
    assert "sweep {" in str(k)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    kernels.check(m, op, x, rtol=1e-6)


def test_cheap_element_values_are_recomputed_not_stored(kernels):
    """x - mean is needed by two sweeps (variance, then the normalised output):
    recomputing a subtraction is cheaper than a store and a load."""

    def normalise(b, a):
        centred = b.sub(a[0], b.reduce_mean(a[0], axes=[1], keepdims=True))
        var = b.reduce_mean(b.square(centred), axes=[1], keepdims=True)
        return [b.mul(centred, var)]

    m, op = kernels.make_fused(["?x8xf32"], normalise, "reduction")
    sweeps = [s for s in lower(op).body if isinstance(s, Sweep)]
    assert not any(isinstance(x, Store) for s in sweeps[:-1] for x in s.body)
    assert [x.op for x in sweeps[2].body if isinstance(x, Compute)][0] == "sub"


def test_row_values_are_computed_once_per_row(kernels):
    m, op = kernels.make_fused(
        ["?x8xf32"], lambda b, a: [b.sqrt(b.reduce_sum(b.square(a[0]), axes=[1]))], "reduction"
    )
    k = lower(op)
    assert isinstance(k.body[0], Sweep)
    assert [x.op for x in k.body[1:] if isinstance(x, Compute)] == ["sqrt"]


def test_unsupported_kinds_ops_and_dtypes(kernels):
    m, op = kernels.make_fused(["4x4xf32", "4x4xf32"], lambda b, a: [b.matmul(*a)], "matmul")
    with pytest.raises(CompileError, match="matmul kernels are not supported"):
        lower(op)
    m, op = kernels.make_fused(["4x3xf32"], lambda b, a: [b.transpose(a[0], perm=[1, 0])])
    with pytest.raises(CompileError, match="kiln.transpose"):
        lower(op)
    m, op = kernels.make_fused(["4xf16"], lambda b, a: [b.exp(a[0])])
    with pytest.raises(CompileError, match="f16 is not supported"):
        lower(op)
    f = Module().add_function("f", [TensorType("f32", [3])])
    with pytest.raises(CompileError, match="expected a kiln.fused op"):
        lower(Builder.at_end(f.body).create("kiln.exp", f.args[0]))
