"""keras.optimizers: kiln's TF 2 optimizers (frontend/optimizers_v2.py) and
the learning-rate schedules; `legacy` is the same set (tf.keras.optimizers.legacy)."""

from types import SimpleNamespace

from ..frontend.optimizers_v2 import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    Nadam,
    Optimizer,
    RMSprop,
    get,
)
from . import schedules

legacy = SimpleNamespace(
    SGD=SGD,
    Adadelta=Adadelta,
    Adagrad=Adagrad,
    Adam=Adam,
    Adamax=Adamax,
    Nadam=Nadam,
    Optimizer=Optimizer,
    RMSprop=RMSprop,
)

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "Adamax",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "get",
    "legacy",
    "schedules",
]
