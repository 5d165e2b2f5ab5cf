"""The graph-building functions users call: kl.constant, kl.add, kl.matmul, ...

Each mirrors TensorFlow's function of the same name and signature and adds
one node (or a few) to the default graph. A node names the IR op it lowers
to; the op's type rule gives the output's static shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import Dense, TensorType
from .dtypes import DType, as_dtype, bool_, float32, float64, int32, int64, string
from .graph import GraphError, Operation, Tensor, TensorShape, get_default_graph

# ------------------------------------------------------------------ conversion


def _default_dtype(array: np.ndarray) -> DType:
    """TensorFlow's choice for Python values: int32, float32, bool."""
    if array.dtype.kind == "f" and array.dtype != np.float64:
        return as_dtype(array.dtype)
    if array.dtype.kind in "iu" and array.size:  # ints beyond int32 are int64, as in TF
        info = np.iinfo(np.int32)
        if array.min() < info.min or array.max() > info.max:
            return int64
    return {"i": int32, "u": int32, "f": float32, "b": bool_}.get(array.dtype.kind) or as_dtype(
        array.dtype
    )


def constant(
    value: Any,
    dtype: Any = None,
    shape: Sequence[int] | None = None,
    name: str = "Const",
    verify_shape: bool = False,
) -> Tensor:
    """A constant tensor (tf.constant): Python ints become int32 and floats
    float32 unless `dtype` says otherwise; numpy arrays keep their dtype."""
    if isinstance(value, Tensor):
        raise GraphError(f"kl.constant({value.name}): the value is already a tensor")
    array = np.asarray(value, dtype=object) if _first_leaf_is_text(value) else np.asarray(value)
    if (dtype is not None and as_dtype(dtype).is_string) or (dtype is None and _is_text(array)):
        return _string_constant(array, shape, name)
    if array.dtype == object:
        raise GraphError(f"kl.constant: cannot make a tensor from {value!r}")
    if dtype is not None:
        dt = as_dtype(dtype)
    elif isinstance(value, np.ndarray | np.generic):
        dt = as_dtype(array.dtype)
    else:
        dt = _default_dtype(array)
    if dt.is_integer and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise GraphError(f"kl.constant: {value!r} is not exactly representable as {dt.name}")
    array = array.astype(dt.ir.numpy)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if array.size == 1:
            array = np.broadcast_to(array.reshape(()), shape)
        elif array.size == int(np.prod(shape)) and not verify_shape:
            array = array.reshape(shape)
        else:
            raise GraphError(f"kl.constant: {array.size} values do not fill shape {list(shape)}")
    dense = Dense(array, TensorType(dt.ir, array.shape))
    op = get_default_graph().create_op(
        "Const",
        [],
        name=name,
        attrs={"value": array, "dtype": dt},
        ir_op="kiln.constant",
        ir_attrs={"value": dense},
    )
    return op.outputs[0]


def _first_leaf_is_text(value: Any) -> bool:
    """Whether a (nested) list holds strings: numpy's "S" dtype would drop their
    trailing NUL bytes, so such lists become object arrays."""
    while isinstance(value, list | tuple) and value:
        value = value[0]
    return isinstance(value, str | bytes)


def _is_text(array: np.ndarray) -> bool:
    if array.dtype.kind in "US":
        return True
    return array.dtype == object and all(isinstance(v, str | bytes) for v in array.flat)


def to_bytes(value: Any, what: str = "kl.constant") -> np.ndarray:
    """`value` as TensorFlow holds strings: an object array of bytes (str as UTF-8)."""
    array = np.asarray(value, dtype=object)
    out = np.empty(array.shape, dtype=object)
    for i, v in np.ndenumerate(array):
        if isinstance(v, np.str_ | str):
            v = str(v).encode()
        elif isinstance(v, np.bytes_ | bytes):
            v = bytes(v)
        else:
            raise GraphError(f"{what}: {v!r} is not a string (a tf.string holds str or bytes)")
        out[i] = v
    return out


def _string_constant(array: np.ndarray, shape: Sequence[int] | None, name: str) -> Tensor:
    """A string Const: a host op (strings never enter the IR; see session.py)."""
    value = to_bytes(array)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        value = np.broadcast_to(value.reshape(()), shape).copy() if value.size == 1 else value
        if value.shape != shape:
            raise GraphError(f"kl.constant: {value.size} strings do not fill shape {list(shape)}")
    op = get_default_graph().create_op(
        "Const",
        [],
        name=name,
        attrs={"value": value, "dtype": string, "_host_fn": lambda: [value]},
        output_types=[(string, TensorShape(value.shape))],
    )
    return op.outputs[0]


def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None) -> Tensor:
    """A Tensor for `value`: tensors and variables as they are, other values as constants."""
    if hasattr(value, "_as_tensor"):
        value = value._as_tensor()
    if isinstance(value, Tensor):
        if dtype is not None and as_dtype(dtype) is not value.dtype:
            raise GraphError(
                f"tensor {value.name} has dtype {value.dtype.name}, expected {as_dtype(dtype).name}"
            )
        return value
    if isinstance(value, list | tuple) and _holds_tensor(value):
        return _autopack(value, dtype, name or "packed")
    return constant(value, dtype=dtype, name=name or "Const")


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_holds_tensor(v) for v in value)
    return isinstance(value, Tensor) or hasattr(value, "_as_tensor")


def _first_tensor_dtype(value: Any) -> DType | None:
    if isinstance(value, list | tuple):
        return next((d for v in value if (d := _first_tensor_dtype(v)) is not None), None)
    return convert_to_tensor(value).dtype if _holds_tensor(value) else None


def _autopack(value: list | tuple, dtype: Any, name: str) -> Tensor:
    """A (nested) list holding tensors, stacked into one tensor as TF does
    (`tf.reduce_mean([t1, t2])`); plain numbers in it take the tensors' dtype."""
    dt = as_dtype(dtype) if dtype is not None else _first_tensor_dtype(value)
    parts = [
        _autopack(v, dt, name) if isinstance(v, list | tuple) else convert_to_tensor(v, dtype=dt)
        for v in value
    ]
    with get_default_graph().name_scope(name):  # tf.stack's graph: the parts on a new axis 0
        return concat([expand_dims(p, 0) for p in parts], axis=0)


def shape_entries(value: Any) -> list[int | Tensor] | None:
    """A 1-D shape argument as its entries: Python ints where they are known
    when the graph is built, the scalar tensors where not (a tf.stack of
    tf.shape(x)[0] and ints, a list holding tensors, a constant). None when
    `value` is a tensor whose entries cannot be told apart (a whole tf.shape)."""
    if hasattr(value, "_as_tensor") and not isinstance(value, Tensor):
        value = value._as_tensor()
    if isinstance(value, list | tuple):
        return [e for v in value for e in (shape_entries(v) if _is_vector(v) else [_entry(v)])]
    if not isinstance(value, Tensor):
        return [int(d) for d in np.asarray(value).reshape(-1)]
    op = value.op
    if op.type == "Const":
        return [int(d) for d in np.asarray(op.attrs["value"]).reshape(-1)]
    if op.type == "ConcatV2" and op.ir_attrs.get("axis") == 0:
        parts = [
            [_entry(p.op.inputs[0])]
            if p.op.type == "ExpandDims" and p.shape.ndims == 1
            else shape_entries(p)
            for p in op.inputs
        ]
        return None if any(p is None for p in parts) else [e for p in parts for e in p]
    return None


def _is_vector(v: Any) -> bool:
    return isinstance(v, list | tuple) or (isinstance(v, Tensor) and v.shape.ndims == 1)


def _entry(v: Any) -> int | Tensor:
    if isinstance(v, Tensor) and v.op.type == "Const":
        v = v.op.attrs["value"]
    return v if isinstance(v, Tensor) else int(v)


def _pair(x: Any, y: Any, op_type: str) -> tuple[Tensor, Tensor]:
    """Two operands of one dtype: a Python value takes the other's dtype (as TF)."""
    xt = x if isinstance(x, Tensor) or hasattr(x, "_as_tensor") else None
    yt = y if isinstance(y, Tensor) or hasattr(y, "_as_tensor") else None
    if xt is not None:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, x.dtype if yt is None else None)
    elif yt is not None:
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, y.dtype)
    else:
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, x.dtype)
    if x.dtype is not y.dtype:
        raise GraphError(
            f"{op_type}: input y ({y.name}) has dtype {y.dtype.name} that does "
            f"not match x ({x.name}), {x.dtype.name}; cast one with kl.cast"
        )
    return x, y


def make(
    op_type: str, ir_op: str, inputs: Sequence[Tensor], name: str | None = None, **ir_attrs: Any
) -> Tensor:
    """One node lowering to `ir_op`; returns its (first) output."""
    op = get_default_graph().create_op(
        op_type, list(inputs), name=name, ir_op=ir_op, ir_attrs=ir_attrs, attrs=dict(ir_attrs)
    )
    return op.outputs[0]


def _unary(op_type: str, ir_op: str):
    def fn(x: Any, name: str | None = None) -> Tensor:
        return make(op_type, ir_op, [convert_to_tensor(x)], name)

    fn.__name__ = op_type.lower()
    fn.__doc__ = f"Elementwise {ir_op[5:]} (tf's {op_type})."
    return fn


def _binary(op_type: str, ir_op: str):
    def fn(x: Any, y: Any, name: str | None = None) -> Tensor:
        return make(op_type, ir_op, _pair(x, y, op_type), name)

    fn.__name__ = op_type.lower()
    fn.__doc__ = f"Elementwise {ir_op[5:]} with numpy broadcasting (tf's {op_type})."
    return fn


negative = _unary("Neg", "kiln.neg")
abs = _unary("Abs", "kiln.abs")  # noqa: A001  (TensorFlow's name)
sign = _unary("Sign", "kiln.sign")
square = _unary("Square", "kiln.square")
sqrt = _unary("Sqrt", "kiln.sqrt")
rsqrt = _unary("Rsqrt", "kiln.rsqrt")
exp = _unary("Exp", "kiln.exp")
log = _unary("Log", "kiln.log")
tanh = _unary("Tanh", "kiln.tanh")
sin = _unary("Sin", "kiln.sin")
cos = _unary("Cos", "kiln.cos")


def tan(x: Any, name: str | None = None) -> Tensor:
    """Elementwise tangent, sin / cos (tf.tan)."""
    x = convert_to_tensor(x)
    return divide(sin(x), cos(x), name=name)


sigmoid = _unary("Sigmoid", "kiln.sigmoid")
logical_not = _unary("LogicalNot", "kiln.logical_not")
add = _binary("Add", "kiln.add")
subtract = _binary("Sub", "kiln.sub")
multiply = _binary("Mul", "kiln.mul")
maximum = _binary("Maximum", "kiln.max")
minimum = _binary("Minimum", "kiln.min")
pow = _binary("Pow", "kiln.pow")  # noqa: A001
equal = _binary("Equal", "kiln.equal")
not_equal = _binary("NotEqual", "kiln.not_equal")
less = _binary("Less", "kiln.less")
less_equal = _binary("LessEqual", "kiln.less_equal")
greater = _binary("Greater", "kiln.greater")
greater_equal = _binary("GreaterEqual", "kiln.greater_equal")
logical_and = _binary("LogicalAnd", "kiln.logical_and")
logical_or = _binary("LogicalOr", "kiln.logical_or")
sub, mul, neg = subtract, multiply, negative


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x / y (tf.divide, truediv): integers are divided as float64, as TF does."""
    x, y = _pair(x, y, "RealDiv")
    if x.dtype.is_integer:
        x, y = cast(x, float64), cast(y, float64)
    return make("RealDiv", "kiln.div", [x, y], name or "truediv")


truediv = div = divide


def floordiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """x // y rounding toward -inf (tf.math.floordiv)."""
    x, y = _pair(x, y, "FloorDiv")
    if x.dtype.is_floating:
        q = make("RealDiv", "kiln.div", [x, y])
        return make("Floor", "kiln.sub", [q, _fmod_part(q)], name or "floordiv")
    q = make("TruncateDiv", "kiln.div", [x, y])  # toward zero
    if x.dtype.is_unsigned:
        return identity(q, name=name or "floordiv")
    rem = subtract(x, multiply(q, y))
    adjust = logical_and(not_equal(rem, 0), not_equal(less(rem, 0), less(y, 0)))
    return subtract(q, cast(adjust, x.dtype), name=name or "floordiv")


def _fmod_part(q: Tensor) -> Tensor:
    """q - floor(q), built from a truncating cast (kiln has no floor op yet)."""
    t = cast(cast(q, int64), q.dtype)
    return where(less(q, t), add(subtract(q, t), 1.0), subtract(q, t))


def cast(x: Any, dtype: Any, name: str | None = None) -> Tensor:
    """Convert to `dtype` (tf.cast): float -> int truncates toward zero."""
    x = convert_to_tensor(x)
    dt = as_dtype(dtype)
    if x.dtype is dt:
        return x
    return make("Cast", "kiln.cast", [x], name, dtype=dt.ir)


def matmul(
    a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, name: str | None = None
) -> Tensor:
    """Matrix product (tf.matmul), batched over leading dims; a vector operand
    is treated as a column (kiln accepts matrix @ vector, which TF does not)."""
    a, b = _pair(a, b, "MatMul")
    attrs = {}
    if transpose_a:
        attrs["transpose_a"] = True
    if transpose_b:
        attrs["transpose_b"] = True
    return make("MatMul", "kiln.matmul", [a, b], name, **attrs)


def _axes(axis: Any) -> list[int] | None:
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        raise GraphError("a reduction axis must be a Python int or list, not a tensor")
    return [int(a) for a in np.atleast_1d(axis)]


def _reduce(op_type: str, ir_op: str):
    def fn(
        input_tensor: Any,
        axis: Any = None,
        keepdims: bool = False,
        name: str | None = None,
        reduction_indices: Any = None,
        keep_dims: Any = None,
    ):
        axes = _axes(axis if axis is not None else reduction_indices)
        x = convert_to_tensor(input_tensor)
        attrs: dict[str, Any] = {"keepdims": bool(keepdims or keep_dims)}
        if axes is not None:
            attrs["axes"] = axes
        return make(op_type, ir_op, [x], name, **attrs)

    fn.__name__ = "reduce_" + ir_op.split("_")[-1]
    fn.__doc__ = f"tf.{fn.__name__}: reduce over `axis` (all axes by default)."
    return fn


reduce_sum = _reduce("Sum", "kiln.reduce_sum")
reduce_mean = _reduce("Mean", "kiln.reduce_mean")
reduce_max = _reduce("Max", "kiln.reduce_max")
reduce_min = _reduce("Min", "kiln.reduce_min")
reduce_prod = _reduce("Prod", "kiln.reduce_prod")


def argmax(
    input: Any, axis: int | None = None, name: str | None = None, output_type: Any = int64
) -> Tensor:
    """Index of the largest value along `axis` (default 0, as tf.argmax)."""
    return make(
        "ArgMax",
        "kiln.argmax",
        [convert_to_tensor(input)],
        name,
        axis=0 if axis is None else int(axis),
        index_dtype=as_dtype(output_type).ir,
    )


def argmin(
    input: Any, axis: int | None = None, name: str | None = None, output_type: Any = int64
) -> Tensor:
    return make(
        "ArgMin",
        "kiln.argmin",
        [convert_to_tensor(input)],
        name,
        axis=0 if axis is None else int(axis),
        index_dtype=as_dtype(output_type).ir,
    )


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """condition ? x : y, broadcasting (tf.where, v2 semantics); with neither x
    nor y, the int64 coordinates of the true elements (see where_indices)."""
    if x is None and y is None:
        return where_indices(condition, name=name)
    if x is None or y is None:
        raise GraphError("kl.where: give both x and y, or neither")
    cond = convert_to_tensor(condition)
    x, y = _pair(x, y, "Select")
    return make("Select", "kiln.select", [cond, x, y], name)


def where_indices(condition: Any, name: str | None = None) -> Tensor:
    """The coordinates of the true (non-zero) elements, int64 [count, rank]
    (tf.where with one argument); count is known at run time."""
    cond = convert_to_tensor(condition)
    return make("Where", "kiln.nonzero", [cond], name)


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Tensor:
    """tf.reshape. The shape's entries are ints (one may be -1), or one entry
    may be a tensor known only at run time (`[tf.shape(x)[0], 7, 7, 64]`):
    that one becomes the -1 when no other entry is."""
    x = convert_to_tensor(tensor)
    entries = shape_entries(shape)
    dynamic = [] if entries is None else [e for e in entries if isinstance(e, Tensor)]
    if len(dynamic) == 1 and -1 in entries:  # [tf.shape(x)[0], -1] of x itself
        entries = _fill_minus_one(x, entries, dynamic[0])
    if entries is None or len(dynamic) > 1 or (dynamic and -1 in entries):
        raise GraphError(
            "kl.reshape needs a static shape: ints, one of them -1 or one a tensor known "
            f"at run time (got {shape!r})"
        )
    dims = [-1 if isinstance(e, Tensor) else e for e in entries]
    return make("Reshape", "kiln.reshape", [x], name, shape=dims)


def _fill_minus_one(x: Tensor, entries: list, dim: Tensor) -> list:
    """`entries` with the -1 worked out when the one run-time entry is a dim of
    x itself whose other dims are static (tf.reshape(x, [tf.shape(x)[0], -1]))."""
    op = dim.op
    if op.type != "Squeeze" or op.inputs[0].op.ir_op != "kiln.slice":
        return entries
    sl = op.inputs[0].op
    if sl.inputs[0].op.type != "Shape" or sl.inputs[0].op.inputs[0] is not x:
        return entries
    k = sl.ir_attrs["starts"][0]
    rest = [d for i, d in enumerate(x.shape.as_list() or []) if i != k]
    known = [e for e in entries if isinstance(e, int) and e != -1]
    if None in rest or sl.ir_attrs["stops"][0] != k + 1:
        return entries
    size, fixed = int(np.prod(rest)), int(np.prod(known))
    if fixed == 0 or size % fixed:
        return entries
    return [size // fixed if isinstance(e, int) and e == -1 else e for e in entries]


def transpose(a: Any, perm: Sequence[int] | None = None, name: str = "transpose") -> Tensor:
    x = convert_to_tensor(a)
    if perm is None:
        if x.shape.ndims is None:
            raise GraphError("kl.transpose without perm needs a known rank")
        perm = list(range(x.shape.ndims))[::-1]
    return make("Transpose", "kiln.transpose", [x], name, perm=[int(p) for p in perm])


def concat(values: Sequence[Any], axis: int, name: str = "concat") -> Tensor:
    tensors = [convert_to_tensor(v) for v in values]
    return make("ConcatV2", "kiln.concat", tensors, name, axis=int(axis))


def expand_dims(input: Any, axis: int, name: str | None = None) -> Tensor:
    return make("ExpandDims", "kiln.expand_dims", [convert_to_tensor(input)], name, axis=int(axis))


def squeeze(input: Any, axis: Any = None, name: str | None = None) -> Tensor:
    x = convert_to_tensor(input)
    axes = _axes(axis)
    if axes is None:
        # TensorFlow drops every dim that is 1 at run time; kiln's shapes are static,
        # so it drops the dims known to be 1 and keeps the unknown ones (a [None, 1]
        # batch squeezes to [None], as in TensorFlow unless the batch has one row)
        if x.shape.dims is None:
            raise GraphError("kl.squeeze without axis needs a known rank")
        axes = [i for i, d in enumerate(x.shape.as_list()) if d == 1]
    return make("Squeeze", "kiln.squeeze", [x], name, axes=axes)


def identity(input: Any, name: str | None = None) -> Tensor:
    x = convert_to_tensor(input)
    return make("Identity", "kiln.reshape", [x], name, shape=_same_shape(x))


def _same_shape(x: Tensor) -> list[int]:
    dims = x.shape.dims
    if dims is None:
        raise GraphError(f"identity of {x.name} needs a known rank")
    unknown = [i for i, d in enumerate(dims) if d is None]
    if len(unknown) > 1:
        raise GraphError(f"identity of {x.name}: more than one unknown dim")
    return [-1 if d is None else d for d in dims]


def stop_gradient(input: Any, name: str | None = None) -> Tensor:
    """The same value, but gradients do not flow through it (tf.stop_gradient)."""
    return make("StopGradient", "kiln.stop_gradient", [convert_to_tensor(input)], name)


def clip_by_value(
    t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None
) -> Tensor:
    """min(max(t, lo), hi) (tf.clip_by_value)."""
    x = convert_to_tensor(t)
    with get_default_graph().name_scope(name or "clip_by_value"):
        return minimum(maximum(x, clip_value_min), clip_value_max, name="clip_by_value")


def zeros(shape: Sequence[int], dtype: Any = float32, name: str | None = None) -> Tensor:
    return constant(0, dtype=dtype, shape=shape, name=name or "zeros")


def ones(shape: Sequence[int], dtype: Any = float32, name: str | None = None) -> Tensor:
    return constant(1, dtype=dtype, shape=shape, name=name or "ones")


def fill(dims: Sequence[int], value: Any, name: str | None = None) -> Tensor:
    return constant(value, shape=dims, name=name or "Fill")


def _like(tensor: Any, value: float, dtype: Any, name: str | None, default: str) -> Tensor:
    x = convert_to_tensor(tensor)
    dt = as_dtype(dtype) if dtype is not None else x.dtype
    c = constant(value, dtype=dt)
    return make(default, "kiln.broadcast_like", [c, x], name or default)


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None) -> Tensor:
    """Zeros of `tensor`'s shape (known at run time) and dtype."""
    return _like(tensor, 0, dtype, name, "ZerosLike")


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None) -> Tensor:
    return _like(tensor, 1, dtype, name, "OnesLike")


def add_n(inputs: Sequence[Any], name: str | None = None) -> Tensor:
    tensors = [convert_to_tensor(t) for t in inputs]
    total = tensors[0]
    for t in tensors[1:]:
        total = add(total, t)
    return identity(total, name=name or "AddN") if len(tensors) == 1 else total


def no_op(name: str | None = None) -> Operation | None:
    """An op that does nothing (tf.no_op); None when executing eagerly, as in TF."""
    g = get_default_graph()
    if g.executes_eagerly:
        return None
    return g.create_op("NoOp", [], name=name, output_types=[])


def group(*inputs: Any, name: str | None = None) -> Operation | None:
    """An op that runs all of `inputs` (tf.group). Eagerly the inputs have
    already run, and tf.group returns None, as in TF."""
    if get_default_graph().executes_eagerly:
        return None
    ops = []
    for x in inputs:
        for item in x if isinstance(x, (list, tuple)) else [x]:
            ops.append(item.op if isinstance(item, Tensor) else item)
    return get_default_graph().create_op(
        "NoOp", [], name=name or "group_deps", output_types=[], control_inputs=ops
    )


def placeholder(
    dtype: Any, shape: Sequence[int | None] | None = None, name: str | None = None
) -> Tensor:
    """A tensor fed at run time (tf.placeholder); None dims take any size, and
    shape=None any rank."""
    dt = as_dtype(dtype)
    if isinstance(shape, int | np.integer):  # shape=(batch_size) is an int: a vector
        shape = [shape]
    static = TensorShape(None if shape is None else list(shape))
    op = get_default_graph().create_op(
        "Placeholder",
        [],
        name=name or "Placeholder",
        attrs={"dtype": dt, "shape": static},
        output_types=[(dt, static)],
    )
    return op.outputs[0]


class GraphKeys:
    """Standard collection names (tf.GraphKeys)."""

    GLOBAL_VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    REGULARIZATION_LOSSES = "regularization_losses"
    # the names the modules above keep their collections under (TF's strings)
    LOCAL_VARIABLES = "local_variables"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    GLOBAL_STEP = "global_step"
