"""Writes the torch-exported RNN models that tests/kiln_onnx/test_control_flow_import.py
imports (torch is a peer, not a test dependency, so the exports are stored):

    python tests/kiln_onnx/data/make_torch_exports.py     # needs torch (the `peers` extra)

Each model is `torch.onnx.export(..., dynamo=False, opset_version=17)` of a small nn.LSTM
or nn.GRU with a fixed seed; `<name>.npz` holds the inputs and torch's own outputs."""

import io
import pathlib

import numpy as np
import torch

HERE = pathlib.Path(__file__).parent


def _flat(x):
    """The tensors of a nest of tuples, in order (an LSTM's (y, (h, c)))."""
    return [t for y in x for t in _flat(y)] if isinstance(x, (tuple, list)) else [x]


def export(name, module, args, names, out_names, dynamic_axes=None):
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            buf,
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=out_names,
            dynamic_axes=dynamic_axes,
        )
        outs = module(*args)
    (HERE / f"{name}.onnx").write_bytes(buf.getvalue())
    arrays = {n: a.numpy() for n, a in zip(names, _flat(args))}
    arrays.update({f"torch_{n}": o.numpy() for n, o in zip(out_names, _flat(outs))})
    np.savez(HERE / f"{name}.npz", **arrays)


torch.manual_seed(0)
lstm = torch.nn.LSTM(input_size=5, hidden_size=8, num_layers=2, batch_first=True).eval()
x, h0, c0 = torch.randn(3, 7, 5), torch.randn(2, 3, 8), torch.randn(2, 3, 8)
export("torch_lstm2", lstm, (x, (h0, c0)), ["x", "h0", "c0"], ["y", "hn", "cn"])

torch.manual_seed(2)
lstm = torch.nn.LSTM(input_size=4, hidden_size=5, num_layers=2, batch_first=True).eval()
axes = {"x": {0: "batch", 1: "steps"}, "y": {0: "batch", 1: "steps"}}
export("torch_lstm_dynamic", lstm, (torch.randn(2, 3, 4),), ["x"], ["y"], axes)

torch.manual_seed(1)
gru = torch.nn.GRU(input_size=4, hidden_size=6, num_layers=2, bidirectional=True).eval()
export("torch_bigru2", gru, (torch.randn(5, 2, 4),), ["x"], ["y", "hn"])
