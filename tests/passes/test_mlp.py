"""The issue's yardstick: the forward pass of a 784-512-512-10 MLP with
softmax cross-entropy, through the whole pipeline. A good compiler forms
about one kernel per matmul plus one or two for the softmax and the loss.
"""

import numpy as np
import pytest

from kiln.ir import Builder, Module, TensorType, interpret
from kiln.passes import DEFAULT_PIPELINE, run_pipeline
from kiln.passes.plan import check_plan


def mlp_forward(batch) -> Module:
    m = Module()
    types = [TensorType("f32", [batch, 784]), TensorType("f32", [batch, 10])]
    names = ["x", "labels"]
    for i, (n_in, n_out) in enumerate([(784, 512), (512, 512), (512, 10)]):
        types += [TensorType("f32", [n_in, n_out]), TensorType("f32", [n_out])]
        names += [f"w{i}", f"b{i}"]
    f = m.add_function("forward", types, names)
    b = Builder.at_end(f.body)
    x, labels, *params = f.args
    h = x
    for i in range(3):
        h = b.add(b.matmul(h, params[2 * i]), params[2 * i + 1])
        if i < 2:
            h = b.relu(h)
    loss = b.reduce_mean(b.softmax_cross_entropy(h, labels))
    b.ret(loss)
    return m


def _count(module: Module) -> int:
    return sum(1 for op in module["forward"].walk())


@pytest.mark.parametrize("batch", [32, "?"])
def test_mlp_forward_kernels(batch):
    m = mlp_forward(batch)
    before_ops = _count(m)
    rng = np.random.default_rng(0)
    args = [
        rng.standard_normal((32, 784)).astype(np.float32),
        np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)],
    ]
    for n_in, n_out in [(784, 512), (512, 512), (512, 10)]:
        args += [
            (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32),
            rng.standard_normal(n_out).astype(np.float32) * 0.1,
        ]
    want = interpret(m, "forward", *args)[0]
    report = run_pipeline(m, DEFAULT_PIPELINE)
    check_plan(m["forward"])
    got = interpret(m, "forward", *args)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    kernels = report.stat("kernels")
    top_level = [op.name for op in m["forward"].ops]
    print(
        f"batch {batch}: {before_ops} ops before, {_count(m)} after (nested), "
        f"{len(top_level)} top level, {kernels} kernels\n{report}"
    )
    # 3 matmul kernels (bias, relu fused), the softmax cross-entropy row
    # kernel, and the mean over the batch
    assert kernels == 5
    assert top_level.count("kiln.fused") == 5
