"""tf.contrib.rnn: aliases of kl.nn.rnn_cell's names (the cells live in the
frontend; this module only re-exports whichever of them it finds)."""

from ..frontend import nn as _nn

_NAMES = [
    "BasicRNNCell",
    "BasicLSTMCell",
    "LSTMCell",
    "GRUCell",
    "MultiRNNCell",
    "DropoutWrapper",
    "LSTMStateTuple",
    "RNNCell",
    "static_rnn",
]
_cells = getattr(_nn, "rnn_cell", None)
for _name in _NAMES:
    _value = getattr(_cells, _name, None) or getattr(_nn, _name, None)
    if _value is not None:
        globals()[_name] = _value
if hasattr(_nn, "static_rnn"):
    static_rnn = _nn.static_rnn


def __getattr__(name: str):
    raise AttributeError(
        f"kiln does not implement tf.contrib.rnn.{name} yet (kl.nn.rnn_cell has no {name})"
    )
