"""Neural style transfer in the manner of the classic VGG19 tutorial, with
`import kiln as kl` and nothing downloaded.

A small VGG-style network (3x3 convolutions and max pools) with fixed random
weights stands in for VGG19: random convolutional features still carry
texture statistics (Gram matrices), enough to move an image toward a style.
The image, a variable, is optimised by Adam on

    content_weight * mean((F(x) - F(content))^2)           at one deep layer
  + style_weight * sum_l mean((G_l(x) - G_l(style))^2)      at several layers

where G_l = F_l^T F_l / (H W) is the Gram matrix of layer l's features. The
content image is a smooth synthetic scene, the style one a pattern of
stripes; the result is written as a PNG (zlib + struct, no imaging library).

    python -m kiln.examples.style_transfer [--steps 200] [--out stylized.png]
"""

from __future__ import annotations

import argparse
import struct
import time
import zlib

import numpy as np

import kiln as kl

SIZE = 32
LAYERS = [
    ("conv1_1", 3, 16),
    ("conv1_2", 16, 16),
    "pool",
    ("conv2_1", 16, 32),
    ("conv2_2", 32, 32),
    "pool",
    ("conv3_1", 32, 48),
]
CONTENT_LAYER = "conv2_2"
STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1"]


def content_image(size: int = SIZE) -> np.ndarray:
    """A smooth scene: a sky gradient, a sun, a hill. [size, size, 3] in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    img = np.stack([0.3 + 0.4 * y, 0.5 + 0.3 * y, 0.9 - 0.3 * y], axis=-1)
    sun = (x - 0.7) ** 2 + (y - 0.25) ** 2 < 0.02
    img[sun] = [1.0, 0.85, 0.3]
    hill = y > 0.65 + 0.15 * np.sin(3 * x)
    img[hill] = [0.2, 0.55, 0.2]
    return img.astype(np.float32)


def style_image(size: int = SIZE) -> np.ndarray:
    """Diagonal red and blue stripes with a dark grid. [size, size, 3] in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size]
    stripes = ((x + y) // 3) % 2 == 0
    img = np.where(stripes[..., None], [0.9, 0.2, 0.1], [0.1, 0.3, 0.9])
    img[(x % 8 == 0) | (y % 8 == 0)] = [0.05, 0.05, 0.05]
    return img.astype(np.float32)


def vgg_features(image: kl.Tensor, weights: dict) -> dict:
    """The activations of each named layer of the VGG-style stack."""
    out, net = {}, image
    for layer in LAYERS:
        if layer == "pool":
            net = kl.nn.max_pool(net, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
            continue
        name = layer[0]
        w, b = weights[name]
        net = kl.nn.relu(
            kl.nn.bias_add(kl.nn.conv2d(net, w, strides=[1, 1, 1, 1], padding="SAME"), b), name=name
        )
        out[name] = net
    return out


def random_weights(seed: int = 0) -> dict:
    """He-normal filters and small biases, fixed constants of the graph."""
    rng = np.random.RandomState(seed)
    weights = {}
    for layer in LAYERS:
        if layer == "pool":
            continue
        name, cin, cout = layer
        w = rng.randn(3, 3, cin, cout) * np.sqrt(2.0 / (9 * cin))
        weights[name] = (
            kl.constant(w.astype(np.float32), name=name + "_w"),
            kl.constant(np.full(cout, 0.01, np.float32), name=name + "_b"),
        )
    return weights


def gram(features: kl.Tensor) -> kl.Tensor:
    """F^T F / (H W) for features [1, H, W, C]: [C, C]."""
    _, h, w, c = features.shape.as_list()
    flat = kl.reshape(features, [h * w, c])
    return kl.matmul(flat, flat, transpose_a=True) / float(h * w)


def write_png(path: str, image: np.ndarray) -> None:
    """An 8-bit RGB PNG of `image` ([height, width, 3] in [0, 1])."""
    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))  # filter 0

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    with open(path, "wb") as f:
        f.write(
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def main(
    steps: int = 200,
    out: str = "stylized.png",
    content_weight: float = 1.0,
    style_weight: float = 100.0,
    learning_rate: float = 0.02,
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Optimise the image; return the losses every tenth step, the image and the seconds."""
    content, style = content_image()[None], style_image()[None]
    start = time.perf_counter()
    with kl.Graph().as_default():
        weights = random_weights(seed)
        image = kl.Variable(content, name="image")
        target_content = vgg_features(kl.constant(content), weights)[CONTENT_LAYER]
        target_style = vgg_features(kl.constant(style), weights)
        features = vgg_features(image, weights)
        with kl.name_scope("content_loss"):
            content_loss = kl.reduce_mean(kl.square(features[CONTENT_LAYER] - target_content))
        with kl.name_scope("style_loss"):
            style_loss = kl.add_n(
                [
                    kl.reduce_mean(kl.square(gram(features[n]) - gram(target_style[n])))
                    for n in STYLE_LAYERS
                ]
            )
        loss = content_weight * content_loss + style_weight * style_loss
        train = kl.train.AdamOptimizer(learning_rate).minimize(loss, var_list=[image])
        keep_in_range = image.assign(kl.clip_by_value(image, 0.0, 1.0))
        losses = []
        with kl.Session() as sess:
            sess.run(kl.global_variables_initializer())
            for step in range(steps + 1):
                if step % 10 == 0 or step == steps:
                    value = float(sess.run(loss))
                    losses.append(value)
                    if verbose and (step % 50 == 0 or step == steps):
                        print(f"step {step:4d}  loss {value:.5f}")
                if step < steps:
                    sess.run(train)
                    sess.run(keep_in_range)
            result = sess.run(image)[0]
    seconds = time.perf_counter() - start
    write_png(out, result)
    if verbose:
        print(f"loss {losses[0]:.5f} -> {losses[-1]:.5f} in {seconds:.1f} s; wrote {out}")
    return dict(losses=losses, image=result, seconds=seconds, path=out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", default="stylized.png")
    parser.add_argument("--quick", action="store_true", help="20 steps (the test suite's)")
    args = parser.parse_args()
    main(steps=20 if args.quick else args.steps, out=args.out)
