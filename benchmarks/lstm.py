"""A 2-layer LSTM (hidden 256, sequence 50, batch 32): the training step
(forward + backward + SGD) and the inference forward, in kiln against
PyTorch eager (nn.LSTM) and jax.jit of a lax.scan LSTM, in the same run.

kiln runs the TF-1.x program: kl.nn.dynamic_rnn over a MultiRNNCell of two
BasicLSTMCells (one kiln.scan per layer, each layer's input projection one
matmul before its scan: frontend/rnn.py), a mean-squared loss and
GradientDescentOptimizer, through a Session (backend "auto": the CPU backend
runs the scans natively, runtime/control.py; "kiln_interpreted" in the
result says whether any function fell back to the reference interpreter).
The three implementations start from the same weights and must agree on the
loss before they are timed.

    python -m kiln.benchmarks.lstm            # hidden 256, seq 50, batch 32
    python -m kiln.benchmarks.lstm --quick    # hidden 32, seq 8, batch 4
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

LR = 0.1


def _best(fn, repeat: int) -> tuple[float, float]:
    """The best wall time and the best CPU time of this process (all its
    threads) of `repeat` calls, in ms: on a loaded machine the CPU time says
    more about the work done than the wall time."""
    fn()  # warm-up (compiles, caches)
    best = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return best * 1e3, cpu * 1e3


def problem(hidden: int, seq: int, batch: int, depth: int):
    """Inputs, targets and per-layer (kernel [in + h, 4h], bias [4h]) in TF's
    BasicLSTMCell layout (gates i, j, f, o; forget bias 1 added at run time)."""
    rng = np.random.RandomState(0)
    x = rng.randn(batch, seq, depth).astype(np.float32)
    y = rng.randn(batch, seq, hidden).astype(np.float32) * 0.1
    layers = []
    for d in (depth, hidden):
        k = (rng.randn(d + hidden, 4 * hidden) / np.sqrt(d + hidden)).astype(np.float32)
        layers.append((k, np.zeros(4 * hidden, np.float32)))
    return x, y, layers


# ------------------------------------------------------------------ kiln


def kiln_runner(x, y, layers, hidden, device=None):
    import kiln as kl

    g = kl.Graph()
    with g.as_default():
        xp = kl.placeholder(kl.float32, x.shape)
        cell = kl.nn.rnn_cell.MultiRNNCell([kl.nn.rnn_cell.BasicLSTMCell(hidden) for _ in layers])
        out, _ = kl.nn.dynamic_rnn(cell, xp, dtype=kl.float32)
        loss = kl.reduce_mean(kl.square(out - y))
        train = kl.train.GradientDescentOptimizer(LR).minimize(loss)
        sess = kl.Session(device=device) if device else kl.Session()
        sess.run(kl.global_variables_initializer())
        by_name = {v.name: v for v in kl.global_variables()}
        for i, (k, b) in enumerate(layers):
            by_name[f"rnn/multi_rnn_cell/cell_{i}/basic_lstm_cell/kernel:0"].load(k, sess)
            by_name[f"rnn/multi_rnn_cell/cell_{i}/basic_lstm_cell/bias:0"].load(b, sess)
    first = float(sess.run(loss, {xp: x}))
    return first, (lambda: sess.run(train, {xp: x})), (lambda: sess.run(out, {xp: x}))


# ------------------------------------------------------------------ PyTorch


def torch_runner(x, y, layers, hidden, device="cpu"):
    import torch

    lstm = torch.nn.LSTM(x.shape[2], hidden, num_layers=len(layers), batch_first=True)
    with torch.no_grad():
        for i, (k, b) in enumerate(layers):
            d = k.shape[0] - hidden
            # TF i, j, f, o -> torch i, f, g, o; TF's forget bias 1 goes into b_ih
            i_, j_, f_, o_ = np.split(k, 4, axis=1)
            kt = np.concatenate([i_, f_, j_, o_], axis=1)
            bi, bj, bf, bo = np.split(b, 4)
            bt = np.concatenate([bi, bf + 1.0, bj, bo])
            getattr(lstm, f"weight_ih_l{i}").copy_(torch.from_numpy(kt[:d].T.copy()))
            getattr(lstm, f"weight_hh_l{i}").copy_(torch.from_numpy(kt[d:].T.copy()))
            getattr(lstm, f"bias_ih_l{i}").copy_(torch.from_numpy(bt))
            getattr(lstm, f"bias_hh_l{i}").zero_()
    lstm.to(device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    opt = torch.optim.SGD(lstm.parameters(), lr=LR)

    def train():
        opt.zero_grad()
        loss = torch.mean((lstm(xt)[0] - yt) ** 2)
        loss.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            return lstm(xt)[0]

    with torch.no_grad():
        first = float(torch.mean((lstm(xt)[0] - yt) ** 2))
    return first, train, infer


# ------------------------------------------------------------------ JAX


def jax_runner(x, y, layers, hidden):
    import jax
    import jax.numpy as jnp

    def run(params, xs):
        h = jnp.swapaxes(xs, 0, 1)
        for k, b in params:
            z0 = jnp.zeros((xs.shape[0], hidden), xs.dtype)

            def step(carry, xt, k=k, b=b):
                c, hp = carry
                i, j, f, o = jnp.split(jnp.concatenate([xt, hp], 1) @ k + b, 4, axis=1)
                c = c * jax.nn.sigmoid(f + 1.0) + jax.nn.sigmoid(i) * jnp.tanh(j)
                hn = jnp.tanh(c) * jax.nn.sigmoid(o)
                return (c, hn), hn

            _, h = jax.lax.scan(step, (z0, z0), h)
        return jnp.swapaxes(h, 0, 1)

    def loss_fn(params, xs, ys):
        return jnp.mean((run(params, xs) - ys) ** 2)

    @jax.jit
    def train(params, xs, ys):
        loss, grads = jax.value_and_grad(loss_fn)(params, xs, ys)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads), loss

    infer = jax.jit(run)
    params = [(jnp.asarray(k), jnp.asarray(b)) for k, b in layers]
    xs, ys = jnp.asarray(x), jnp.asarray(y)
    first = float(loss_fn(params, xs, ys))
    return (
        first,
        lambda: jax.block_until_ready(train(params, xs, ys)),
        lambda: jax.block_until_ready(infer(params, xs)),
    )


RUNNERS = {"kiln": kiln_runner, "torch": torch_runner, "jax": jax_runner}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="hidden 32, seq 8, batch 4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", default="torch,jax", help="comma list, or 'none'")
    args = parser.parse_args(argv)
    hidden, seq, batch = (32, 8, 4) if args.quick else (256, 50, 32)
    depth = hidden
    x, y, layers = problem(hidden, seq, batch, depth)
    names = ["kiln"] + [p for p in args.peers.split(",") if p and p != "none"]
    result: dict = {"hidden": hidden, "seq": seq, "batch": batch, "layers": 2, "rows": {}}
    losses = {}
    for name in names:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                first, train, infer = RUNNERS[name](x, y, layers, hidden)
                row = {}
                for what, fn in (("train", train), ("infer", infer)):
                    row[f"{what}_ms"], row[f"{what}_cpu_ms"] = _best(fn, args.repeat)
            if name == "kiln":
                result["kiln_interpreted"] = any(
                    "reference interpreter" in str(w.message) for w in caught
                )
        except ImportError as e:
            result["rows"][name] = {"skipped": str(e)}
            continue
        losses[name] = first
        result["rows"][name] = row
    for name, first in losses.items():  # the same program: the same initial loss
        np.testing.assert_allclose(first, losses["kiln"], rtol=1e-4, err_msg=name)
    kiln_row = result["rows"]["kiln"]
    for name in names[1:]:
        row = result["rows"][name]
        if "train_ms" in row:
            result[f"kiln/{name} train"] = kiln_row["train_ms"] / row["train_ms"]
            result[f"kiln/{name} infer"] = kiln_row["infer_ms"] / row["infer_ms"]
    result["initial_loss"] = losses["kiln"]
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
