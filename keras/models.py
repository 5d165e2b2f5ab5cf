"""Model (functional or subclassed), Sequential, summary, saving and loading.

`model.save(path)` writes one .npz: the architecture and compile settings as
JSON (`__config__`) and the weights in `model.weights` order;
`kl.keras.models.load_model(path)` rebuilds Sequential and functional models
from it (a subclassed model's code is not in the file: save_weights and
load_weights into a new instance instead, as Keras does).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..frontend import optimizers_v2
from ..frontend.function import TensorSpec
from ..frontend.graph import GraphError
from ..frontend.nest import flatten, pack_sequence_as
from . import layers as layers_module
from . import losses as losses_module
from .engine import Input, InputLayer, KerasTensor, Layer, Node
from .training import Trainer

__all__ = ["Model", "Sequential", "load_model"]


class Model(Layer, Trainer):
    """`Model(inputs, outputs)` over KerasTensors, or a subclass with `call`."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kw: Any):
        super().__init__(name=name, **kw)
        self._functional = inputs is not None
        if self._functional:
            if outputs is None:
                raise GraphError("Model(inputs, outputs): give both")
            self.inputs, self.outputs = inputs, outputs
            self._nodes = _topological_nodes(flatten(outputs))
            self._input_layers = [InputLayer(t) for t in flatten(inputs)]
            self.built = True

    # ------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        if getattr(self, "_functional", False):
            seen: list[Layer] = list(self._input_layers)
            for node in self._nodes:
                if node.layer not in seen:
                    seen.append(node.layer)
            return seen
        return self._sublayers()

    def _sublayers(self) -> list[Layer]:
        if getattr(self, "_functional", False):
            return [layer for layer in self.layers if not isinstance(layer, InputLayer)]
        return super()._sublayers()

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise GraphError(f"model {self.name} has no layer named {name!r}")

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not getattr(self, "_functional", False):
            raise NotImplementedError("a subclassed Model writes call(inputs, training)")
        values: dict[int, Any] = {}
        for kt, value in zip(flatten(self.inputs), flatten(inputs)):
            values[kt.id] = value
        for node in self._nodes:
            args = pack_sequence_as(node.inputs, [values[t.id] for t in flatten(node.inputs)])
            out = node.layer(args, training=training, **node.kwargs)
            for kt, value in zip(_node_outputs(node, self._nodes_outputs()), flatten(out)):
                values[kt.id] = value
        return pack_sequence_as(self.outputs, [values[t.id] for t in flatten(self.outputs)])

    def _nodes_outputs(self) -> dict[int, list[KerasTensor]]:
        if not hasattr(self, "_outputs_by_node"):
            found: dict[int, list[KerasTensor]] = {}
            stack = list(flatten(self.outputs))
            seen: set[int] = set()
            while stack:
                t = stack.pop()
                if t.id in seen or t.node is None:
                    continue
                seen.add(t.id)
                found.setdefault(id(t.node), []).append(t)
                stack.extend(flatten(t.node.inputs))
            for ts in found.values():
                ts.sort(key=lambda t: t.id)
            self._outputs_by_node = found
        return self._outputs_by_node

    # ------------------------------------------------------------ summary
    def __kiln_function__(self):
        """(forward pass in inference mode, input TensorSpecs or None when the
        model has no input shape yet): how kl.export_ir traces a model."""
        inputs = getattr(self, "inputs", None)
        if inputs is None and getattr(self, "_input", None) is not None:
            inputs = [self._input]
        specs = (
            None
            if inputs is None
            else [
                TensorSpec(t.shape.dims, t.dtype, name=getattr(t, "name", None))
                for t in flatten(inputs)
            ]
        )
        return (lambda *xs: self(xs[0] if len(xs) == 1 else list(xs), training=False)), specs

    def summary(self, print_fn: Any = None) -> None:
        """A table of layers, output shapes and parameter counts."""
        out = print_fn or (lambda s: print(s, file=sys.stdout))
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                _shape_text(layer.output_shape),
                f"{layer.count_params():,}",
            )
            for layer in self.layers
        ]
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) + 2 if rows else len(h) + 2
            for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
        ]
        line = "=" * sum(widths)
        out(f'Model: "{self.name}"')
        out("_" * sum(widths))
        out(
            "".join(h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths))
        )
        out(line)
        for r in rows:
            out("".join(c.ljust(w) for c, w in zip(r, widths)))
        out(line)
        trainable = sum(int(np.prod(w.shape.as_list())) for w in self.trainable_weights)
        total = self.count_params()
        out(f"Total params: {total:,}")
        out(f"Trainable params: {trainable:,}")
        out(f"Non-trainable params: {total - trainable:,}")
        out("_" * sum(widths))

    # ------------------------------------------------------------ saving
    def save_weights(self, filepath: str) -> None:
        """The weights, in `weights` order with their names, in an npz file."""
        _write_npz(filepath, {"__names__": np.array([w.name for w in self.weights])}, self.weights)

    def load_weights(self, filepath: str) -> None:
        """Weights saved by save_weights (or save) into this built model."""
        with np.load(_npz_path(filepath)) as data:
            arrays = [data[f"w{i}"] for i in range(int(data["__count__"]))]
        weights = self.weights
        if len(arrays) != len(weights):
            raise GraphError(
                f"{filepath}: {len(arrays)} weights for a model with "
                f"{len(weights)} (build the model first: call it once)"
            )
        for w, a in zip(weights, arrays):
            if list(a.shape) != w.shape.as_list():
                raise GraphError(
                    f"{filepath}: weight {w.name} has shape {w.shape.as_list()}, "
                    f"the file {list(a.shape)}"
                )
        for w, a in zip(weights, arrays):
            w.assign(a)

    def get_config(self) -> dict[str, Any]:
        if not getattr(self, "_functional", False):
            raise GraphError(
                f"{type(self).__name__} is a subclassed model: its architecture "
                "is code; save_weights/load_weights into a new instance"
            )
        layers = [layer for layer in self.layers if not isinstance(layer, InputLayer)]
        tensors: dict[int, str] = {}
        for layer in self._input_layers:
            t = layer.input_tensor
            tensors[t.id] = f"in:{self._input_layers.index(layer)}"
        nodes = []
        outputs_by_node = self._nodes_outputs()
        for k, node in enumerate(self._nodes):
            for j, t in enumerate(outputs_by_node[id(node)]):
                tensors[t.id] = f"node:{k}:{j}"
            nodes.append(
                {"layer": layers.index(node.layer), "inputs": _encode(node.inputs, tensors)}
            )
        return {
            "name": self.name,
            "inputs": [
                {"shape": t.input_tensor.shape.dims, "dtype": t.input_tensor.dtype.name}
                for t in self._input_layers
            ],
            "input_structure": _encode(
                self.inputs, {t.id: f"in:{i}" for i, t in enumerate(flatten(self.inputs))}
            ),
            "layers": [_layer_config(layer) for layer in layers],
            "nodes": nodes,
            "outputs": _encode(self.outputs, tensors),
        }

    def save(self, filepath: str, **_: Any) -> None:
        """Architecture, compile settings and weights in one npz file."""
        config = {"class": type(self).__name__, "config": self.get_config()}
        if self.optimizer is not None and self.loss is not None:
            config["compile"] = {
                "optimizer": type(self.optimizer).__name__,
                "optimizer_config": self.optimizer.get_config(),
                "loss": losses_module.serialize(self.loss),
                "metrics": [m for m in self._metric_ids if isinstance(m, str)],
            }
        _write_npz(filepath, {"__config__": np.array(json.dumps(config))}, self.weights)


class Sequential(Model):
    """A stack of layers, each taking the previous one's output."""

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None, **kw: Any):
        super().__init__(name=name, **kw)
        self._layers: list[Layer] = []
        self._input: KerasTensor | None = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        if isinstance(layer, KerasTensor):  # Sequential([Input(shape), ...])
            self._input = layer
            return
        if not isinstance(layer, Layer):
            raise GraphError(f"Sequential.add: {layer!r} is not a layer")
        if not self._layers and self._input is None and layer._batch_input_shape is not None:
            self._input = Input(batch_shape=layer._batch_input_shape)
        self._layers.append(layer)
        if self._input is not None:  # shapes known: build now, as Keras does
            t = self._input
            for item in self._layers:
                t = item(t)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _sublayers(self) -> list[Layer]:
        return list(self._layers)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """The layers in turn, with Keras's mask propagation: a layer with
        compute_mask (Embedding(mask_zero=True), Masking) makes a [batch, time]
        mask, layers whose call takes `mask` (recurrent ones, 1-D global
        pooling) get it, and it is kept while the time axis is."""
        x, mask = inputs, None
        for layer in self._layers:
            kwargs = {"mask": mask} if mask is not None and _takes_mask(layer) else {}
            new_mask = layer.compute_mask(x, mask)
            x = layer(x, training=training, **kwargs)
            mask = new_mask if _keeps_time(x, new_mask) else None
        return x

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": self.name,
            "layers": [_layer_config(layer) for layer in self._layers],
        }
        if self._input is not None:
            config["input_shape"] = self._input.shape.dims
            config["input_dtype"] = self._input.dtype.name
        return config


# ------------------------------------------------------------------ helpers


def _takes_mask(layer: Layer) -> bool:
    return "mask" in inspect.signature(layer.call).parameters


def _keeps_time(x: Any, mask: Any) -> bool:
    if mask is None or isinstance(x, (list, tuple)):
        return False
    dims, mdims = x.shape.as_list(), mask.shape.as_list()
    return len(dims) >= 3 and dims[:2] == mdims[:2]


def _topological_nodes(outputs: list[KerasTensor]) -> list[Node]:
    """The nodes that make `outputs`, in creation order (a valid order)."""
    nodes: dict[int, tuple[int, Node]] = {}
    stack = list(outputs)
    seen: set[int] = set()
    while stack:
        t = stack.pop()
        if not isinstance(t, KerasTensor):
            raise GraphError(f"Model outputs must come from layers called on Inputs, got {t!r}")
        if t.id in seen or t.node is None:
            continue
        seen.add(t.id)
        node = t.node
        nodes[id(node)] = (min(t.id, nodes.get(id(node), (t.id,))[0]), node)
        stack.extend(flatten(node.inputs))
    return [node for _, node in sorted(nodes.values(), key=lambda p: p[0])]


def _node_outputs(node: Node, by_node: dict[int, list[KerasTensor]]) -> list[KerasTensor]:
    return by_node.get(id(node), [])


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    return (
        str(tuple(shape)).replace("None", "None")
        if not isinstance(shape, list)
        else str([tuple(s) for s in shape])
    )


def _layer_config(layer: Layer) -> dict[str, Any]:
    if isinstance(layer, Model):
        raise GraphError(f"saving a model that contains model {layer.name} is not supported")
    return {"class": type(layer).__name__, "config": layer.get_config()}


def _encode(structure: Any, names: dict[int, str]) -> Any:
    return pack_sequence_as(structure, [names[t.id] for t in flatten(structure)])


def _npz_path(filepath: str) -> str:
    path = os.fspath(filepath)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        return path + ".npz"
    return path


def _write_npz(filepath: str, extra: dict[str, np.ndarray], weights: list) -> None:
    arrays = {f"w{i}": w.numpy() for i, w in enumerate(weights)}
    arrays["__count__"] = np.array(len(weights))
    arrays.update(extra)
    path = os.fspath(filepath)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # "ckpt/weights", as TF
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:  # a file object: numpy adds no .npz suffix
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _layer_from(config: dict[str, Any]) -> Layer:
    cls = getattr(layers_module, config["class"], None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, Layer):
        raise GraphError(f"load_model: unknown layer class {config['class']!r}")
    return cls.from_config(dict(config["config"]))


def load_model(filepath: str, compile: bool = True) -> Model:
    """A model saved by `model.save` (kl.keras.models.load_model)."""
    with np.load(_npz_path(filepath)) as data:
        if "__config__" not in data:
            raise GraphError(
                f"{filepath} holds weights only (save_weights); build the model "
                "and call load_weights"
            )
        saved = json.loads(str(data["__config__"]))
    config = saved["config"]
    if saved["class"] == "Sequential":
        model: Model = Sequential(name=config["name"])
        if "input_shape" in config:
            model.add(Input(batch_shape=config["input_shape"], dtype=config["input_dtype"]))
        for layer_config in config["layers"]:
            model.add(_layer_from(layer_config))
    elif saved["class"] == "Model":
        ins = [Input(batch_shape=i["shape"], dtype=i["dtype"]) for i in config["inputs"]]
        layers = [_layer_from(c) for c in config["layers"]]
        tensors: dict[str, Any] = {f"in:{i}": t for i, t in enumerate(ins)}
        for k, node in enumerate(config["nodes"]):
            args = pack_sequence_as(node["inputs"], [tensors[n] for n in flatten(node["inputs"])])
            for j, t in enumerate(flatten(layers[node["layer"]](args))):
                tensors[f"node:{k}:{j}"] = t
        outputs = pack_sequence_as(
            config["outputs"], [tensors[n] for n in flatten(config["outputs"])]
        )
        inputs = pack_sequence_as(
            config["input_structure"], [tensors[n] for n in flatten(config["input_structure"])]
        )
        model = Model(inputs, outputs, name=config["name"])
    else:
        raise GraphError(
            f"load_model: cannot rebuild a {saved['class']} (subclassed models "
            "load with load_weights)"
        )
    model.load_weights(filepath)
    if compile and "compile" in saved:
        c = saved["compile"]
        opt_config = dict(c["optimizer_config"])
        opt_config.pop("name", None)
        optimizer = getattr(optimizers_v2, c["optimizer"])(**opt_config)
        model.compile(optimizer, losses_module.deserialize(c["loss"]), c["metrics"])
    return model
