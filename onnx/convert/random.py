"""The converters of ONNX's random ops: RandomUniform, RandomNormal and their
*Like forms, Bernoulli and Multinomial, on kiln.random (Philox draws, the same
numbers on every backend for one seed).

ONNX's `seed` is a float; absent, the numbers are the runtime's choice, and kiln
takes one from the node's name, so two unseeded nodes of a model draw
differently while one compiled model draws the same numbers each run (kiln has
no run-time random state)."""

from __future__ import annotations

import zlib

from ...ir.core import Value
from ...ir.dtypes import DType
from . import Context, Node, converter, dtype_of_elem
from .elementwise import like


def seed_of(node: Node) -> int:
    seed = node.attr("seed", None)
    if seed is None:
        return zlib.crc32(node.name.encode()) & 0x7FFFFFFF
    return int(seed) & 0x7FFFFFFF


def _dtype(ctx: Context, node: Node, default: DType) -> DType:
    elem = node.attr("dtype", None)
    dtype = dtype_of_elem(int(elem), node.name) if elem is not None else default
    if not dtype.is_float:
        raise ctx.error(node, f"random numbers are floating point, got dtype {dtype}")
    return dtype


def _draw(ctx: Context, node: Node, distribution: str, dtype: DType, like_v: Value | None,
          seed: int | None = None) -> Value:  # fmt: skip
    """U[low, high) or N(mean, scale) of the node's `shape`, or of like_v's shape."""
    b = ctx.b
    seed = seed_of(node) if seed is None else seed
    if like_v is not None:
        r = b.random(like_v, distribution=distribution, seed=seed, dtype=dtype)
    else:
        shape = [int(d) for d in node.attr("shape")]
        if min(shape, default=0) < 0:
            raise ctx.error(node, f"bad shape {shape}")
        r = b.random(distribution=distribution, seed=seed, dtype=dtype, shape=shape)
    if distribution == "uniform":
        low, high = float(node.attr("low", 0.0)), float(node.attr("high", 1.0))
        scale, shift = high - low, low
    else:
        scale, shift = float(node.attr("scale", 1.0)), float(node.attr("mean", 0.0))
    if scale != 1.0:
        r = b.mul(r, like(ctx, r, scale))
    if shift != 0.0:
        r = b.add(r, like(ctx, r, shift))
    return r


@converter("RandomUniform", 1)
def random_uniform(ctx: Context, node: Node) -> list[Value]:
    return [_draw(ctx, node, "uniform", _dtype(ctx, node, DType.f32), None)]


@converter("RandomNormal", 1)
def random_normal(ctx: Context, node: Node) -> list[Value]:
    return [_draw(ctx, node, "normal", _dtype(ctx, node, DType.f32), None)]


def _like_dtype(ctx: Context, node: Node) -> DType:
    x = node.inputs[0]
    return _dtype(ctx, node, x.type.dtype if x.type.dtype.is_float else DType.f32)


@converter("RandomUniformLike", 1)
def random_uniform_like(ctx: Context, node: Node) -> list[Value]:
    return [_draw(ctx, node, "uniform", _like_dtype(ctx, node), node.inputs[0])]


@converter("RandomNormalLike", 1)
def random_normal_like(ctx: Context, node: Node) -> list[Value]:
    return [_draw(ctx, node, "normal", _like_dtype(ctx, node), node.inputs[0])]


@converter("Bernoulli", 15)
def bernoulli(ctx: Context, node: Node) -> list[Value]:
    """1 where a U[0, 1) draw is below the probability x, else 0 (onnx's function)."""
    x, b = node.inputs[0], ctx.b
    if not x.type.dtype.is_float:
        raise ctx.error(node, f"the probabilities must be floating point, got {x.type}")
    elem = node.attr("dtype", None)
    out = dtype_of_elem(int(elem), node.name) if elem is not None else x.type.dtype
    u = b.random(x, distribution="uniform", seed=seed_of(node), dtype=x.type.dtype)
    return [b.cast(b.less(u, x), dtype=out)]


@converter("Multinomial", 7)
def multinomial(ctx: Context, node: Node) -> list[Value]:
    """`sample_size` class indices per row of unnormalised log-probabilities
    [batch, classes]: a U[0, 1) draw's index is the number of entries of the
    row's cumulative distribution at or below it (inverse-CDF sampling)."""
    x, b = node.inputs[0], ctx.b
    if x.type.rank != 2 or not x.type.dtype.is_float:
        raise ctx.error(node, f"expected float logits [batch, classes], got {x.type}")
    classes = x.type.shape[1]
    if not isinstance(classes, int):
        raise ctx.error(node, f"the class dim of {x.type} must be static")
    size = int(node.attr("sample_size", 1))
    elem = int(node.attr("dtype", 6))
    out = dtype_of_elem(elem, node.name)
    if elem not in (6, 7):
        raise ctx.error(node, f"the output must be int32 or int64, got {out}")
    cdf = b.cumsum(b.softmax(b.cast(x, dtype="f32"), axis=1), axis=1)
    rows = b.slice(x, axes=[1], starts=[0], stops=[1])  # [batch, 1]: the shape of a row
    draws = b.random(
        b.broadcast_to(rows, shape=[-1 if not isinstance(d, int) else d for d in
                                    (x.type.shape[0], size)]),
        distribution="uniform", seed=seed_of(node), dtype="f32",
    )  # fmt: skip
    # the last class takes what rounding leaves above cdf[-1]: compare the first C-1
    inner = b.slice(cdf, axes=[1], starts=[0], stops=[classes - 1])
    below = b.less_equal(b.expand_dims(inner, axis=1), b.expand_dims(draws, axis=2))
    return [b.reduce_sum(b.cast(below, dtype=out), axes=[2])]
