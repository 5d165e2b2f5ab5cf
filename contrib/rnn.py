"""tf.contrib.rnn: aliases of kl.nn.rnn_cell's names. The cells live in the
frontend (kiln.frontend.rnn, exported as kl.nn.rnn_cell); this module only
re-exports whichever of them that module has, and names the rest clearly."""

import importlib

from ..frontend import nn as _nn

_NAMES = [
    "BasicLSTMCell",
    "BasicRNNCell",
    "DropoutWrapper",
    "GRUCell",
    "LSTMCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "RNNCell",
    "static_rnn",
    "static_bidirectional_rnn",
    "bidirectional_dynamic_rnn",
]


def _cells():
    found = getattr(_nn, "rnn_cell", None)
    if found is not None:
        return found
    try:
        return importlib.import_module("kiln.frontend.rnn")
    except ImportError:
        return None


_module = _cells()
for _name in _NAMES:
    _value = getattr(_module, _name, None) or getattr(_nn, _name, None)
    if _value is not None:
        globals()[_name] = _value


def __getattr__(name: str):
    raise AttributeError(
        f"kiln does not implement tf.contrib.rnn.{name} yet (kl.nn.rnn_cell has no {name})"
    )
