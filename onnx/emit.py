"""Each kiln op as ONNX nodes: the table the exporter (export.py) walks with.

An emitter takes the graph being written and one op, and returns the ONNX
names of the op's results. An op whose ONNX type takes it as it is (the
elementwise ops) is written under the type its declaration names
(`@op(..., onnx="Relu")`); the others say here how their attributes become
ONNX attributes and inputs. kiln's images are NHWC and its filters HWIO, ONNX's
NCHW and OIHW: a convolution or pool is written between two Transposes (one
of which cancels against a transpose that the ONNX importer put there). kiln.scan,
kiln.while and kiln.if become ONNX Scan, Loop and If, their regions subgraphs. A
composite op with no entry here is decomposed first (its `decompose`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.core import Operation, Value
from ..ir.dtypes import DType
from ..ir.ops.reduce import normalize_axes, normalize_axis
from ..ir.registry import OPS
from ..ir.types import TensorType
from ..passes.rewrite import constant_array, defining_op

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
HWIO_TO_OIHW = (3, 2, 0, 1)

Emitter = Callable[["OnnxGraph", Operation], list[str]]  # noqa: F821 (export.OnnxGraph)
EMITTERS: dict[str, Emitter] = {}
MIN_OPSET = {"kiln.gelu": 20}  # an ONNX op newer than opset 17: decomposed before it

# ops that ONNX's op of the declared name computes as they are, attributes and all
AS_DECLARED = [
    "kiln.abs",
    "kiln.neg",
    "kiln.sign",
    "kiln.relu",
    "kiln.exp",
    "kiln.log",
    "kiln.sqrt",
    "kiln.tanh",
    "kiln.sigmoid",
    "kiln.erf",
    "kiln.softplus",
    "kiln.selu",
    "kiln.add",
    "kiln.sub",
    "kiln.mul",
    "kiln.div",
    "kiln.pow",
    "kiln.max",
    "kiln.min",
    "kiln.equal",
    "kiln.less",
    "kiln.less_equal",
    "kiln.greater",
    "kiln.greater_equal",
    "kiln.logical_and",
    "kiln.logical_or",
    "kiln.logical_not",
    "kiln.select",
]


def emits(*names: str) -> Callable[[Emitter], Emitter]:
    def register(fn: Emitter) -> Emitter:
        for name in names:
            EMITTERS[name] = fn
        return fn

    return register


@emits(*AS_DECLARED)
def _as_declared(g, op):
    return g.node(type(op).onnx_name, g.inputs(op))


def _rank(v: Value) -> int:
    return v.type.rank


def emitter(op: Operation, opset: int) -> Emitter | None:
    """How `op` is written at `opset`, or None (then it is decomposed, if it can be)."""
    if opset < MIN_OPSET.get(op.name, 0):
        return None
    return EMITTERS.get(op.name)


# ------------------------------------------------------------------ elementwise


@emits("kiln.cast")
def _cast(g, op):
    return g.node("Cast", g.inputs(op), to=g.onnx_dtype(op.dtype))


@emits("kiln.elu", "kiln.leaky_relu")
def _alpha(g, op):
    return g.node(type(op).onnx_name, g.inputs(op), alpha=float(op.alpha))


@emits("kiln.relu6")
def _relu6(g, op):
    dtype = op.x.type.dtype.numpy
    return g.node("Clip", [g.name(op.x), g.const(np.array(0, dtype)), g.const(np.array(6, dtype))])


@emits("kiln.square")
def _square(g, op):
    x = g.name(op.x)
    return g.node("Mul", [x, x])


@emits("kiln.rsqrt")
def _rsqrt(g, op):
    return g.node("Reciprocal", g.node("Sqrt", [g.name(op.x)]))


@emits("kiln.stop_gradient")
def _identity(g, op):
    return g.node("Identity", [g.name(op.x)])


@emits("kiln.not_equal")
def _not_equal(g, op):
    return g.node("Not", g.node("Equal", g.inputs(op)))


@emits("kiln.gelu")
def _gelu(g, op):
    approximate = "tanh" if op.approximate else "none"
    return g.node("Gelu", [g.name(op.x)], approximate=approximate)


# ------------------------------------------------------------------ contractions and windows


@emits("kiln.matmul")
def _matmul(g, op):
    ins = []
    for v, swap in ((op.lhs, op.transpose_a), (op.rhs, op.transpose_b)):
        if not swap:
            ins.append(g.name(v))
            continue
        perm = list(range(_rank(v)))
        perm[-2:] = perm[-1], perm[-2]
        array = constant_array(v)
        if array is not None:
            ins.append(g.const(np.transpose(array, perm)))
        else:
            ins += g.node("Transpose", [g.name(v)], perm=perm)
    return g.node("MatMul", ins)


def _window_attrs(op: Operation) -> dict:
    attrs = {"strides": list(op.strides)}
    if op.padding == "SAME":
        attrs["auto_pad"] = "SAME_UPPER"  # TensorFlow's SAME: the odd pixel at the end
    elif op.padding == "EXPLICIT":
        top, bottom, left, right = op.explicit_padding
        attrs["pads"] = [top, left, bottom, right]
    return attrs


def _nchw(g, v: Value) -> str:
    """`v` (NHWC) as NCHW: the source of a transpose that made it NHWC, else a Transpose."""
    source = defining_op(v, "kiln.transpose")
    if source is not None and tuple(source.perm) == NCHW_TO_NHWC:
        return g.name(source.x)
    return g.cached("nchw", v, lambda: g.node("Transpose", [g.name(v)], perm=NHWC_TO_NCHW)[0])


def _nhwc(g, name: str) -> list[str]:
    return g.node("Transpose", [name], perm=list(NCHW_TO_NHWC))


@emits("kiln.conv2d")
def _conv2d(g, op):
    array = constant_array(op.filter)
    if array is not None:
        weights = g.const(np.ascontiguousarray(np.transpose(array, HWIO_TO_OIHW)))
    else:
        weights = g.node("Transpose", [g.name(op.filter)], perm=list(HWIO_TO_OIHW))[0]
    kh, kw = op.filter.type.shape[:2]
    out = g.node(
        "Conv",
        [_nchw(g, op.input), weights],
        kernel_shape=[kh, kw],
        dilations=list(op.dilations),
        **_window_attrs(op),
    )
    return _nhwc(g, out[0])


@emits("kiln.max_pool", "kiln.avg_pool")
def _pool(g, op):
    out = g.node(
        type(op).onnx_name,
        [_nchw(g, op.input)],
        kernel_shape=list(op.ksize),
        **_window_attrs(op),
    )
    return _nhwc(g, out[0])


# ------------------------------------------------------------------ reductions


def _reduce_axes(op: Operation) -> list[int] | None:
    if op.axes is None:
        return None
    return list(normalize_axes(op.axes, op.x.type.rank))


# the ops declared as ONNX's Reduce* ops (sum, mean, max, min, prod, logsumexp)
REDUCTIONS = [name for name, cls in OPS.items() if cls.onnx_name.startswith("Reduce")]


@emits(*REDUCTIONS)
def _reduce(g, op):
    onnx_type = type(op).onnx_name
    axes = _reduce_axes(op)
    keepdims = int(op.keepdims)
    if axes == []:  # nothing reduced (ONNX's empty axes mean all of them)
        return g.node("Identity", [g.name(op.x)])
    if axes is None:
        return g.node(onnx_type, [g.name(op.x)], keepdims=keepdims)
    if onnx_type == "ReduceSum" or g.opset >= 18:  # axes became an input
        return g.node(onnx_type, [g.name(op.x), g.ints(axes)], keepdims=keepdims)
    return g.node(onnx_type, [g.name(op.x)], axes=axes, keepdims=keepdims)


@emits("kiln.argmax", "kiln.argmin")
def _arg(g, op):
    out = g.node(
        type(op).onnx_name, [g.name(op.x)], axis=normalize_axis(op.axis, op.x.type.rank), keepdims=0
    )
    return _index_cast(g, out[0], op.index_dtype)


def _index_cast(g, name: str, dtype: DType) -> list[str]:
    """ONNX's indices are int64: cast to the op's index dtype."""
    if dtype is DType.i64:
        return [name]
    return g.node("Cast", [name], to=g.onnx_dtype(dtype))


@emits("kiln.softmax", "kiln.log_softmax")
def _softmax(g, op):
    return g.node(type(op).onnx_name, [g.name(op.x)], axis=int(op.axis))


@emits("kiln.cumsum")
def _cumsum(g, op):
    axis = g.const(np.array(normalize_axis(op.axis, op.x.type.rank), np.int64))
    return g.node(
        "CumSum",
        [g.name(op.x), axis],
        exclusive=int(op.exclusive),
        reverse=int(op.reverse),
    )


@emits("kiln.top_k")
def _top_k(g, op):
    values, indices = g.node(
        "TopK", [g.name(op.x), g.ints([op.k])], outputs=2, axis=-1, largest=1, sorted=1
    )
    return [values, *_index_cast(g, indices, op.index_dtype)]


# ------------------------------------------------------------------ data movement


@emits("kiln.reshape")
def _reshape(g, op):
    shape = list(op.shape)
    attrs = {"allowzero": 1} if 0 in shape else {}  # kiln's 0 is a size, not "copy"
    return g.node("Reshape", [g.name(op.x), g.ints(shape)], **attrs)


@emits("kiln.transpose")
def _transpose(g, op):
    return g.node("Transpose", [g.name(op.x)], perm=list(op.perm))


@emits("kiln.concat")
def _concat(g, op):
    return g.node("Concat", g.inputs(op), axis=normalize_axis(op.axis, op.type.rank))


@emits("kiln.slice")
def _slice(g, op):
    steps = list(op.steps) if op.steps is not None else [1] * len(op.axes)
    ins = [g.name(op.x), g.ints(op.starts), g.ints(op.stops), g.ints(op.axes), g.ints(steps)]
    return g.node("Slice", ins)


@emits("kiln.pad")
def _pad(g, op):
    value = g.const(np.array(op.value, op.x.type.dtype.numpy))
    return g.node("Pad", [g.name(op.x), g.ints([*op.low, *op.high]), value], mode="constant")


@emits("kiln.gather")
def _gather(g, op):
    return g.node("Gather", g.inputs(op), axis=normalize_axis(op.axis, op.params.type.rank))


@emits("kiln.gather_elements", "kiln.scatter_elements")
def _elements(g, op):
    attrs = {"axis": normalize_axis(op.axis, op.x.type.rank)}
    if op.name == "kiln.scatter_elements" and op.reduction != "none":
        attrs["reduction"] = op.reduction
    return g.node(type(op).onnx_name, g.inputs(op), **attrs)


@emits("kiln.gather_nd")
def _gather_nd(g, op):
    return g.node("GatherND", g.inputs(op), batch_dims=int(op.batch_dims))


@emits("kiln.scatter_nd")
def _scatter_nd(g, op):
    attrs = {"reduction": op.reduction} if op.reduction != "none" else {}
    return g.node("ScatterND", g.inputs(op), **attrs)


@emits("kiln.expand_dims")
def _expand_dims(g, op):
    return g.node("Unsqueeze", [g.name(op.x), g.ints([op.axis])])


@emits("kiln.squeeze")
def _squeeze(g, op):
    return g.node("Squeeze", [g.name(op.x), g.ints(op.axes)])


@emits("kiln.broadcast_to")
def _broadcast_to(g, op):
    shape = [1 if d == -1 else d for d in op.shape]  # -1 keeps x's dim; Expand's 1 does too
    return g.node("Expand", [g.name(op.x), g.ints(shape)])


@emits("kiln.broadcast_like")
def _broadcast_like(g, op):
    return g.node("Expand", [g.name(op.x), g.node("Shape", [g.name(op.like)])[0]])


@emits("kiln.shape")
def _shape(g, op):
    return _index_cast(g, g.node("Shape", [g.name(op.x)])[0], op.dtype)


@emits("kiln.iota")
def _iota(g, op):
    return [g.const(op.reference())]


# ------------------------------------------------------------------ control flow


@emits("kiln.scan")
def _scan(g, op):
    """ONNX's Scan is kiln's: carried values then scanned inputs, the body a subgraph;
    reverse walks the inputs from the end and fills the outputs from the end too."""
    scanned, stacked = len(op.xs), len(op.results) - op.num_carried
    attrs = {"num_scan_inputs": scanned}
    if op.reverse:
        attrs["scan_input_directions"] = [1] * scanned
        attrs["scan_output_directions"] = [1] * stacked
    body = g.subgraph(op.body, g.fresh("scan_body"))
    return g.node("Scan", g.inputs(op), outputs=len(op.results), body=body, **attrs)


@emits("kiln.if")
def _if(g, op):
    """ONNX's branches take no inputs: they see the args in the enclosing scope."""
    args = g.inputs(op)[1:]
    branches = {}
    for key, block in (("then_branch", op.then_block), ("else_branch", op.else_block)):
        sub = g.child()
        branches[key] = sub.finish(
            g.fresh(key), [], sub.inline(block, args), [r.type for r in op.results]
        )
    return g.node("If", [g.name(op.pred)], outputs=len(op.results), **branches)


@emits("kiln.while")
def _while(g, op):
    """ONNX's Loop tests its condition after each trip (and once before, here): its
    body is kiln's body then kiln's cond on the new values."""
    init = g.inputs(op)
    (first,) = g.inline(op.cond_block, init)
    sub = g.child()
    trip, keep_going = sub.fresh("trip"), sub.fresh("cond")
    carried = [sub.fresh(v.name or "carried") for v in op.init]
    inputs = [
        sub.onnx.helper.make_tensor_value_info(trip, sub.onnx.TensorProto.INT64, []),
        sub.onnx.helper.make_tensor_value_info(keep_going, sub.onnx.TensorProto.BOOL, []),
        *(sub.value_info(n, v.type, lambda i: None) for n, v in zip(carried, op.init)),
    ]
    after = sub.inline(op.body_block, carried)
    (again,) = sub.inline(op.cond_block, after)
    types = [TensorType(DType.bool, []), *(v.type for v in op.init)]
    body = sub.finish(g.fresh("loop_body"), inputs, [again, *after], types)
    bound = "" if op.max_iterations < 0 else g.const(np.array(op.max_iterations, np.int64))
    return g.node("Loop", [bound, first, *init], outputs=len(op.results), body=body)
