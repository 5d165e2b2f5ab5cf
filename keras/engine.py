"""Layers and models that own their variables (the Keras API, as kl.keras).

A `Layer` makes its weights (eager variables, outside any trace) on its first
call, from the input's shape, and computes with kl ops: called on eager
tensors it runs at once, inside a kl.function it adds graph nodes.
`Input(shape)` gives a symbolic `KerasTensor`; calling a layer on one records
a node (layer, inputs) and infers the output shape by tracing the layer once
on placeholders. `Model(inputs, outputs)` replays those nodes; `Sequential`
chains layers; a subclass of `Model` writes `call`. Training is in training.py.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..frontend.array_ops import shape as tensor_shape
from ..frontend.dtypes import as_dtype, float32
from ..frontend.eager import EagerTensor, EagerVariable, eager_mode, init_scope
from ..frontend.function import FuncGraph
from ..frontend.graph import GraphError, TensorShape, executing_eagerly, get_default_graph
from ..frontend.nest import flatten, pack_sequence_as
from ..frontend.ops import cast, placeholder
from ..ir import KilnError
from .initializers import get as get_initializer
from .regularizers import get as get_regularizer


def reduce_mean_batch(penalty: Any, output: Any) -> Any:
    """An activity penalty divided by the batch size, as Keras does."""
    return penalty / cast(tensor_shape(output)[0], penalty.dtype)


_names: dict[str, itertools.count] = {}
_call_depth = [0]  # layers being called now (losses of the latest call are kept)


def unique_layer_name(base: str) -> str:
    counter = _names.setdefault(base, itertools.count())
    n = next(counter)
    return base if n == 0 else f"{base}_{n}"


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("2_d", "2d").replace("1_d", "1d")


# ------------------------------------------------------------------ symbolic tensors


class KerasTensor:
    """A symbolic tensor of a functional model: shape (None batch), dtype, and
    the node that makes it (None for an Input)."""

    _ids = itertools.count()

    def __init__(
        self,
        shape: Sequence[int | None],
        dtype: Any,
        node: Node | None = None,
        name: str | None = None,
    ):
        self.shape = TensorShape(list(shape))
        self.dtype = as_dtype(dtype)
        self.node = node
        self.name = name
        self.id = next(KerasTensor._ids)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name}>"


class Node:
    """One call of a layer on KerasTensors."""

    def __init__(self, layer: Layer, inputs: Any, kwargs: dict[str, Any]):
        self.layer, self.inputs, self.kwargs = layer, inputs, kwargs


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: Any = None,
    batch_shape: Any = None,
    **_: Any,
) -> KerasTensor:
    """A symbolic model input (keras.Input): `shape` excludes the batch."""
    full = list(batch_shape) if batch_shape is not None else [batch_size, *(shape or ())]
    return KerasTensor(full, dtype or float32, None, name or unique_layer_name("input"))


# ------------------------------------------------------------------ layers


class Layer:
    """A callable that owns weights (keras.layers.Layer). Subclasses write
    `build(input_shape)` (calling `add_weight`) and `call(inputs[, training])`."""

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        activity_regularizer: Any = None,
        **_: Any,
    ):
        self.name = name or unique_layer_name(_snake(type(self).__name__))
        self.trainable = trainable
        self.dtype = as_dtype(dtype) if dtype is not None else float32
        self.built = False
        self._own_weights: list[EagerVariable] = []
        self._weight_losses: list[Any] = []  # callables: regularizer(weight)
        self._call_losses: list[Any] = []  # add_loss tensors of the latest call
        self.activity_regularizer = get_regularizer(activity_regularizer)
        self.output_shape: Any = None
        self._batch_input_shape = None
        if input_shape is not None:
            self._batch_input_shape = [None, *input_shape]
        elif input_dim is not None:
            self._batch_input_shape = [None, input_dim]
        self._call_takes_training = "training" in inspect.signature(self.call).parameters

    # ------------------------------------------------------------ weights
    def add_weight(
        self,
        name: str,
        shape: Sequence[int],
        initializer: Any = "zeros",
        trainable: bool = True,
        dtype: Any = None,
        regularizer: Any = None,
        **_: Any,
    ) -> EagerVariable:
        """A new eager variable of this layer, initialised by a numpy initializer."""
        dt = as_dtype(dtype) if dtype is not None else self.dtype
        value = get_initializer(initializer).value(list(shape), dt)
        with init_scope():
            var = EagerVariable(
                np.asarray(value, dt.ir.numpy),
                trainable=trainable,
                name=f"{self.name}/{name}",
                dtype=dt,
            )
        self._own_weights.append(var)
        penalty = get_regularizer(regularizer)
        if penalty is not None:
            self._weight_losses.append(lambda: penalty(var))
        return var

    # ------------------------------------------------------------ losses
    def add_loss(self, loss: Any, inputs: Any = None) -> None:
        """Add a term to `losses`: a tensor made in this call (cleared at the
        next outermost call) or a zero-argument callable (kept)."""
        if callable(loss):
            self._weight_losses.append(loss)
        else:
            self._call_losses.append(loss)

    @property
    def losses(self) -> list[Any]:
        """The regularization penalties and add_loss terms of this layer and
        its sublayers (weight penalties computed now, from the weights)."""
        out = [f() for f in self._weight_losses] + list(self._call_losses)
        for layer in self._sublayers():
            out += layer.losses
        return out

    def _clear_call_losses(self) -> None:
        self._call_losses = []
        for layer in self._sublayers():
            layer._clear_call_losses()

    def _sublayers(self) -> list[Layer]:
        found: list[Layer] = []
        for value in vars(self).values():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Layer) and item is not self and item not in found:
                    found.append(item)
        return found

    @property
    def weights(self) -> list[EagerVariable]:
        """Own weights, then those of sublayers (trainable first, as Keras)."""
        return self.trainable_weights + self.non_trainable_weights

    variables = weights

    @property
    def trainable_weights(self) -> list[EagerVariable]:
        if not self.trainable:
            return []
        out = [w for w in self._own_weights if w.trainable]
        for layer in self._sublayers():
            out += [w for w in layer.trainable_weights if w not in out]
        return out

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list[EagerVariable]:
        own = (
            self._own_weights
            if not self.trainable
            else [w for w in self._own_weights if not w.trainable]
        )
        out = list(own)
        for layer in self._sublayers():
            subs = layer.weights if not self.trainable else layer.non_trainable_weights
            out += [w for w in subs if w not in out]
        return out

    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, values: Sequence[Any]) -> None:
        weights = self.weights
        if len(values) != len(weights):
            raise GraphError(
                f"{self.name}.set_weights: {len(values)} arrays for {len(weights)} weights"
            )
        for w, v in zip(weights, values):
            w.assign(np.asarray(v))

    def count_params(self) -> int:
        return int(sum(np.prod(w.shape.as_list(), dtype=np.int64) for w in self.weights))

    # ------------------------------------------------------------ calling
    def build(self, input_shape: Any) -> None:
        pass

    def call(self, inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no call()")

    def __call__(self, inputs: Any, *args: Any, training: Any = None, **kwargs: Any) -> Any:
        leaves = flatten(inputs)
        if any(isinstance(x, KerasTensor) for x in leaves):
            return self._symbolic_call(inputs, kwargs, training)
        if not executing_eagerly() and not isinstance(get_default_graph(), FuncGraph):
            with eager_mode():  # outside kl.function a layer computes at once, as in TF 2
                return self(inputs, *args, training=training, **kwargs)
        leaves = [_autocast(x, self.dtype) for x in leaves]
        inputs = pack_sequence_as(inputs, leaves)
        if not self.built:
            self.build(pack_sequence_as(inputs, [_shape_of(x) for x in leaves]))
            self.built = True
        if self._call_takes_training:
            kwargs["training"] = bool(training) if training is not None else False
        if _call_depth[0] == 0:
            self._clear_call_losses()
        _call_depth[0] += 1
        try:
            out = self.call(inputs, *args, **kwargs)
        except KilnError as e:  # name the layer and what it was given (innermost layer)
            if getattr(e, "keras_layer", None) is not None:
                raise
            shapes = ", ".join(str(tuple(_shape_of(x))) for x in leaves)
            error = GraphError(
                f"layer {self.name!r} ({type(self).__name__}) called on an input "
                f"of shape {shapes}: {e}"
            )
            error.keras_layer = self.name
            raise error from None
        finally:
            _call_depth[0] -= 1
        if self.activity_regularizer is not None:
            for o in flatten(out):
                self.add_loss(reduce_mean_batch(self.activity_regularizer(o), o))
        out_leaves = flatten(out)
        self.output_shape = pack_sequence_as(out, [tuple(_shape_of(o)) for o in out_leaves])
        return out

    def _symbolic_call(self, inputs: Any, kwargs: dict, training: Any) -> Any:
        """Record a node; the output shape comes from tracing the layer once."""
        leaves = flatten(inputs)
        graph = FuncGraph(self.name)
        with graph.as_default():
            holders = [placeholder(x.dtype, x.shape.dims) for x in leaves]
            out = self(pack_sequence_as(inputs, holders), training=training, **kwargs)
        out_leaves = flatten(out)
        node = Node(self, inputs, dict(kwargs))
        results = [KerasTensor(o.shape.dims, o.dtype, node) for o in out_leaves]
        self.output_shape = pack_sequence_as(out, [tuple(o.shape.dims) for o in out_leaves])
        return pack_sequence_as(out, results)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of this layer's output (Keras's default: the input's)."""
        return mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        return KerasTensor(input_shape, self.dtype).shape

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "trainable": self.trainable}
        if self._batch_input_shape is not None:
            config["input_shape"] = list(self._batch_input_shape[1:])
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _autocast(x: Any, dtype: Any) -> Any:
    """A floating input in the layer's dtype, as Keras casts them (numpy's
    float64 images / 255.0 into a float32 model); other inputs pass."""
    if isinstance(x, (np.ndarray, float, list)) and not isinstance(x, Layer):
        array = np.asarray(x)
        if array.dtype.kind == "f" and array.dtype != dtype.ir.numpy:
            return array.astype(dtype.ir.numpy)
        return x
    x_dtype = getattr(x, "dtype", None)
    floating = getattr(x_dtype, "is_floating", False) and dtype.is_floating
    return cast(x, dtype) if floating and x_dtype != dtype else x


def _shape_of(x: Any) -> list[int | None]:
    if isinstance(x, EagerTensor):
        return list(x.numpy().shape)
    shape = getattr(x, "shape", None)
    if isinstance(shape, TensorShape):
        return shape.as_list() if shape.dims is not None else []
    return list(np.shape(x))


class InputLayer(Layer):
    """The layer standing for an Input in a functional model's layer list."""

    def __init__(self, input_tensor: KerasTensor, name: str | None = None, **kw: Any):
        super().__init__(name=name or input_tensor.name, **kw)
        self.input_tensor = input_tensor
        self.output_shape = tuple(input_tensor.shape.dims)
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs
