"""onnx's Backend interface over kiln, so onnx's own test suites run on kiln:

import kiln.onnx.backend as backend
rep = backend.prepare(model)          # import + compile (kiln.compile, backend="auto")
outputs = rep.run([x])                # numpy arrays, one per graph output

onnx.backend.test.BackendTest(backend, __name__)   # the node and model tests
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.errors import ExecutionError, KilnError
from .convert import CARRIED, WIDENED, UnknownAtImport
from .importer import FUNCTION, import_model, import_structured, load

try:  # the base classes, when onnx is installed (it is whenever this module is used)
    from onnx.backend.base import Backend as _Backend
    from onnx.backend.base import BackendRep as _BackendRep
except ModuleNotFoundError:  # pragma: no cover
    _Backend, _BackendRep = object, object


STRUCTURED = ("sequence_type", "optional_type")


def _device_kind(device: str) -> str:
    return str(device).split(":")[0].upper()


class KilnRep(_BackendRep):
    """A prepared model: its kiln module and executable.

    A model that computes a shape, axes or pads from a graph input (onnx's node
    tests feed them as inputs) cannot be imported ahead of its values: such a
    model is specialised at run time on its integer inputs (and its small 1-D
    float ones: Resize's scales, OneHot's depth), one compiled executable per
    distinct set of their values (a cache)."""

    SPECIALISE_LIMIT = 4096  # integer inputs up to this many elements become constants

    def __init__(self, model, device: str = "CPU", backend: str | None = None):
        self.proto = load(model)
        initializers = {t.name for t in self.proto.graph.initializer}
        infos = [i for i in self.proto.graph.input if i.name not in initializers]
        self.input_names = [i.name for i in infos]
        # sequence and optional inputs: fed as lists / None, imported per structure
        self.structured = {i.name for i in infos if i.type.WhichOneof("value") in STRUCTURED}
        self.output_names = [o.name for o in self.proto.graph.output]
        if backend is None:
            backend = "gpu" if _device_kind(device) == "CUDA" else "auto"
        self.backend = backend
        self._specialised: dict[tuple, tuple] = {}
        try:
            self.module, self.outputs = import_structured(self.proto)
        except UnknownAtImport:
            self.module = self.executable = None  # compiled per integer-input values
        else:
            self.executable = self._compile(self.module)

    def _compile(self, module):
        from ..runtime.executable import compile as kiln_compile

        return kiln_compile(module, FUNCTION, backend=self.backend)

    def _arrays(self, inputs: Any) -> list[np.ndarray]:
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ExecutionError(f"missing model inputs: {', '.join(missing)}")
            inputs = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        inputs = [
            _entries(a) if n in self.structured else np.asarray(a)
            for n, a in zip(self.input_names, inputs)
        ]
        if len(inputs) != len(self.input_names):
            raise ExecutionError(
                f"the model takes {len(self.input_names)} inputs "
                f"({', '.join(self.input_names)}), got {len(inputs)}"
            )
        return _interned(inputs)

    def _specialise(self, arrays: list):
        constants = {
            n: a
            for n, a in zip(self.input_names, arrays)
            if n not in self.structured
            and (
                (a.dtype.kind in "iu" and a.size <= self.SPECIALISE_LIMIT)
                or (a.dtype.kind == "f" and a.ndim <= 1 and a.size <= 16)  # scales, roi, depth
                or (a.dtype.kind == "b" and a.size == 1)  # an If's condition
            )
        }
        structure = {
            n: _shapes(a) for n, a in zip(self.input_names, arrays) if n in self.structured
        }
        key = (
            tuple((n, a.dtype.str, a.shape, a.tobytes()) for n, a in constants.items()),
            repr(sorted(structure.items())),
        )
        if key not in self._specialised:
            module, outputs = import_structured(
                self.proto, constants=constants, structure=structure
            )
            self._specialised[key] = (module, outputs, self._compile(module))
        module, outputs, executable = self._specialised[key]
        rest = []
        for n, a in zip(self.input_names, arrays):
            if n in self.structured:
                rest += [] if a is None else a if isinstance(a, list) else [a]
            elif n not in constants:
                rest.append(a)
        return module, outputs, executable, rest

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        arrays = self._arrays(inputs)
        if self.executable is None:
            module, structure, executable, arrays = self._specialise(arrays)
        else:
            module, structure, executable = self.module, self.outputs, self.executable
        args = []
        for a, t in zip(arrays, module[FUNCTION].arg_types):
            want = np.dtype(t.dtype.numpy)
            if a.dtype != want and (
                a.dtype.kind == want.kind
                or {a.dtype.kind, want.kind} <= set("iu")
                or a.dtype.name == "bfloat16"
                or a.dtype.kind == "V"  # float8, int4 and kin (ml_dtypes) travel carried
            ):
                a = a.astype(want)  # widened integers; bf16 travels as float32
            args.append(a)
        flat = iter(np.asarray(o) for o in executable(*args))
        outputs = []
        for shape, info in zip(structure, self.proto.graph.output):
            if shape is None:
                outputs.append(None)
            elif isinstance(shape, list):
                outputs.append([_declared(next(flat), info) for _ in shape])
            else:
                outputs.append(_declared(next(flat), info))
        names = [_field(n, i) for i, n in enumerate(self.output_names)]
        return namedtuple("Outputs", names, rename=True)(*outputs)


def _interned(arrays: list) -> list:
    """String inputs as i64 codes, one per distinct string across this run's
    inputs (the importer admits strings only where they are compared for equality)."""
    codes: dict[str, int] = {}
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind in "OUS":
            flat = [codes.setdefault(str(v), len(codes)) for v in a.reshape(-1)]
            a = np.asarray(flat, np.int64).reshape(a.shape)
        out.append(a)
    return out


def _entries(a: Any) -> Any:
    """A fed sequence (a list of arrays), optional (None, an array or a list)."""
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        return [np.asarray(x) for x in a]
    return np.asarray(a)


def _shapes(a: Any) -> Any:
    """The structure the importer takes for a fed sequence or optional value."""
    if a is None:
        return None
    if isinstance(a, list):
        return [x.shape for x in a]
    return a.shape


def _declared(a: np.ndarray, info) -> np.ndarray:
    """A result in the ONNX output's declared integer type, when kiln carried it wider."""
    from onnx import helper

    t = info.type
    while t.WhichOneof("value") in ("sequence_type", "optional_type"):
        t = getattr(t, t.WhichOneof("value")).elem_type
    elem = t.tensor_type.elem_type
    if elem in WIDENED or elem in CARRIED:
        return a.astype(helper.tensor_dtype_to_np_dtype(elem))
    return a


def _field(name: str, i: int) -> str:
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return text if text and text[0].isalpha() else f"output_{i}"


class KilnBackend(_Backend):
    """onnx.backend.base.Backend: prepare / run_model / run_node on kiln."""

    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs: Any) -> bool:
        if not cls.supports_device(device):
            return False
        try:
            import_model(model)
        except KilnError:
            return False
        return True

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs: Any) -> KilnRep:
        if not cls.supports_device(device):
            raise KilnError(f"kiln's ONNX backend does not support device {device!r}")
        return KilnRep(model, device, kwargs.get("backend"))

    @classmethod
    def run_model(cls, model, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
        **kwargs: Any,
    ) -> tuple:
        """Run one node: a model is made around it from the inputs' dtypes and shapes."""
        from onnx import TensorProto, helper

        inputs = [np.asarray(a) for a in inputs]
        names = [n for n in node.input]
        value_infos = [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in zip(names, inputs)
            if n
        ]
        outs = [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in node.output]
        graph = helper.make_graph([node], "run_node", value_infos, outs)
        opset = kwargs.get("opset_version")
        imports = [helper.make_opsetid("", opset)] if opset else None
        model = helper.make_model(graph, opset_imports=imports)
        return cls.prepare(model, device).run([a for n, a in zip(names, inputs) if n])

    @classmethod
    def supports_device(cls, device: str) -> bool:
        kind = _device_kind(device)
        if kind == "CPU":
            return True
        if kind == "CUDA":
            from ..runtime.gpu import gpu_available

            return gpu_available()
        return False


prepare = KilnBackend.prepare
run_model = KilnBackend.run_model
run_node = KilnBackend.run_node
supports_device = KilnBackend.supports_device
is_compatible = KilnBackend.is_compatible
