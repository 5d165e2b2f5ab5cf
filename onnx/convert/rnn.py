"""Converters of ONNX's recurrent ops LSTM, GRU and RNN: a kiln.scan over the
time steps with the cell math in its body.

The input projection X·Wᵀ (+ biases) of every step is one matmul before the
scan; the body adds h·Rᵀ and applies the gates. Directions forward, reverse
and bidirectional (a scan each, the reverse one with `reverse=True`), the
`activations` with their alpha/beta, `clip`, `input_forget`, peepholes P,
`linear_before_reset` (GRU), `layout` (opset 14: batch-major X, Y, Y_h, Y_c),
`initial_h`/`initial_c` and `sequence_lens`: past a sequence's end the state is
frozen and Y is zero (as ONNX Runtime), which for the reverse direction also
makes each sequence start from its own last step.

Gate orders (ONNX): LSTM i, o, f, c; GRU z, r, h; P holds i, o, f.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...ir.core import Value
from ...ir.gradient import scalar_like, zeros_like
from . import Context, Node, converter
from .control import scan_with

# name -> (number of alpha/beta parameters it takes, their defaults, builder)
Act = Callable[..., Value]


def _affine(b, x, a, c):
    return b.add(b.mul(x, scalar_like(b, a, x)), scalar_like(b, c, x))


def _hard_sigmoid(b, x, a, c):
    y = _affine(b, x, a, c)
    return b.max(b.min(y, scalar_like(b, 1, x)), scalar_like(b, 0, x))


_ACTIVATIONS: dict[str, tuple[tuple[float, ...], Act]] = {
    "relu": ((), lambda b, x: b.relu(x)),
    "tanh": ((), lambda b, x: b.tanh(x)),
    "sigmoid": ((), lambda b, x: b.sigmoid(x)),
    "softplus": ((), lambda b, x: b.softplus(x)),
    "softsign": ((), lambda b, x: b.div(x, b.add(b.abs(x), scalar_like(b, 1, x)))),
    "affine": ((1.0, 0.0), _affine),
    "leakyrelu": ((0.01,), lambda b, x, a: b.leaky_relu(x, alpha=float(a))),
    "thresholdedrelu": (
        (1.0,),
        lambda b, x, a: b.select(b.greater(x, scalar_like(b, a, x)), x, zeros_like(b, x)),
    ),
    "scaledtanh": (
        (1.0, 1.0),
        lambda b, x, a, c: b.mul(b.tanh(b.mul(x, scalar_like(b, c, x))), scalar_like(b, a, x)),
    ),
    "hardsigmoid": ((0.2, 0.5), _hard_sigmoid),
    "elu": ((1.0,), lambda b, x, a: b.elu(x, alpha=float(a))),
}


def _activations(ctx: Context, node: Node, defaults: list[str], dirs: int) -> list[Callable]:
    """One function per gate activation and direction (len(defaults) * dirs), with
    the alphas and betas taken in order by the activations that have them."""
    names = node.attr("activations", None)
    if names is None:
        names = defaults * dirs
    names = list(names)
    if len(names) == len(defaults) and dirs == 2:
        names = names * 2
    if len(names) != len(defaults) * dirs:
        raise ctx.error(node, f"activations {names} must name {len(defaults) * dirs} functions")
    alphas = list(node.attr("activation_alpha", []) or [])
    betas = list(node.attr("activation_beta", []) or [])
    out = []
    for name in names:
        key = name.lower()
        if key not in _ACTIVATIONS:
            raise ctx.error(node, f"activation {name!r} is not supported")
        params, fn = _ACTIVATIONS[key]
        args = []
        if len(params) >= 1:
            args.append(float(alphas.pop(0)) if alphas else params[0])
        if len(params) == 2:
            args.append(float(betas.pop(0)) if betas else params[1])
        out.append(lambda b, x, fn=fn, args=tuple(args): fn(b, x, *args))
    return out


def _take(b, x: Value, axis: int, start: int, stop: int) -> Value:
    return b.slice(x, axes=[axis], starts=[start], stops=[stop])


def _row(b, x: Value, d: int) -> Value:
    """x[d] of a tensor with a leading directions dim."""
    return b.squeeze(_take(b, x, 0, d, d + 1), axes=[0])


class _Recurrence:
    """What the three ops share: the inputs, directions, layout and the scan."""

    def __init__(self, ctx: Context, node: Node, gates: int, states: int):
        self.ctx, self.node, self.b = ctx, node, ctx.b
        b = ctx.b
        self.x, self.w, self.r = node.input(0), node.input(1), node.input(2)
        if self.x is None or self.w is None or self.r is None:
            raise ctx.error(node, "X, W and R are required")
        self.direction = node.attr("direction", "forward")
        if self.direction not in ("forward", "reverse", "bidirectional"):
            raise ctx.error(node, f"direction={self.direction!r} is not supported")
        self.dirs = 2 if self.direction == "bidirectional" else 1
        for name, v in (("W", self.w), ("R", self.r)):
            lead = v.type.shape[0] if v.type.rank == 3 else None
            if v.type.rank != 3 or (isinstance(lead, int) and lead != self.dirs):
                raise ctx.error(node, f"{name} {v.type} must be [{self.dirs}, {gates}*H, ...]")
        hidden = node.attr("hidden_size", None)
        h_dim = self.r.type.shape[2] if self.r.type.rank == 3 else None
        if hidden is None:
            if not isinstance(h_dim, int):
                raise ctx.error(node, "hidden_size is missing and R's shape does not give it")
            hidden = h_dim
        self.H, self.G = int(hidden), gates
        self.layout = int(node.attr("layout", 0))
        if self.layout not in (0, 1):
            raise ctx.error(node, f"layout={self.layout} is not supported")
        clip = node.attr("clip", None)
        self.clip = None if clip is None else float(clip)
        if self.layout == 1:  # [batch, seq, input] -> [seq, batch, input]
            self.x = b.transpose(self.x, perm=[1, 0, 2])
        self.mask = self._mask(node.input(4))
        self.initial = []
        for k in range(states):
            v = node.input(5 + k)
            if v is not None and self.layout == 1:
                v = b.transpose(v, perm=[1, 0, 2])
            self.initial.append(v)

    def _mask(self, lens: Value | None) -> Value | None:
        """[T, batch, 1] bools: step t is inside sequence b (None: all are)."""
        if lens is None:
            return None
        b, ctx = self.b, self.ctx
        known = ctx.value_of(lens)
        steps = self.x.type.shape[0]
        if known is not None and isinstance(steps, int) and bool(np.all(known == steps)):
            return None
        ones = b.broadcast_like(scalar_like(b, 1, self.x), _take(b, self.x, 2, 0, 1))
        t = b.cumsum(ones, axis=0, exclusive=True)  # the step index, [T, batch, 1]
        limit = b.expand_dims(b.cast(lens, dtype=self.x.type.dtype), axis=1)
        return b.less(t, limit)

    def clipped(self, b, x: Value) -> Value:
        if self.clip is None:
            return x
        return b.max(b.min(x, scalar_like(b, self.clip, x)), scalar_like(b, -self.clip, x))

    def gate(self, b, x: Value, k: int) -> Value:
        """Gate k's columns of a [batch, G*H] tensor."""
        return _take(b, x, 1, k * self.H, (k + 1) * self.H)

    def initial_state(self, k: int, d: int, like: Value) -> Value:
        v = self.initial[k]
        if v is None:
            return zeros_like(self.b, like)
        return _row(self.b, v, d)

    def run(self, step: Callable, biases: Callable) -> list[Value | None]:
        """For each direction: xw = X·W[d]ᵀ + biases(d)[0], then a scan whose body
        `step(b, d, states, xw_t, captured)` returns the next states (before
        masking) and the step's h; `biases(d)` gives (the input bias or None,
        values the body needs). Returns Y, Y_h (, Y_c) in the node's layout."""
        b, n = self.b, len(self.initial)
        ys, finals = [], [[] for _ in range(n)]
        for d in range(self.dirs):
            w = _row(b, self.w, d)
            xw = b.matmul(self.x, w, transpose_b=True)  # [T, batch, G*H]
            bias, captured = biases(d)
            if bias is not None:
                xw = b.add(xw, bias)
            r = _row(b, self.r, d)
            like = _take(b, _take(b, xw, 0, 0, 1), 2, 0, self.H)
            like = b.squeeze(like, axes=[0])  # [batch, H]
            init = [self.initial_state(k, d, like) for k in range(n)]
            xs = [xw] if self.mask is None else [xw, self.mask]

            def body(bb, states, slices, inner, d=d):
                new, h = step(bb, d, list(states), slices[0], inner)
                if self.mask is None:
                    return new, [h]
                m = slices[1]
                new = [bb.select(m, v, s) for v, s in zip(new, states)]
                return new, [bb.select(m, h, zeros_like(bb, h))]

            reverse = self.direction == "reverse" or d == 1
            last, (y,) = scan_with(self.ctx, init, xs, [r, *captured], body, reverse)
            ys.append(b.expand_dims(y, axis=1))  # [T, 1, batch, H]
            for k in range(n):
                finals[k].append(b.expand_dims(last[k], axis=0))
        join = (lambda vs: vs[0]) if self.dirs == 1 else (lambda vs: b.concat(*vs, axis=0))
        y = ys[0] if self.dirs == 1 else b.concat(*ys, axis=1)
        states = [join(f) for f in finals]
        if self.layout == 1:
            y = b.transpose(y, perm=[2, 0, 1, 3])
            states = [b.transpose(s, perm=[1, 0, 2]) for s in states]
        return [y, *states]

    def bias_halves(self, d: int) -> tuple[Value, Value] | None:
        """(Wb[d], Rb[d]), each [G*H], or None when B is absent."""
        bias = self.node.input(3)
        if bias is None:
            return None
        row = _row(self.b, bias, d)
        gh = self.G * self.H
        return _take(self.b, row, 0, 0, gh), _take(self.b, row, 0, gh, 2 * gh)


def _summed_bias(rec: _Recurrence, d: int):
    halves = rec.bias_halves(d)
    return (None if halves is None else rec.b.add(*halves)), []


@converter("RNN", since=1)
def rnn(ctx: Context, node: Node) -> list[Value | None]:
    """Ht = f(Xt·Wᵀ + Ht-1·Rᵀ + Wb + Rb)."""
    rec = _Recurrence(ctx, node, gates=1, states=1)
    acts = _activations(ctx, node, ["Tanh"], rec.dirs)

    def step(b, d, states, xw, inner):
        (h,) = states
        (r,) = inner
        h = acts[d](b, rec.clipped(b, b.add(xw, b.matmul(h, r, transpose_b=True))))
        return [h], h

    return rec.run(step, lambda d: _summed_bias(rec, d))


@converter("GRU", since=1)
def gru(ctx: Context, node: Node) -> list[Value | None]:
    """zt, rt = f(Xt·Wᵀ + Ht-1·Rᵀ + b); ht = g(Xt·Whᵀ + (rt ⊙ Ht-1)·Rhᵀ + bh), or
    with linear_before_reset g(Xt·Whᵀ + rt ⊙ (Ht-1·Rhᵀ + Rbh) + Wbh);
    Ht = (1 - zt) ⊙ ht + zt ⊙ Ht-1."""
    rec = _Recurrence(ctx, node, gates=3, states=1)
    acts = _activations(ctx, node, ["Sigmoid", "Tanh"], rec.dirs)
    before_reset = bool(node.attr("linear_before_reset", 0))
    H = rec.H

    def biases(d):
        halves = rec.bias_halves(d)
        if halves is None:
            return None, []
        if before_reset:  # Rb stays inside: rt multiplies Ht-1·Rhᵀ + Rbh
            return halves[0], [halves[1]]
        return rec.b.add(*halves), []

    def step(b, d, states, xw, inner):
        (h,) = states
        f, g = acts[2 * d], acts[2 * d + 1]
        r_all = inner[0]
        if before_reset:
            hr = b.matmul(h, r_all, transpose_b=True)
            if len(inner) > 1:
                hr = b.add(hr, inner[1])
            z = f(b, rec.clipped(b, b.add(rec.gate(b, xw, 0), rec.gate(b, hr, 0))))
            reset = f(b, rec.clipped(b, b.add(rec.gate(b, xw, 1), rec.gate(b, hr, 1))))
            cand = b.add(rec.gate(b, xw, 2), b.mul(reset, rec.gate(b, hr, 2)))
        else:
            zr = b.matmul(h, _take(b, r_all, 0, 0, 2 * H), transpose_b=True)
            z = f(b, rec.clipped(b, b.add(rec.gate(b, xw, 0), rec.gate(b, zr, 0))))
            reset = f(b, rec.clipped(b, b.add(rec.gate(b, xw, 1), rec.gate(b, zr, 1))))
            rh = _take(b, r_all, 0, 2 * H, 3 * H)
            cand = b.add(rec.gate(b, xw, 2), b.matmul(b.mul(reset, h), rh, transpose_b=True))
        cand = g(b, rec.clipped(b, cand))
        one = scalar_like(b, 1, h)
        h = b.add(b.mul(b.sub(one, z), cand), b.mul(z, h))
        return [h], h

    return rec.run(step, biases)


@converter("LSTM", since=1)
def lstm(ctx: Context, node: Node) -> list[Value | None]:
    """it, ft = f(Xt·Wᵀ + Ht-1·Rᵀ + P ⊙ Ct-1 + b); ct = g(...);
    Ct = ft ⊙ Ct-1 + it ⊙ ct; ot = f(... + Po ⊙ Ct); Ht = ot ⊙ h(Ct).
    input_forget couples the gates: ft = 1 - it."""
    rec = _Recurrence(ctx, node, gates=4, states=2)
    acts = _activations(ctx, node, ["Sigmoid", "Tanh", "Tanh"], rec.dirs)
    coupled = bool(node.attr("input_forget", 0))
    peep = node.input(7)

    def biases(d):
        bias, _ = _summed_bias(rec, d)
        return bias, ([] if peep is None else [_row(rec.b, peep, d)])

    def step(b, d, states, xw, inner):
        h, c = states
        f, g, hf = acts[3 * d], acts[3 * d + 1], acts[3 * d + 2]
        gates = b.add(xw, b.matmul(h, inner[0], transpose_b=True))
        pi = po = pf = None
        if len(inner) > 1:
            p = inner[1]
            pi, po, pf = (_take(b, p, 0, k * rec.H, (k + 1) * rec.H) for k in range(3))
        i_pre, o_pre, f_pre = rec.gate(b, gates, 0), rec.gate(b, gates, 1), rec.gate(b, gates, 2)
        if pi is not None:
            i_pre, f_pre = b.add(i_pre, b.mul(pi, c)), b.add(f_pre, b.mul(pf, c))
        i = f(b, rec.clipped(b, i_pre))
        forget = b.sub(scalar_like(b, 1, i), i) if coupled else f(b, rec.clipped(b, f_pre))
        cand = g(b, rec.clipped(b, rec.gate(b, gates, 3)))
        c = b.add(b.mul(forget, c), b.mul(i, cand))
        if po is not None:
            o_pre = b.add(o_pre, b.mul(po, c))
        o = f(b, rec.clipped(b, o_pre))
        h = b.mul(o, hf(b, c))
        return [h, c], h

    return rec.run(step, biases)
