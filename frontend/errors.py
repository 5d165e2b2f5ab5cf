"""TensorFlow's error classes kiln raises where TF programs catch them (tf.errors).

    try:
        while not coord.should_stop(): sess.run(train_op)
    except tf.errors.OutOfRangeError:
        print("done")

Each is a KilnError, so kiln's own handlers catch them too; kiln.data's
iterators and the queues (queues.py) raise the same OutOfRangeError class.
"""

from __future__ import annotations

from ..ir import KilnError


class OpError(KilnError):
    """The base of TensorFlow's run-time errors (tf.errors.OpError)."""


class OutOfRangeError(OpError):
    """An iterator or a closed queue has no more elements (tf.errors.OutOfRangeError)."""


class CancelledError(OpError):
    """A pending queue operation was cancelled (tf.errors.CancelledError)."""


class FailedPreconditionError(OpError):
    """An iterator was read before its initializer ran (tf.errors.FailedPreconditionError)."""


class NotFoundError(OpError):
    """A file or checkpoint does not exist (tf.errors.NotFoundError)."""


class InvalidArgumentError(OpError):
    """An op got a value it cannot use (tf.errors.InvalidArgumentError): a malformed Example,
    a check_numerics that found a NaN or an Inf, ..."""


class DataLossError(OpError):
    """A file whose framing or checksums are wrong: a corrupted TFRecord or event file
    (tf.errors.DataLossError)."""


__all__ = [
    "CancelledError",
    "DataLossError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "NotFoundError",
    "OpError",
    "OutOfRangeError",
]
