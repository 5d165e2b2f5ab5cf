"""The two examples of issue 7, in their quick modes: the CNN on the 8x8
digits learns (its loss falls, its test accuracy is far above chance), and
style transfer lowers its loss and writes a PNG that decodes."""

from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import pytest

pytest.importorskip("sklearn")  # in the `test` extra; the examples' one dependency

from kiln.examples import cnn_digits, style_transfer  # noqa: E402


@pytest.mark.slow
def test_cnn_digits_learns():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cnn_digits.main(epochs=3, verbose=False)
    assert result["last_loss"] < 0.5 * result["first_loss"]
    assert result["accuracy"] >= 0.85  # 3 epochs; the full run (30) reaches >= 0.97


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8)
    rows = raw.reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all() and (depth, color) == (8, 2)
    return rows[:, 1:].reshape(height, width, 3)


@pytest.mark.slow
def test_style_transfer_loss_falls_and_writes_a_png(tmp_path):
    out = tmp_path / "stylized.png"
    result = style_transfer.main(steps=20, out=str(out), verbose=False)
    losses = result["losses"]
    assert losses[-1] < 0.5 * losses[0]
    pixels = read_png(out)
    expected = (np.clip(result["image"], 0, 1) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)
    assert pixels.shape == (style_transfer.SIZE, style_transfer.SIZE, 3)
