"""Recurrent networks with TensorFlow 1.x's names: the cells of tf.nn.rnn_cell
and tf.nn.dynamic_rnn / static_rnn / bidirectional_dynamic_rnn.

    cell = kl.nn.rnn_cell.BasicLSTMCell(64)
    outputs, state = kl.nn.dynamic_rnn(cell, x, sequence_length=lens, dtype=kl.float32)

A cell's variables carry TF's names (`rnn/basic_lstm_cell/kernel`,
`rnn/multi_rnn_cell/cell_0/lstm_cell/bias`, `bidirectional_rnn/fw/...`), so
TF-1.x checkpoints line up; the kernel is [input_depth + units, gates*units]
applied to concat([x, h]) and the gates are in TF's order (i, j, f, o for
LSTMs; r, u for GRUs). dynamic_rnn is one kl.scan over time (kiln.scan in
the IR, a Python loop in eager mode); with `sequence_length` the outputs past
a sequence's end are zeros and its state stays frozen, as TF does.

This module is also `kl.nn.rnn_cell` (frontend/__init__.py installs it).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

from . import nn
from .array_ops import cumsum, reverse_sequence, split, stack, unstack
from .control_flow import scan_loop
from .dtypes import as_dtype, float32, int32
from .graph import GraphError, Tensor, get_default_graph
from .nest import flatten, pack_sequence_as
from .ops import (
    cast,
    concat,
    convert_to_tensor,
    expand_dims,
    less,
    matmul,
    reshape,
    sigmoid,
    tanh,
    transpose,
    where,
    zeros,
    zeros_like,
)
from .variables import constant_initializer, get_variable, variable_scope, zeros_initializer

__all__ = [
    "BasicLSTMCell",
    "BasicRNNCell",
    "DropoutWrapper",
    "GRUCell",
    "LSTMCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "RNNCell",
    "bidirectional_dynamic_rnn",
    "dynamic_rnn",
    "static_rnn",
]


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM's state: the cell state c and the output h (TF's LSTMStateTuple)."""

    __slots__ = ()

    @property
    def dtype(self):
        return self.c.dtype


def _depth(x: Tensor, what: str) -> int:
    dims = x.shape.dims
    if dims is None or dims[-1] is None:
        raise GraphError(f"{what}: the last dim of the input {x.name} must be known")
    return int(dims[-1])


class RNNCell:
    """The base of the cells: `cell(inputs, state) -> (output, new_state)`.

    A cell makes its variables on its first call (or when dynamic_rnn builds
    it), under the variable scope it is called in and its own default scope
    name; later calls use the same variables."""

    scope_name = "rnn_cell"

    def __init__(self, num_units: int = 0, activation: Any = None, name: str | None = None,
                 dtype: Any = None, reuse: Any = None):  # fmt: skip
        self._num_units = int(num_units)
        self._activation = activation or tanh
        self._name = name
        self._dtype = as_dtype(dtype) if dtype is not None else float32
        self.built = False
        self._variables: dict[str, Any] = {}

    @property
    def state_size(self) -> Any:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units

    @property
    def variables(self) -> list:
        return list(self._variables.values())

    trainable_variables = variables

    def zero_state(self, batch_size: Any, dtype: Any = None) -> Any:
        """Zeros of the state's structure, [batch_size, size] each."""
        dt = as_dtype(dtype) if dtype is not None else self._dtype
        return pack_sequence_as(
            self.state_size, [zeros([int(batch_size), n], dt) for n in flatten(self.state_size)]
        )

    def _zero_state_like(self, x: Tensor) -> Any:
        """Zeros of the state's structure for the batch of x ([batch, depth]; the
        batch may be known only at run time)."""
        base = zeros_like(x[:, 0:1])
        return pack_sequence_as(
            self.state_size, [base * zeros([n], x.dtype) for n in flatten(self.state_size)]
        )

    def build(self, input_depth: int) -> None:
        with variable_scope(self._name or self.scope_name):
            self._make(input_depth)
        self.built = True

    def _var(self, name: str, shape: Sequence[int], initializer: Any = None) -> Tensor:
        v = get_variable(name, shape=list(shape), dtype=self._dtype, initializer=initializer)
        self._variables[name] = v
        return v

    def _make(self, input_depth: int) -> None:
        raise NotImplementedError

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> tuple[Any, Any]:
        x = convert_to_tensor(inputs)
        if not self.built:
            if scope is not None:
                with variable_scope(scope):
                    self.build(_depth(x, type(self).__name__))
            else:
                self.build(_depth(x, type(self).__name__))
        return self.call(x, state)

    def call(self, inputs: Tensor, state: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def _input_kernels(self) -> list[tuple[Any, Any]]:
        """The (kernel, bias) pairs whose first rows multiply the step's input
        (TF's kernel is [input_depth + units, gates] on concat([x, h])): the
        input's part of every step's gates is then one matmul over all steps
        before the scan (`_project`). Empty: the cell has no such part."""
        return []

    def _project(self, xs: Tensor) -> tuple[Tensor, list[Tensor]] | None:
        """x @ kernel[:depth] + bias for all steps of time-major xs [T, B, D] as one
        [T*B, D] x [D, G] matmul (`project_inputs`; the kernels' columns joined),
        and the kernels' recurrent rows kernel[depth:], sliced before the scan so
        that their gradient is one pad after the backward scan, not one per step.
        None when the cell has no input kernel or T and B are both unknown."""
        pairs = self._input_kernels()
        if not pairs:
            return None
        d = _depth(xs, type(self).__name__)
        kernels, biases = [k[:d] for k, _ in pairs], [b for _, b in pairs]
        if len(pairs) > 1:  # one matmul for all of them (a GRU's gates and candidate)
            kernels, biases = [concat(kernels, 1)], [concat(biases, 0)]
        p = project_inputs(xs, kernels[0], biases[0])
        return None if p is None else (p, [k[d:] for k, _ in pairs])

    def _projected_call(self, projected: Tensor, state: Any, recurrent: list) -> tuple[Any, Any]:
        """`call` given the step's input part of the gates (one step of `_project`)
        and the kernels' recurrent rows."""
        raise NotImplementedError


def project_inputs(xs: Tensor, kernel: Any, bias: Any = None) -> Tensor | None:
    """xs @ kernel (+ bias) for every step of time-major xs [T, B, D] at once: one
    [T*B, D] x [D, G] matmul before a recurrent scan instead of T of [B, D]
    inside it (the input part of the gates needs no state; the ONNX importer's
    LSTM does the same, onnx/convert/rnn.py). None when T and B are both
    unknown (a static reshape has one -1): the caller keeps the per-step form."""
    dims = xs.shape.as_list()
    if dims is None or len(dims) != 3 or (dims[0] is None and dims[1] is None):
        return None
    rows = matmul(reshape(xs, [-1, int(dims[2])]), kernel)
    if bias is not None:
        rows = nn.bias_add(rows, bias)
    g = int(rows.shape.as_list()[1])
    return reshape(rows, [-1 if n is None else n for n in dims[:2]] + [g])


def _linear(x: Tensor, h: Tensor, kernel: Any, bias: Any) -> Tensor:
    return nn.bias_add(matmul(concat([x, h], 1), kernel), bias)


class BasicRNNCell(RNNCell):
    """h' = activation(concat([x, h]) @ kernel + bias) (tf.nn.rnn_cell.BasicRNNCell)."""

    scope_name = "basic_rnn_cell"

    def _make(self, d: int) -> None:
        self.kernel = self._var("kernel", [d + self._num_units, self._num_units])
        self.bias = self._var("bias", [self._num_units], zeros_initializer())

    def call(self, inputs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        out = self._activation(_linear(inputs, state, self.kernel, self.bias))
        return out, out

    def _input_kernels(self) -> list[tuple[Any, Any]]:
        return [(self.kernel, self.bias)]

    def _projected_call(self, projected: Tensor, state: Tensor, recurrent: list) -> tuple:
        out = self._activation(projected + matmul(state, recurrent[0]))
        return out, out


class GRUCell(RNNCell):
    """TF's GRUCell: gates r, u = sigmoid(concat([x, h]) @ gates/kernel + gates/bias)
    (the gate bias starts at 1), c = tanh(concat([x, r*h]) @ candidate/kernel + ...),
    h' = u*h + (1-u)*c."""

    scope_name = "gru_cell"

    def _make(self, d: int) -> None:
        n = self._num_units
        with variable_scope("gates"):
            self.gate_kernel = self._var("kernel", [d + n, 2 * n])
            self.gate_bias = self._var("bias", [2 * n], constant_initializer(1.0))
        self._variables = {"gates/" + k: v for k, v in self._variables.items()}
        with variable_scope("candidate"):
            self.cand_kernel = get_variable("kernel", [d + n, n], dtype=self._dtype)
            self.cand_bias = get_variable("bias", [n], self._dtype, zeros_initializer())
        self._variables["candidate/kernel"] = self.cand_kernel
        self._variables["candidate/bias"] = self.cand_bias

    def call(self, inputs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        value = sigmoid(_linear(inputs, state, self.gate_kernel, self.gate_bias))
        r, u = split(value, 2, axis=1)
        c = self._activation(_linear(inputs, r * state, self.cand_kernel, self.cand_bias))
        new_h = u * state + (1 - u) * c
        return new_h, new_h

    def _input_kernels(self) -> list[tuple[Any, Any]]:
        return [(self.gate_kernel, self.gate_bias), (self.cand_kernel, self.cand_bias)]

    def _projected_call(self, projected: Tensor, state: Tensor, recurrent: list) -> tuple:
        n = self._num_units
        px_gates, px_cand = split(projected, [2 * n, n], axis=1)
        value = sigmoid(px_gates + matmul(state, recurrent[0]))
        r, u = split(value, 2, axis=1)
        c = self._activation(px_cand + matmul(r * state, recurrent[1]))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class BasicLSTMCell(RNNCell):
    """TF's BasicLSTMCell: i, j, f, o = split(concat([x, h]) @ kernel + bias),
    c' = c*sigmoid(f + forget_bias) + sigmoid(i)*tanh(j), h' = tanh(c')*sigmoid(o);
    the state is LSTMStateTuple(c, h)."""

    scope_name = "basic_lstm_cell"

    def __init__(self, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                 activation: Any = None, reuse: Any = None, name: str | None = None,
                 dtype: Any = None):  # fmt: skip
        super().__init__(num_units, activation, name, dtype)
        self._forget_bias = float(forget_bias)
        if not state_is_tuple:
            raise GraphError(f"{type(self).__name__}: kiln supports only state_is_tuple=True")

    @property
    def state_size(self) -> LSTMStateTuple:
        return LSTMStateTuple(self._num_units, self._num_units)

    def _make(self, d: int) -> None:
        n = self._num_units
        self.kernel = self._var("kernel", [d + n, 4 * n])
        self.bias = self._var("bias", [4 * n], zeros_initializer())

    def call(self, inputs: Tensor, state: LSTMStateTuple) -> tuple[Tensor, LSTMStateTuple]:
        return self._from_gates(_linear(inputs, state[1], self.kernel, self.bias), state)

    def _input_kernels(self) -> list[tuple[Any, Any]]:
        return [(self.kernel, self.bias)]

    def _projected_call(self, projected: Tensor, state: LSTMStateTuple, recurrent: list) -> tuple:
        return self._from_gates(projected + matmul(state[1], recurrent[0]), state)

    def _from_gates(self, gates: Tensor, state: LSTMStateTuple) -> tuple[Tensor, LSTMStateTuple]:
        """The step after the gates' pre-activations concat([x, h]) @ kernel + bias."""
        c, h = state
        i, j, f, o = split(gates, 4, axis=1)
        new_c = c * sigmoid(f + self._forget_bias) + sigmoid(i) * self._activation(j)
        new_h = self._activation(new_c) * sigmoid(o)
        return new_h, LSTMStateTuple(new_c, new_h)


class LSTMCell(BasicLSTMCell):
    """TF's LSTMCell: BasicLSTMCell's gates, with optional peepholes (w_f_diag,
    w_i_diag, w_o_diag), cell_clip and a projection of the output (num_proj,
    projection/kernel); the state is LSTMStateTuple(c, m)."""

    scope_name = "lstm_cell"

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip: Any = None,
                 initializer: Any = None, num_proj: int | None = None, proj_clip: Any = None,
                 forget_bias: float = 1.0, state_is_tuple: bool = True, activation: Any = None,
                 reuse: Any = None, name: str | None = None, dtype: Any = None,
                 **_: Any):  # fmt: skip
        super().__init__(num_units, forget_bias, state_is_tuple, activation, reuse, name, dtype)
        self._use_peepholes = bool(use_peepholes)
        self._cell_clip = cell_clip
        self._proj_clip = proj_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)

    @property
    def state_size(self) -> LSTMStateTuple:
        return LSTMStateTuple(self._num_units, self._num_proj or self._num_units)

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def _make(self, d: int) -> None:
        n, p = self._num_units, self._num_proj or self._num_units
        self.kernel = self._var("kernel", [d + p, 4 * n], self._initializer)
        self.bias = self._var("bias", [4 * n], zeros_initializer())
        if self._use_peepholes:
            for k in ("w_f_diag", "w_i_diag", "w_o_diag"):
                setattr(self, k, self._var(k, [n], self._initializer))
        if self._num_proj:
            with variable_scope("projection"):
                self.proj = get_variable("kernel", [n, p], self._dtype, self._initializer)
            self._variables["projection/kernel"] = self.proj

    def _from_gates(self, gates: Tensor, state: LSTMStateTuple) -> tuple[Tensor, LSTMStateTuple]:
        c_prev, m_prev = state
        i, j, f, o = split(gates, 4, axis=1)
        fb = self._forget_bias
        if self._use_peepholes:
            c = sigmoid(f + fb + self.w_f_diag * c_prev) * c_prev + sigmoid(
                i + self.w_i_diag * c_prev
            ) * self._activation(j)
        else:
            c = sigmoid(f + fb) * c_prev + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = _clip(c, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self.w_o_diag * c) * self._activation(c)
        else:
            m = sigmoid(o) * self._activation(c)
        if self._num_proj:
            m = matmul(m, self.proj)
            if self._proj_clip is not None:
                m = _clip(m, self._proj_clip)
        return m, LSTMStateTuple(c, m)


def _clip(x: Tensor, bound: float) -> Tensor:
    from .ops import clip_by_value

    return clip_by_value(x, -float(bound), float(bound))


class MultiRNNCell(RNNCell):
    """Cells stacked: each one's output is the next one's input; the state is the
    tuple of their states (variables under multi_rnn_cell/cell_<k>/)."""

    scope_name = "multi_rnn_cell"

    def __init__(self, cells: Sequence[RNNCell], state_is_tuple: bool = True):
        super().__init__(0)
        if not cells:
            raise GraphError("MultiRNNCell: needs at least one cell")
        if not state_is_tuple:
            raise GraphError("MultiRNNCell: kiln supports only state_is_tuple=True")
        self._cells = list(cells)

    @property
    def state_size(self) -> tuple:
        return tuple(c.state_size for c in self._cells)

    @property
    def output_size(self) -> int:
        return self._cells[-1].output_size

    @property
    def variables(self) -> list:
        return [v for c in self._cells for v in c.variables]

    trainable_variables = variables

    def zero_state(self, batch_size: Any, dtype: Any = None) -> tuple:
        return tuple(c.zero_state(batch_size, dtype) for c in self._cells)

    def _zero_state_like(self, x: Tensor) -> tuple:
        return tuple(c._zero_state_like(x) for c in self._cells)

    def build(self, input_depth: int) -> None:
        with variable_scope(self._name or self.scope_name):
            for k, c in enumerate(self._cells):
                with variable_scope(f"cell_{k}"):
                    if not c.built:
                        c.build(input_depth)
                input_depth = c.output_size
        self.built = True

    def call(self, inputs: Tensor, state: tuple) -> tuple[Tensor, tuple]:
        x, new = inputs, []
        for c, s in zip(self._cells, state):
            x, s2 = c.call(x, s)
            new.append(s2)
        return x, tuple(new)


class DropoutWrapper(RNNCell):
    """Dropout on a cell's inputs, outputs and state (keep probabilities, as TF 1.x)."""

    def __init__(self, cell: RNNCell, input_keep_prob: Any = 1.0, output_keep_prob: Any = 1.0,
                 state_keep_prob: Any = 1.0, variational_recurrent: bool = False,
                 input_size: Any = None, dtype: Any = None, seed: int | None = None,
                 **_: Any):  # fmt: skip
        super().__init__(0)
        if variational_recurrent:
            raise GraphError("DropoutWrapper: kiln does not implement variational_recurrent")
        self._cell = cell
        self._keep = (input_keep_prob, output_keep_prob, state_keep_prob)
        self._seed = seed
        self._runs: Tensor | None = None  # the run counter, made before a loop (before_loop)

    @property
    def state_size(self) -> Any:
        return self._cell.state_size

    @property
    def output_size(self) -> int:
        return self._cell.output_size

    @property
    def variables(self) -> list:
        return self._cell.variables

    trainable_variables = variables

    @property
    def built(self) -> bool:
        return self._cell.built

    @built.setter
    def built(self, value: bool) -> None:
        pass

    def zero_state(self, batch_size: Any, dtype: Any = None) -> Any:
        return self._cell.zero_state(batch_size, dtype)

    def _zero_state_like(self, x: Tensor) -> Any:
        return self._cell._zero_state_like(x)

    def build(self, input_depth: int) -> None:
        if not self._cell.built:
            self._cell.build(input_depth)

    def before_loop(self) -> None:
        """Make the run counter before a loop region traces `call` (regions do not update
        variables): inside the loop every step then draws the same mask in a run (as
        variational_recurrent would; TensorFlow draws one per step)."""
        if self._runs is None:
            with get_default_graph().name_scope("dropout"):
                self._runs = nn.run_counter()
        before = getattr(self._cell, "before_loop", None)
        if before is not None:
            before()

    def _drop(self, x: Tensor, keep: Any) -> Tensor:
        if isinstance(keep, (int, float)) and float(keep) == 1.0:
            return x
        if self._runs is None:
            return nn.dropout(x, keep_prob=keep, seed=self._seed)
        rate = 1.0 - (keep if isinstance(keep, Tensor) else float(keep))
        with get_default_graph().name_scope("dropout"):
            return nn.dropout_at(convert_to_tensor(x), rate, self._runs, None, self._seed)

    def call(self, inputs: Tensor, state: Any) -> tuple[Any, Any]:
        out, new = self._cell.call(self._drop(inputs, self._keep[0]), state)
        new = pack_sequence_as(new, [self._drop(s, self._keep[2]) for s in flatten(new)])
        return self._drop(out, self._keep[1]), new


# ------------------------------------------------------------------ drivers


def _rnn_loop(cell: RNNCell, xs: Tensor, state: Any, sequence_length: Any, reverse: bool,
              name: str) -> tuple[Tensor, Any]:  # fmt: skip
    """The scan over time-major xs [T, B, D]: (outputs [T, B, out], final state).

    A MultiRNNCell runs as one scan per layer, each over the outputs of the
    one below (as cuDNN and PyTorch's LSTM run a stack): layer k's step reads
    only layer k-1's output of the same step, so the results are the same
    (past a sequence's end a layer's state is frozen and its output zero
    whatever its input). Each layer's input part of the gates is then one
    matmul over all steps before its scan (`RNNCell._project`), and its
    gradient one matmul after the backward scan."""
    if type(cell) is MultiRNNCell:
        finals = []
        for c, s in zip(cell._cells, state):
            xs, final = _rnn_loop(c, xs, s, sequence_length, reverse, name)
            finals.append(final)
        return xs, tuple(finals)
    before = getattr(cell, "before_loop", None)
    if before is not None:
        before()
    structure = state
    leaves = [convert_to_tensor(s) for s in flatten(state)]
    with_len = sequence_length is not None
    projected = cell._project(xs)
    xs_list = [xs if projected is None else projected[0]]
    if with_len:
        lens = cast(convert_to_tensor(sequence_length), int32)
        # the step numbers 0..T-1 (T may be known only at run time)
        steps = cumsum(cast(zeros_like(xs[:, 0, 0]), int32) + 1) - 1
        xs_list.append(steps)
        leaves.append(lens)

    def body(carry: list[Tensor], xt: list[Tensor]):
        st = pack_sequence_as(structure, carry[: len(carry) - with_len])
        if projected is None:
            out, new = cell.call(xt[0], st)
        else:
            out, new = cell._projected_call(xt[0], st, projected[1])
        new_leaves = [convert_to_tensor(s) for s in flatten(new)]
        if with_len:
            alive = expand_dims(less(xt[1], carry[-1]), 1)
            out = where(alive, out, zeros_like(out))
            new_leaves = [where(alive, n, o) for n, o in zip(new_leaves, carry)]
            new_leaves.append(carry[-1])
        return new_leaves, [out]

    finals, (outputs,) = scan_loop(body, leaves, xs_list, reverse, name)
    if with_len:
        finals = finals[:-1]
    return outputs, pack_sequence_as(structure, finals)


def _initial(cell: RNNCell, x0: Tensor, initial_state: Any, dtype: Any) -> Any:
    if initial_state is not None:
        return initial_state
    return cell._zero_state_like(x0)


def dynamic_rnn(cell: RNNCell, inputs: Any, sequence_length: Any = None,
                initial_state: Any = None, dtype: Any = None, parallel_iterations: Any = None,
                swap_memory: bool = False, time_major: bool = False,
                scope: Any = None) -> tuple[Tensor, Any]:  # fmt: skip
    """Run `cell` over the time dim of `inputs` ([batch, time, depth], or
    [time, batch, depth] when time_major): (outputs, final_state) (tf.nn.dynamic_rnn)."""
    return _dynamic(cell, inputs, sequence_length, initial_state, dtype, time_major,
                    scope or "rnn", reverse=False)  # fmt: skip


def _dynamic(cell, inputs, sequence_length, initial_state, dtype, time_major, scope, reverse):
    x = convert_to_tensor(inputs)
    if x.shape.ndims != 3:
        raise GraphError(f"dynamic_rnn: inputs {x.name} have shape {x.shape}; expected rank 3")
    if dtype is not None and as_dtype(dtype) is not x.dtype:
        raise GraphError(f"dynamic_rnn: inputs are {x.dtype.name}, dtype says {dtype}")
    xs = x if time_major else transpose(x, [1, 0, 2])
    with variable_scope(scope):
        if not cell.built:
            cell.build(_depth(x, "dynamic_rnn"))
        state = _initial(cell, xs[0], initial_state, dtype)
        outputs, final = _rnn_loop(cell, xs, state, sequence_length, reverse, "rnn")
    if not time_major:
        outputs = transpose(outputs, [1, 0, 2])
    return outputs, final


def static_rnn(cell: RNNCell, inputs: Sequence[Any], initial_state: Any = None,
               dtype: Any = None, sequence_length: Any = None,
               scope: Any = None) -> tuple[list[Tensor], Any]:  # fmt: skip
    """The cell over a Python list of [batch, depth] inputs (tf.nn.static_rnn):
    (the list of outputs, the final state), with TF's variable names.

    TF unrolls the list into one copy of the cell per step; the cell is the
    same at every step, so kiln stacks the list and runs dynamic_rnn's scan
    (one loop, its kernels compiled once, the input projection hoisted) and
    unstacks the outputs into the list TF gives."""
    xs = [convert_to_tensor(x) for x in inputs]
    if not xs:
        raise GraphError("static_rnn: inputs must be a non-empty list")
    with variable_scope(scope or "rnn"):
        if not cell.built:
            cell.build(_depth(xs[0], "static_rnn"))
        state = _initial(cell, xs[0], initial_state, dtype)
        outputs, state = _rnn_loop(cell, stack(xs), state, sequence_length, False, "rnn")
    return unstack(outputs, len(xs)), state


def bidirectional_dynamic_rnn(cell_fw: RNNCell, cell_bw: RNNCell, inputs: Any,
                              sequence_length: Any = None, initial_state_fw: Any = None,
                              initial_state_bw: Any = None, dtype: Any = None,
                              parallel_iterations: Any = None, swap_memory: bool = False,
                              time_major: bool = False, scope: Any = None):  # fmt: skip
    """A forward and a backward dynamic_rnn: ((out_fw, out_bw), (state_fw, state_bw)),
    both outputs in input time order (tf.nn.bidirectional_dynamic_rnn); the
    backward cell reads each sequence from its own end (sequence_length)."""
    with variable_scope(scope or "bidirectional_rnn"):
        out_fw, st_fw = _dynamic(cell_fw, inputs, sequence_length, initial_state_fw, dtype,
                                 time_major, "fw", reverse=False)  # fmt: skip
        out_bw, st_bw = _dynamic(cell_bw, inputs, sequence_length, initial_state_bw, dtype,
                                 time_major, "bw", reverse=True)  # fmt: skip
    return (out_fw, out_bw), (st_fw, st_bw)


def static_bidirectional_rnn(cell_fw: RNNCell, cell_bw: RNNCell, inputs: Sequence[Any],
                             initial_state_fw: Any = None, initial_state_bw: Any = None,
                             dtype: Any = None, sequence_length: Any = None,
                             scope: Any = None) -> tuple[list[Tensor], Any, Any]:  # fmt: skip
    """A forward static_rnn and a backward one over the reversed list (each
    sequence reversed within its length): (outputs, state_fw, state_bw), each
    output the two directions' outputs joined on the last dim
    (tf.nn.static_bidirectional_rnn; variables under bidirectional_rnn/fw, /bw)."""
    xs = [convert_to_tensor(x) for x in inputs]
    if not xs:
        raise GraphError("static_bidirectional_rnn: inputs must be a non-empty list")
    with variable_scope(scope or "bidirectional_rnn"):
        out_fw, st_fw = static_rnn(cell_fw, xs, initial_state_fw, dtype, sequence_length, "fw")
        out_bw, st_bw = static_rnn(
            cell_bw, _reverse_list(xs, sequence_length), initial_state_bw, dtype,
            sequence_length, "bw",
        )  # fmt: skip
    out_bw = _reverse_list(out_bw, sequence_length)
    return [concat([f, b], 1) for f, b in zip(out_fw, out_bw)], st_fw, st_bw


def _reverse_list(xs: list[Tensor], sequence_length: Any) -> list[Tensor]:
    """The steps in reverse order, or each sequence reversed within its length."""
    if sequence_length is None:
        return xs[::-1]
    both = reverse_sequence(stack(xs), sequence_length, seq_axis=0, batch_axis=1)
    return unstack(both, len(xs))
