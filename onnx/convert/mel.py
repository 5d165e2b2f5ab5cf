"""The converter of ONNX MelWeightMatrix: the [dft_length // 2 + 1, num_mel_bins]
triangular filter bank, computed at import time (its inputs are sizes and
frequencies, known then; the backend specialises on run-time ones) exactly as
onnx's reference computes it, and emitted as a constant."""

from __future__ import annotations

import numpy as np

from ...ir.core import Value
from . import Context, Node, converter, dtype_of_elem


def mel_weights(mels: int, dft_length: int, rate: float, low: float, high: float) -> np.ndarray:
    bins = np.arange(0, mels + 2)
    low_mel = 2595 * np.log1p(low / 700) / np.log(10)
    high_mel = 2595 * np.log1p(high / 700) / np.log(10)
    step = (high_mel - low_mel) / bins.shape[0]
    hz = 700 * np.expm1((bins * step + low_mel) / 2595 * np.log(10))
    points = (((dft_length + 1) * hz) // rate).astype(int)
    out = np.zeros((dft_length // 2 + 1, mels))
    for i in range(mels):
        left, center, right = points[i : i + 3]
        if center == left:
            out[center, i] = 1
        else:
            j = np.arange(left, center + 1)
            out[j, i] = (j - left) / float(center - left)
        if right > center:
            j = np.arange(center, right)
            out[j, i] = (right - j) / float(right - center)
    return out


@converter("MelWeightMatrix", 17)
def mel_weight_matrix(ctx: Context, node: Node) -> list[Value]:
    names = ["num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz", "upper_edge_hertz"]
    known = []
    for i, name in enumerate(names):
        value = ctx.value_of(node.input(i))
        if value is None:
            raise ctx.unknown(node, f"'{name}' (input {i})")
        known.append(np.asarray(value).reshape(-1)[0].item())
    mels, length, rate, low, high = known
    if int(mels) < 1 or int(length) < 1 or rate <= 0:
        raise ctx.error(node, f"bad sizes num_mel_bins={mels}, dft_length={length}, rate={rate}")
    elem = int(node.attr("output_datatype", 1))
    dtype = dtype_of_elem(elem, node.name)
    weights = mel_weights(int(mels), int(length), rate, low, high)
    return [ctx.constant(weights.astype(dtype.numpy), dtype)]
