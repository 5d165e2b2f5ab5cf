"""The GPU executable: every kernel of a function as a Triton kernel, launched
in order on device buffers from the memory plan.

    exe = GpuExecutable(module, "step")   # module: after the pass pipeline (fuse, plan)
    outputs = exe(x, w)                   # numpy in, numpy out
    resident = exe.run_device(x, w_dev)   # DeviceArrays in and out: no copies

Like runtime/cpu.py's CpuExecutable: each top-level op that computes becomes
a kernel (codegen/triton: the fused groups' kernel form rendered as Triton,
matmul/conv templates, strided copies); a call checks its arguments (the
same `Signature.check` as the CPU's; DeviceArrays by shape and dtype), plans
once per set of argument shapes (concrete shapes, each kernel's launch,
pooled device buffers for intermediates, typed views of them per kernel
argument) and launches the kernels in order. Host<->device copies happen
only for numpy arguments and results: `run_device` takes and gives
`DeviceArray`s, which is how a Session keeps variables on the device. An op
with no Triton kernel yet runs on the host through the reference
interpreter (its inputs copied down, its results up), with a warning naming
it; `host_ops` lists them.

Device memory: PyTorch CUDA tensors on a GPU machine (torch is imported only
here, only then). Under `TRITON_INTERPRET=1` the kernels run on the CPU in
Triton's interpreter, on numpy arrays behind a small tensor-like wrapper, so
the tests need neither a GPU nor torch. Faults (integer division by zero,
...) are bits in a device word per kernel, read back once per call, and
raised as an ExecutionError naming the op.

`KILN_GPU_TUNE=1` times each kernel's configurations (block sizes, warps) on
the first call with new shapes and keeps the fastest (GPU only); otherwise
the first configuration, chosen from the shapes, runs.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..codegen.arguments import Signature
from ..codegen.kernel import Fault
from ..ir import (
    CompileError,
    ExecutionError,
    Function,
    Interpreter,
    Module,
    Operation,
    Value,
    debug,
)
from . import listing
from .cache import cache_dir
from .control import Call, Copy, If, Point, Scan, Walker, While, extra_values
from .shapes import concrete_shapes

ALIGN = 8  # bytes: every buffer holds whole elements of any dtype


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "") not in ("", "0")


def gpu_available() -> bool:
    """Whether kernels can run: a CUDA device through torch, or Triton's interpreter."""
    if interpreting():
        return True
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def no_gpu_reason() -> str:
    try:
        import torch  # noqa: F401
    except ImportError:
        return "PyTorch is not installed and TRITON_INTERPRET is unset"
    return "torch.cuda.is_available() is false and TRITON_INTERPRET is unset"


# ------------------------------------------------------------------ device memory


class _HostStorage:
    def __init__(self, array: np.ndarray):
        self.array = array

    def data_ptr(self) -> int:
        return self.array.ctypes.data

    def cpu(self):
        return self

    def copy_(self, other) -> None:  # the interpreter wrote in place already
        pass


class HostTensor:
    """A numpy array as Triton's interpreter wants a tensor (data_ptr, dtype,
    untyped_storage, ...): the interpreter's device memory."""

    _NAMES = {
        np.dtype(np.float32): "float32",
        np.dtype(np.float64): "float64",
        np.dtype(np.int8): "int8",
        np.dtype(np.int32): "int32",
        np.dtype(np.int64): "int64",
        np.dtype(np.bool_): "bool",
        np.dtype(np.uint8): "uint8",
    }

    def __init__(self, array: np.ndarray):
        self.array = array
        self.dtype = self._NAMES[array.dtype]

    def data_ptr(self) -> int:
        return self.array.ctypes.data

    def untyped_storage(self) -> _HostStorage:
        return _HostStorage(self.array)

    def new_empty(self, *args, **kwargs) -> HostTensor:
        return self

    def set_(self, *args) -> HostTensor:  # the host copy is this very memory
        return self

    def storage_offset(self) -> int:
        return 0

    def size(self) -> tuple[int, ...]:
        return self.array.shape

    def stride(self) -> tuple[int, ...]:
        return tuple(s // self.array.itemsize for s in self.array.strides)


class _InterpreterMemory:
    """Device memory of the interpreter: numpy arrays."""

    name = "Triton interpreter (CPU)"

    def empty(self, nbytes: int):
        return np.empty(_round(nbytes), np.uint8)

    def typed(self, raw, dtype: np.dtype, n: int):
        return HostTensor(raw[: n * dtype.itemsize].view(dtype))

    def upload(self, array: np.ndarray):
        return HostTensor(np.array(array, order="C", copy=True).reshape(-1))

    def download(self, tensor, shape, dtype: np.dtype) -> np.ndarray:
        return np.array(tensor.array[: int(np.prod(shape, dtype=np.int64))]).reshape(shape)

    def copy_into(self, tensor, array: np.ndarray) -> None:
        tensor.array[: array.size] = array.reshape(-1)

    def zero(self, tensor) -> None:
        tensor.array[...] = 0

    def synchronize(self) -> None:
        pass

    def clone(self, tensor):
        return HostTensor(tensor.array.copy())

    def raw(self, tensor):
        return tensor.array.view(np.uint8)

    def copy_bytes(self, dst, src) -> None:
        dst[...] = src

    def flag(self, raw) -> bool:
        return bool(raw[0])


class _CudaMemory:
    """Device memory of a CUDA GPU: torch tensors (torch imported here only)."""

    name = "CUDA"

    def __init__(self):
        import torch

        self.torch = torch
        self.device = torch.device("cuda")
        self.name = f"CUDA ({torch.cuda.get_device_name(0)})"
        self._dtypes = {
            np.dtype(np.float32): torch.float32,
            np.dtype(np.float64): torch.float64,
            np.dtype(np.int8): torch.int8,
            np.dtype(np.int32): torch.int32,
            np.dtype(np.int64): torch.int64,
            np.dtype(np.bool_): torch.bool,
            np.dtype(np.uint8): torch.uint8,
        }

    def empty(self, nbytes: int):
        return self.torch.empty(_round(nbytes), dtype=self.torch.uint8, device=self.device)

    def typed(self, raw, dtype: np.dtype, n: int):
        return raw[: n * dtype.itemsize].view(self._dtypes[dtype])

    def upload(self, array: np.ndarray):
        host = self.torch.from_numpy(np.ascontiguousarray(array).reshape(-1))
        return host.to(self.device, non_blocking=False)

    def download(self, tensor, shape, dtype: np.dtype) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        return tensor[:n].cpu().numpy().reshape(shape)

    def copy_into(self, tensor, array: np.ndarray) -> None:
        tensor[: array.size].copy_(self.torch.from_numpy(np.ascontiguousarray(array).reshape(-1)))

    def zero(self, tensor) -> None:
        tensor.zero_()

    def synchronize(self) -> None:
        self.torch.cuda.synchronize()

    def clone(self, tensor):
        return tensor.clone()

    def raw(self, tensor):
        return tensor.view(self.torch.uint8)

    def copy_bytes(self, dst, src) -> None:
        dst.copy_(src)

    def flag(self, raw) -> bool:
        return bool(raw[0].item())  # the one device-to-host read of a data-dependent branch


def _round(nbytes: int) -> int:
    return max(ALIGN, -(-nbytes // ALIGN) * ALIGN)


_memory = None


def device_memory():
    """The process's device memory (made once)."""
    global _memory
    if _memory is None:
        if not gpu_available():
            raise CompileError(f"the GPU backend needs a GPU: {no_gpu_reason()}")
        os.environ.setdefault("TRITON_CACHE_DIR", str(cache_dir() / "triton"))
        _memory = _InterpreterMemory() if interpreting() else _CudaMemory()
    return _memory


@dataclass
class DeviceArray:
    """A value in device memory: what `run_device` takes and gives. `np.asarray`
    (or `.numpy()`) copies it to the host."""

    data: object  # a flat typed device tensor
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numpy(self) -> np.ndarray:
        return device_memory().download(self.data, self.shape, self.dtype)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)


# ------------------------------------------------------------------ the executable


@dataclass
class Step:
    op: Operation
    kernel: object  # a TritonKernel, or None: run on the host
    buffers: list[int]
    name: str = ""
    seconds: float = 0.0  # spent rendering the kernel (KILN_DEBUG=1)


@dataclass
class Move:
    """A region's yield of a value its block computed into a carried buffer (or
    an if's result): the two buffers swap their memory when both are the call's
    own and each is large enough for the other's values, else `bytes` are copied."""

    dst: int
    src: int
    bytes: int  # an extra


class _Walker(Walker):
    """runtime/control.py's walk of a planned function, whose yields of values
    computed in the region become `Move`s (a swap on the host side, not a copy;
    the CPU entry's pointer `Swap`s are not used here: `swap` is ignored)."""

    def yields(self, block, targets, values, yielded=None, swap=False) -> list:
        yielded = list(block.terminator.operands if yielded is None else yielded)
        local = {id(op) for op in block.ops}
        srcs = [self.buffer_of[v] for v in yielded]
        moves, copied = [], []
        for dst, r, v, src in zip(targets, values, yielded, srcs):
            owner = v.owner
            if (
                src != dst
                and isinstance(owner, Operation)
                and id(owner) in local
                and srcs.count(src) == 1
                and src not in targets
            ):
                moves.append(Move(dst, src, self.extra("bytes", r)))
            else:
                copied.append((dst, r, v))
        if not copied:
            return moves
        # the copies first: a staged copy reads a target that a move rebinds
        dsts, rs, vs = zip(*copied)
        return super().yields(block, list(dsts), list(rs), list(vs)) + moves


@dataclass
class _Plan:
    """One set of argument shapes: per step its launch (or host shapes) and its
    buffers' (dtype, elements); the call's own memory (pooled intermediates,
    result sizes); the control flow's sizes."""

    launches: list
    typed: list[list[tuple[np.dtype, int]]]  # per step: each buffer's dtype and elements
    in_shapes: list[list[tuple[int, ...]]]
    out_shapes: list[list[tuple[int, ...]]]
    pooled: dict[int, object]  # buffer -> raw device bytes, kept from call to call
    fresh: dict[int, int]  # result buffer -> bytes, new memory per call
    sizes: dict[int, int]  # every owned buffer -> the bytes its values need
    extras: list[int]  # runtime/control.py's extras: bytes copied, scan lengths
    result_shapes: list[tuple[int, ...]]
    tuned: bool = False


class _Call:
    """One running call: the raw device bytes of every buffer (pointers into
    others' memory included) and the enclosing scans' indices."""

    def __init__(self, plan: _Plan, n_buffers: int):
        self.plan = plan
        self.mem: list = [None] * n_buffers
        self.views: dict[tuple, tuple] = {}  # (id(raw), dtype, n) -> (raw, typed view)
        self.index: list[int] = []
        self.tune = False
        self.timed = False
        self.shown: set[int] = set()  # steps whose first launch KILN_DEBUG showed
        self.tuned: set[int] = set()  # steps KILN_GPU_TUNE timed

    def offset(self, row: int | None) -> int:
        return 0 if row is None else self.index[-1] * self.plan.extras[row]


class GpuExecutable:
    """A function compiled to Triton kernels; call it with numpy arrays (or
    `run_device` with DeviceArrays).

    Region ops (kiln.if / kiln.while / kiln.scan) run on the host side of the
    launcher, walking runtime/control.py's tree of the planned function: the
    kernels of every region are compiled once and launched per trip; a scan's
    slices and the rows its body writes in place are byte offsets into the
    stacked buffers (views, no copies); carried values stay in device buffers,
    a body's results swapped into them; an if's predicate and a while's
    condition (one byte each) are the only reads back to the host."""

    def __init__(self, module: Module, name: str):
        from ..codegen.triton import triton_kernel

        self.module, self.name = module, name
        self.func: Function = module[name]
        if "plan.buffers" not in self.func.attrs:
            raise CompileError(
                f"@{name} has no memory plan: run the pipeline through "
                "'fuse,plan' before compiling for the GPU"
            )
        self.memory = device_memory()
        self.n_args = len(self.func.args)
        self.buffer_of: dict[Value, int] = {a: j for j, a in enumerate(self.func.args)}
        self.constants: dict[int, np.ndarray] = {}
        self.steps: list[Step] = []
        self.host_ops: list[str] = []
        self.tree = _Walker(self.func, self.buffer_of, self.constants).tree
        self.n_buffers = self.tree.count
        for kernel_name, op, ids in self.tree.kernels:
            start = time.perf_counter()
            try:
                kernel = triton_kernel(op, kernel_name)
            except CompileError as e:
                kernel = None
                self.host_ops.append(f"{op.describe()} ({e})")
            self.steps.append(Step(op, kernel, ids, kernel_name, time.perf_counter() - start))
        if self.host_ops:
            warnings.warn(
                f"kiln: @{name} runs {len(self.host_ops)} op(s) on the host, "
                "without a GPU kernel: " + "; ".join(self.host_ops),
                stacklevel=3,
            )
        if debug.level() >= debug.KERNELS:
            listing.show_gpu_program(self)
        self.signature = Signature.of_function(self.func)
        self._returned = [self.buffer_of[v] for v in self.func.body.terminator.operands]
        self._constants_dev = {b: self.memory.upload(a) for b, a in self.constants.items()}
        self._faults = self.memory.upload(np.zeros(max(1, len(self.steps)), np.int32))
        self._fault_slots = self._slot_views()
        self._may_fault = any(s.kernel is not None and s.kernel.may_fault for s in self.steps)
        self.plans: dict[tuple, _Plan] = {}  # per set of argument shapes called so far
        # one call at a time: a plan's scratch and the fault slots are shared, and
        # the launches go to one stream in order anyway
        self._calls = threading.Lock()
        self._interpreter = (
            Interpreter(module) if any(s.kernel is None for s in self.steps) else None
        )

    def _slot_views(self) -> list:
        """Per step: a one-int32 view of the fault words."""
        faults = self._faults
        if isinstance(faults, HostTensor):
            return [HostTensor(faults.array[i : i + 1]) for i in range(len(self.steps))]
        return [faults[i : i + 1] for i in range(len(self.steps))]

    # ------------------------------------------------------------ calling
    def __call__(self, *args) -> list[np.ndarray]:
        return [np.asarray(r) if isinstance(r, DeviceArray) else r for r in self.run_device(*args)]

    def run_device(self, *args) -> list[DeviceArray]:
        """Run with numpy arrays or DeviceArrays; results stay on the device.
        Safe to call from several threads (one call runs at a time)."""
        with self._calls:
            return self._run_device(*args)

    def _run_device(self, *args) -> list[DeviceArray]:
        arrays, _ = self.signature.check(args, resident=DeviceArray)
        shapes = [tuple(a.shape) for a in arrays]
        device_args = [
            a.data if isinstance(a, DeviceArray) else self.memory.upload(a) for a in arrays
        ]
        plan = self.plans.get(tuple(shapes))
        call_plan = plan is None
        if plan is None:
            plan = self.plans[tuple(shapes)] = self._plan(shapes)
        call = _Call(plan, self.n_buffers)
        mem = call.mem
        for j, a in enumerate(device_args):
            mem[j] = self.memory.raw(a)
        for b, t in self._constants_dev.items():
            mem[b] = self.memory.raw(t)
        for b, raw in plan.pooled.items():
            mem[b] = raw
        for b, n in plan.fresh.items():
            mem[b] = self.memory.empty(n)
        fresh = {b: None for b in plan.fresh}
        # KILN_DEBUG: time each kernel's first launch with new shapes (Triton
        # compiles it then), synchronising after each: only on that first call
        call.timed = call_plan and debug.level() >= debug.KERNELS
        call.tune = bool(os.environ.get("KILN_GPU_TUNE")) and not interpreting() and not plan.tuned
        if self._may_fault:
            self.memory.zero(self._faults)
        try:
            self._execute(self.tree.nodes, call)
        finally:
            for b in plan.pooled:  # the pool after the swaps: the same memory, rebound
                plan.pooled[b] = mem[b]
        plan.tuned = plan.tuned or call.tune
        if self._may_fault:
            self._raise_faults()
        for b in fresh:
            fresh[b] = mem[b]
        return self._results(plan, device_args, fresh)

    # ------------------------------------------------------------ the host loop
    def _execute(self, nodes: list, call: _Call) -> None:
        """Run a list of runtime/control.py's nodes (and `Move`s) in order."""
        mem, extras = call.mem, call.plan.extras
        for node in nodes:
            kind = type(node)
            if kind is Call:
                self._launch(node.step, call)
            elif kind is Point:
                mem[node.dst] = mem[node.src][call.offset(node.row) :]
            elif kind is Copy:
                n = extras[node.bytes]
                if n:
                    at = call.offset(node.row)
                    self.memory.copy_bytes(mem[node.dst][at : at + n], mem[node.src][:n])
            elif kind is Move:
                self._move(node, call)
            elif kind is If:
                self._execute(node.then if self.memory.flag(mem[node.pred]) else node.other, call)
            elif kind is While:
                trips = 0
                while node.bound < 0 or trips < node.bound:
                    self._execute(node.cond, call)
                    if not self.memory.flag(mem[node.pred]):
                        break
                    self._execute(node.body, call)
                    trips += 1
            elif kind is Scan:
                length = extras[node.length]
                for t in range(length):
                    call.index.append(length - 1 - t if node.reverse else t)
                    self._execute(node.body, call)
                    call.index.pop()
            else:  # pragma: no cover  (a node kind runtime/control.py added)
                raise CompileError(f"the GPU runtime cannot run a {kind.__name__} node")

    def _move(self, node: Move, call: _Call) -> None:
        mem, sizes = call.mem, call.plan.sizes
        dst, src = node.dst, node.src
        if (
            dst in sizes
            and src in sizes
            and mem[dst].shape[0] >= sizes[src]
            and mem[src].shape[0] >= sizes[dst]
        ):
            mem[dst], mem[src] = mem[src], mem[dst]
            return
        n = call.plan.extras[node.bytes]
        if n:
            self.memory.copy_bytes(mem[dst][:n], mem[src][:n])

    def _launch(self, i: int, call: _Call) -> None:
        step, plan = self.steps[i], call.plan
        mem, cache, typed = call.mem, call.views, self.memory.typed
        views = []
        for b, (dtype, n) in zip(step.buffers, plan.typed[i]):
            raw = mem[b]
            if b in self.tree.pointers:  # a new offset view each trip: not kept
                views.append(typed(raw, dtype, n))
                continue
            # the call's own memory, permuted by swaps: a view per (memory, type)
            key = (id(raw), dtype, n)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = (raw, typed(raw, dtype, n))  # holds raw: the id stays its
            views.append(hit[1])
        if step.kernel is None:
            self._run_on_host(step, plan, i, views)
            return
        launch = plan.launches[i]
        if launch.empty:
            return
        if call.tune and i not in call.tuned:  # a loop's kernel: on its first trip only
            call.tuned.add(i)
            launch = plan.launches[i] = self._tune(step, plan, i, views, launch)
        start = time.perf_counter()
        step.kernel.fn[launch.grid](*views, *launch.ints, self._fault_slots[i], **launch.constants)
        if call.timed and i not in call.shown:  # a loop's kernel: its first trip only
            call.shown.add(i)
            self.memory.synchronize()
            listing.show_first_launch(step, launch, time.perf_counter() - start)

    def _plan(self, arg_shapes) -> _Plan:
        shapes = concrete_shapes(self.func, arg_shapes)
        launches, typed, ins, outs = [], [], [], []
        for step in self.steps:
            i_shapes = [shapes[v] for v in step.op.operands]
            o_shapes = [shapes[r] for r in step.op.results]
            ins.append(i_shapes)
            outs.append(o_shapes)
            values = list(step.op.operands) + list(step.op.results)
            typed.append(
                [
                    (v.type.dtype.numpy, int(np.prod(s, dtype=np.int64)))
                    for v, s in zip(values, i_shapes + o_shapes)
                ]
            )
            launches.append(
                None if step.kernel is None else step.kernel.bind(i_shapes, o_shapes, None)
            )
        sizes: dict[int, int] = {}
        skip = self.tree.pointers
        scratch = [(v, b) for b, v in self.tree.scratch.items()]
        for v, b in [*self.buffer_of.items(), *scratch]:
            if b < self.n_args or b in self.constants or b in skip or v not in shapes:
                continue
            n = int(np.prod(shapes[v], dtype=np.int64))
            sizes[b] = max(sizes.get(b, 0), n * v.type.dtype.numpy.itemsize)
        returned = set(self._returned) - set(range(self.n_args)) - set(self.constants)
        fresh = {b: sizes[b] for b in returned}
        pooled = {b: self.memory.empty(n) for b, n in sizes.items() if b not in fresh}
        result_shapes = [shapes[v] for v in self.func.body.terminator.operands]
        if debug.level() >= debug.ASSEMBLY and not interpreting():
            listing.show_ptx(self, launches)
        return _Plan(
            launches,
            typed,
            ins,
            outs,
            pooled,
            fresh,
            sizes,
            extra_values(self.tree.extras, shapes),
            result_shapes,
        )

    def _run_on_host(self, step: Step, plan: _Plan, i: int, views: list) -> None:
        n_in = len(step.op.operands)
        inputs = [
            self.memory.download(t, s, v.type.dtype.numpy)
            for t, s, v in zip(views[:n_in], plan.in_shapes[i], step.op.operands)
        ]
        outputs = self._interpreter.evaluate_op(step.op, inputs)
        for t, out in zip(views[n_in:], outputs):
            self.memory.copy_into(t, np.ascontiguousarray(out))

    def _tune(self, step: Step, plan: _Plan, i: int, views: list, launch):
        """The fastest configuration of a kernel whose outputs do not overlap its
        inputs (so running it again is harmless), timed on this call's buffers."""
        n_in = len(step.op.operands)
        if set(step.buffers[:n_in]) & set(step.buffers[n_in:]):
            return launch
        configs = step.kernel.configs(plan.in_shapes[i], plan.out_shapes[i])
        best, best_time = launch, float("inf")
        for config in configs:
            candidate = step.kernel.bind(plan.in_shapes[i], plan.out_shapes[i], config)
            run = step.kernel.fn[candidate.grid]
            try:
                run(*views, *candidate.ints, self._fault_slots[i], **candidate.constants)
                self.memory.synchronize()
                start = time.perf_counter()
                for _ in range(5):
                    run(*views, *candidate.ints, self._fault_slots[i], **candidate.constants)
                self.memory.synchronize()
            except Exception:  # noqa: BLE001  (a config that does not compile: skip it)
                continue
            elapsed = time.perf_counter() - start
            if elapsed < best_time:
                best, best_time = candidate, elapsed
        return best

    def _raise_faults(self) -> None:
        words = self.memory.download(self._faults, (len(self.steps) or 1,), np.dtype(np.int32))
        for step, word in zip(self.steps, words):
            if word:
                raise step.op.error(Fault(int(word)).describe(), ExecutionError)

    def _results(self, plan: _Plan, device_args: list, results: dict) -> list[DeviceArray]:
        out = []
        for b, v, shape in zip(
            self._returned, self.func.body.terminator.operands, plan.result_shapes
        ):
            dtype = v.type.dtype.numpy
            n = int(np.prod(shape, dtype=np.int64))
            if b in results:
                data = self.memory.typed(results[b], dtype, n)
            elif b < self.n_args:
                data = self.memory.clone(device_args[b])  # a copy, never an alias
            else:
                data = self.memory.clone(self._constants_dev[b])
            out.append(DeviceArray(data, tuple(shape), dtype))
        return out
