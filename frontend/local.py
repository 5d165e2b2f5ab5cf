"""Local variables (tf.local_variables, tf.local_variables_initializer).

A local variable lives in the LOCAL_VARIABLES collection instead of
GLOBAL_VARIABLES: a Saver does not save it and global_variables_initializer
does not initialise it. tf.metrics keep their running totals in local
variables and the input producers their epoch counters.
"""

from __future__ import annotations

from typing import Any

from .graph import Operation, get_default_graph
from .variables import GraphVariable, variables_initializer

LOCAL_VARIABLES = "local_variables"


def local_variable(initial_value: Any, name: str | None = None, dtype: Any = None) -> GraphVariable:
    """A non-trainable variable in LOCAL_VARIABLES only."""
    return GraphVariable(
        initial_value, trainable=False, name=name, dtype=dtype, collections=[LOCAL_VARIABLES]
    )


def local_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(LOCAL_VARIABLES, scope)


def local_variables_initializer() -> Operation:
    """An op that runs every local variable's initializer."""
    return variables_initializer(local_variables(), name="init_1")


initialize_local_variables = local_variables_initializer
