"""Weight initializers (keras.initializers), drawn with numpy from one seeded
generator: `kl.keras.utils.set_random_seed(s)` makes models reproducible.

The classes are Keras's (`RandomNormal(mean, stddev)`, `GlorotUniform()`,
`VarianceScaling(scale, mode, distribution)`, ...; the lowercase names are
the same classes, as in tf.keras). Calling one, `init(shape, dtype)`, gives a
tensor (eager when executing eagerly, else a graph constant); layers ask
`get(identifier)(shape, dtype)` and take its value. An initializer with a
`seed` draws from its own generator, so two built with one seed agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..frontend.dtypes import as_dtype, float32
from ..frontend.graph import GraphError, executing_eagerly

_rng = [np.random.default_rng(0)]


def set_random_seed(seed: int) -> None:
    """Seed the generator weights are drawn from (and numpy's global one)."""
    _rng[0] = np.random.default_rng(int(seed))
    np.random.seed(int(seed))


def _fans(shape: Sequence[int]) -> tuple[float, float]:
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """`init(shape, dtype=None)` -> a tensor of that shape (keras Initializer)."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._gen = np.random.default_rng(seed) if seed is not None else None

    @property
    def rng(self) -> np.random.Generator:
        return self._gen if self._gen is not None else _rng[0]

    def sample(self, shape: list[int]) -> np.ndarray:
        raise NotImplementedError

    def value(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        """The numpy value (what a layer's add_weight stores)."""
        dt = as_dtype(dtype) if dtype is not None else float32
        return np.asarray(self.sample([int(d) for d in shape]), dt.ir.numpy)

    def __call__(self, shape: Sequence[int], dtype: Any = None, **_: Any) -> Any:
        from ..frontend.eager import to_eager
        from ..frontend.ops import constant

        dt = as_dtype(dtype) if dtype is not None else float32
        if hasattr(shape, "as_list"):
            shape = shape.as_list()
        value = self.value(shape, dt)
        return to_eager(value, dt) if executing_eagerly() else constant(value, dtype=dt)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<kl.keras.initializers.{type(self).__name__}>"


class Zeros(Initializer):
    def __init__(self, **_: Any):
        super().__init__()

    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Zeros):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    """Every element `value` (a scalar, or an array of the shape)."""

    def __init__(self, value: Any = 0, **_: Any):
        super().__init__()
        self.constant = value

    def sample(self, shape):
        return np.broadcast_to(np.asarray(self.constant, np.float64), shape).copy()

    def get_config(self):
        return {"value": self.constant}


class RandomNormal(Initializer):
    """Normal(mean, stddev); Keras's default stddev is 0.05."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape):
        return self.rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform on [minval, maxval); Keras's default is [-0.05, 0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape):
        return self.rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Standard normal values redrawn until within two standard deviations."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return z


class TruncatedNormal(RandomNormal):
    """Normal(mean, stddev) with values beyond two stddevs redrawn."""

    def sample(self, shape):
        return self.mean + self.stddev * _truncated(self.rng, shape)


class VarianceScaling(Initializer):
    """Variance `scale / n` with n the fan_in, fan_out or their mean (`mode`),
    from a truncated normal (stddev corrected for the truncation), an
    untruncated normal or a uniform (`distribution`), as Keras draws them."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ):
        super().__init__(seed)
        if scale <= 0:
            raise GraphError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise GraphError(f"VarianceScaling: mode {mode!r} (fan_in, fan_out or fan_avg)")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise GraphError(
                f"VarianceScaling: distribution {distribution!r} "
                "(truncated_normal, untruncated_normal or uniform)"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return self.rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return self.rng.normal(0.0, math.sqrt(variance), shape)
        return _truncated(self.rng, shape) * (math.sqrt(variance) / 0.87962566103423978)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


def _scaling(name: str, scale: float, mode: str, distribution: str, doc: str) -> type:
    def __init__(self, seed: int | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(
        name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc}
    )


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform", "U(+-sqrt(6/(in+out)))")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal", "sd sqrt(2/(in+out))")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal", "stddev sqrt(2/fan_in)")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform", "U(+-sqrt(6/fan_in))")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal", "stddev sqrt(1/fan_in)")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform", "U(+-sqrt(3/fan_in))")


class Orthogonal(Initializer):
    """A (gain-scaled) orthogonal matrix over the last dim and the rest
    flattened (keras's recurrent_initializer default)."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = float(gain)

    def sample(self, shape):
        if len(shape) < 2:
            raise GraphError(f"Orthogonal: needs a shape of rank 2 or more, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        a = self.rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(self.gain * q[:rows, :cols].reshape(shape))  # in-place updates

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """gain * the identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0, **_: Any):
        super().__init__()
        self.gain = float(gain)

    def sample(self, shape):
        if len(shape) != 2:
            raise GraphError(f"Identity: needs a 2-D shape, got {shape}")
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


# tf.keras's lowercase names are the same classes
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal, identity, variance_scaling = Orthogonal, Identity, VarianceScaling

_BY_NAME: dict[str, type] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal,
    "identity": Identity,
    "variance_scaling": VarianceScaling,
}
_BY_NAME.update({cls.__name__.lower(): cls for cls in list(_BY_NAME.values())})


class _Function(Initializer):
    """A plain function (shape, dtype) -> values used as an initializer."""

    def __init__(self, fn: Any):
        super().__init__()
        self.fn = fn

    def value(self, shape, dtype=None):
        dt = as_dtype(dtype) if dtype is not None else float32
        out = self.fn(list(shape), dtype=dt)
        return np.asarray(out.numpy() if hasattr(out, "numpy") else out, dt.ir.numpy)


def get(identifier: Any) -> Initializer:
    """An initializer from an instance, a class, a name, a config dict
    ({"class_name": ..., "config": ...}) or a function (shape, dtype) -> values."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is not None:
            return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if callable(identifier):
        return _Function(identifier)
    raise GraphError(
        f"unknown initializer {identifier!r} (one of {', '.join(sorted(set(_BY_NAME)))})"
    )


def serialize(init: Initializer) -> dict[str, Any]:
    return {"class_name": type(init).__name__, "config": init.get_config()}


deserialize = get
