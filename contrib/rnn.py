"""tf.contrib.rnn: aliases of kl.nn.rnn_cell's names (the cells live in
kiln.frontend.rnn); a name kiln lacks says so."""

from ..frontend.rnn import (  # noqa: F401
    BasicLSTMCell,
    BasicRNNCell,
    DropoutWrapper,
    GRUCell,
    LSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
    RNNCell,
    bidirectional_dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
)


def __getattr__(name: str):
    raise AttributeError(
        f"kiln does not implement tf.contrib.rnn.{name} yet (kl.nn.rnn_cell has no {name})"
    )
