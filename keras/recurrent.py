"""Keras's recurrent layers (keras.layers.SimpleRNN, LSTM, GRU, Bidirectional).

Weights are laid out as Keras's: kernel [input_dim, gates*units] for the
input, recurrent_kernel [units, gates*units] for the state, bias; the gates
are in Keras's order (i, f, c, o for LSTM; z, r, h for GRU, whose default is
TF 2's reset_after=True with a [2, 3*units] bias). The time loop is one
kl.scan (frontend/control_flow.py): a Python loop in eager mode, kiln.scan in
a kl.function trace and so in `fit`.

`mask` ([batch, time] bool, passed to the call as in Keras) freezes the state
at masked steps and repeats the previous output there, as Keras does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..frontend.array_ops import reverse
from ..frontend.control_flow import scan_loop
from ..frontend.graph import GraphError
from ..frontend.ops import (
    concat,
    convert_to_tensor,
    expand_dims,
    matmul,
    transpose,
    where,
    zeros,
    zeros_like,
)
from ..frontend.rnn import project_inputs
from . import activations
from .engine import Layer
from .initializers import get as get_initializer

__all__ = ["GRU", "LSTM", "Bidirectional", "SimpleRNN"]


def _init(identifier: Any):
    return get_initializer(identifier)


class _Recurrent(Layer):
    """The shared time loop; a subclass gives `gates`, `state_count` and `step`."""

    gates = 1
    state_count = 1

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, time_major: bool = False, unroll: bool = False,
                 **kw: Any):  # fmt: skip
        for k in ("dropout", "recurrent_dropout"):
            if kw.pop(k, 0.0):
                raise GraphError(f"{type(self).__name__}: kiln does not implement {k} yet")
        kw.pop("stateful", None)
        super().__init__(**kw)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.time_major = bool(go_backwards), bool(time_major)
        self.zero_output_for_mask = False

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None:
            raise GraphError(f"{self.name}: the last input dim must be known")
        g = self.gates * self.units
        self.kernel = self.add_weight("kernel", [d, g], _init(self.kernel_initializer))
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", [self.units, g], _init(self.recurrent_initializer)
        )
        self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init()) if (
            self.use_bias
        ) else None  # fmt: skip

    def _bias_shape(self) -> list[int]:
        return [self.gates * self.units]

    def _bias_init(self):
        return _init(self.bias_initializer)

    def _input_bias(self):
        """The bias added to x @ kernel (before the scan, with it)."""
        return self.bias

    def _input_part(self, x: Any) -> Any:
        """One step's x @ kernel + its bias (when `project_inputs` cannot do all at once)."""
        mx = matmul(x, self.kernel)
        bias = self._input_bias()
        return mx if bias is None else mx + bias

    def step(self, mx: Any, states: list) -> tuple[Any, list]:
        """One step from `mx` (the step's x @ kernel + input bias) and the states."""
        raise NotImplementedError

    def call(self, inputs, mask=None, initial_state=None):
        x = convert_to_tensor(inputs)
        if x.shape.ndims != 3:
            raise GraphError(f"{self.name}: expected [batch, time, features], got {x.shape}")
        xs = x if self.time_major else transpose(x, [1, 0, 2])
        base = zeros_like(xs[0][:, 0:1])
        if initial_state is None:
            states = [base * zeros([self.units], x.dtype) for _ in range(self.state_count)]
        else:
            init = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            states = [convert_to_tensor(s) for s in init]
        seq = [xs]
        masked = mask is not None
        if masked:
            m = convert_to_tensor(mask)
            seq.append(m if self.time_major else transpose(m, [1, 0]))
        n = len(states)
        carry = [*states, base * zeros([self.units], x.dtype)] if masked else states

        projected = project_inputs(xs, self.kernel, self._input_bias())
        if projected is not None:  # x @ kernel for all steps: one matmul before the scan
            seq[0] = projected

        def body(c, xt):
            mx = xt[0] if projected is not None else self._input_part(xt[0])
            out, new = self.step(mx, c[:n])
            if masked:
                keep = expand_dims(xt[1], 1)
                prev = zeros_like(out) if self.zero_output_for_mask else c[n]
                out = where(keep, out, prev)
                new = [where(keep, a, b) for a, b in zip(new, c[:n])]
                return [*new, out], [out]
            return new, [out]

        finals, (outputs,) = scan_loop(body, carry, seq, self.go_backwards, self.name)
        if self.go_backwards:  # Keras gives the outputs in the order it read them
            outputs = reverse(outputs, [0])
        last = finals[n] if masked else outputs[-1]
        result = outputs if self.time_major else transpose(outputs, [1, 0, 2])
        result = result if self.return_sequences else last
        if self.return_state:
            return [result, *finals[:n]]
        return result

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
        }


class SimpleRNN(_Recurrent):
    """h' = activation(x @ kernel + h @ recurrent_kernel + bias) (keras.layers.SimpleRNN)."""

    def step(self, mx, states):
        h = self.activation(mx + matmul(states[0], self.recurrent_kernel))
        return h, [h]


class LSTM(_Recurrent):
    """keras.layers.LSTM: gates i, f, c, o; the state is [h, c]; unit_forget_bias
    starts the forget gate's bias at 1."""

    gates, state_count = 4, 2

    def __init__(self, units: int, unit_forget_bias: bool = True, **kw: Any):
        super().__init__(units, **kw)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        base = _init(self.bias_initializer)
        if not self.unit_forget_bias:
            return base
        u = self.units

        def init(shape, dtype=None):
            b = base.value([u], dtype)
            return np.concatenate([b, np.ones(u), base.value([2 * u], dtype)])

        return init

    def step(self, mx, states):
        h, c = states
        z = mx + matmul(h, self.recurrent_kernel)
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u : 2 * u])
        c2 = f * c + i * self.activation(z[:, 2 * u : 3 * u])
        o = self.recurrent_activation(z[:, 3 * u :])
        h2 = o * self.activation(c2)
        return h2, [h2, c2]


class GRU(_Recurrent):
    """keras.layers.GRU: gates z, r, h; reset_after=True (TF 2's default) applies
    the reset gate after the recurrent matmul and keeps two biases, [2, 3*units]."""

    gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kw: Any):
        super().__init__(units, **kw)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> list[int]:
        return [2, 3 * self.units] if self.reset_after else [3 * self.units]

    def _input_bias(self):
        if self.bias is not None and self.reset_after:
            return self.bias[0]
        return self.bias

    def step(self, mx, states):
        (h,) = states
        u = self.units
        if self.reset_after:
            mh = matmul(h, self.recurrent_kernel)
            if self.bias is not None:
                mh = mh + self.bias[1]
            z = self.recurrent_activation(mx[:, :u] + mh[:, :u])
            r = self.recurrent_activation(mx[:, u : 2 * u] + mh[:, u : 2 * u])
            hh = self.activation(mx[:, 2 * u :] + r * mh[:, 2 * u :])
        else:
            mh = matmul(h, self.recurrent_kernel[:, : 2 * u])
            z = self.recurrent_activation(mx[:, :u] + mh[:, :u])
            r = self.recurrent_activation(mx[:, u : 2 * u] + mh[:, u:])
            hh = self.activation(mx[:, 2 * u :] + matmul(r * h, self.recurrent_kernel[:, 2 * u :]))
        h2 = z * h + (1 - z) * hh
        return h2, [h2]


class Bidirectional(Layer):
    """A recurrent layer run forwards and (a copy) backwards, merged (keras.layers.Bidirectional):
    merge_mode concat (default), sum, mul, ave or None (the pair)."""

    def __init__(self, layer: _Recurrent, merge_mode: str | None = "concat",
                 backward_layer: _Recurrent | None = None, **kw: Any):  # fmt: skip
        super().__init__(**kw)
        if not isinstance(layer, _Recurrent):
            raise GraphError("Bidirectional wraps a SimpleRNN, LSTM or GRU layer")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise GraphError(f"Bidirectional: unknown merge_mode {merge_mode!r}")
        self.merge_mode = merge_mode
        self.forward_layer = layer
        if backward_layer is None:
            config = dict(layer.get_config())
            config.pop("name", None)
            config["go_backwards"] = not layer.go_backwards
            extra = {}
            for k in ("unit_forget_bias", "reset_after"):
                if hasattr(layer, k):
                    extra[k] = getattr(layer, k)
            backward_layer = type(layer)(
                activation=layer.activation,
                recurrent_activation=layer.recurrent_activation,
                use_bias=layer.use_bias,
                **extra,
                **config,
            )
        self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = self.return_sequences

    def call(self, inputs, mask=None):
        fw = self.forward_layer(inputs, mask=mask)
        bw = self.backward_layer(inputs, mask=mask)
        states = []
        if self.return_state:
            fw, *sf = fw
            bw, *sb = bw
            states = [*sf, *sb]
        if self.return_sequences:
            bw = reverse(bw, [0 if self.backward_layer.time_major else 1])
        if self.merge_mode == "concat":
            out = concat([fw, bw], -1)
        elif self.merge_mode == "sum":
            out = fw + bw
        elif self.merge_mode == "mul":
            out = fw * bw
        elif self.merge_mode == "ave":
            out = (fw + bw) * 0.5
        else:
            out = [fw, bw]
        if self.return_state:
            return [*(out if isinstance(out, list) else [out]), *states]
        return out
